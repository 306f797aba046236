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
        if let question = target.utf8.firstIndex(of: UInt8(ascii: "?")) {
            path = String(target[..<question])
            query = String(target[target.index(after: question)...])
        } else {
            path = target
            query = ""
        }
        self.versionMinor = versionMinor
        self.headers = headers
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
            for element in field.value.split(separator: ",", omittingEmptySubsequences: true)
            where ASCII.equalsIgnoringCase(ASCII.trimmed(element), token) {
                return true
            }
        }
        return false
    }
}
