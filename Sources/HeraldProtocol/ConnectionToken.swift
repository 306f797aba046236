/// Connection authentication with HS256 JSON Web Tokens (CONTRACT
/// "Security"; RFC 7519, RFC 7515 compact form, RFC 7518 §3.2).
///
/// Claims used: `sub` (the user id), `topics` (topic names, or prefixes
/// ending in `*`, the connection may subscribe to), `exp` and `nbf`
/// (seconds since the epoch, honoured with no leeway beyond `leewaySeconds`).
public struct ConnectionToken: Sendable, Equatable {
    public var subject: String?
    public var grant: TopicGrant
    public var expiresAt: Int64?

    /// Clock skew tolerated on `exp`/`nbf` (RFC 7519 §4.1.4 allows "some
    /// small leeway"): half a minute covers ordinary NTP drift.
    public static let leewaySeconds: Int64 = 30
    /// NumericDate bound (year ~33,000): rejects absurd values before they
    /// reach an integer conversion that would trap.
    static let maxClaimSeconds: Double = 1e12

    public struct Failure: Error, Equatable, Sendable, CustomStringConvertible {
        public let reason: String
        /// The token was valid but its `exp` has passed (close 4002, not 4001).
        public var isExpiry: Bool { reason == Failure.expiredReason }
        public var description: String { reason }
        static let expiredReason = "token expired"
    }

    /// Verifies `token` with `secret` at `nowSeconds`. The signature is
    /// checked (in constant time) before any claim is trusted.
    public static func verify(_ token: String, secret: [UInt8], nowSeconds: Int64) -> Result<ConnectionToken, Failure> {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3,
              let headerBytes = Base64URL.decode(parts[0]),
              let payloadBytes = Base64URL.decode(parts[1]),
              let signature = Base64URL.decode(parts[2]) else {
            return .failure(Failure(reason: "malformed token"))
        }
        guard let header = headerBytes.withUnsafeBytes({ JSONValue.parse($0) }),
              header["alg"]?.stringValue == "HS256" else {
            // Only HS256 is accepted: "none" and algorithm confusion are
            // refused by construction (RFC 8725 §2.1, §3.1).
            return .failure(Failure(reason: "token algorithm must be HS256"))
        }
        let signingInput = Array(parts[0].utf8) + [UInt8(ascii: ".")] + Array(parts[1].utf8)
        let expected = HMACSHA256.authenticate(signingInput, key: secret)
        guard constantTimeEqual(expected, signature) else {
            return .failure(Failure(reason: "bad token signature"))
        }
        guard let claims = payloadBytes.withUnsafeBytes({ JSONValue.parse($0) }), case .object = claims else {
            return .failure(Failure(reason: "token claims are not a JSON object"))
        }
        var token = ConnectionToken(subject: claims["sub"]?.stringValue, grant: TopicGrant(patterns: []), expiresAt: nil)
        if let exp = claims["exp"] {
            guard let seconds = exp.numberValue, abs(seconds) < maxClaimSeconds else {
                return .failure(Failure(reason: "bad exp claim"))
            }
            token.expiresAt = Int64(seconds)
            guard nowSeconds < Int64(seconds) + leewaySeconds else {
                return .failure(Failure(reason: Failure.expiredReason))
            }
        }
        if let nbf = claims["nbf"] {
            guard let seconds = nbf.numberValue, abs(seconds) < maxClaimSeconds else {
                return .failure(Failure(reason: "bad nbf claim"))
            }
            guard nowSeconds + leewaySeconds >= Int64(seconds) else {
                return .failure(Failure(reason: "token not yet valid"))
            }
        }
        if let topics = claims["topics"] {
            guard let list = topics.arrayValue else { return .failure(Failure(reason: "topics claim must be an array")) }
            var patterns: [String] = []
            for item in list {
                guard let pattern = item.stringValue, TopicGrant.isValidPattern(pattern) else {
                    return .failure(Failure(reason: "bad entry in topics claim"))
                }
                patterns.append(pattern)
            }
            token.grant = TopicGrant(patterns: patterns)
        }
        return .success(token)
    }
}

/// The topics a token allows: exact names, or prefixes ending in `*`
/// (`"prices/*"` allows `prices/eur`; a lone `"*"` allows every topic).
public struct TopicGrant: Sendable, Hashable {
    public let exact: Set<String>
    public let prefixes: [String]

    public init(patterns: [String]) {
        var exact = Set<String>()
        var prefixes: [String] = []
        for pattern in patterns {
            if pattern.hasSuffix("*") { prefixes.append(String(pattern.dropLast())) } else { exact.insert(pattern) }
        }
        self.exact = exact
        self.prefixes = prefixes.sorted()
    }

    public func allows(_ topic: String) -> Bool {
        exact.contains(topic) || prefixes.contains { topic.hasPrefix($0) }
    }

    /// A topic name, or a topic-name prefix followed by one `*`.
    public static func isValidPattern(_ pattern: String) -> Bool {
        if pattern == "*" { return true }
        if pattern.hasSuffix("*") {
            let prefix = pattern.dropLast()
            return !prefix.contains("*") && TopicName.isValid(prefix)
        }
        return TopicName.isValid(pattern)
    }
}

/// Base64url without padding (RFC 4648 §5), as JWS uses it (RFC 7515 §2).
public enum Base64URL {
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        var standard = String(text.map { $0 == "-" ? "+" : $0 == "_" ? "/" : $0 })
        guard !standard.contains("=") else { return nil }
        while standard.utf8.count % 4 != 0 { standard += "=" }
        return Base64.decode(standard)
    }

    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        String(Base64.encode(bytes).compactMap { $0 == "=" ? nil : $0 == "+" ? "-" : $0 == "/" ? "_" : $0 })
    }
}
