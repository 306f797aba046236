/// A streaming UTF-8 validator (RFC 3629 §3, §4) for text messages that
/// arrive in fragments (RFC 6455 §5.6, §8.1).
///
/// A deterministic automaton that encodes the RFC 3629 §4 table exactly, so
/// it rejects overlong forms (C0, C1, E0 80-9F, F0 80-8F), surrogates
/// (ED A0-BF) and scalars above U+10FFFF (F4 90-BF, F5-FF). Once the input
/// can no longer be valid, the automaton sits in a sticky reject state and
/// the `validate` call that saw the bad byte returns false: Autobahn's 6.x
/// cases check exactly that (fail fast, not at the end of the message).
///
/// The transition table is "shift-based" (after Per Vognsen's and Dougall
/// Johnson's write-ups of Höhrmann-style DFAs): each byte selects one
/// `UInt64` row holding the next state for every state as a 6-bit field,
/// and a state is the bit offset of its field. One step is then a single
/// shift, `row &>> state` (the masking shift only reads the low 6 bits), so
/// the loop-carried dependency is one cycle instead of a table load.
/// Runs of ASCII are skipped 16 bytes at a time.
public struct UTF8Validator: Sendable, BitwiseCopyable {
    /// State offsets; see `UTF8ValidatorTable`.
    @usableFromInline static let accept: UInt64 = 0
    @usableFromInline static let reject: UInt64 = 6
    @usableFromInline static let stateMask: UInt64 = 63
    @usableFromInline static let asciiHighBits: UInt64 = 0x8080_8080_8080_8080
    @usableFromInline static let blockBytes = 16

    @usableFromInline var state: UInt8

    @inlinable
    public init() { state = UInt8(Self.accept) }

    /// True when the bytes so far end on a complete scalar; a text message
    /// must end in this state (RFC 6455 §8.1).
    @inlinable
    public var isAtCharacterBoundary: Bool { UInt64(state) == Self.accept }

    @inlinable
    public mutating func reset() { state = UInt8(Self.accept) }

    /// Feeds the next bytes of a message. Returns false as soon as the input
    /// can no longer be valid UTF-8, and keeps returning false until `reset()`.
    @inlinable
    public mutating func validate(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if UInt64(state) == Self.reject { return false }
        guard let base = bytes.baseAddress else { return true }
        let count = bytes.count
        var current = UInt64(state)
        UTF8ValidatorTable.rows.withUnsafeBufferPointer { rows in
            var index = 0
            // Safe: every load below stays inside `bytes` because
            // count - index ≥ blockBytes in this loop.
            while count - index >= Self.blockBytes {
                if current & Self.stateMask == Self.accept {
                    let low = base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                    let high = base.loadUnaligned(fromByteOffset: index &+ 8, as: UInt64.self)
                    if (low | high) & Self.asciiHighBits == 0 {
                        index &+= Self.blockBytes
                        continue
                    }
                }
                for offset in 0..<Self.blockBytes {
                    let byte = base.load(fromByteOffset: index &+ offset, as: UInt8.self)
                    current = rows[Int(byte)] &>> current
                }
                index &+= Self.blockBytes
                if current & Self.stateMask == Self.reject { return }
            }
            while index < count {
                let byte = base.load(fromByteOffset: index, as: UInt8.self)
                current = rows[Int(byte)] &>> current
                index &+= 1
            }
        }
        let final = current & Self.stateMask
        state = UInt8(truncatingIfNeeded: final)
        return final != Self.reject
    }

    /// Whether `bytes` is, on its own, complete valid UTF-8.
    @inlinable
    public static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var validator = UTF8Validator()
        return validator.validate(bytes) && validator.isAtCharacterBoundary
    }
}

/// The rows of `UTF8Validator`'s automaton, built once from the RFC 3629 §4
/// grammar rather than typed in as opaque numbers.
@usableFromInline
enum UTF8ValidatorTable {
    /// The automaton's states. A state's offset (`rawValue * 6`) is where
    /// its next-state field sits in each row.
    enum State: Int, CaseIterable {
        case accept = 0  // between scalars
        case reject  // sticky: the input can no longer be valid
        case need1  // one continuation byte (80-BF) left
        case need2  // two left
        case need3  // three left
        case afterE0  // E0: next must be A0-BF (no overlongs)
        case afterED  // ED: next must be 80-9F (no surrogates)
        case afterF0  // F0: next must be 90-BF (no overlongs)
        case afterF4  // F4: next must be 80-8F (at most U+10FFFF)

        var offset: UInt64 { UInt64(rawValue * 6) }
    }

    /// Where the automaton goes from `state` on `byte` (RFC 3629 §4 ABNF).
    static func next(_ state: State, _ byte: Int) -> State {
        let anyContinuation = 0x80...0xBF
        switch state {
        case .reject:
            return .reject
        case .accept:
            switch byte {
            case 0x00...0x7F: return .accept
            case 0xC2...0xDF: return .need1
            case 0xE0: return .afterE0
            case 0xED: return .afterED
            case 0xE1...0xEF: return .need2
            case 0xF0: return .afterF0
            case 0xF1...0xF3: return .need3
            case 0xF4: return .afterF4
            default: return .reject  // 80-BF, C0, C1, F5-FF
            }
        case .need1: return anyContinuation.contains(byte) ? .accept : .reject
        case .need2: return anyContinuation.contains(byte) ? .need1 : .reject
        case .need3: return anyContinuation.contains(byte) ? .need2 : .reject
        case .afterE0: return (0xA0...0xBF).contains(byte) ? .need1 : .reject
        case .afterED: return (0x80...0x9F).contains(byte) ? .need1 : .reject
        case .afterF0: return (0x90...0xBF).contains(byte) ? .need2 : .reject
        case .afterF4: return (0x80...0x8F).contains(byte) ? .need2 : .reject
        }
    }

    /// 256 rows; row[byte] holds, at each state's offset, the next state's offset.
    @usableFromInline
    static let rows: [UInt64] = (0...255).map { byte in
        State.allCases.reduce(UInt64(0)) { row, state in
            row | (next(state, byte).offset << state.offset)
        }
    }
}
