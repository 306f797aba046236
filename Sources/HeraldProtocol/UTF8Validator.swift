/// A streaming UTF-8 validator (RFC 3629 §3, §4) for text messages that
/// arrive in fragments (RFC 6455 §5.6, §8.1).
///
/// A deterministic automaton in the style of Björn Höhrmann's decoder: each
/// byte maps to one of 12 classes and (state, class) to the next state.
/// The automaton encodes the RFC 3629 §4 table exactly, so it rejects
/// overlong forms (C0, C1, E0 80-9F, F0 80-8F), surrogates (ED A0-BF) and
/// scalars above U+10FFFF (F4 90-BF, F5-FF) at the first byte that cannot
/// start or continue a valid sequence. That is what Autobahn's 6.x cases
/// check: fail fast, not at the end of the message.
///
/// Runs of ASCII are skipped eight bytes at a time.
public struct UTF8Validator: Sendable, BitwiseCopyable {
    /// States are premultiplied by the padded class count (16) so the next
    /// state is `transitions[state + class]` with no multiply.
    @usableFromInline static let accept: UInt8 = 0
    @usableFromInline static let reject: UInt8 = 16
    @usableFromInline static let classBytes = 256
    @usableFromInline static let asciiHighBits: UInt64 = 0x8080_8080_8080_8080

    @usableFromInline var state: UInt8

    @inlinable
    public init() { state = Self.accept }

    /// True when the bytes so far end on a complete scalar; a text message
    /// must end in this state (RFC 6455 §8.1).
    @inlinable
    public var isAtCharacterBoundary: Bool { state == Self.accept }

    @inlinable
    public mutating func reset() { state = Self.accept }

    /// Feeds the next bytes of a message. Returns false as soon as the input
    /// can no longer be valid UTF-8, and keeps returning false until `reset()`.
    @inlinable
    public mutating func validate(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if state == Self.reject { return false }
        guard let base = bytes.baseAddress else { return true }
        let count = bytes.count
        var current = state
        let ok = UTF8ValidatorTable.table.withUnsafeBufferPointer { table -> Bool in
            var index = 0
            while index < count {
                if current == Self.accept {
                    // Safe: count - index ≥ 8 keeps the load inside `bytes`.
                    while count - index >= 8,
                        base.loadUnaligned(fromByteOffset: index, as: UInt64.self) & Self.asciiHighBits == 0
                    {
                        index &+= 8
                    }
                    if index == count { break }
                }
                let byte = base.load(fromByteOffset: index, as: UInt8.self)
                let byteClass = table[Int(byte)]
                current = table[Self.classBytes &+ Int(current &+ byteClass)]
                if current == Self.reject { return false }
                index &+= 1
            }
            return true
        }
        state = current
        return ok
    }

    /// Whether `bytes` is, on its own, complete valid UTF-8.
    @inlinable
    public static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var validator = UTF8Validator()
        return validator.validate(bytes) && validator.isAtCharacterBoundary
    }
}

/// The byte-class and transition tables of `UTF8Validator`, built once
/// from the RFC 3629 §4 grammar rather than typed in as opaque numbers.
@usableFromInline
enum UTF8ValidatorTable {
    // Byte classes: which ranges behave alike in the RFC 3629 §4 ABNF.
    static let ascii: UInt8 = 0  // 00-7F
    static let cont80: UInt8 = 1  // 80-8F
    static let cont90: UInt8 = 2  // 90-9F
    static let contA0: UInt8 = 3  // A0-BF
    static let invalid: UInt8 = 4  // C0, C1, F5-FF: never in UTF-8
    static let lead2: UInt8 = 5  // C2-DF
    static let leadE0: UInt8 = 6  // E0: next A0-BF (no overlongs)
    static let lead3: UInt8 = 7  // E1-EC, EE-EF
    static let leadED: UInt8 = 8  // ED: next 80-9F (no surrogates)
    static let leadF0: UInt8 = 9  // F0: next 90-BF (no overlongs)
    static let lead4: UInt8 = 10  // F1-F3
    static let leadF4: UInt8 = 11  // F4: next 80-8F (≤ U+10FFFF)

    // States, premultiplied by 16.
    static let accept: UInt8 = UTF8Validator.accept
    static let reject: UInt8 = UTF8Validator.reject
    static let need1: UInt8 = 32
    static let need2: UInt8 = 48
    static let need3: UInt8 = 64
    static let afterE0: UInt8 = 80
    static let afterED: UInt8 = 96
    static let afterF0: UInt8 = 112
    static let afterF4: UInt8 = 128
    static let stateSlots = 144

    /// 256 byte classes followed by the 144-entry transition table.
    @usableFromInline
    static let table: [UInt8] = {
        var table = [UInt8](repeating: reject, count: UTF8Validator.classBytes + stateSlots)
        for byte in 0...255 {
            let byteClass: UInt8
            switch byte {
            case 0x00...0x7F: byteClass = ascii
            case 0x80...0x8F: byteClass = cont80
            case 0x90...0x9F: byteClass = cont90
            case 0xA0...0xBF: byteClass = contA0
            case 0xC2...0xDF: byteClass = lead2
            case 0xE0: byteClass = leadE0
            case 0xED: byteClass = leadED
            case 0xE1...0xEF: byteClass = lead3
            case 0xF0: byteClass = leadF0
            case 0xF1...0xF3: byteClass = lead4
            case 0xF4: byteClass = leadF4
            default: byteClass = invalid
            }
            table[byte] = byteClass
        }
        func set(_ state: UInt8, _ classes: [UInt8], _ next: UInt8) {
            for byteClass in classes {
                table[UTF8Validator.classBytes + Int(state) + Int(byteClass)] = next
            }
        }
        let anyContinuation = [cont80, cont90, contA0]
        set(accept, [ascii], accept)
        set(accept, [lead2], need1)
        set(accept, [leadE0], afterE0)
        set(accept, [lead3], need2)
        set(accept, [leadED], afterED)
        set(accept, [leadF0], afterF0)
        set(accept, [lead4], need3)
        set(accept, [leadF4], afterF4)
        set(need1, anyContinuation, accept)
        set(need2, anyContinuation, need1)
        set(need3, anyContinuation, need2)
        set(afterE0, [contA0], need1)
        set(afterED, [cont80, cont90], need1)
        set(afterF0, [cont90, contA0], need2)
        set(afterF4, [cont80], need2)
        return table
    }()
}
