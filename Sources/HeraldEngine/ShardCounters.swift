import Synchronization

/// One shard's counters. Written only by the shard's thread and read by the
/// admin thread, so each add is a relaxed load and store (a plain `mov` on
/// x86, no locked instruction) and reads never tear.
public final class ShardCounters: @unchecked Sendable {
    // @unchecked: `values` is written by one thread only and every access
    // goes through Atomic, which is what makes the cross-thread reads sound.
    private let values: UnsafeMutablePointer<Atomic<UInt64>>
    /// Gauges the shard publishes each loop turn.
    public let openConnections = Atomic<Int>(0)
    /// Bytes queued on this shard's connections, and connections over
    /// `--send-queue-bytes-max` (published each loop turn).
    public let sendQueueBytes = Atomic<Int>(0)
    public let connectionsOverLimit = Atomic<Int>(0)
    /// From a publish being sequenced until this shard queued it on its
    /// subscribers' sockets (sent in the same loop turn).
    public let publishDelivery = LatencyHistogram()
    /// From a TCP accept until the 101 was queued.
    public let handshake = LatencyHistogram()
    public let rings: Int

    public init(rings: Int) {
        self.rings = rings
        values = .allocate(capacity: Counter.allCases.count)
        for index in 0..<Counter.allCases.count {
            (values + index).initialize(to: Atomic(0))
        }
    }

    deinit {
        values.deinitialize(count: Counter.allCases.count)
        values.deallocate()
    }

    /// Single-writer increment (the shard thread).
    @inline(__always)
    public func add(_ counter: Counter, _ amount: UInt64 = 1) {
        let slot = values + counter.rawValue
        slot.pointee.store(slot.pointee.load(ordering: .relaxed) &+ amount, ordering: .relaxed)
    }

    public func value(_ counter: Counter) -> UInt64 {
        (values + counter.rawValue).pointee.load(ordering: .relaxed)
    }
}
