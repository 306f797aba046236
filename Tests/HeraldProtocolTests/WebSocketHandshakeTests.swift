import Testing

@testable import HeraldProtocol

@Suite struct WebSocketHandshakeTests {
    static let rfcKey = "dGhlIHNhbXBsZSBub25jZQ=="

    func request(
        method: String = "GET", versionMinor: Int = 1, removing: Set<String> = [], setting: [(String, String)] = []
    ) -> HTTPRequestHead {
        var fields: [(name: String, value: String)] = [
            ("Host", "server.example.com"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", Self.rfcKey), ("Sec-WebSocket-Version", "13"),
        ]
        fields.removeAll { removing.contains($0.name) || setting.map(\.0).contains($0.name) }
        fields += setting.map { (name: $0.0, value: $0.1) }
        return HTTPRequestHead(method: method, target: "/ws", versionMinor: versionMinor, headers: fields)
    }

    /// RFC 6455 §1.3: key "dGhlIHNhbXBsZSBub25jZQ==" gives "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".
    @Test func acceptValueOfRFCExample() {
        #expect(WebSocketHandshake.acceptValue(forKey: Self.rfcKey) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test func validRequestUpgrades() {
        #expect(WebSocketHandshake.evaluate(request()) == .upgrade(accept: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", deflate: nil))
    }

    @Test func tokensAreMatchedCaseInsensitivelyInLists() {
        let head = request(setting: [("Connection", "keep-alive, Upgrade"), ("Upgrade", "WebSocket")])
        #expect(WebSocketHandshake.evaluate(head) == .upgrade(accept: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", deflate: nil))
    }

    @Test func deflateOfferIsNegotiated() {
        let head = request(setting: [("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")])
        #expect(WebSocketHandshake.evaluate(head) == .upgrade(accept: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", deflate: DeflateOffer()))
    }

    @Test(arguments: [
        ("POST", 1, Set<String>(), [(String, String)]()),
        ("GET", 0, [], []),
        ("GET", 1, ["Upgrade"], []),
        ("GET", 1, [], [("Upgrade", "h2c")]),
        ("GET", 1, ["Connection"], []),
        ("GET", 1, [], [("Connection", "keep-alive")]),
        ("GET", 1, ["Host"], []),
        ("GET", 1, ["Sec-WebSocket-Key"], []),
        ("GET", 1, [], [("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ")]),  // no padding
        ("GET", 1, [], [("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25j")]),  // 15 bytes
        ("GET", 1, [], [("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAAAA")]),  // 18 bytes
        ("GET", 1, [], [("Sec-WebSocket-Key", "not base64 at all!!!!!==")]),
    ] as [(String, Int, Set<String>, [(String, String)])])
    func badRequests(method: String, minor: Int, removing: Set<String>, setting: [(String, String)]) {
        let head = request(method: method, versionMinor: minor, removing: removing, setting: setting)
        #expect(WebSocketHandshake.evaluate(head) == .reject(.badRequest))
    }

    /// A repeated key or version is refused like a wrong one (`header(_:)`
    /// would join them into "k, k" and "13, 13"; the fields are read in
    /// place now, and must still be one each).
    @Test func repeatedKeyOrVersionIsRefused() {
        var head = request()
        var fields = head.headers
        fields.append(("Sec-WebSocket-Key", Self.rfcKey))
        head = HTTPRequestHead(method: "GET", target: "/ws", versionMinor: 1, headers: fields)
        #expect(WebSocketHandshake.evaluate(head) == .reject(.badRequest))
        fields = request().headers + [("sec-websocket-version", "13")]
        head = HTTPRequestHead(method: "GET", target: "/ws", versionMinor: 1, headers: fields)
        #expect(WebSocketHandshake.evaluate(head) == .reject(.upgradeRequired))
    }

    @Test func wrongVersionIs426() {
        #expect(WebSocketHandshake.evaluate(request(setting: [("Sec-WebSocket-Version", "8")])) == .reject(.upgradeRequired))
        #expect(WebSocketHandshake.evaluate(request(removing: ["Sec-WebSocket-Version"])) == .reject(.upgradeRequired))
        // Version is checked before the key.
        let both = request(removing: ["Sec-WebSocket-Key"], setting: [("Sec-WebSocket-Version", "12")])
        #expect(WebSocketHandshake.evaluate(both) == .reject(.upgradeRequired))
    }

    @Test func rejectResponses() {
        let upgrade = String(decoding: WebSocketHandshake.rejectResponse(.upgradeRequired), as: UTF8.self)
        #expect(upgrade.hasPrefix("HTTP/1.1 426 Upgrade Required\r\n"))
        #expect(upgrade.contains("\r\nSec-WebSocket-Version: 13\r\n"))
        #expect(upgrade.contains("\r\nConnection: close\r\n"))
        let bad = String(decoding: WebSocketHandshake.rejectResponse(.badRequest), as: UTF8.self)
        #expect(bad.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        #expect(!bad.contains("Sec-WebSocket-Version"))
        #expect(!bad.contains("Retry-After"))
        let busy = String(decoding: WebSocketHandshake.rejectResponse(.serviceUnavailable), as: UTF8.self)
        #expect(busy.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"))
        #expect(busy.contains("\r\nRetry-After: 1\r\n"))
    }

    @Test func switchingProtocolsResponse() {
        let plain = WebSocketHandshake.switchingProtocolsResponse(accept: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", extensions: nil)
        #expect(
            String(decoding: plain, as: UTF8.self)
                == "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
        let deflate = WebSocketHandshake.switchingProtocolsResponse(accept: "x", extensions: "permessage-deflate; server_no_context_takeover")
        #expect(String(decoding: deflate, as: UTF8.self).hasSuffix("Sec-WebSocket-Accept: x\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n\r\n"))
    }
}
