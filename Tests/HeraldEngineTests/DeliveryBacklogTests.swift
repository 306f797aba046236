import Testing
@testable import HeraldEngine

/// `--delivery-backlog-bytes-max`: a shard that is behind refuses publishes
/// before a seq is taken, and takes them again once it drains.
@Suite struct DeliveryBacklogTests {
    static func bigFrames(_ seq: UInt64) -> PublishFrames {
        PublishFrames(plain: OutboundFrame(copying: [UInt8](repeating: UInt8(truncatingIfNeeded: seq), count: 4096)))
    }

    @Test func fullShardRefusesWithoutTakingASeq() {
        let registry = TopicRegistry(wakeDescriptors: [-1], topicsMax: 10, deliveryBacklogBytesMax: 64 * 1024)
        let shard = ShardRouter(shardIndex: 0, registry: registry)
        var head = ShardRouter.none
        _ = shard.subscribe(ring: 0, slot: 0, generation: 1, name: "t", head: &head, topicsMax: 8)
        var published = 0
        var outcome = TopicRegistry.PublishOutcome.published(seq: 0, epoch: "")
        // Nothing drains the queue here: it fills.
        while case .published = outcome, published < 1000 {
            outcome = registry.attempt(topic: "t", build: Self.bigFrames)
            if case .published = outcome { published += 1 }
        }
        #expect(outcome == .backlogged)
        #expect(published >= 16 && published < 100)
        #expect(registry.info(topic: "t").seq == UInt64(published), "a refused publish takes no seq")
        #expect(registry.backlogRefusedTotal == 1)
        // A topic with no subscriber on the full shard still publishes.
        #expect(registry.attempt(topic: "other", build: Self.bigFrames).seq == 1)
        // Draining makes room; the next publish gets the next seq, no gap.
        var drained: [UInt64] = []
        registry.queues[0].drain { delivery in
            drained.append(delivery.seq)
            delivery.frame.release()
        }
        #expect(drained == Array(1...UInt64(published)))
        #expect(registry.queues[0].pendingBytes.load(ordering: .relaxed) == 0)
        #expect(registry.attempt(topic: "t", build: Self.bigFrames).seq == UInt64(published + 1))
        registry.queues[0].drain { $0.frame.release() }
    }

    @Test func adminAnswers503WithRetryAfter() throws {
        let registry = TopicRegistry(wakeDescriptors: [-1], topicsMax: 10, deliveryBacklogBytesMax: 64 * 1024)
        let shard = ShardRouter(shardIndex: 0, registry: registry)
        var head = ShardRouter.none
        _ = shard.subscribe(ring: 0, slot: 0, generation: 1, name: "t", head: &head, topicsMax: 8)
        let router = AdminRouter(token: nil, stats: makeStatsReport(registry: registry), publisher: Publisher(registry: registry))
        let body = String(repeating: "x", count: 8000)
        let text = "POST /v1/publish?topic=t HTTP/1.1\r\nHost: a\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        let request = try #require(frameAdminRequest(Array(text.utf8), bodyBytesMax: 1 << 20).request)
        var response = router.respond(request)
        var count = 0
        while response.status == .ok && count < 100 {
            response = router.respond(request)
            count += 1
        }
        #expect(response.status == .serviceUnavailable)
        #expect(response.headers.contains { $0.0 == "Retry-After" && $0.1 == "1" })
        registry.queues[0].drain { $0.frame.release() }
    }
}
