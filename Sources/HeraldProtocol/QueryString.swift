/// Decodes a URL query (RFC 3986 §3.4) the way browsers encode forms
/// (WHATWG URL, application/x-www-form-urlencoded): `&`-separated
/// `name=value` pairs, `+` for space, `%XX` for any byte.
public enum QueryString {
    /// "a=1&b=x%20y" → [("a","1"), ("b","x y")]. A pair without `=` has an
    /// empty value; empty pairs (`a=1&&b=2`) are skipped. Nil when an escape
    /// is malformed or the decoded bytes are not UTF-8, so the caller can
    /// answer 400 rather than guess.
    public static func parse(_ query: String) -> [(name: String, value: String)]? {
        var pairs: [(name: String, value: String)] = []
        guard forEachPair(of: query, { pairs.append(($0, $1)) }) else { return nil }
        return pairs
    }

    /// What `parse` would give for the first pair named `name`, without
    /// the array of pairs (the `topic` of every publish): `valid` false
    /// when `parse` gives nil (every pair is still checked), `value` nil
    /// when no pair has that name.
    public static func firstValue(named name: String, in query: String) -> (valid: Bool, value: String?) {
        var value: String?
        let valid = forEachPair(of: query) { pairName, pairValue in
            if value == nil && pairName == name { value = pairValue }
        }
        return valid ? (true, value) : (false, nil)
    }

    /// Decodes each pair in order and hands it to `body`; false (having
    /// handed over the pairs before it) at the first malformed one. Pairs
    /// are read in place, empty ones skipped (this runs for every upgrade
    /// and every publish).
    static func forEachPair(of query: String, _ body: (String, String) -> Void) -> Bool {
        ASCII.forEachElement(of: query, separatedBy: UInt8(ascii: "&")) { pair in
            let equals = pair.firstIndex(of: UInt8(ascii: "=")) ?? pair.count
            // Safe: 0 <= equals <= pair.count.
            let name = UnsafeBufferPointer(rebasing: pair[..<equals])
            let value = UnsafeBufferPointer(rebasing: pair[min(equals + 1, pair.count)...])
            guard let decodedName = percentDecode(name), let decodedValue = percentDecode(value) else { return false }
            body(decodedName, decodedValue)
            return true
        }
    }

    /// Decodes `%XX` escapes and `+` (as space, since this is query text).
    /// Nil on a `%` not followed by two hex digits, or when the result is
    /// not valid UTF-8 (RFC 3629).
    public static func percentDecode(_ s: Substring) -> String? {
        var s = s
        return s.withUTF8 { percentDecode($0) }
    }

    /// `percentDecode` of bytes cut from valid UTF-8 at ASCII delimiters
    /// (so without escapes they are valid UTF-8 as they are).
    static func percentDecode(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        let percent = UInt8(ascii: "%")
        let plus = UInt8(ascii: "+")
        if !bytes.contains(where: { $0 == percent || $0 == plus }) {
            return String(decoding: bytes, as: UTF8.self)
        }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case percent:
                guard index + 1 < bytes.count, let high = hexValue(bytes[index]), let low = hexValue(bytes[index + 1]) else {
                    return nil
                }
                out.append(high << 4 | low)
                index += 2
            case plus:
                out.append(ASCII.space)
            default:
                out.append(byte)
            }
        }
        let valid = out.withUnsafeBytes { UTF8Validator.isValid($0) }
        return valid ? String(decoding: out, as: UTF8.self) : nil
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
