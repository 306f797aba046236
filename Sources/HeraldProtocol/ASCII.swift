/// Byte-level helpers for the ASCII-only grammars of HTTP (RFC 9110 §5.6)
/// and WebSocket headers. Case-insensitive here means ASCII-only folding:
/// HTTP field names and tokens are ASCII (RFC 9110 §5.1, §5.6.2), and
/// Unicode case mapping would be both slower and wrong for them.
enum ASCII {
    static let cr = UInt8(ascii: "\r")
    static let lf = UInt8(ascii: "\n")
    static let space = UInt8(ascii: " ")
    static let tab = UInt8(ascii: "\t")
    static let colon = UInt8(ascii: ":")
    static let comma = UInt8(ascii: ",")
    static let del: UInt8 = 0x7F

    @inline(__always)
    static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }

    static func equalsIgnoringCase(_ a: some StringProtocol, _ b: some StringProtocol) -> Bool {
        // Native strings (every header the parser makes) compare as two
        // byte buffers: this runs for every field of every handshake.
        let fast = a.utf8.withContiguousStorageIfAvailable { left in
            b.utf8.withContiguousStorageIfAvailable { right in equalsIgnoringCase(left, right) }
        }
        if let fast, let result = fast { return result }
        let left = a.utf8
        let right = b.utf8
        guard left.count == right.count else { return false }
        return zip(left, right).allSatisfy { lowercased($0) == lowercased($1) }
    }

    static func equalsIgnoringCase(_ left: UnsafeBufferPointer<UInt8>, _ right: UnsafeBufferPointer<UInt8>) -> Bool {
        guard left.count == right.count else { return false }
        for index in 0..<left.count where lowercased(left[index]) != lowercased(right[index]) { return false }
        return true
    }

    /// RFC 9110 §5.6.2 `tchar`.
    static func isTokenChar(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"),
            UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
            UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    static func isToken(_ s: some StringProtocol) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy(isTokenChar)
    }

    /// RFC 9110 §5.6.3 OWS.
    static func isWhitespace(_ byte: UInt8) -> Bool { byte == space || byte == tab }

    /// Calls `body` with the bytes of each non-empty element of a list
    /// separated by `separator` (query pairs, topic lists), without an
    /// array of them; false as soon as `body` is. The list is read in
    /// place: walking Substrings and their UTF-8 views cost ~4 % of the
    /// admin thread per single publish (issue 12). Elements of a String cut
    /// at an ASCII separator are valid UTF-8 as they are.
    static func forEachElement(of list: String, separatedBy separator: UInt8,
                               _ body: (UnsafeBufferPointer<UInt8>) -> Bool) -> Bool {
        var list = list
        return list.withUTF8 { bytes in
            var start = 0
            while start < bytes.count {
                var end = start
                while end < bytes.count && bytes[end] != separator { end += 1 }
                // Safe: start < end <= bytes.count.
                if end > start && !body(UnsafeBufferPointer(rebasing: bytes[start..<end])) { return false }
                start = end + 1
            }
            return true
        }
    }

    /// `s` without leading and trailing OWS.
    static func trimmed(_ s: Substring) -> Substring {
        var start = s.utf8.startIndex
        var end = s.utf8.endIndex
        while start < end, isWhitespace(s.utf8[start]) { start = s.utf8.index(after: start) }
        while end > start, isWhitespace(s.utf8[s.utf8.index(before: end)]) { end = s.utf8.index(before: end) }
        return Substring(s.utf8[start..<end])
    }
}
