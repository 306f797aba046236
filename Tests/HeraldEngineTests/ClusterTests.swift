import HeraldIO
import HeraldProtocol
import HeraldRedis
import Testing
@testable import HeraldEngine

@Suite struct ClusterMessageTests {
    @Test func parsesAChannelMessage() {
        let message = ClusterMessage.parse(channelMessage: Array("12\nep.1\n1700000000123\nj{\"a\":\n1}".utf8))
        #expect(message == ClusterMessage(seq: 12, epoch: "ep.1", publishedAtMilliseconds: 1_700_000_000_123,
                                          payload: .json(Array("{\"a\":\n1}".utf8))))
        #expect(ClusterMessage.parse(channelMessage: Array("1\ne\n0\nb".utf8))?.payload == .binary([]))
    }

    @Test(arguments: ["", "1\ne\n0\n", "0\ne\n0\njx", "x\ne\n0\njx", "1\n\n0\njx", "1\ne\nt\njx", "1\ne\n0\nzx",
                      "1\ne\n0", "99999999999999999999\ne\n0\njx"])
    func refusesMalformedChannelMessages(_ text: String) {
        #expect(ClusterMessage.parse(channelMessage: Array(text.utf8)) == nil)
    }

    @Test func parsesAStreamEntry() {
        let entry = RedisReply.array([.string(Array("7-0".utf8)),
                                      .array([.string([UInt8(ascii: "k")]), .string([UInt8(ascii: "t")]),
                                              .string([UInt8(ascii: "t")]), .string(Array("55".utf8)),
                                              .string([UInt8(ascii: "d")]), .string(Array("hi".utf8))])])
        #expect(ClusterMessage.parse(streamEntry: entry)
                == ClusterMessage(seq: 7, epoch: "", publishedAtMilliseconds: 55, payload: .text(Array("hi".utf8))))
        #expect(ClusterMessage.parse(streamEntry: .array([.string(Array("7-0".utf8)), .array([])])) == nil)
        #expect(ClusterMessage.parse(streamEntry: .string([])) == nil)
    }
}

@Suite struct FollowPlanTests {
    func entry(_ seq: UInt64) -> ClusterMessage {
        ClusterMessage(seq: seq, epoch: "", publishedAtMilliseconds: 0, payload: .json(Array("\(seq)".utf8)))
    }

    @Test func aMessageIsDeliveredDroppedOrTriggersAResync() {
        let known = FollowPosition(epoch: "e", seq: 5)
        #expect(FollowPlan.arrival(known: known, seq: 6, epoch: "e") == .deliver)
        #expect(FollowPlan.arrival(known: known, seq: 5, epoch: "e") == .duplicate)
        #expect(FollowPlan.arrival(known: known, seq: 1, epoch: "e") == .duplicate)
        #expect(FollowPlan.arrival(known: known, seq: 8, epoch: "e") == .resync)
        #expect(FollowPlan.arrival(known: known, seq: 6, epoch: "f") == .resync)
        #expect(FollowPlan.arrival(known: known, seq: 1, epoch: "f") == .resync)
    }

    @Test func aNewFollowKeepsTheConsecutiveEntriesEndingAtThePosition() {
        let position = FollowPosition(epoch: "e", seq: 9)
        #expect(FollowPlan.steps(known: nil, position: position, entries: [7, 8, 9].map(entry))
                == [.resolve(position, kept: [7, 8, 9].map(entry))])
        // A hole (never expected from XRANGE, but) keeps only what follows it.
        #expect(FollowPlan.steps(known: nil, position: position, entries: [5, 8, 9].map(entry))
                == [.resolve(position, kept: [8, 9].map(entry))])
        #expect(FollowPlan.steps(known: nil, position: position, entries: [7, 8].map(entry))
                == [.resolve(position, kept: [])])
    }

    @Test func catchingUpDeliversWhatTheStreamHasAndAnnouncesTheRest() {
        let known = FollowPosition(epoch: "e", seq: 3)
        #expect(FollowPlan.steps(known: known, position: .init(epoch: "e", seq: 6), entries: [4, 5, 6].map(entry))
                == [4, 5, 6].map { .message(entry($0)) })
        #expect(FollowPlan.steps(known: known, position: .init(epoch: "e", seq: 6), entries: [5, 6].map(entry))
                == [.gap(from: 4, to: 4), .message(entry(5)), .message(entry(6))])
        #expect(FollowPlan.steps(known: known, position: .init(epoch: "e", seq: 6), entries: [])
                == [.gap(from: 4, to: 6)])
        // Entries the node already delivered (a resync raced the channel) are skipped.
        #expect(FollowPlan.steps(known: known, position: .init(epoch: "e", seq: 5), entries: [2, 3, 4, 5].map(entry))
                == [.message(entry(4)), .message(entry(5))])
        #expect(FollowPlan.steps(known: known, position: .init(epoch: "e", seq: 3), entries: []) == [])
    }

    @Test func anotherEpochResetsAtItsPosition() {
        let position = FollowPosition(epoch: "f", seq: 2)
        #expect(FollowPlan.steps(known: .init(epoch: "e", seq: 40), position: position, entries: [1, 2].map(entry))
                == [.reset(position)])
    }

    @Test func parsesTheSyncReply() {
        let reply = RedisReply.array([.integer(3), .string(Array("e".utf8)), .array([])])
        #expect(FollowPlan.parseSync(reply)?.position == FollowPosition(epoch: "e", seq: 3))
        #expect(FollowPlan.parseSync(.array([.integer(3), .string([]), .array([])])) == nil)
        #expect(FollowPlan.parseSync(.error("NOSCRIPT")) == nil)
    }
}

/// The registry and a shard's router as the broker drives them.
@Suite struct ClusterRegistryTests {
    let registry = TopicRegistry(wakeDescriptors: [-1, -1], historySize: 4,
                                 follows: FollowRequests(wakeDescriptor: -1))

    func message(_ seq: UInt64) -> TopicRegistry.FollowedMessage {
        TopicRegistry.FollowedMessage(seq: seq, frames: plainFrames(seq),
                                      publishedAtMilliseconds: UInt64(SystemClock.wallMilliseconds()))
    }

    func controls(_ shard: Int) -> [(seq: UInt64, control: DeliveryQueue.Control?)] {
        var out: [(UInt64, DeliveryQueue.Control?)] = []
        registry.queues[shard].drain { delivery in
            out.append((delivery.seq, delivery.control))
            delivery.frame.release()
            delivery.compressed?.release()
        }
        return out
    }

    @Test func aFirstSubscriberWaitsForTheBrokerAndIsAskedForOnce() {
        let first = registry.join(shard: 0, topic: "t")
        #expect(first?.pending == true)
        #expect(registry.join(shard: 1, topic: "t")?.pending == true)
        #expect(registry.follows?.take().follow == ["t"])
        registry.resolveFollowed(topic: "t", position: FollowPosition(epoch: "E", seq: 7),
                                 kept: [6, 7].map(message))
        // Both shards with subscribers hear it, in order with the messages.
        for shard in 0..<2 {
            let items = controls(shard)
            #expect(items.count == 1 && items[0].seq == 7)
            if case .resolved(let epoch) = items[0].control { #expect(epoch == "E") } else { Issue.record("not resolved") }
        }
        let later = registry.join(shard: 0, topic: "t")
        #expect(later == TopicRegistry.Joined(id: first!.id, seq: 7, epoch: "E", pending: false))
        let recovered = registry.recover(topic: "t", since: Recovery.Position(seq: 5, epoch: "E"), seam: 7, epoch: "E")
        #expect(recovered.decision == .replay(from: 6, through: 7) && recovered.frames.map(\.seq) == [6, 7])
        for entry in recovered.frames { entry.release() }
    }

    @Test func messagesMustFollowTheKnownSeq() {
        _ = registry.join(shard: 1, topic: "m")
        #expect(!registry.deliverFollowed(topic: "m", message: message(1)))  // still resolving
        registry.resolveFollowed(topic: "m", position: FollowPosition(epoch: "E", seq: 0), kept: [])
        #expect(registry.deliverFollowed(topic: "m", message: message(1)))
        #expect(!registry.deliverFollowed(topic: "m", message: message(3)))
        #expect(!registry.deliverFollowed(topic: "m", message: message(1)))
        #expect(registry.deliverFollowed(topic: "m", message: message(2)))
        #expect(controls(1).map(\.seq) == [0, 1, 2])
        #expect(controls(0).isEmpty)
        #expect(registry.followedPosition("m") == FollowPosition(epoch: "E", seq: 2))
    }

    @Test func gapsAndResetsReachTheShardsAndVoidTheHistory() {
        _ = registry.join(shard: 0, topic: "g")
        registry.resolveFollowed(topic: "g", position: FollowPosition(epoch: "E", seq: 2), kept: [1, 2].map(message))
        registry.gapFollowed(topic: "g", from: 3, to: 9)
        #expect(registry.history(topic: "g", since: 0, limit: 10)?.entries.isEmpty == true)
        registry.resetFollowed(topic: "g", position: FollowPosition(epoch: "F", seq: 4))
        let items = controls(0)
        #expect(items.map(\.seq) == [2, 9, 4])
        if case .gap(let from) = items[1].control { #expect(from == 3) } else { Issue.record("no gap") }
        if case .reset(let epoch) = items[2].control { #expect(epoch == "F") } else { Issue.record("no reset") }
        #expect(registry.info(topic: "g").epoch == "F")
    }

    @Test func aFailedFollowIsAskedForAgainAndAnIdleOneIsDropped() {
        _ = registry.join(shard: 0, topic: "f")
        _ = registry.follows?.take()
        registry.failFollow(topic: "f")
        if case .unavailable = controls(0).first?.control {} else { Issue.record("no unavailable") }
        registry.left(shard: 0, topic: "f")
        #expect(registry.join(shard: 0, topic: "f")?.pending == true)
        #expect(registry.follows?.take().follow == ["f"])
        registry.resolveFollowed(topic: "f", position: FollowPosition(epoch: "E", seq: 0), kept: [])
        #expect(!registry.unfollowIfIdle(topic: "f"))  // still subscribed
        registry.left(shard: 0, topic: "f")
        #expect(registry.follows?.take().idle.map(\.topic) == ["f"])
        #expect(registry.unfollowIfIdle(topic: "f"))
        #expect(!registry.isFollowed("f"))
        #expect(registry.unfollowIfIdle(topic: "never-known"))
    }
}

@Suite struct ClusterRouterTests {
    let registry = TopicRegistry(wakeDescriptors: [-1], follows: FollowRequests(wakeDescriptor: -1))

    @Test func heldSubscribesAreAnsweredOnceTheTopicResolves() throws {
        let router = ShardRouter(shardIndex: 0, registry: registry)
        var first = ShardRouter.none
        var second = ShardRouter.none
        guard case .held(let node) = router.subscribe(ring: 0, slot: 1, generation: 1, name: "t", head: &first,
                                                       topicsMax: 8) else { Issue.record("not held"); return }
        router.hold(node, since: Recovery.Position(seq: 3, epoch: "E"), reply: true)
        guard case .held(let other) = router.subscribe(ring: 0, slot: 2, generation: 1, name: "t", head: &second,
                                                        topicsMax: 8) else { Issue.record("not held"); return }
        router.hold(other, since: nil, reply: false)
        // A repeat while resolving replaces the held request.
        guard case .held(let again) = router.subscribe(ring: 0, slot: 2, generation: 1, name: "t", head: &second,
                                                        topicsMax: 8), again == other else { Issue.record("repeat"); return }
        router.hold(other, since: nil, reply: true)
        let id = try #require(registry.identity(of: "t")).id
        let resolved = try #require(router.resolve(globalID: id, seq: 5, epoch: "E"))
        #expect(resolved.name == "t")
        #expect(resolved.waiters.map(\.subscription.slot).sorted() == [1, 2])
        #expect(resolved.waiters.first { $0.subscription.slot == 1 }?.held.since == Recovery.Position(seq: 3, epoch: "E"))
        #expect(resolved.waiters.first { $0.subscription.slot == 2 }?.held.reply == true)
        #expect(router.resolve(globalID: id, seq: 5, epoch: "E") == nil)  // once
        // Live now: deliveries after the seam reach both.
        var slots: [UInt32] = []
        _ = router.forEachSubscriber(globalID: id, seq: 6) { _, subscription in slots.append(subscription.slot) }
        #expect(slots.sorted() == [1, 2])
        // A gap or a reset visits every subscriber once, and never twice.
        #expect(router.skip(globalID: id, from: 7, to: 9)?.subscribers.count == 2)
        #expect(router.skip(globalID: id, from: 7, to: 9) == nil)
        #expect(router.reset(globalID: id, seq: 0, epoch: "F")?.subscribers.count == 2)
        #expect(router.reset(globalID: id, seq: 0, epoch: "F") == nil)
    }

    @Test func aSubscriberThatLeavesWhileHeldIsForgotten() throws {
        let router = ShardRouter(shardIndex: 0, registry: registry)
        var first = ShardRouter.none
        var second = ShardRouter.none
        guard case .held(let node) = router.subscribe(ring: 0, slot: 1, generation: 1, name: "u", head: &first,
                                                       topicsMax: 8) else { Issue.record("not held"); return }
        router.hold(node, since: nil, reply: true)
        guard case .held(let other) = router.subscribe(ring: 0, slot: 2, generation: 1, name: "u", head: &second,
                                                        topicsMax: 8) else { Issue.record("not held"); return }
        router.hold(other, since: nil, reply: true)
        #expect(router.unsubscribe(name: "u", head: &first))
        let id = try #require(registry.identity(of: "u")).id
        let failed = try #require(router.failHeld(globalID: id))
        #expect(failed.waiters.map(\.subscription.slot) == [2])
    }
}

@Suite struct FollowRequestsTests {
    @Test func anIdleTopicIsListedOnceHoweverOftenItsLastSubscriberLeaves() {
        let requests = FollowRequests(wakeDescriptor: -1)
        for _ in 0..<1_000 {
            requests.idle("toggled")
            requests.idle("other")
        }
        requests.follow("new")
        let taken = requests.take()
        #expect(taken.idle.map(\.topic) == ["toggled", "other"] && taken.follow == ["new"])
        requests.idle("toggled")
        #expect(requests.take().idle.map(\.topic) == ["toggled"])
        #expect(requests.take().idle.isEmpty)
    }
}
