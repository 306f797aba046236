import Foundation
import Glibc
import HeraldIO
import Synchronization
import Testing
@testable import HeraldEngine

@Suite struct TopicRegistryTests {
    private static func frame(_ seq: UInt64) -> PublishFrames {
        plainFrames(seq)
    }

    @Test func publishWithoutSubscribersBuildsNothingButTakesASeq() {
        let registry = makeRegistry(shards: 2)
        var builds = 0
        let first = registry.publish(topic: "t") { seq in builds += 1; return Self.frame(seq) }
        let second = registry.publish(topic: "t") { seq in builds += 1; return Self.frame(seq) }
        #expect(first == 1)
        #expect(second == 2)
        #expect(builds == 0)
        #expect(registry.queues.allSatisfy { $0.isEmpty })
        #expect(registry.info(topic: "t") == TopicRegistry.TopicInfo(subscribers: 0, seq: 2, epoch: registry.epoch(0)))
        let totals = registry.totals()
        #expect(totals.topics == 1)
        #expect(totals.subscriptions == 0)
        #expect(totals.published == 2)
    }

    @Test func framesBuiltBeforeTheLockAreUsedOnlyWhileTheyAreStillTheTopicsNext() {
        let registry = makeRegistry(shards: 1)
        #expect(registry.nextPublish(of: "t") == nil, "no such topic yet")
        _ = registry.subscribersChanged(shard: 0, topic: "t", delta: 1)
        var insideBuilds: [UInt64] = []
        let next = registry.nextPublish(of: "t")
        #expect(next?.seq == 1 && next?.builds == true)
        let early = PublishFrames(plain: OutboundFrame(copying: [1, 1]))
        let first = registry.attempt(topic: "t", prebuilt: (seq: 1, dictionary: nil, frames: early)) { seq, _ in
            insideBuilds.append(seq)
            return plainFrames(seq)
        }
        #expect(first.seq == 1 && insideBuilds.isEmpty && registry.framesBuiltUnderLockTotal == 0)
        // Another publish took seq 2 after this one looked ahead: its frames
        // (made for seq 2) are not used; the right ones are built inside.
        #expect(registry.publish(topic: "t") { plainFrames($0) } == 2)
        let stale = PublishFrames(plain: OutboundFrame(copying: [2, 2]))
        let third = registry.attempt(topic: "t", prebuilt: (seq: 2, dictionary: nil, frames: stale)) { seq, _ in
            insideBuilds.append(seq)
            return plainFrames(seq)
        }
        #expect(third.seq == 3 && insideBuilds == [3])
        var delivered: [[UInt8]] = []
        registry.queues[0].drain { delivery in
            delivered.append(Array(delivery.frame.takeRetainedValue().bytes))
        }
        #expect(delivered.first == [1, 1], "the frames built before the lock went out")
        #expect(delivered.count == 3 && delivered[2] != [2, 2], "never the stale ones")
        #expect(registry.framesBuiltUnderLockTotal == 2)
    }

    @Test func seqIsPerTopic() {
        let registry = makeRegistry(shards: 1)
        #expect(registry.publish(topic: "a") { plainFrames($0) } == 1)
        #expect(registry.publish(topic: "b") { plainFrames($0) } == 1)
        #expect(registry.publish(topic: "a") { plainFrames($0) } == 2)
        #expect(registry.info(topic: "a").seq == 2)
        #expect(registry.info(topic: "b").seq == 1)
        #expect(registry.info(topic: "never") == TopicRegistry.TopicInfo(subscribers: 0, seq: 0, epoch: nil))
        #expect(registry.totals().published == 3)
    }

    @Test func publishQueuesOneFrameToExactlyTheShardsWithSubscribers() throws {
        let registry = makeRegistry(shards: 3)
        _ = registry.subscribersChanged(shard: 0, topic: "t", delta: 1)
        _ = registry.subscribersChanged(shard: 2, topic: "t", delta: 2)
        var builds: [UInt64] = []
        var built: OutboundFrame?
        let seq = registry.publish(topic: "t") { seq in
            builds.append(seq)
            let frame = OutboundFrame(copying: [UInt8(seq)])
            built = frame
            return PublishFrames(plain: frame)
        }
        #expect(seq == 1)
        #expect(builds == [1], "built once, whatever the number of shards")
        #expect(registry.queues[1].isEmpty)
        var frames: [[OutboundFrame]] = [[], [], []]
        for shard in 0..<3 {
            registry.queues[shard].drain { delivery in
                #expect(delivery.seq == 1)
                frames[shard].append(delivery.frame.takeRetainedValue())
            }
        }
        #expect(frames.map(\.count) == [1, 0, 1])
        let frame = try #require(built)
        #expect(frames[0].first === frame)
        #expect(frames[2].first === frame)
    }

    @Test func deliveriesCarryTheTopicsIDFromSubscribersChanged() {
        let registry = makeRegistry(shards: 1)
        let a = registry.subscribersChanged(shard: 0, topic: "a", delta: 1)
        let b = registry.subscribersChanged(shard: 0, topic: "b", delta: 1)
        #expect(a.id != b.id)
        #expect(a.seq == 0)
        _ = registry.publish(topic: "b") { plainFrames($0) }
        _ = registry.publish(topic: "a") { plainFrames($0) }
        let drained = drainDeliveries(registry.queues[0])
        #expect(drained.map(\.topicID) == [b.id, a.id])
        #expect(drained.map(\.bytes) == [Array("frame 1".utf8), Array("frame 1".utf8)])
        let again = registry.subscribersChanged(shard: 0, topic: "a", delta: 0)
        #expect(again.id == a.id, "a topic keeps its id")
        #expect(again.seq == 1, "and reports its current seq")
    }

    @Test func subscriberCountsSumOverShards() {
        let registry = makeRegistry(shards: 2)
        _ = registry.subscribersChanged(shard: 0, topic: "t", delta: 1)
        _ = registry.subscribersChanged(shard: 0, topic: "t", delta: 1)
        _ = registry.subscribersChanged(shard: 1, topic: "t", delta: 1)
        _ = registry.subscribersChanged(shard: 1, topic: "u", delta: 1)
        #expect(registry.info(topic: "t").subscribers == 3)
        #expect(registry.info(topic: "u").subscribers == 1)
        #expect(registry.totals().subscriptions == 4)
        _ = registry.subscribersChanged(shard: 0, topic: "t", delta: -1)
        #expect(registry.info(topic: "t").subscribers == 2)
        #expect(registry.totals().subscriptions == 3)
        #expect(registry.totals().topics == 2)
    }

    @Test func shardThatLostItsSubscribersGetsNoMoreDeliveries() {
        let registry = makeRegistry(shards: 2)
        _ = registry.subscribersChanged(shard: 0, topic: "t", delta: 1)
        _ = registry.subscribersChanged(shard: 1, topic: "t", delta: 1)
        _ = registry.publish(topic: "t") { plainFrames($0) }
        _ = registry.subscribersChanged(shard: 1, topic: "t", delta: -1)
        _ = registry.publish(topic: "t") { plainFrames($0) }
        #expect(drainDeliveries(registry.queues[0]).map(\.seq) == [1, 2])
        #expect(drainDeliveries(registry.queues[1]).map(\.seq) == [1])
    }

    /// The registry wakes a shard through its eventfd when it queued
    /// something for it on an empty queue: once per burst, not per publish.
    @Test func publishSignalsTheWakeDescriptorsOfTargetShardsOnly() throws {
        let descriptors = [try Socket.eventDescriptor(), try Socket.eventDescriptor()]
        defer { for fd in descriptors { close(fd) } }
        let registry = TopicRegistry(wakeDescriptors: descriptors)
        _ = registry.subscribersChanged(shard: 1, topic: "t", delta: 1)
        _ = registry.publish(topic: "t") { plainFrames($0) }
        _ = registry.publish(topic: "t") { plainFrames($0) }
        _ = registry.publish(topic: "nobody") { plainFrames($0) }
        // An eventfd reads as its 8-byte counter, or EAGAIN when zero (non-blocking).
        var value: UInt64 = 0
        #expect(read(descriptors[0], &value, 8) == -1, "shard 0 has no subscribers and was not woken")
        #expect(read(descriptors[1], &value, 8) == 8)
        #expect(value == 1, "the second publish found the queue not yet drained: no second wake")
        #expect(drainDeliveries(registry.queues[1]).map(\.seq) == [1, 2])
        _ = registry.publish(topic: "t") { plainFrames($0) }
        #expect(read(descriptors[1], &value, 8) == 8 && value == 1, "drained: the next publish wakes it again")
        _ = drainDeliveries(registry.queues[1])
    }

    /// An admin thread's burst: publishes with `ShardWakes` wake nobody
    /// until the flush, which wakes each shard that got deliveries once.
    @Test func deferredWakesSignalEachTargetShardOnceAtTheFlush() throws {
        let descriptors = [try Socket.eventDescriptor(), try Socket.eventDescriptor(), try Socket.eventDescriptor()]
        defer { for fd in descriptors { close(fd) } }
        let registry = TopicRegistry(wakeDescriptors: descriptors)
        _ = registry.subscribersChanged(shard: 0, topic: "a", delta: 1)
        _ = registry.subscribersChanged(shard: 2, topic: "b", delta: 1)
        let wakes = ShardWakes(descriptors: descriptors)
        var value: UInt64 = 0
        for round in 1...2 {
            for topic in ["a", "b", "a", "nobody"] {
                _ = registry.attempt(topic: topic, wakes: wakes) { seq, _ in plainFrames(seq) }
            }
            for fd in descriptors { #expect(read(fd, &value, 8) == -1, "round \(round): nobody woken before the flush") }
            wakes.flush()
            #expect(read(descriptors[0], &value, 8) == 8 && value == 1, "round \(round): one wake for two publishes")
            #expect(read(descriptors[1], &value, 8) == -1, "round \(round): no subscribers on shard 1")
            #expect(read(descriptors[2], &value, 8) == 8 && value == 1)
            wakes.flush()
            for fd in descriptors { #expect(read(fd, &value, 8) == -1, "round \(round): a second flush wakes nobody") }
            #expect(drainDeliveries(registry.queues[0]).count == 2)
            #expect(drainDeliveries(registry.queues[2]).count == 1)
        }
    }

    /// `--admin-threads 0`: a shard that publishes delivers its own queue in
    /// the same turn, so its flush wakes the other shards only.
    @Test func aPublishingShardIsNeverWokenByItsOwnWakes() throws {
        let descriptors = [try Socket.eventDescriptor(), try Socket.eventDescriptor()]
        defer { for fd in descriptors { close(fd) } }
        let registry = TopicRegistry(wakeDescriptors: descriptors)
        _ = registry.subscribersChanged(shard: 0, topic: "a", delta: 1)
        _ = registry.subscribersChanged(shard: 1, topic: "a", delta: 1)
        let wakes = ShardWakes(descriptors: descriptors, ownShard: 1)
        var value: UInt64 = 0
        _ = registry.attempt(topic: "a", wakes: wakes) { seq, _ in plainFrames(seq) }
        wakes.flush()
        #expect(read(descriptors[0], &value, 8) == 8 && value == 1, "the other shard is woken")
        #expect(read(descriptors[1], &value, 8) == -1, "the publishing shard is not")
        #expect(drainDeliveries(registry.queues[1]).count == 1, "its delivery is queued all the same")
        #expect(drainDeliveries(registry.queues[0]).count == 1)
    }

    @Test func concurrentPublishersGetDistinctConsecutiveSeqs() {
        let registry = makeRegistry(shards: 1)
        _ = registry.subscribersChanged(shard: 0, topic: "t", delta: 1)
        let threads = 4
        let perThread = 500
        let results = SeqCollector()
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            for _ in 0..<perThread { results.append(registry.publish(topic: "t") { plainFrames($0) }!) }
        }
        #expect(results.sorted() == (1...UInt64(threads * perThread)).map { $0 })
        // Queued in seq order even though several threads published.
        #expect(drainDeliveries(registry.queues[0]).map(\.seq) == (1...UInt64(threads * perThread)).map { $0 })
    }
}

/// Seqs returned to several threads.
private final class SeqCollector: Sendable {
    private let seqs = Mutex<[UInt64]>([])
    func append(_ seq: UInt64) { seqs.withLock { $0.append(seq) } }
    func sorted() -> [UInt64] { seqs.withLock { $0.sorted() } }
}

@Suite struct TopicCollectionTests {
    // MARK: Epochs and collection (CONTRACT "History and recovery")

    final class ManualClock: @unchecked Sendable {
        // @unchecked: tests drive it from one thread.
        var milliseconds: UInt64 = 1_000
    }

    static func registry(_ clock: ManualClock, idleMilliseconds: UInt64 = 60_000, topicsMax: Int = 100) -> TopicRegistry {
        TopicRegistry(wakeDescriptors: [-1, -1], topicsMax: topicsMax, topicIdleMilliseconds: idleMilliseconds,
                      now: { clock.milliseconds })
    }

    @Test func idleTopicIsCollectedAndComesBackWithANewEpoch() {
        let clock = ManualClock()
        let registry = Self.registry(clock)
        #expect(registry.publish(topic: "t") { plainFrames($0) } == 1)
        let first = registry.info(topic: "t").epoch
        clock.milliseconds += 59_999
        #expect(registry.collectIdle() == 0, "not idle for the whole period yet")
        clock.milliseconds += 1
        #expect(registry.collectIdle() == 1)
        #expect(registry.info(topic: "t").epoch == nil)
        #expect(registry.collectedTotal == 1)
        // Its next use starts a new sequence, in a new epoch.
        #expect(registry.publish(topic: "t") { plainFrames($0) } == 1)
        let second = registry.info(topic: "t").epoch
        #expect(second != nil && second != first)
    }

    @Test func subscribedTopicsAreNeverCollected() {
        let clock = ManualClock()
        let registry = Self.registry(clock)
        _ = registry.publish(topic: "t") { plainFrames($0) }
        _ = registry.join(shard: 1, topic: "t")
        clock.milliseconds += 600_000
        #expect(registry.collectIdle() == 0)
        // Its last subscriber leaves: idle from then on.
        registry.left(shard: 1, topic: "t")
        clock.milliseconds += 30_000
        #expect(registry.collectIdle() == 0)
        clock.milliseconds += 30_000
        #expect(registry.collectIdle() == 1)
    }

    @Test func activityPostponesCollection() {
        let clock = ManualClock()
        let registry = Self.registry(clock)
        _ = registry.publish(topic: "t") { plainFrames($0) }
        clock.milliseconds += 50_000
        _ = registry.publish(topic: "t") { plainFrames($0) }
        clock.milliseconds += 10_000
        #expect(registry.collectIdle() == 0, "published 10 s ago")
        clock.milliseconds += 50_000
        #expect(registry.collectIdle() == 1)
        #expect(registry.info(topic: "t").seq == 0)
    }

    @Test func collectionFreesPlacesUnderTheTopicLimit() {
        // One client inventing names filled --topics-max for good before.
        let clock = ManualClock()
        let registry = Self.registry(clock, topicsMax: 3)
        for name in ["a", "b", "c"] { _ = registry.join(shard: 0, topic: name) }
        for name in ["a", "b", "c"] { registry.left(shard: 0, topic: name) }
        #expect(registry.join(shard: 0, topic: "d") == nil, "full")
        clock.milliseconds += 60_000
        #expect(registry.collectIdle() == 3)
        #expect(registry.join(shard: 0, topic: "d") != nil)
    }

    @Test func epochsDifferAcrossRegistries() {
        // A restarted node is a new registry: its epochs never repeat.
        let one = makeRegistry(shards: 1)
        let two = makeRegistry(shards: 1)
        #expect(one.epoch(0) != two.epoch(0))
        #expect(one.epoch(0) != one.epoch(1))
    }
}
