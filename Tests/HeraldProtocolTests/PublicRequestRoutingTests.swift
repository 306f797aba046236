import Testing
@testable import HeraldProtocol

@Suite struct PublicRequestRoutingTests {
    static let key = "dGhlIHNhbXBsZSBub25jZQ=="

    static func head(_ target: String, method: String = "GET", version: Int = 1,
                     fields: [(String, String)]? = nil) -> HTTPRequestHead {
        let defaults: [(String, String)] = [
            ("Host", "example"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", "13"),
        ]
        return HTTPRequestHead(method: method, target: target, versionMinor: version,
                               headers: (fields ?? defaults).map { (name: $0.0, value: $0.1) })
    }

    static let policy = PublicRoutingPolicy(enableEcho: true, topicsPerConnectionMax: 4, jwtSecret: nil)

    static func decide(_ head: HTTPRequestHead, overCapacity: Bool = false,
                       policy: PublicRoutingPolicy = policy) -> PublicRequestDecision {
        PublicRequestRouting.decide(head, overCapacity: overCapacity, policy: policy, nowSeconds: 1_700_000_000)
    }

    static func upgrade(_ decision: PublicRequestDecision) -> PublicUpgrade? {
        if case .upgrade(let upgrade) = decision { return upgrade }
        return nil
    }

    @Test func upgradeWithTopics() throws {
        let upgrade = try #require(Self.upgrade(Self.decide(Self.head("/ws?topics=a,b"))))
        #expect(upgrade.route == .webSocket)
        #expect(upgrade.topics == ["a", "b"])
        #expect(upgrade.accept == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        #expect(upgrade.token == nil)
    }

    @Test func repeatedTopicsCountOnce() throws {
        // 65 copies of one name are one subscription, within a 4-topic limit.
        let query = Array(repeating: "a", count: 65).joined(separator: ",")
        let upgrade = try #require(Self.upgrade(Self.decide(Self.head("/ws?topics=\(query)&topics=b,a"))))
        #expect(upgrade.topics == ["a", "b"])
    }

    /// Past `linearDeduplicationMax` names the list is de-duplicated
    /// through a set: the same answer, order kept, each name once.
    @Test func longTopicListsDeduplicateThroughASet() throws {
        let policy = PublicRoutingPolicy(enableEcho: false, topicsPerConnectionMax: 40, jwtSecret: nil)
        let names = (0..<30).map { "t\($0)" }
        let query = (names + names.reversed() + ["t3", "t29"]).joined(separator: ",")
        let upgrade = try #require(Self.upgrade(Self.decide(Self.head("/ws?topics=\(query)&topics=t0,x"), policy: policy)))
        #expect(upgrade.topics == names + ["x"])
        let tooMany = (0..<41).map { "u\($0)" }.joined(separator: ",")
        #expect(Self.decide(Self.head("/ws?topics=\(tooMany)"), policy: policy) == .refuse(.badRequest, .badRequest))
    }

    @Test func tooManyDistinctTopicsIs400() {
        #expect(Self.decide(Self.head("/ws?topics=a,b,c,d,e")) == .refuse(.badRequest, .badRequest))
        #expect(Self.upgrade(Self.decide(Self.head("/ws?topics=a,b,c,d"))) != nil)
    }

    @Test func badTopicOrQueryIs400() {
        #expect(Self.decide(Self.head("/ws?topics=a%20b")) == .refuse(.badRequest, .badRequest))
        #expect(Self.decide(Self.head("/ws?topics=%zz")) == .refuse(.badRequest, .badRequest))
    }

    @Test func capacityComesFirst() {
        #expect(Self.decide(Self.head("/nowhere"), overCapacity: true) == .refuse(.serviceUnavailable, .capacity))
    }

    @Test func unknownPathIs404AndEchoNeedsItsFlag() {
        #expect(Self.decide(Self.head("/other")) == .refuse(.notFound, .notFound))
        let noEcho = PublicRoutingPolicy(enableEcho: false, topicsPerConnectionMax: 4, jwtSecret: nil)
        #expect(Self.decide(Self.head("/echo"), policy: noEcho) == .refuse(.notFound, .notFound))
        #expect(Self.upgrade(Self.decide(Self.head("/echo")))?.route == .echo)
    }

    @Test func healthAnswersGetAndHeadOnly() {
        let fields = [("Host", "h")]
        #expect(Self.decide(Self.head("/healthz", fields: fields)) == .health(headOnly: false))
        #expect(Self.decide(Self.head("/healthz", method: "HEAD", fields: fields)) == .health(headOnly: true))
        #expect(Self.decide(Self.head("/healthz", method: "POST", fields: fields)) == .methodNotAllowed)
    }

    @Test func hostMissingOrRepeatedIs400() {
        // RFC 9112 §3.2, for every path.
        #expect(Self.decide(Self.head("/healthz", fields: [])) == .refuse(.badRequest, .badRequest))
        #expect(Self.decide(Self.head("/healthz", fields: [("Host", "a"), ("host", "b")]))
                == .refuse(.badRequest, .badRequest))
        #expect(Self.decide(Self.head("/healthz", version: 0, fields: [])) == .health(headOnly: false))
    }

    @Test func absoluteFormIsRouted() throws {
        // RFC 9112 §3.2.2: a server MUST accept the absolute-form.
        let upgrade = try #require(Self.upgrade(Self.decide(Self.head("http://example/ws?topics=x"))))
        #expect(upgrade.topics == ["x"])
        #expect(Self.decide(Self.head("HTTP://example:80/healthz", fields: [("Host", "example")]))
                == .health(headOnly: false))
    }

    @Test func upgradeWithABodyIs400() {
        var fields: [(String, String)] = [
            ("Host", "example"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", Self.key), ("Sec-WebSocket-Version", "13"),
        ]
        #expect(Self.decide(Self.head("/ws", fields: fields + [("Content-Length", "5")])) == .refuse(.badRequest, .badRequest))
        #expect(Self.decide(Self.head("/ws", fields: fields + [("Transfer-Encoding", "chunked")]))
                == .refuse(.badRequest, .badRequest))
        fields.append(("Content-Length", "0"))
        #expect(Self.upgrade(Self.decide(Self.head("/ws", fields: fields))) != nil)
    }

    @Test func handshakeRefusalsKeepTheirStatus() {
        var fields: [(String, String)] = [
            ("Host", "example"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", Self.key), ("Sec-WebSocket-Version", "8"),
        ]
        #expect(Self.decide(Self.head("/ws", fields: fields)) == .refuse(.upgradeRequired, .version))
        fields[4] = ("Sec-WebSocket-Version", "13")
        #expect(Self.decide(Self.head("/ws", method: "POST", fields: fields)) == .refuse(.badRequest, .badRequest))
    }

    @Test func aBadTokenUpgradesThenClosesWith4001Or4002() throws {
        // CONTRACT "Security": a browser never sees an HTTP status of a failed
        // upgrade, so it upgrades and the close code says why.
        let secret = Array("s".utf8)
        let policy = PublicRoutingPolicy(enableEcho: false, topicsPerConnectionMax: 4, jwtSecret: secret)
        let missing = try #require(Self.upgrade(Self.decide(Self.head("/ws?topics=a"), policy: policy)))
        #expect(missing.authFailure == .unauthorized && missing.topics.isEmpty && missing.token == nil)
        #expect(Self.upgrade(Self.decide(Self.head("/ws?token=x.y.z"), policy: policy))?.authFailure == .unauthorized)
        func sign(_ claims: String) -> String {
            let header = Base64URL.encode(Array(#"{"alg":"HS256"}"#.utf8))
            let payload = Base64URL.encode(Array(claims.utf8))
            let signature = Base64URL.encode(HMACSHA256.authenticate(Array("\(header).\(payload)".utf8), key: secret))
            return "\(header).\(payload).\(signature)"
        }
        let expired = sign(#"{"sub":"u","exp":1000}"#)
        #expect(Self.upgrade(Self.decide(Self.head("/ws?token=\(expired)"), policy: policy))?.authFailure == .tokenExpired)
        let good = try #require(Self.upgrade(Self.decide(Self.head("/ws?topics=a&token=\(sign(#"{"sub":"u","topics":["a"]}"#))"),
                                                         policy: policy)))
        #expect(good.authFailure == nil && good.token?.subject == "u" && good.topics == ["a"])
    }
}

@Suite struct HTTPRequestTargetTests {
    @Test(arguments: [
        ("/ws?topics=a", "/ws", "topics=a"),
        ("http://h/ws?topics=a", "/ws", "topics=a"),
        ("https://h:443/a/b", "/a/b", ""),
        ("http://h", "/", ""),
        ("http://h?x=1", "/", "x=1"),
        ("*", "*", ""),
        ("ftp://h/x", "ftp://h/x", ""),
    ])
    func pathAndQuery(target: String, path: String, query: String) {
        let head = HTTPRequestHead(method: "GET", target: target, versionMinor: 1, headers: [])
        #expect(head.path == path)
        #expect(head.query == query)
        #expect(head.target == target)
    }

    @Test func expectation() {
        func head(_ value: String?) -> HTTPRequestHead {
            HTTPRequestHead(method: "POST", target: "/", versionMinor: 1,
                            headers: value.map { [(name: "Expect", value: $0)] } ?? [])
        }
        #expect(head(nil).expectsContinue == nil)
        #expect(head("100-Continue").expectsContinue == true)
        #expect(head("something").expectsContinue == false)
    }
}

@Suite struct HTTPBodyFramingTests {
    static func head(_ fields: [(String, String)], version: Int = 1) -> HTTPRequestHead {
        HTTPRequestHead(method: "POST", target: "/", versionMinor: version, headers: fields.map { (name: $0.0, value: $0.1) })
    }

    @Test func framings() throws {
        #expect(try HTTPBodyFraming.of(Self.head([]), bodyBytesMax: 10).get() == HTTPBodyFraming.none)
        #expect(try HTTPBodyFraming.of(Self.head([("Content-Length", "0")]), bodyBytesMax: 10).get() == HTTPBodyFraming.none)
        #expect(try HTTPBodyFraming.of(Self.head([("Content-Length", "7")]), bodyBytesMax: 10).get() == .contentLength(7))
        #expect(try HTTPBodyFraming.of(Self.head([("Transfer-Encoding", "chunked")]), bodyBytesMax: 10).get()
                == .chunked(closeAfter: false))
        #expect(try HTTPBodyFraming.of(Self.head([("Content-Length", "7"), ("Transfer-Encoding", "chunked")]),
                                       bodyBytesMax: 10).get() == .chunked(closeAfter: true))
    }

    @Test func refusals() {
        func status(_ fields: [(String, String)], version: Int = 1) -> Int? {
            if case .failure(let refusal) = HTTPBodyFraming.of(Self.head(fields, version: version), bodyBytesMax: 10) {
                return refusal.status.code
            }
            return nil
        }
        #expect(status([("Content-Length", "11")]) == 413)
        #expect(status([("Content-Length", "+1")]) == 400)
        #expect(status([("Content-Length", "1"), ("Content-Length", "1")]) == 400)
        #expect(status([("Transfer-Encoding", "chunked")], version: 0) == 400)
        #expect(status([("Transfer-Encoding", "chunked, gzip")]) == 400)
        #expect(status([("Transfer-Encoding", "gzip, chunked")]) == 501)
    }
}

@Suite struct ChunkedBodyDecoderTests {
    static func decode(_ text: String, splitEvery step: Int, bodyBytesMax: Int = 1024)
        -> (body: [UInt8], step: ChunkedBodyDecoder.Step, consumed: Int) {
        var decoder = ChunkedBodyDecoder()
        var body: [UInt8] = []
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + step)
            let result = bytes[offset..<end].withUnsafeBytes { decoder.feed($0, into: &body, bodyBytesMax: bodyBytesMax) }
            switch result {
            case .needMore: offset = end
            case .done(let consumed): return (body, result, offset + consumed)
            case .failure: return (body, result, offset)
            }
        }
        return (body, .needMore, offset)
    }

    @Test(arguments: [1, 2, 3, 7, 1000])
    func anySplitDecodesTheSame(step: Int) {
        let text = "4;a=b\r\nwiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nT: v\r\n\r\nNEXT"
        let result = Self.decode(text, splitEvery: step)
        #expect(result.body == Array("wikipedia in\r\n\r\nchunks.".utf8))
        if case .done = result.step {} else { Issue.record("not done: \(result.step)") }
        #expect(result.consumed == text.utf8.count - 4)
    }

    @Test func limits() {
        #expect(Self.decode("B\r\n", splitEvery: 1, bodyBytesMax: 10).step == .failure(.payloadTooLarge, "body over 10 bytes"))
        let ext = "1;" + String(repeating: "x", count: ChunkedBodyDecoder.lineBytesMax) + "\r\n"
        if case .failure(let status, _) = Self.decode(ext, splitEvery: 5).step {
            #expect(status == .badRequest)
        } else {
            Issue.record("a chunk-size line over the limit must fail")
        }
        let trailers = "0\r\n" + String(repeating: "X: y\r\n", count: 2000)
        if case .failure(let status, _) = Self.decode(trailers, splitEvery: 64).step {
            #expect(status == .requestHeaderFieldsTooLarge)
        } else {
            Issue.record("trailers over the limit must fail")
        }
    }
}

@Suite struct PublicPageRoutingTests {
    static func head(_ method: String, _ target: String, upgrade: Bool = false) -> HTTPRequestHead {
        var fields: [(name: String, value: String)] = [("Host", "h")]
        if upgrade { fields.append(("Upgrade", "websocket")) }
        return HTTPRequestHead(method: method, target: target, versionMinor: 1, headers: fields)
    }

    static let pages = PublicRoutingPolicy(enableEcho: false, topicsPerConnectionMax: 4, jwtSecret: nil, servePages: true)
    static let noPages = PublicRoutingPolicy(enableEcho: false, topicsPerConnectionMax: 4, jwtSecret: nil, servePages: false)

    @Test func pagesAreServedToPlainGetsAndHeads() {
        #expect(PublicRequestRouting.decide(Self.head("GET", "/?topic=x"), overCapacity: false, policy: Self.pages,
                                            nowSeconds: 0) == .page(.demo, headOnly: false))
        #expect(PublicRequestRouting.decide(Self.head("HEAD", "/herald.js"), overCapacity: false, policy: Self.pages,
                                            nowSeconds: 0) == .page(.clientModule, headOnly: true))
        #expect(PublicRequestRouting.decide(Self.head("GET", "/herald.global.js"), overCapacity: false,
                                            policy: Self.pages, nowSeconds: 0) == .page(.clientScript, headOnly: false))
        #expect(PublicRequestRouting.decide(Self.head("POST", "/"), overCapacity: false, policy: Self.pages,
                                            nowSeconds: 0) == .methodNotAllowed)
    }

    @Test func theZstdDecoderIsServedOnlyWhenTheServerHasOne() {
        var withDecoder = Self.pages
        withDecoder.serveZstdDecoder = true
        #expect(PublicRequestRouting.decide(Self.head("GET", "/herald-zstd.wasm"), overCapacity: false,
                                            policy: withDecoder, nowSeconds: 0) == .page(.zstdDecoder, headOnly: false))
        #expect(PublicPage.zstdDecoder.contentType == "application/wasm")
        #expect(PublicRequestRouting.decide(Self.head("GET", "/herald-zstd.wasm"), overCapacity: false,
                                            policy: Self.pages, nowSeconds: 0) == .refuse(.notFound, .notFound))
        var noPagesWithDecoder = Self.noPages
        noPagesWithDecoder.serveZstdDecoder = true
        #expect(PublicRequestRouting.decide(Self.head("GET", "/herald-zstd.wasm"), overCapacity: false,
                                            policy: noPagesWithDecoder, nowSeconds: 0) == .refuse(.notFound, .notFound))
    }

    @Test func withoutPagesOrAsAnUpgradeTheyAreNotFound() {
        #expect(PublicRequestRouting.decide(Self.head("GET", "/"), overCapacity: false, policy: Self.noPages,
                                            nowSeconds: 0) == .refuse(.notFound, .notFound))
        #expect(PublicRequestRouting.decide(Self.head("GET", "/", upgrade: true), overCapacity: false,
                                            policy: Self.pages, nowSeconds: 0) == .refuse(.notFound, .notFound))
        #expect(PublicRequestRouting.decide(Self.head("GET", "/herald.jsx"), overCapacity: false, policy: Self.pages,
                                            nowSeconds: 0) == .refuse(.notFound, .notFound))
        #expect(PublicRequestRouting.decide(Self.head("GET", "/"), overCapacity: true, policy: Self.pages,
                                            nowSeconds: 0) == .refuse(.serviceUnavailable, .capacity))
    }
}
