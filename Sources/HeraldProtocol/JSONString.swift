/// Writes JSON string literals (RFC 8259 §7).
public enum JSONString {
    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Appends `s` as a quoted JSON string: `"` and `\` are escaped, control
    /// characters U+0000-U+001F become `\u00XX`, everything else is copied.
    /// Bytes that are not UTF-8 are replaced with U+FFFD first: the result
    /// goes into text frames, and invalid UTF-8 there would make every
    /// subscriber fail the connection with 1007 (RFC 6455 §8.1).
    public static func append(_ s: some Collection<UInt8>, to out: inout [UInt8]) {
        let isValid =
            s.withContiguousStorageIfAvailable { UTF8Validator.isValid(UnsafeRawBufferPointer($0)) }
            ?? Array(s).withUnsafeBytes { UTF8Validator.isValid($0) }
        out.append(JSONLexer.quote)
        if isValid {
            appendEscaped(s, to: &out)
        } else {
            appendEscaped(String(decoding: s, as: UTF8.self).utf8, to: &out)
        }
        out.append(JSONLexer.quote)
    }

    /// `append` for a String's bytes, which are valid UTF-8 by construction:
    /// no validation, and one copy when nothing needs escaping (topic
    /// names and epochs: every publish's envelope and result).
    public static func append(_ s: String.UTF8View, to out: inout [UInt8]) {
        let done = s.withContiguousStorageIfAvailable { bytes -> Bool in
            out.append(JSONLexer.quote)
            if bytes.contains(where: needsEscape) {
                appendEscaped(bytes, to: &out)
            } else {
                out.append(contentsOf: bytes)
            }
            out.append(JSONLexer.quote)
            return true
        }
        if done == nil {
            out.append(JSONLexer.quote)
            appendEscaped(s, to: &out)
            out.append(JSONLexer.quote)
        }
    }

    /// Appends a literal's bytes as they are (member names and the
    /// punctuation around them): one copy, where appending a String
    /// literal's UTF-8 view went through its iterator (issue 12).
    @inline(__always)
    public static func appendLiteral(_ text: StaticString, to out: inout [UInt8]) {
        text.withUTF8Buffer { out.append(contentsOf: $0) }
    }

    /// Whether `byte` cannot stand for itself inside a JSON string (a
    /// quote, a backslash, a control character).
    @inline(__always)
    static func needsEscape(_ byte: UInt8) -> Bool {
        byte == JSONLexer.quote || byte == JSONLexer.backslash || byte < JSONLexer.firstNonControl
    }

    static func appendEscaped(_ s: some Collection<UInt8>, to out: inout [UInt8]) {
        // No reserveCapacity: `out` may be a long body written piece by
        // piece, and an exact reservation per piece would copy it each time.
        for byte in s {
            if byte == JSONLexer.quote || byte == JSONLexer.backslash {
                out.append(JSONLexer.backslash)
                out.append(byte)
            } else if byte < JSONLexer.firstNonControl {
                out.append(contentsOf: "\\u00".utf8)
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0x0F)])
            } else {
                out.append(byte)
            }
        }
    }
}

/// Writes non-negative JSON integers (RFC 8259 §6) without building a
/// String first: every publish's seq goes into its frame and its result.
public enum JSONNumber {
    public static func append(_ value: UInt64, to out: inout [UInt8]) {
        guard value >= 10 else {
            out.append(UInt8(ascii: "0") + UInt8(value))
            return
        }
        // The digits in a buffer of their own, appended in one copy (an
        // append per digit checked the array's uniqueness and room each time).
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes ≥ 20 digits
        withUnsafeMutableBytes(of: &digits) { buffer in
            var count = 0
            forEachDigit(of: value) { digit in
                buffer[count] = digit
                count += 1
            }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
    }

    /// `append` into a buffer being filled in place.
    static func write(_ value: UInt64, to writer: inout ByteWriter) {
        forEachDigit(of: value) { writer.write($0) }
    }

    /// The digits `append` writes.
    public static func digitCount(_ value: UInt64) -> Int {
        var count = 1
        var rest = value / 10
        while rest > 0 {
            count += 1
            rest /= 10
        }
        return count
    }

    /// The decimal digits of `value`, most significant first.
    @inline(__always)
    private static func forEachDigit(of value: UInt64, _ body: (UInt8) -> Void) {
        var digits: (UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0)  // 40 bytes ≥ 20 digits
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
                count += 1
            } while rest > 0
            for index in stride(from: count - 1, through: 0, by: -1) { body(buffer[index]) }
        }
    }
}
