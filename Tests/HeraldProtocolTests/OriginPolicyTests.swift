import Testing
@testable import HeraldProtocol

@Suite struct OriginPolicyTests {
    @Test func exactWildcardAndSchemelessPatterns() throws {
        let policy = try #require(OriginPolicy("https://app.example.com, https://*.example.org,localhost:3000"))
        #expect(policy.allows("https://app.example.com"))
        #expect(policy.allows("HTTPS://APP.Example.com"))
        #expect(!policy.allows("http://app.example.com"))        // another scheme
        #expect(!policy.allows("https://app.example.com:8443"))  // another port
        #expect(!policy.allows("https://evil-app.example.com"))
        #expect(policy.allows("https://a.example.org"))
        #expect(policy.allows("https://a.b.example.org"))
        #expect(!policy.allows("https://example.org"))           // the wildcard needs a label
        #expect(!policy.allows("https://example.org.evil.com"))
        #expect(policy.allows("http://localhost:3000") && policy.allows("https://localhost:3000"))
        #expect(!policy.allows("null"))                          // sandboxed frames, file: pages
        #expect(policy.allows(nil))                              // not a browser: no Origin
    }

    @Test func aStarAllowsEveryOrigin() throws {
        #expect(try #require(OriginPolicy("*")).allows("https://anything.test"))
    }

    @Test(arguments: ["", ",", "ftp://x", "https://", "https://a/b", "https://a*b.com", "https://*", "*.", "https://a b"])
    func malformedPatternsAreRefused(_ text: String) {
        #expect(OriginPolicy(text) == nil)
    }

    @Test func anUpgradeFromAnotherOriginIsForbidden() {
        var policy = PublicRequestRoutingTests.policy
        policy.allowedOrigins = OriginPolicy("https://app.example.com")
        func decide(_ origin: String?) -> PublicRequestDecision {
            var fields: [(String, String)] = [
                ("Host", "example"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
                ("Sec-WebSocket-Key", PublicRequestRoutingTests.key), ("Sec-WebSocket-Version", "13"),
            ]
            if let origin { fields.append(("Origin", origin)) }
            return PublicRequestRoutingTests.decide(PublicRequestRoutingTests.head("/ws", fields: fields), policy: policy)
        }
        #expect(decide("https://evil.test") == .refuse(.forbidden, .origin))
        #expect(PublicRequestRoutingTests.upgrade(decide("https://app.example.com")) != nil)
        #expect(PublicRequestRoutingTests.upgrade(decide(nil)) != nil)
    }
}
