/// The token-level grammar of RFC 8259 shared by `JSONValidator` (which only
/// checks) and `JSONParser` (which builds values). Callers have already
/// checked that the whole input is UTF-8 (RFC 8259 §8.1), so bytes inside
/// strings can be copied as they are.
enum JSONLexer {
    static let quote = UInt8(ascii: "\"")
    static let backslash = UInt8(ascii: "\\")
    /// RFC 8259 §7: "All Unicode characters may be placed within the quotation
    /// marks, except for the characters that MUST be escaped: quotation mark,
    /// reverse solidus, and the control characters (U+0000 through U+001F)."
    static let firstNonControl: UInt8 = 0x20
    static let highSurrogates: ClosedRange<UInt32> = 0xD800...0xDBFF
    static let lowSurrogates: ClosedRange<UInt32> = 0xDC00...0xDFFF

    /// What follows a container's element (RFC 8259 §4, §5).
    enum ElementEnd {
        /// A `,`: another element follows (index is past the comma and whitespace).
        case more
        /// The closing bracket (index is past it).
        case closed
    }

    /// After an array element or object member: skips whitespace, then
    /// expects `,` or `closing`; nil on anything else.
    static func afterElement(_ bytes: UnsafeRawBufferPointer, _ index: inout Int, closing: UInt8) -> ElementEnd? {
        skipWhitespace(bytes, &index)
        guard index < bytes.count else { return nil }
        if bytes[index] == UInt8(ascii: ",") {
            index += 1
            skipWhitespace(bytes, &index)
            return .more
        }
        guard bytes[index] == closing else { return nil }
        index += 1
        return .closed
    }

    /// An object member's `"name" :` (RFC 8259 §4), leaving `index` at the
    /// value; false when malformed. The decoded name goes to `name`.
    static func memberName(_ bytes: UnsafeRawBufferPointer, _ index: inout Int, decode: Bool,
                           into name: inout [UInt8]) -> Bool {
        guard index < bytes.count, bytes[index] == quote, scanString(bytes, &index, decode: decode, into: &name) else {
            return false
        }
        skipWhitespace(bytes, &index)
        guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return false }
        index += 1
        skipWhitespace(bytes, &index)
        return true
    }

    /// RFC 8259 §2: ws = space, horizontal tab, line feed, carriage return.
    @inline(__always)
    static func skipWhitespace(_ bytes: UnsafeRawBufferPointer, _ index: inout Int) {
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                index += 1
            default:
                return
            }
        }
    }

    @inline(__always)
    static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    /// Matches `literal` (true, false, null) at `index`.
    static func scanLiteral(_ bytes: UnsafeRawBufferPointer, _ index: inout Int, _ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard bytes.count - index >= count else { return false }
        let pointer = literal.utf8Start
        for offset in 0..<count where bytes[index + offset] != pointer[offset] {
            return false
        }
        index += count
        return true
    }

    /// RFC 8259 §6: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    static func scanNumber(_ bytes: UnsafeRawBufferPointer, _ index: inout Int) -> Bool {
        let count = bytes.count
        var i = index
        if i < count && bytes[i] == UInt8(ascii: "-") { i += 1 }
        guard i < count else { return false }
        if bytes[i] == UInt8(ascii: "0") {
            i += 1
        } else if isDigit(bytes[i]) {
            while i < count && isDigit(bytes[i]) { i += 1 }
        } else {
            return false
        }
        if i < count && bytes[i] == UInt8(ascii: ".") {
            i += 1
            guard i < count, isDigit(bytes[i]) else { return false }
            while i < count && isDigit(bytes[i]) { i += 1 }
        }
        if i < count && (bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E")) {
            i += 1
            if i < count && (bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-")) { i += 1 }
            guard i < count, isDigit(bytes[i]) else { return false }
            while i < count && isDigit(bytes[i]) { i += 1 }
        }
        index = i
        return true
    }

    /// Scans a string starting at its opening quote and leaves `index` after
    /// the closing one. When `decode` is true the unescaped UTF-8 is appended
    /// to `out`; otherwise `out` is untouched, so validation allocates nothing.
    ///
    /// `\u` escapes must form whole scalars: a high surrogate must be followed
    /// by an escaped low one, and a lone surrogate is rejected, because it
    /// has no UTF-8 form (RFC 8259 §8.2, RFC 3629 §3).
    static func scanString(
        _ bytes: UnsafeRawBufferPointer, _ index: inout Int, decode: Bool, into out: inout [UInt8]
    ) -> Bool {
        let count = bytes.count
        var i = index + 1
        while i < count {
            let byte = bytes[i]
            if byte == quote {
                index = i + 1
                return true
            }
            if byte < firstNonControl { return false }
            if byte != backslash {
                if decode { out.append(byte) }
                i += 1
                continue
            }
            i += 1
            guard i < count else { return false }
            let escaped: UInt8
            switch bytes[i] {
            case quote: escaped = quote
            case backslash: escaped = backslash
            case UInt8(ascii: "/"): escaped = UInt8(ascii: "/")
            case UInt8(ascii: "b"): escaped = 0x08
            case UInt8(ascii: "f"): escaped = 0x0C
            case UInt8(ascii: "n"): escaped = UInt8(ascii: "\n")
            case UInt8(ascii: "r"): escaped = UInt8(ascii: "\r")
            case UInt8(ascii: "t"): escaped = UInt8(ascii: "\t")
            case UInt8(ascii: "u"):
                i += 1
                guard let scalar = scanUnicodeEscape(bytes, &i) else { return false }
                if decode { out.append(contentsOf: scalar.utf8) }
                continue
            default:
                return false
            }
            if decode { out.append(escaped) }
            i += 1
        }
        return false
    }

    /// `index` points just past `\u`; reads XXXX (and a following `\uXXXX`
    /// low surrogate when XXXX is a high one).
    static func scanUnicodeEscape(_ bytes: UnsafeRawBufferPointer, _ index: inout Int) -> Unicode.Scalar? {
        guard let first = hex4(bytes, &index) else { return nil }
        if lowSurrogates.contains(first) { return nil }
        if !highSurrogates.contains(first) { return Unicode.Scalar(first) }
        guard bytes.count - index >= 2, bytes[index] == backslash, bytes[index + 1] == UInt8(ascii: "u") else {
            return nil
        }
        index += 2
        guard let second = hex4(bytes, &index), lowSurrogates.contains(second) else { return nil }
        // RFC 2781 §2.2: combine the pair.
        let value = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
        return Unicode.Scalar(value)
    }

    static func hex4(_ bytes: UnsafeRawBufferPointer, _ index: inout Int) -> UInt32? {
        guard bytes.count - index >= 4 else { return nil }
        var value: UInt32 = 0
        for offset in 0..<4 {
            guard let digit = QueryString.hexValue(bytes[index + offset]) else { return nil }
            value = value << 4 | UInt32(digit)
        }
        index += 4
        return value
    }
}
