import Testing
@testable import HeraldEngine

/// A stand-in for a connection slot: its address and subscription list head.
private struct TestConnection {
    var slot: UInt32
    var head = ShardRouter.none
}

/// One shard's router over a registry, with helpers that publish, drain the
/// shard's queue and walk the subscribers the way the reactor does.
private final class Fixture {
    let registry: TopicRegistry
    let router: ShardRouter
    let topicsMax: Int

    init(shards: Int = 1, shard: Int = 0, topicsMax: Int = 64) {
        registry = makeRegistry(shards: shards)
        router = ShardRouter(shardIndex: shard, registry: registry)
        self.topicsMax = topicsMax
    }

    @discardableResult
    func subscribe(_ connection: inout TestConnection, _ name: String) -> ShardRouter.SubscribeResult {
        router.subscribe(ring: 0, slot: connection.slot, generation: 1, name: name,
                         head: &connection.head, topicsMax: topicsMax)
    }

    func publish(_ topic: String) -> UInt64 {
        registry.publish(topic: topic, build: plainFrames)!
    }

    /// The slots each delivery queued for this shard reaches, in delivery order.
    func deliver() -> [[UInt32]] {
        var visited: [[UInt32]] = []
        for delivery in drainDeliveries(registry.queues[router.shardIndex]) {
            var slots: [UInt32] = []
            _ = router.forEachSubscriber(globalID: delivery.topicID, seq: delivery.seq) { _, subscription in
                slots.append(subscription.slot)
            }
            visited.append(slots)
        }
        return visited
    }

    /// The topic names on a connection's list, head first.
    func topics(of connection: TestConnection) -> [String] {
        var names: [String] = []
        var node = connection.head
        while node != ShardRouter.none {
            names.append(router.topics[Int(router.subscriptions[Int(node)].topic)].name)
            node = router.nextOfConnection(node)
        }
        return names
    }

    func globalID(_ topic: String) -> UInt32 {
        registry.identity(of: topic)!.id
    }
}

@Suite struct ShardRouterTests {
    @Test func firstSubscribeReportsTheRegistrySeq() {
        let fixture = Fixture()
        for _ in 0..<3 { _ = fixture.publish("t") }
        var connection = TestConnection(slot: 1)
        guard case .subscribed(let seq, _, let node) = fixture.subscribe(&connection, "t") else {
            Issue.record("not subscribed")
            return
        }
        #expect(seq == 3)
        #expect(seq == fixture.registry.info(topic: "t").seq)
        #expect(connection.head == node)
        #expect(fixture.registry.info(topic: "t").subscribers == 1)
        #expect(fixture.router.subscriptionCount == 1)
    }

    @Test func secondSubscriberOfTheShardGetsTheShardsLastSeq() {
        let fixture = Fixture()
        var first = TestConnection(slot: 1)
        var second = TestConnection(slot: 2)
        fixture.subscribe(&first, "t")
        _ = fixture.publish("t")
        _ = fixture.publish("t")
        #expect(fixture.deliver() == [[1], [1]])
        guard case .subscribed(let seq, _, _) = fixture.subscribe(&second, "t") else {
            Issue.record("not subscribed")
            return
        }
        #expect(seq == 2)
        #expect(fixture.deliver().isEmpty)
        _ = fixture.publish("t")
        #expect(fixture.deliver() == [[2, 1]], "newest subscriber first, both reached")
    }

    @Test func subscribingTwiceIsReportedNotDuplicated() {
        let fixture = Fixture()
        _ = fixture.publish("t")
        var connection = TestConnection(slot: 1)
        fixture.subscribe(&connection, "t")
        let head = connection.head
        #expect(fixture.subscribe(&connection, "t").alreadySubscribedSeq == 1)
        #expect(connection.head == head)
        #expect(fixture.router.subscriptionCount == 1)
        #expect(fixture.registry.info(topic: "t").subscribers == 1)
    }

    @Test func topicsMaxIsEnforcedPerConnection() {
        let fixture = Fixture(topicsMax: 2)
        var connection = TestConnection(slot: 1)
        var other = TestConnection(slot: 2)
        #expect(fixture.subscribe(&connection, "a") != .tooManyTopics)
        #expect(fixture.subscribe(&connection, "b") != .tooManyTopics)
        #expect(fixture.subscribe(&connection, "c") == .tooManyTopics)
        #expect(fixture.subscribe(&connection, "a").alreadySubscribedSeq == 0, "already held topics are still reported")
        #expect(fixture.topics(of: connection) == ["b", "a"])
        #expect(fixture.registry.info(topic: "c").subscribers == 0)
        // The limit is per connection, not per shard.
        #expect(fixture.subscribe(&other, "c") != .tooManyTopics)
        // Room again after an unsubscribe.
        #expect(fixture.router.unsubscribe(name: "a", head: &connection.head))
        #expect(fixture.subscribe(&connection, "c") != .tooManyTopics)
    }

    /// The O(1) unlink: removing a middle node must leave both neighbours
    /// linked to each other.
    @Test func unsubscribeTheMiddleOfATopicList() {
        let fixture = Fixture()
        var connections = (1...3).map { TestConnection(slot: UInt32($0)) }
        for index in connections.indices { fixture.subscribe(&connections[index], "t") }
        _ = fixture.publish("t")
        #expect(fixture.deliver() == [[3, 2, 1]])

        #expect(fixture.router.unsubscribe(name: "t", head: &connections[1].head))
        #expect(connections[1].head == ShardRouter.none)
        _ = fixture.publish("t")
        #expect(fixture.deliver() == [[3, 1]])
        #expect(fixture.registry.info(topic: "t").subscribers == 2)

        // Then the list head, then the last one.
        #expect(fixture.router.unsubscribe(name: "t", head: &connections[2].head))
        _ = fixture.publish("t")
        #expect(fixture.deliver() == [[1]])
        #expect(fixture.router.unsubscribe(name: "t", head: &connections[0].head))
        #expect(fixture.registry.info(topic: "t").subscribers == 0)
        #expect(fixture.router.subscriptionCount == 0)
        _ = fixture.publish("t")
        #expect(fixture.deliver().isEmpty, "no subscribers: nothing queued for the shard")
    }

    @Test func unsubscribeTheTailOfATopicList() {
        let fixture = Fixture()
        var connections = (1...3).map { TestConnection(slot: UInt32($0)) }
        for index in connections.indices { fixture.subscribe(&connections[index], "t") }
        #expect(fixture.router.unsubscribe(name: "t", head: &connections[0].head))
        _ = fixture.publish("t")
        #expect(fixture.deliver() == [[3, 2]])
    }

    @Test func unsubscribeTheMiddleOfAConnectionsList() {
        let fixture = Fixture()
        var connection = TestConnection(slot: 1)
        for name in ["a", "b", "c"] { fixture.subscribe(&connection, name) }
        #expect(fixture.topics(of: connection) == ["c", "b", "a"])
        #expect(fixture.router.unsubscribe(name: "b", head: &connection.head))
        #expect(fixture.topics(of: connection) == ["c", "a"])
        #expect(fixture.router.unsubscribe(name: "c", head: &connection.head))
        #expect(fixture.topics(of: connection) == ["a"])
        #expect(!fixture.router.unsubscribe(name: "c", head: &connection.head), "already gone")
        #expect(!fixture.router.unsubscribe(name: "zzz", head: &connection.head))
        #expect(fixture.topics(of: connection) == ["a"])
        #expect(fixture.registry.info(topic: "a").subscribers == 1)
        #expect(fixture.registry.info(topic: "b").subscribers == 0)
    }

    @Test func unsubscribeAllLeavesOtherConnectionsAlone() {
        let fixture = Fixture()
        var leaving = TestConnection(slot: 1)
        var staying = TestConnection(slot: 2)
        for name in ["a", "b", "c"] { fixture.subscribe(&leaving, name) }
        fixture.subscribe(&staying, "b")
        #expect(fixture.registry.totals().subscriptions == 4)

        fixture.router.unsubscribeAll(head: &leaving.head)
        #expect(leaving.head == ShardRouter.none)
        #expect(fixture.router.subscriptionCount == 1)
        #expect(fixture.registry.totals().subscriptions == 1)
        #expect(fixture.registry.info(topic: "a").subscribers == 0)
        #expect(fixture.registry.info(topic: "b").subscribers == 1)
        for name in ["a", "b", "c"] { _ = fixture.publish(name) }
        #expect(fixture.deliver() == [[2]], "only b has a subscriber left")

        var empty = TestConnection(slot: 3)
        fixture.router.unsubscribeAll(head: &empty.head)
        #expect(empty.head == ShardRouter.none)
    }

    @Test func freedNodesAndTopicsAreReused() {
        let fixture = Fixture()
        var connection = TestConnection(slot: 1)
        fixture.subscribe(&connection, "a")
        let storage = fixture.router.subscriptions.count
        let topicStorage = fixture.router.topics.count
        for round in 0..<10 {
            #expect(fixture.router.unsubscribe(name: round == 0 ? "a" : "x\(round - 1)", head: &connection.head))
            fixture.subscribe(&connection, "x\(round)")
        }
        #expect(fixture.router.subscriptions.count == storage)
        #expect(fixture.router.topics.count == topicStorage)
        _ = fixture.publish("a")
        _ = fixture.publish("x9")
        #expect(fixture.deliver() == [[1]])
    }

    @Test func staleAndRepeatedSeqsAreSkipped() {
        let fixture = Fixture()
        for _ in 0..<3 { _ = fixture.publish("t") }
        var connection = TestConnection(slot: 7)
        fixture.subscribe(&connection, "t")  // starts after seq 3
        let id = fixture.globalID("t")
        var visits = 0
        #expect(fixture.router.forEachSubscriber(globalID: id, seq: 3) { _, _ in visits += 1 } == nil)
        #expect(fixture.router.forEachSubscriber(globalID: id, seq: 4) { _, _ in visits += 1 } == "t")
        #expect(visits == 1)
        #expect(fixture.router.forEachSubscriber(globalID: id, seq: 4) { _, _ in visits += 1 } == nil, "repeat")
        #expect(fixture.router.forEachSubscriber(globalID: id, seq: 2) { _, _ in visits += 1 } == nil, "older")
        #expect(fixture.router.forEachSubscriber(globalID: id + 99, seq: 9) { _, _ in visits += 1 } == nil,
                "unknown topic")
        #expect(visits == 1)
    }

    /// A delivery queued before the shard's last subscriber left must not
    /// reach a subscriber who joins afterwards.
    @Test func resubscribeStartsAfterTheCurrentSeq() {
        let fixture = Fixture()
        var connection = TestConnection(slot: 1)
        fixture.subscribe(&connection, "t")
        _ = fixture.publish("t")  // seq 1, queued for the shard
        #expect(fixture.router.unsubscribe(name: "t", head: &connection.head))
        _ = fixture.publish("t")  // seq 2, nobody listening
        guard case .subscribed(let seq, _, _) = fixture.subscribe(&connection, "t") else {
            Issue.record("not subscribed")
            return
        }
        #expect(seq == 2)
        #expect(fixture.deliver() == [[]], "seq 1 is stale for the new subscription")
        _ = fixture.publish("t")
        #expect(fixture.deliver() == [[1]])
    }

    @Test func visitorSeesNodeAndSubscriptionFields() {
        let fixture = Fixture()
        var connection = TestConnection(slot: 42)
        guard case .subscribed(_, _, let node) = fixture.router.subscribe(
            ring: 3, slot: 42, generation: 9, name: "t", head: &connection.head, topicsMax: 4) else {
            Issue.record("not subscribed")
            return
        }
        _ = fixture.publish("t")
        var seen: [(UInt32, ShardRouter.Subscription)] = []
        for delivery in drainDeliveries(fixture.registry.queues[0]) {
            _ = fixture.router.forEachSubscriber(globalID: delivery.topicID, seq: delivery.seq) { seen.append(($0, $1)) }
        }
        #expect(seen.count == 1)
        #expect(seen.first?.0 == node)
        #expect(seen.first?.1.ring == 3)
        #expect(seen.first?.1.slot == 42)
        #expect(seen.first?.1.generation == 9)
    }

    @Test func routersOfDifferentShardsCountIntoOneRegistry() {
        let registry = makeRegistry(shards: 2)
        let zero = ShardRouter(shardIndex: 0, registry: registry)
        let one = ShardRouter(shardIndex: 1, registry: registry)
        var heads = [ShardRouter.none, ShardRouter.none, ShardRouter.none]
        _ = zero.subscribe(ring: 0, slot: 0, generation: 1, name: "t", head: &heads[0], topicsMax: 8)
        _ = zero.subscribe(ring: 0, slot: 1, generation: 1, name: "t", head: &heads[1], topicsMax: 8)
        _ = one.subscribe(ring: 0, slot: 0, generation: 1, name: "t", head: &heads[2], topicsMax: 8)
        #expect(registry.info(topic: "t").subscribers == 3)
        #expect(registry.totals().subscriptions == 3)
        one.unsubscribeAll(head: &heads[2])
        _ = registry.publish(topic: "t", build: plainFrames)
        #expect(drainDeliveries(registry.queues[0]).count == 1)
        #expect(registry.queues[1].isEmpty, "shard 1 has no subscriber left")
        #expect(registry.info(topic: "t").subscribers == 2)
    }

    @Test func gapsAccumulateUntilTaken() {
        let fixture = Fixture()
        var connection = TestConnection(slot: 1)
        guard case .subscribed(_, _, let node) = fixture.subscribe(&connection, "t") else {
            Issue.record("not subscribed")
            return
        }
        #expect(fixture.router.takeGap(node) == nil)
        fixture.router.noteDropped(node, seq: 5)
        fixture.router.noteDropped(node, seq: 6)
        fixture.router.noteDropped(node, seq: 9)
        let gap = fixture.router.takeGap(node)
        #expect(gap?.topic == "t")
        #expect(gap?.from == 5)
        #expect(gap?.to == 9)
        #expect(fixture.router.takeGap(node) == nil, "taking clears it")
        fixture.router.noteDropped(node, seq: 12)
        let next = fixture.router.takeGap(node)
        #expect(next?.from == 12)
        #expect(next?.to == 12)
    }

    @Test func gapsAreKeptPerSubscription() {
        let fixture = Fixture()
        var connection = TestConnection(slot: 1)
        guard case .subscribed(_, _, let a) = fixture.subscribe(&connection, "a"),
              case .subscribed(_, _, let b) = fixture.subscribe(&connection, "b") else {
            Issue.record("not subscribed")
            return
        }
        fixture.router.noteDropped(a, seq: 3)
        #expect(fixture.router.takeGap(b) == nil)
        #expect(fixture.router.takeGap(a)?.topic == "a")
    }
}
