@testable import HeraldEngine
import Testing

/// `--topics-max`: records live for the process's life (seq never
/// restarts), so new topics past the bound are refused, counted, and
/// existing topics keep working.
struct TopicLimitTests {
    @Test func publishToANewTopicPastTheLimitIsRefused() {
        let registry = TopicRegistry(wakeDescriptors: [-1], topicsMax: 2)
        #expect(registry.publish(topic: "a", build: plainFrames) == 1)
        #expect(registry.publish(topic: "b", build: plainFrames) == 1)
        #expect(registry.publish(topic: "c", build: plainFrames) == nil)
        #expect(registry.publish(topic: "a", build: plainFrames) == 2)
        let totals = registry.totals()
        #expect(totals.topics == 2)
        #expect(totals.refused == 1)
        #expect(totals.published == 3)
    }

    @Test func subscribingToANewTopicPastTheLimitIsRefused() {
        let registry = TopicRegistry(wakeDescriptors: [-1], topicsMax: 1)
        let router = ShardRouter(shardIndex: 0, registry: registry)
        var first = ShardRouter.none
        var second = ShardRouter.none
        #expect(router.subscribe(ring: 0, slot: 1, generation: 1, name: "kept", head: &first, topicsMax: 64)
            == .subscribed(seq: 0, epoch: registry.epoch(0), node: 0))
        #expect(router.subscribe(ring: 0, slot: 2, generation: 1, name: "new", head: &second, topicsMax: 64)
            == .topicLimit)
        #expect(second == ShardRouter.none)
        // The existing topic still takes subscribers.
        if case .subscribed = router.subscribe(ring: 0, slot: 2, generation: 1, name: "kept", head: &second,
                                               topicsMax: 64) {
        } else {
            Issue.record("an existing topic must still be subscribable at the limit")
        }
        #expect(registry.info(topic: "kept").subscribers == 2)
    }
}
