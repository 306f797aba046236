import HeraldCore
import HeraldProtocol

/// Maps one admin request to its response (CONTRACT "Admin listener").
struct AdminRouter {
    let token: String?
    let stats: StatsReport

    struct Response {
        let status: HTTPStatus
        let contentType: String
        let body: [UInt8]
        var headers: [(String, String)] = []
    }

    func respond(_ request: AdminRequest) -> Response {
        if let token, !authorized(request.head, token: token) {
            return Self.error(.unauthorized, "missing or wrong bearer token",
                              headers: [("WWW-Authenticate", "Bearer realm=\"herald\"")])
        }
        let path = request.head.path
        let method = request.head.method
        switch path {
        case "/healthz":
            guard method == "GET" || method == "HEAD" else { return Self.methodNotAllowed("GET") }
            return Response(status: .ok, contentType: "text/plain; charset=utf-8", body: Array("ok".utf8))
        case "/v1/stats":
            guard method == "GET" else { return Self.methodNotAllowed("GET") }
            return Response(status: .ok, contentType: "application/json", body: stats.json())
        case "/metrics":
            guard method == "GET" else { return Self.methodNotAllowed("GET") }
            return Response(status: .ok, contentType: "text/plain; version=0.0.4; charset=utf-8",
                            body: stats.prometheus())
        default:
            return Self.error(.notFound, "no such endpoint: \(path)")
        }
    }

    /// Constant-time comparison: the token check must not leak how many
    /// leading bytes matched.
    private func authorized(_ head: HTTPRequestHead, token: String) -> Bool {
        guard let value = head.header("Authorization"), value.hasPrefix("Bearer ") else { return false }
        let given = Array(value.utf8.dropFirst(7))
        let expected = Array(token.utf8)
        guard given.count == expected.count else { return false }
        var difference: UInt8 = 0
        for index in 0..<given.count { difference |= given[index] ^ expected[index] }
        return difference == 0
    }

    static func error(_ status: HTTPStatus, _ message: String, headers: [(String, String)] = []) -> Response {
        var body: [UInt8] = Array("{\"error\":".utf8)
        JSONString.append(Array(message.utf8), to: &body)
        body.append(UInt8(ascii: "}"))
        return Response(status: status, contentType: "application/json", body: body, headers: headers)
    }

    static func methodNotAllowed(_ allow: String) -> Response {
        error(.methodNotAllowed, "method not allowed", headers: [("Allow", allow)])
    }
}
