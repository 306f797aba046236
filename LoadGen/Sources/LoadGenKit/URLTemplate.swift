/// A `ws://` or `wss://` URL with `{host}` and `{topic}` placeholders, so
/// the same run can drive Herald (`ws://{host}/ws?topics={topic}`) or
/// another server, in plaintext or over TLS.
public struct URLTemplate: Sendable, Equatable {
    public static let herald = try! URLTemplate("ws://{host}/ws?topics={topic}")

    public let text: String
    /// The authority part (`{host}` or a literal `name:port` for the Host header).
    public let authority: String
    /// Path and query, still with placeholders.
    public let pathTemplate: String

    /// `wss://`: every client speaks TLS (OpenSSL, certificates not verified).
    public let secure: Bool

    public init(_ text: String) throws {
        if text.hasPrefix("ws://") {
            secure = false
        } else if text.hasPrefix("wss://") {
            secure = true
        } else {
            throw UsageError("--sub-url must start with ws:// or wss://: '\(text)'")
        }
        let rest = text.dropFirst(secure ? "wss://".count : "ws://".count)
        if let slash = rest.firstIndex(of: "/") {
            authority = String(rest[..<slash])
            pathTemplate = String(rest[slash...])
        } else {
            authority = String(rest)
            pathTemplate = "/"
        }
        guard !authority.isEmpty else { throw UsageError("--sub-url has no host: '\(text)'") }
        self.text = text
    }

    public var hasTopic: Bool { text.contains("{topic}") }

    /// The request target (path and query) for one client.
    public func path(topic: String) -> String { pathTemplate.replacingPlaceholder("{topic}", with: topic) }

    /// The Host header for one client.
    public func hostHeader(target: Target) -> String {
        authority.replacingPlaceholder("{host}", with: target.description)
    }
}

/// An `http://host:port/path` publish URL with a `{topic}` placeholder.
public struct HTTPURLTemplate: Sendable, Equatable {
    public let host: String
    public let port: UInt16
    public let pathTemplate: String

    public init(_ text: String) throws {
        guard text.hasPrefix("http://") else { throw UsageError("--pub-url must start with http://: '\(text)'") }
        let rest = text.dropFirst("http://".count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        pathTemplate = slash == rest.endIndex ? "/" : String(rest[slash...])
        if let colon = authority.lastIndex(of: ":") {
            guard let port = UInt16(authority[authority.index(after: colon)...]) else {
                throw UsageError("--pub-url: bad port in '\(text)'")
            }
            host = String(authority[..<colon])
            self.port = port
        } else {
            host = String(authority)
            port = 80
        }
        guard Target.parseIPv4(Substring(host)) != nil else {
            throw UsageError("--pub-url host must be an IPv4 address (no DNS in the load generator): '\(host)'")
        }
    }

    public func path(topic: String) -> String { pathTemplate.replacingPlaceholder("{topic}", with: topic) }
}

extension String {
    /// Replaces every occurrence of `placeholder` (no Foundation needed).
    func replacingPlaceholder(_ placeholder: String, with value: String) -> String {
        guard !placeholder.isEmpty, contains(placeholder) else { return self }
        var out = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: placeholder) {
            out += rest[..<range.lowerBound]
            out += value
            rest = rest[range.upperBound...]
        }
        out += rest
        return out
    }
}
