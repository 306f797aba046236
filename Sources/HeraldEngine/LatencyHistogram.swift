import HeraldCore
import Synchronization

/// One thread's latency histogram (the shard thread writes, a scrape
/// reads): a count per `LatencyBuckets` bucket and the sum, relaxed atomics
/// like `ShardCounters`. Merged across shards when `/metrics` is read.
public final class LatencyHistogram: @unchecked Sendable {
    // @unchecked: written by one thread only, every access through Atomic.
    private let counts: UnsafeMutablePointer<Atomic<UInt64>>
    private let sum = Atomic<UInt64>(0)

    public init() {
        counts = .allocate(capacity: LatencyBuckets.count)
        for index in 0..<LatencyBuckets.count { (counts + index).initialize(to: Atomic(0)) }
    }

    deinit {
        counts.deinitialize(count: LatencyBuckets.count)
        counts.deallocate()
    }

    /// Single-writer record.
    @inline(__always)
    public func record(microseconds: UInt64) {
        let slot = counts + LatencyBuckets.bucket(microseconds: microseconds)
        slot.pointee.store(slot.pointee.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
        sum.store(sum.load(ordering: .relaxed) &+ microseconds, ordering: .relaxed)
    }

    /// (count per bucket, not cumulative; sum in microseconds).
    public func snapshot() -> (counts: [UInt64], sumMicroseconds: UInt64) {
        ((0..<LatencyBuckets.count).map { (counts + $0).pointee.load(ordering: .relaxed) },
         sum.load(ordering: .relaxed))
    }

    /// Prometheus text for the merged histograms (cumulative `_bucket`
    /// series, `_sum` in seconds, `_count`).
    static func prometheus(name: String, help: String, _ histograms: [LatencyHistogram]) -> String {
        var counts = Array(repeating: UInt64(0), count: LatencyBuckets.count)
        var sum: UInt64 = 0
        for histogram in histograms {
            let snapshot = histogram.snapshot()
            for index in counts.indices { counts[index] &+= snapshot.counts[index] }
            sum &+= snapshot.sumMicroseconds
        }
        var out = "# HELP herald_\(name) \(help)\n# TYPE herald_\(name) histogram\n"
        var cumulative: UInt64 = 0
        for index in counts.indices {
            cumulative &+= counts[index]
            out += "herald_\(name)_bucket{le=\"\(LatencyBuckets.label(index))\"} \(cumulative)\n"
        }
        out += "herald_\(name)_sum \(LatencyBuckets.seconds(sum))\n"
        out += "herald_\(name)_count \(cumulative)\n"
        return out
    }
}
