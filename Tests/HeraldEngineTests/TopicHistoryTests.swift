import HeraldProtocol
import Testing
@testable import HeraldEngine

@Suite struct TopicHistoryTests {
    static func entry(_ seq: UInt64, at time: UInt64 = 0) -> TopicHistory.Entry {
        TopicHistory.Entry(seq: seq, plain: Unmanaged.passRetained(OutboundFrame(copying: [UInt8(truncatingIfNeeded: seq)])),
                           compressed: nil, bytes: 100, publishedAtMilliseconds: time)
    }

    @Test func ringKeepsTheNewestInOrder() {
        var history = TopicHistory(capacity: 3)
        for seq in UInt64(1)...5 { history.append(Self.entry(seq))?.release() }
        #expect(history.count == 3)
        #expect(history.oldest?.seq == 3 && history.newest?.seq == 5)
        #expect(history.entries(from: 3, through: 5)?.map(\.seq) == [3, 4, 5])
        #expect(history.entries(from: 4, through: 4)?.map(\.seq) == [4])
        #expect(history.entries(from: 2, through: 5) == nil, "seq 2 is gone")
        #expect(history.entries(from: 4, through: 6) == nil, "seq 6 does not exist")
        while let entry = history.removeOldest() { entry.release() }
        #expect(history.isEmpty && history.oldest == nil)
    }

    @Test func aMostlyEvictedRingGivesItsSlotsBackAndKeepsItsOrder() {
        var history = TopicHistory(capacity: 64)
        for seq in UInt64(1)...100 { history.append(Self.entry(seq))?.release() }
        let full = history.storageBytes
        #expect(full >= TopicHistory.arrayHeaderBytes + 64 * MemoryLayout<TopicHistory.Entry?>.stride)
        // Down to a quarter of the slots: the ring is rebuilt smaller.
        for _ in 0..<50 { history.removeOldest()?.release() }
        #expect(history.count == 14 && history.storageBytes < full)
        #expect(history.entries(from: 87, through: 100)?.map(\.seq) == Array(87...100))
        // It regrows (never past its capacity) and wraps in order.
        for seq in UInt64(101)...300 { history.append(Self.entry(seq))?.release() }
        #expect(history.count == 64 && history.oldest?.seq == 237 && history.newest?.seq == 300)
        #expect(history.entries(from: 237, through: 300)?.map(\.seq) == Array(237...300))
        #expect(history.storageBytes <= full)
        while let entry = history.removeOldest() { entry.release() }
        #expect(history.storageBytes == 0)
    }

    @Test func ringRefillsAfterItEmpties() {
        var history = TopicHistory(capacity: 2)
        history.append(Self.entry(1))?.release()
        history.removeOldest()?.release()
        history.append(Self.entry(2))?.release()
        history.append(Self.entry(3))?.release()
        #expect(history.entries(from: 2, through: 3)?.map(\.seq) == [2, 3])
        while let entry = history.removeOldest() { entry.release() }
    }
}

@Suite struct RegistryHistoryTests {
    final class ManualClock: @unchecked Sendable {
        var milliseconds: UInt64 = 1_000
    }

    static func registry(_ clock: ManualClock, size: Int = 4, ttl: UInt64 = 10_000,
                         bytesMax: Int = 1 << 20) -> TopicRegistry {
        TopicRegistry(wakeDescriptors: [-1], topicsMax: 100, topicIdleMilliseconds: 1_000, historySize: size,
                      historyTTLMilliseconds: ttl, historyBytesMax: bytesMax, now: { clock.milliseconds })
    }

    @Test func recoveryReplaysExactlyTheMissedMessages() throws {
        let clock = ManualClock()
        let registry = Self.registry(clock)
        for _ in 0..<6 { _ = registry.publish(topic: "t", build: plainFrames) }
        let epoch = try #require(registry.info(topic: "t").epoch)
        let result = registry.recover(topic: "t", since: .init(seq: 3, epoch: epoch), seam: 6, epoch: epoch)
        #expect(result.decision == .replay(from: 4, through: 6))
        #expect(result.frames.map(\.seq) == [4, 5, 6])
        result.frames.forEach { $0.release() }
        // Seq 2 fell out of the 4-message ring.
        let tooOld = registry.recover(topic: "t", since: .init(seq: 1, epoch: epoch), seam: 6, epoch: epoch)
        #expect(tooOld.decision == .notRecovered && tooOld.frames.isEmpty)
        let upToDate = registry.recover(topic: "t", since: .init(seq: 6, epoch: epoch), seam: 6, epoch: epoch)
        #expect(upToDate.decision == .upToDate && upToDate.frames.isEmpty)
    }

    @Test func keptMessagesExpire() throws {
        let clock = ManualClock()
        let registry = Self.registry(clock)
        _ = registry.publish(topic: "t", build: plainFrames)
        clock.milliseconds += 5_000
        _ = registry.publish(topic: "t", build: plainFrames)
        let epoch = try #require(registry.info(topic: "t").epoch)
        clock.milliseconds += 5_000
        // Seq 1 is 10 s old: gone; seq 2 is still kept.
        #expect(registry.recover(topic: "t", since: .init(seq: 0, epoch: epoch), seam: 2, epoch: epoch).decision
                == .notRecovered)
        let kept = registry.recover(topic: "t", since: .init(seq: 1, epoch: epoch), seam: 2, epoch: epoch)
        #expect(kept.frames.map(\.seq) == [2])
        kept.frames.forEach { $0.release() }
        #expect(registry.historyTotals().entries == 1)
    }

    @Test func theByteBoundEvictsTheOldestOfAnyTopic() {
        let clock = ManualClock()
        // Room for about three entries of plainFrames' size and two rings.
        let one = plainFrames(1).plain.count + TopicHistory.entryOverheadBytes
        let probe = Self.registry(clock)
        _ = probe.publish(topic: "p", build: plainFrames)
        let ring = probe.historyTotals().bytes - one
        #expect(ring >= TopicHistory.arrayHeaderBytes + MemoryLayout<TopicHistory.Entry?>.stride,
                "the ring's slots are charged")
        let registry = Self.registry(clock, bytesMax: 3 * one + 2 * ring + one / 2)
        _ = registry.publish(topic: "a", build: plainFrames)
        _ = registry.publish(topic: "b", build: plainFrames)
        _ = registry.publish(topic: "a", build: plainFrames)
        _ = registry.publish(topic: "b", build: plainFrames)
        let totals = registry.historyTotals()
        #expect(totals.entries == 3 && totals.evicted == 1)
        #expect(totals.bytes <= 3 * one + 2 * ring + one / 2)
    }

    @Test func theByteBoundEvictsThePublishingTopicsOwnOldest() throws {
        // One topic, a ring of 4, room for about two entries: each publish
        // (its record changed in place in the table) evicts its own oldest.
        let clock = ManualClock()
        let one = plainFrames(1).plain.count + TopicHistory.entryOverheadBytes
        let probe = Self.registry(clock)
        _ = probe.publish(topic: "p", build: plainFrames)
        let ring = probe.historyTotals().bytes - one
        let registry = Self.registry(clock, bytesMax: 2 * one + ring + one / 2)
        for _ in 0..<5 { _ = registry.publish(topic: "t", build: plainFrames) }
        let totals = registry.historyTotals()
        #expect(totals.entries == 2 && totals.evicted == 3)
        let epoch = try #require(registry.info(topic: "t").epoch)
        let result = registry.recover(topic: "t", since: .init(seq: 3, epoch: epoch), seam: 5, epoch: epoch)
        #expect(result.frames.map(\.seq) == [4, 5])
        result.frames.forEach { $0.release() }
    }

    @Test func theEvictionOrderStaysBoundedAcrossManyTopics() throws {
        // 100 topics (the registry's most) × 80 rounds through rings of 4: most order entries go
        // stale (the rings evict their own); compaction keeps the list
        // within twice the live entries (+1,024), and after it the byte
        // bound still evicts the oldest message of any topic.
        let clock = ManualClock()
        let registry = Self.registry(clock)
        for _ in 0..<80 {
            for topic in 0..<100 { _ = registry.publish(topic: "t\(topic)", build: plainFrames) }
        }
        let (listed, live) = registry.state.withLock { ($0.ledger.order.count - $0.ledger.head, $0.ledger.entries) }
        #expect(live == 400)
        #expect(listed <= 2 * live + 1024)
        let epoch = try #require(registry.info(topic: "t7").epoch)
        let result = registry.recover(topic: "t7", since: .init(seq: 76, epoch: epoch), seam: 80, epoch: epoch)
        #expect(result.frames.map(\.seq) == [77, 78, 79, 80])
        result.frames.forEach { $0.release() }
    }

    @Test func everythingChargedIsGivenBackWhenTheHistoryExpires() {
        let clock = ManualClock()
        let registry = Self.registry(clock, size: 16, ttl: 5_000)
        for round in 0..<40 {
            for topic in 0..<10 { _ = registry.publish(topic: "t\(topic)", build: plainFrames) }
            if round == 20 { clock.milliseconds += 3_000 }
        }
        #expect(registry.historyTotals().entries == 160)
        clock.milliseconds += 10_000
        #expect(registry.collectIdle() == 10)
        let totals = registry.historyTotals()
        #expect(totals.entries == 0 && totals.bytes == 0, "ring slots and entries both uncharged")
    }

    @Test func topicsWithHistoryAreKeptUntilItExpires() {
        let clock = ManualClock()
        let registry = Self.registry(clock, ttl: 5_000)
        _ = registry.publish(topic: "t", build: plainFrames)
        clock.milliseconds += 2_000
        #expect(registry.collectIdle() == 0, "idle, but its message is still recoverable")
        clock.milliseconds += 5_000
        #expect(registry.collectIdle() == 1)
        #expect(registry.historyTotals().entries == 0)
    }

    @Test func aLongRunOnOneTopicKeepsItsNewestMessages() throws {
        // Thousands of publishes pass through a 4-message ring: the eviction
        // order is compacted on the way and the ring still holds the newest.
        let clock = ManualClock()
        let registry = Self.registry(clock)
        for _ in 0..<3_000 { _ = registry.publish(topic: "t", build: plainFrames) }
        #expect(registry.historyTotals().entries == 4)
        let epoch = try #require(registry.info(topic: "t").epoch)
        let result = registry.recover(topic: "t", since: .init(seq: 2_996, epoch: epoch), seam: 3_000, epoch: epoch)
        #expect(result.frames.map(\.seq) == [2_997, 2_998, 2_999, 3_000])
        result.frames.forEach { $0.release() }
    }

    @Test func noHistoryWhenSizeIsZero() {
        let clock = ManualClock()
        let registry = Self.registry(clock, size: 0)
        _ = registry.publish(topic: "t", build: plainFrames)
        #expect(registry.historyTotals().entries == 0)
    }
}

@Suite struct HistoryItemTests {
    static func item(_ payload: Publisher.Payload, topic: String = "t/1", seq: UInt64 = 7) -> String {
        let frame = Publisher.frame(topic: topic, seq: seq, payload: payload)
        var body: [UInt8] = []
        HistoryItem.append(frame: UnsafeRawBufferPointer(frame.bytes), topic: topic, seq: seq, to: &body)
        return String(decoding: body, as: UTF8.self)
    }

    @Test func dataComesBackAsPublished() {
        #expect(Self.item(.json(Array(#"{"a":[1,2]}"#.utf8))) == #"{"seq":7,"data":{"a":[1,2]}}"#)
        #expect(Self.item(.text(Array("say \"hi\"".utf8))) == #"{"seq":7,"data":"say \"hi\""}"#)
        #expect(Self.item(.binary([0, 1, 255])) == #"{"seq":7,"data":"AAH/","binary":true}"#)
        // A payload long enough for the 16-bit and 64-bit length forms.
        let long = String(repeating: "x", count: 70_000)
        #expect(Self.item(.text(Array(long.utf8))) == #"{"seq":7,"data":"\#(long)"}"#)
    }
}
