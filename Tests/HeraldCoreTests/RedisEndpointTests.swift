import Testing
@testable import HeraldCore

@Suite struct RedisEndpointTests {
    @Test func parsesTheFormsRedisClientsTake() {
        #expect(RedisEndpoint.parse("redis://127.0.0.1") == RedisEndpoint(host: "127.0.0.1"))
        #expect(RedisEndpoint.parse("redis://cache-1.internal:6380/2")
                == RedisEndpoint(host: "cache-1.internal", port: 6380, database: 2))
        #expect(RedisEndpoint.parse("redis://:s%40cret@h:7000")
                == RedisEndpoint(host: "h", port: 7000, password: "s@cret"))
        #expect(RedisEndpoint.parse("redis://herald:pw@h") == RedisEndpoint(host: "h", username: "herald", password: "pw"))
        #expect(RedisEndpoint.parse("redis://pw@h/") == RedisEndpoint(host: "h", password: "pw"))
    }

    @Test(arguments: ["", "http://h", "redis://", "redis://h:0", "redis://h:65536", "redis://h:x", "redis://h/16",
                      "redis://h/x", "redis://:@h", "redis://a b", "redis://:%zz@h", "redis://h:1:2"])
    func refusesWhatIsNotAnEndpoint(_ text: String) {
        #expect(RedisEndpoint.parse(text) == nil)
    }

    @Test func descriptionNeverShowsThePassword() {
        #expect(RedisEndpoint.parse("redis://:secret@h:1/3")!.description == "redis://h:1/3")
    }

    /// Values of an independent implementation of Lamping and Veach's
    /// algorithm (and FNV-1a 64): the placement of a topic must never change
    /// between versions, or nodes of two versions would disagree.
    @Test func jumpHashMatchesTheReferenceAlgorithm() {
        #expect([1, 2, 3, 10, 100, 1000].map { JumpHash.bucket(key: 1, buckets: $0) } == [0, 0, 0, 6, 55, 549])
        #expect([1, 2, 3, 10, 100, 1000].map { JumpHash.bucket(key: 0xdead_beef, buckets: $0) } == [0, 1, 2, 5, 87, 285])
        #expect([1, 2, 3, 10, 100, 1000].map { JumpHash.bucket(key: .max, buckets: $0) } == [0, 1, 2, 9, 92, 313])
        #expect([2, 3, 5, 64].map { JumpHash.bucket(name: "news", buckets: $0) } == [1, 2, 3, 61])
        #expect([2, 3, 5, 64].map { JumpHash.bucket(name: "user:42", buckets: $0) } == [1, 1, 1, 15])
    }

    @Test func addingAnInstanceMovesTopicsOnlyToIt() {
        for buckets in 1..<8 {
            var moved = 0
            for index in 0..<2_000 {
                let name = "topic-\(index)"
                let before = JumpHash.bucket(name: name, buckets: buckets)
                let after = JumpHash.bucket(name: name, buckets: buckets + 1)
                #expect((0..<buckets).contains(before))
                if before != after {
                    #expect(after == buckets)
                    moved += 1
                }
            }
            // About 1/(n+1) of them move (loose bounds: a property, not a timing).
            #expect(moved > 2_000 / (buckets + 1) / 2 && moved < 2_000 / (buckets + 1) * 2)
        }
    }
}

@Suite struct SourceRateLimiterTests {
    @Test func aSourceGetsItsBurstThenItsRate() {
        var limiter = SourceRateLimiter(perSecond: 10, burst: 5, slots: 64, seed: 7)
        func admit(_ now: UInt64) -> Bool { limiter.admit(source: 0x7F00_0001, nowMilliseconds: now) }
        let admitted = (0..<20).filter { _ in admit(1_000) }.count
        #expect(admitted == 5)
        // 10 a second: one more every 100 ms.
        let early = admit(1_050)
        let onTime = admit(1_100)
        let again = admit(1_100)
        #expect(!early && onTime && !again)
        // A long quiet spell refills to the burst, not beyond.
        let later = (0..<20).filter { _ in admit(100_000) }.count
        #expect(later == 5)
    }

    @Test func otherSourcesAreNotHeldBackByOne() {
        var limiter = SourceRateLimiter(perSecond: 1, burst: 2, slots: 4096, seed: 99)
        for _ in 0..<10 { _ = limiter.admit(source: 1, nowMilliseconds: 5_000) }
        let first = limiter.admit(source: 1, nowMilliseconds: 5_000)
        #expect(!first)
        let others = (2..<200).filter { limiter.admit(source: UInt64($0), nowMilliseconds: 5_000) }.count
        #expect(others == 198)  // a newcomer on a shared bucket starts with a full burst
    }
}
