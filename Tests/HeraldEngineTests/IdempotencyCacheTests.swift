import HeraldProtocol
import Testing
@testable import HeraldEngine

@Suite struct IdempotencyCacheTests {
    static let ok = AdminRouter.Response(status: .ok, contentType: "application/json", body: Array("{}".utf8))
    static let print1: [UInt8] = Array(repeating: 1, count: 32)
    static let print2: [UInt8] = Array(repeating: 2, count: 32)

    @Test func repeatWithinTheWindowReplays() {
        let cache = IdempotencyCache(windowMilliseconds: 1000, keysMax: 10)
        if case .miss = cache.lookup("k", fingerprint: Self.print1, nowMilliseconds: 0) {} else { Issue.record("miss") }
        cache.store("k", fingerprint: Self.print1, response: Self.ok, nowMilliseconds: 0)
        guard case .replay(let response) = cache.lookup("k", fingerprint: Self.print1, nowMilliseconds: 999) else {
            Issue.record("expected a replay")
            return
        }
        #expect(response.body == Self.ok.body)
    }

    @Test func keyExpiresAfterTheWindow() {
        let cache = IdempotencyCache(windowMilliseconds: 1000, keysMax: 10)
        cache.store("k", fingerprint: Self.print1, response: Self.ok, nowMilliseconds: 0)
        if case .miss = cache.lookup("k", fingerprint: Self.print1, nowMilliseconds: 1000) {} else {
            Issue.record("expired key must miss")
        }
        #expect(cache.count == 0)
    }

    @Test func sameKeyDifferentRequestConflicts() {
        let cache = IdempotencyCache(windowMilliseconds: 1000, keysMax: 10)
        cache.store("k", fingerprint: Self.print1, response: Self.ok, nowMilliseconds: 0)
        if case .conflict = cache.lookup("k", fingerprint: Self.print2, nowMilliseconds: 1) {} else {
            Issue.record("expected a conflict")
        }
    }

    @Test func keyLimitForgetsTheOldest() {
        let cache = IdempotencyCache(windowMilliseconds: 1_000_000, keysMax: 3)
        for i in 0..<5_000 { cache.store("k\(i)", fingerprint: Self.print1, response: Self.ok, nowMilliseconds: UInt64(i)) }
        #expect(cache.count == 3)
        #expect(cache.evictedTotal == 4_997)
        if case .miss = cache.lookup("k0", fingerprint: Self.print1, nowMilliseconds: 5_000) {} else { Issue.record("k0 kept") }
        if case .replay = cache.lookup("k4999", fingerprint: Self.print1, nowMilliseconds: 5_000) {} else {
            Issue.record("newest forgotten")
        }
    }

    @Test(arguments: ["", "has space", String(repeating: "x", count: 256), "tab\t", "é"])
    func badKeys(key: String) {
        #expect(!IdempotencyCache.isValidKey(key))
    }

    @Test func routerPublishesOncePerKey() throws {
        let registry = makeRegistry(shards: 1)
        let router = AdminRouter(token: nil, stats: makeStatsReport(registry: registry),
                                 publisher: Publisher(registry: registry))
        let text = "POST /v1/publish?topic=t HTTP/1.1\r\nHost: a\r\nIdempotency-Key: abc\r\n"
            + "Content-Type: application/json\r\nContent-Length: 1\r\n\r\n1"
        let request = try #require(frameAdminRequest(text).request)
        let first = router.respond(request)
        let second = router.respond(request)
        #expect(first.status == .ok && second.status == .ok)
        #expect(first.body == second.body)
        #expect(second.headers.contains { $0.0 == "Idempotent-Replayed" })
        #expect(registry.info(topic: "t").seq == 1, "the repeat published nothing")
        let other = try #require(frameAdminRequest(String(text.dropLast()) + "2").request)
        #expect(router.respond(other).status.code == 422)
    }
}
