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

    static func appendEscaped(_ s: some Collection<UInt8>, to out: inout [UInt8]) {
        out.reserveCapacity(out.count + s.count)
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
