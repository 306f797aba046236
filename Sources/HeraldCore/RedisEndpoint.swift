/// One `--redis` URL: `redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]`
/// (CONTRACT "Multi-node"; the form redis-cli and every Redis client take).
public struct RedisEndpoint: Equatable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String?
    public var password: String?
    public var database: Int

    public static let defaultPort = 6379

    public init(host: String, port: Int = RedisEndpoint.defaultPort, username: String? = nil, password: String? = nil,
                database: Int = 0) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
    }

    /// The URL without its password (for logs and /v1/stats).
    public var description: String { "redis://\(host):\(port)/\(database)" }

    /// Parses one URL; nil when it is not a `redis://` URL with a host, a
    /// port in 1–65535 and a database in 0–15 (Redis's default count).
    public static func parse(_ text: String) -> RedisEndpoint? {
        guard text.hasPrefix("redis://") else { return nil }
        var rest = Substring(text.dropFirst("redis://".count))
        var endpoint = RedisEndpoint(host: "")
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let user = credentials[..<colon]
                endpoint.username = user.isEmpty ? nil : percentDecoded(user)
                endpoint.password = percentDecoded(credentials[credentials.index(after: colon)...])
            } else {
                // `redis://secret@host`: a bare credential is the password.
                endpoint.password = percentDecoded(credentials)
            }
            if endpoint.password == nil || endpoint.password!.isEmpty { return nil }
        }
        if let slash = rest.firstIndex(of: "/") {
            let database = rest[rest.index(after: slash)...]
            if !database.isEmpty {
                guard let value = Int(database), (0...15).contains(value) else { return nil }
                endpoint.database = value
            }
            rest = rest[..<slash]
        }
        if let colon = rest.lastIndex(of: ":") {
            guard let port = Int(rest[rest.index(after: colon)...]), (1...65_535).contains(port) else { return nil }
            endpoint.port = port
            rest = rest[..<colon]
        }
        guard !rest.isEmpty, rest.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" }) else { return nil }
        endpoint.host = String(rest)
        return endpoint
    }

    private static func percentDecoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next(), let low = iterator.next(),
                  let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(value)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Jump consistent hash (Lamping and Veach, "A Fast, Minimal Memory,
/// Consistent Hash Algorithm", 2014): which of `buckets` Redis instances
/// holds a topic. Adding an instance moves only 1/(n+1) of the topics, each
/// to the new one (Docs/SCALING.md "Adding a Redis").
public enum JumpHash {
    public static func bucket(key: UInt64, buckets: Int) -> Int {
        precondition(buckets > 0, "at least one bucket")
        var key = key
        var bucket: Int64 = -1
        var next: Int64 = 0
        while next < Int64(buckets) {
            bucket = next
            key = key &* 2_862_933_555_777_941_757 &+ 1
            next = Int64(Double(bucket + 1) * (Double(1 << 31) / Double((key >> 33) + 1)))
        }
        return Int(bucket)
    }

    /// A topic's instance: FNV-1a of its name (stable across processes and
    /// versions, unlike Swift's seeded `Hasher`), then the jump.
    public static func bucket(name: String, buckets: Int) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return bucket(key: hash, buckets: buckets)
    }
}
