import Foundation
import Synchronization
import Testing
@testable import HeraldEngine

/// Counters shared by the producer threads of a test.
private final class ProducerProgress: Sendable {
    let started = Atomic<Int>(0)
    let finished = Atomic<Int>(0)
}

@Suite struct DeliveryQueueTests {
    private static func delivery(_ topicID: UInt32, _ seq: UInt64, _ frame: OutboundFrame) -> DeliveryQueue.Delivery {
        DeliveryQueue.Delivery(topicID: topicID, seq: seq, frame: Unmanaged.passRetained(frame), compressed: nil)
    }

    /// (topicID, seq) of everything drained, releasing each frame.
    private static func take(_ queue: DeliveryQueue) -> [[UInt64]] {
        var out: [[UInt64]] = []
        queue.drain { delivery in
            out.append([UInt64(delivery.topicID), delivery.seq])
            delivery.frame.release()
        }
        return out
    }

    @Test func emptyQueueDrainsNothing() {
        let queue = DeliveryQueue()
        #expect(queue.isEmpty)
        var calls = 0
        queue.drain { _ in calls += 1 }
        #expect(calls == 0)
    }

    @Test func onlyThePushOntoAnEmptyQueueAsksForAWake() {
        let queue = DeliveryQueue()
        let frame = OutboundFrame(copying: [1])
        #expect(queue.push(Self.delivery(1, 1, frame)), "the first push wakes the shard")
        for seq in 2...50 { #expect(!queue.push(Self.delivery(1, UInt64(seq), frame)), "already woken") }
        #expect(Self.take(queue).count == 50)
        #expect(queue.push(Self.delivery(1, 51, frame)), "after a drain the next push wakes it again")
        #expect(Self.take(queue).count == 1)
    }

    @Test func drainYieldsPushesOldestFirst() {
        let queue = DeliveryQueue()
        let frame = OutboundFrame(copying: [1, 2, 3])
        for seq in 1...100 { queue.push(Self.delivery(UInt32(seq % 3), UInt64(seq), frame)) }
        #expect(!queue.isEmpty)
        let drained = Self.take(queue)
        #expect(drained.map { $0[1] } == (1...100).map(UInt64.init))
        #expect(drained.map { $0[0] } == (1...100).map { UInt64($0 % 3) })
        #expect(queue.isEmpty)
        #expect(Self.take(queue).isEmpty, "a second drain finds nothing")
    }

    @Test func drainsInterleavedWithPushesKeepOrder() {
        let queue = DeliveryQueue()
        let frame = OutboundFrame(copying: [0])
        queue.push(Self.delivery(0, 1, frame))
        queue.push(Self.delivery(0, 2, frame))
        #expect(Self.take(queue).map { $0[1] } == [1, 2])
        queue.push(Self.delivery(0, 3, frame))
        #expect(Self.take(queue).map { $0[1] } == [3])
        for seq in 4...6 { queue.push(Self.delivery(0, UInt64(seq), frame)) }
        #expect(Self.take(queue).map { $0[1] } == [4, 5, 6])
    }

    @Test func deliveryCarriesTheFrameItWasGiven() {
        let queue = DeliveryQueue()
        let frame = OutboundFrame(copying: Array("payload".utf8))
        queue.push(Self.delivery(9, 42, frame))
        var seen: OutboundFrame?
        queue.drain { delivery in
            seen = delivery.frame.takeUnretainedValue()
            delivery.frame.release()
        }
        #expect(seen === frame)
        #expect(seen?.byteArray == Array("payload".utf8))
    }

    @Test func queueReleasesUndrainedFramesWhenItGoes() {
        weak var weakFrame: OutboundFrame?
        do {
            let queue = DeliveryQueue()
            do {
                let frame = OutboundFrame(copying: [7])
                weakFrame = frame
                queue.push(Self.delivery(0, 1, frame))
                queue.push(Self.delivery(0, 2, frame))
            }
            #expect(weakFrame != nil, "the queue's retains keep the frame alive")
            withExtendedLifetime(queue) {}
        }
        #expect(weakFrame == nil, "deinit released both queued retains")
    }

    @Test func queueReleasesUndrainedCompressedFramesToo() {
        weak var weakPlain: OutboundFrame?
        weak var weakCompressed: OutboundFrame?
        do {
            let queue = DeliveryQueue()
            do {
                let plain = OutboundFrame(copying: [1])
                let compressed = OutboundFrame(copying: [2])
                weakPlain = plain
                weakCompressed = compressed
                queue.push(.init(topicID: 0, seq: 1, frame: Unmanaged.passRetained(plain),
                                 compressed: Unmanaged.passRetained(compressed)))
            }
            #expect(weakCompressed != nil)
            withExtendedLifetime(queue) {}
        }
        #expect(weakPlain == nil)
        #expect(weakCompressed == nil)
    }

    /// Several threads push at once while one thread drains: every item
    /// arrives exactly once, and each producer's items in the order pushed.
    @Test func concurrentProducersSingleConsumer() {
        let producers = 8
        let itemsPerProducer = 20_000
        let total = producers * itemsPerProducer
        let queue = DeliveryQueue()
        var frame: OutboundFrame? = OutboundFrame(copying: [0xAB])
        weak let weakFrame = frame
        // Threads hold the frame unretained so that, once every delivery is
        // released, nothing but `frame` keeps it alive.
        let unretained = Unmanaged.passUnretained(frame!)
        let progress = ProducerProgress()
        for producer in 0..<producers {
            let thread = Thread {
                progress.started.add(1, ordering: .relaxed)
                // Start together to maximise contention on the head.
                while progress.started.load(ordering: .relaxed) < producers { sched_yield() }
                for seq in 1...itemsPerProducer {
                    queue.push(.init(topicID: UInt32(producer), seq: UInt64(seq), frame: unretained.retain(), compressed: nil))
                }
                progress.finished.add(1, ordering: .releasing)
            }
            thread.start()
        }
        var nextSeq = Array(repeating: UInt64(1), count: producers)
        var received = 0
        var outOfOrder = 0
        var unknown = 0
        let deadline = Date().addingTimeInterval(60)
        var done = false
        while !done && Date() < deadline {
            // Read `finished` before draining: once every producer is done,
            // this drain sees all their pushes.
            done = progress.finished.load(ordering: .acquiring) == producers
            queue.drain { delivery in
                delivery.frame.release()
                received += 1
                let producer = Int(delivery.topicID)
                guard producer < producers else { unknown += 1; return }
                if delivery.seq != nextSeq[producer] { outOfOrder += 1 }
                nextSeq[producer] = delivery.seq + 1
            }
            if !done { sched_yield() }
        }
        #expect(done, "producers did not finish within the deadline")
        #expect(received == total)
        #expect(outOfOrder == 0)
        #expect(unknown == 0)
        #expect(nextSeq == Array(repeating: UInt64(itemsPerProducer + 1), count: producers))
        #expect(queue.isEmpty)
        frame = nil
        #expect(weakFrame == nil, "every push's retain was released exactly once")
    }
}
