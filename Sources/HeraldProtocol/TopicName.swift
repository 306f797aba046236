/// Topic names (CONTRACT "Topic names"): 1-128 bytes of
/// `A-Z a-z 0-9 . _ - : @ /`. ASCII only, so a name is the same in a URL
/// query, JSON, Prometheus labels and logs without escaping.
public enum TopicName {
    /// Long enough for `tenant:app/room/1234...`-style names, short enough
    /// that per-connection topic lists stay small.
    public static let bytesMax = 128

    /// Concrete overloads, not one over `some StringProtocol`: called from
    /// other modules a generic one ran unspecialized, through witness
    /// tables, at ~40 ns a name — once for every topic of every handshake
    /// and every publish (issue 12).
    public static func isValid(_ s: String) -> Bool {
        var s = s
        return s.withUTF8 { isValid(UnsafeRawBufferPointer($0)) }
    }

    public static func isValid(_ s: Substring) -> Bool {
        var s = s
        return s.withUTF8 { isValid(UnsafeRawBufferPointer($0)) }
    }

    public static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 1 && bytes.count <= bytesMax && bytes.allSatisfy(isAllowed)
    }

    @inline(__always)
    static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: ":"),
            UInt8(ascii: "@"), UInt8(ascii: "/"):
            return true
        default:
            return false
        }
    }
}
