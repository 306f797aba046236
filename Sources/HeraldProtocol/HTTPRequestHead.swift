/// A parsed HTTP/1.x request head (RFC 9112 §2-§5).
public struct HTTPRequestHead: Sendable {
    public var method: String
    /// The request-target exactly as sent (RFC 9112 §3.2), not decoded.
    public var target: String
    /// `target` before the first `?`.
    public var path: String
    /// `target` after the first `?`, "" when there is none.
    public var query: String
    /// The x of HTTP/1.x: 0 or 1.
    public var versionMinor: Int
    /// Fields in the order received; values without leading and trailing OWS.
    public var headers: [(name: String, value: String)]

    public init(
        method: String, target: String, versionMinor: Int, headers: [(name: String, value: String)]
    ) {
        self.method = method
        self.target = target
        let origin = HTTPRequestHead.originForm(of: target)
        if let question = origin.utf8.firstIndex(of: UInt8(ascii: "?")) {
            path = String(origin[..<question])
            query = String(origin[origin.index(after: question)...])
        } else {
            path = String(origin)
            query = ""
        }
        self.versionMinor = versionMinor
        self.headers = headers
    }

    /// The origin-form part (path and query) of a request-target. RFC 9112
    /// §3.2.2: a server MUST accept the absolute-form (`http://host/p?q`,
    /// what proxies send), whose path is then "/" when the URI has none.
    /// Other forms (origin, asterisk, authority) are returned as they are.
    static func originForm(of target: String) -> Substring {
        let bytes = Array(target.utf8)
        guard let first = bytes.first, first != UInt8(ascii: "/") else { return Substring(target) }
        // scheme "://" authority [ path-abempty ] [ "?" query ]
        var colon = 0
        while colon < bytes.count && bytes[colon] != UInt8(ascii: ":") { colon += 1 }
        guard colon + 2 < bytes.count, bytes[colon + 1] == UInt8(ascii: "/"), bytes[colon + 2] == UInt8(ascii: "/")
        else { return Substring(target) }
        let scheme = String(decoding: bytes[0..<colon], as: UTF8.self)
        guard ASCII.equalsIgnoringCase(scheme, "http") || ASCII.equalsIgnoringCase(scheme, "https") else {
            return Substring(target)
        }
        var end = colon + 3
        while end < bytes.count && bytes[end] != UInt8(ascii: "/") && bytes[end] != UInt8(ascii: "?") { end += 1 }
        let rest = String(decoding: bytes[end...], as: UTF8.self)
        return Substring(rest.isEmpty || rest.utf8.first == UInt8(ascii: "?") ? "/" + rest : rest)
    }

    /// How many `Host` fields the request carries. RFC 9112 §3.2: a server
    /// MUST answer 400 to an HTTP/1.1 request with none, and to any request
    /// with more than one.
    public var hostFieldCount: Int {
        headers.reduce(0) { $0 + (ASCII.equalsIgnoringCase($1.name, "Host") ? 1 : 0) }
    }

    /// True when the Host rule above is met.
    public var hasValidHost: Bool {
        let count = hostFieldCount
        return count == 1 || (count == 0 && versionMinor == 0)
    }

    /// The request's `Expect` (RFC 9110 §10.1.1): nil when absent, true for
    /// `100-continue` (the only expectation defined), false for anything else.
    public var expectsContinue: Bool? {
        guard let value = header("Expect") else { return nil }
        return ASCII.equalsIgnoringCase(ASCII.trimmed(Substring(value)), "100-continue")
    }

    /// The value of the field `name` (case-insensitive, RFC 9110 §5.1).
    /// Several fields of the same name are joined with ", " as RFC 9110
    /// §5.3 allows for list-based fields. Nil when absent.
    public func header(_ name: String) -> String? {
        var result: String?
        for field in headers where ASCII.equalsIgnoringCase(field.name, name) {
            if let existing = result {
                result = existing + ", " + field.value
            } else {
                result = field.value
            }
        }
        return result
    }

    /// Whether any field `name` lists `token` among its comma-separated
    /// elements (RFC 9110 §5.6.1), compared case-insensitively. This is how
    /// `Connection: keep-alive, Upgrade` is read (RFC 6455 §4.2.1 items 3-4).
    public func headerContainsToken(_ name: String, _ token: String) -> Bool {
        for field in headers where ASCII.equalsIgnoringCase(field.name, name) {
            // Elements between commas, OWS trimmed, without splitting into
            // an array (this runs for `Connection` and `Upgrade` of every
            // handshake).
            let value = field.value.utf8
            var start = value.startIndex
            while start < value.endIndex {
                let end = value[start...].firstIndex(of: ASCII.comma) ?? value.endIndex
                let element = ASCII.trimmed(Substring(value[start..<end]))
                if !element.isEmpty && ASCII.equalsIgnoringCase(element, token) { return true }
                start = end == value.endIndex ? end : value.index(after: end)
            }
        }
        return false
    }
}
