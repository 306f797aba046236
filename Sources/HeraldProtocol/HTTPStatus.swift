/// An HTTP status code and reason phrase (RFC 9110 §15).
public struct HTTPStatus: Hashable, Sendable {
    public var code: Int
    public var reason: String

    public init(code: Int, reason: String) {
        self.code = code
        self.reason = reason
    }

    /// RFC 9110 §15.2.1: the interim answer to `Expect: 100-continue`.
    public static let `continue` = HTTPStatus(code: 100, reason: "Continue")
    public static let switchingProtocols = HTTPStatus(code: 101, reason: "Switching Protocols")
    public static let ok = HTTPStatus(code: 200, reason: "OK")
    public static let badRequest = HTTPStatus(code: 400, reason: "Bad Request")
    public static let unauthorized = HTTPStatus(code: 401, reason: "Unauthorized")
    public static let forbidden = HTTPStatus(code: 403, reason: "Forbidden")
    public static let notFound = HTTPStatus(code: 404, reason: "Not Found")
    public static let methodNotAllowed = HTTPStatus(code: 405, reason: "Method Not Allowed")
    /// RFC 9110 §15.5.9: the client took too long to send its request.
    public static let requestTimeout = HTTPStatus(code: 408, reason: "Request Timeout")
    /// RFC 9110 §15.5.14 renamed 413 "Content Too Large"; the older phrase
    /// is kept because clients only read the code and operators know it.
    public static let payloadTooLarge = HTTPStatus(code: 413, reason: "Payload Too Large")
    /// RFC 9110 §15.5.18: an `Expect` other than 100-continue.
    public static let expectationFailed = HTTPStatus(code: 417, reason: "Expectation Failed")
    /// RFC 9110 §15.5.10: the request conflicts with the resource's state
    /// (the same Idempotency-Key still in progress on another node).
    public static let conflict = HTTPStatus(code: 409, reason: "Conflict")
    /// RFC 9110 §15.5.21: a request understood but not processable (an
    /// Idempotency-Key reused for a different request).
    public static let unprocessableContent = HTTPStatus(code: 422, reason: "Unprocessable Content")
    /// RFC 9110 §15.5.22; RFC 6455 §4.2.2 uses it for an unsupported version.
    public static let upgradeRequired = HTTPStatus(code: 426, reason: "Upgrade Required")
    /// RFC 6585 §5.
    public static let requestHeaderFieldsTooLarge = HTTPStatus(code: 431, reason: "Request Header Fields Too Large")
    public static let internalServerError = HTTPStatus(code: 500, reason: "Internal Server Error")
    /// RFC 9112 §6.1: a transfer coding the server does not implement.
    public static let notImplemented = HTTPStatus(code: 501, reason: "Not Implemented")
    public static let serviceUnavailable = HTTPStatus(code: 503, reason: "Service Unavailable")
}
