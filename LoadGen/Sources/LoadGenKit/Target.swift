/// One IPv4 destination. Loopback runs spread over many 127.0.0.x so that
/// each (source, destination) pair has its own ~64k ephemeral ports.
public struct Target: Sendable, Equatable, CustomStringConvertible {
    /// Host byte order.
    public let address: UInt32
    public let port: UInt16

    public init(address: UInt32, port: UInt16) {
        self.address = address
        self.port = port
    }

    public var host: String {
        "\(address >> 24).\(address >> 16 & 0xFF).\(address >> 8 & 0xFF).\(address & 0xFF)"
    }

    /// `host:port`, what `{host}` in a URL template becomes.
    public var description: String { "\(host):\(port)" }

    /// Comma-separated `A.B.C.D:PORT` or `A.B.C.D-E.F.G.H:PORT` (or `A.B.C.D-H:PORT`,
    /// the last octet only), expanded in order.
    public static func parseList(_ text: String) throws -> [Target] {
        var result: [Target] = []
        for item in text.split(separator: ",") {
            guard let colon = item.lastIndex(of: ":"), let port = UInt16(item[item.index(after: colon)...]), port > 0 else {
                throw UsageError("--targets: '\(item)' needs ADDRESS:PORT")
            }
            let addresses = item[..<colon]
            let bounds = addresses.split(separator: "-", maxSplits: 1)
            guard let first = parseIPv4(bounds[0]) else { throw UsageError("--targets: bad IPv4 address in '\(item)'") }
            var last = first
            if bounds.count == 2 {
                if let full = parseIPv4(bounds[1]) {
                    last = full
                } else if let octet = UInt8(bounds[1]) {
                    last = first & 0xFFFF_FF00 | UInt32(octet)
                } else {
                    throw UsageError("--targets: bad range end in '\(item)'")
                }
            }
            guard last >= first, last - first < 65_536 else { throw UsageError("--targets: empty or huge range '\(item)'") }
            for address in first...last { result.append(Target(address: address, port: port)) }
        }
        guard !result.isEmpty else { throw UsageError("--targets: no addresses") }
        return result
    }

    static func parseIPv4(_ text: Substring) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard let octet = UInt8(part) else { return nil }
            value = value << 8 | UInt32(octet)
        }
        return value
    }
}
