import Synchronization

/// The process-wide `--connections-max`: one atomic count of accepted
/// connections, shared by every shard. Slabs are sized with headroom
/// (`RingPlan.slotsWithHeadroom`), so the limit is exact whatever way
/// SO_REUSEPORT spreads connections, and a connection past it gets a 503.
final class ConnectionBudget: Sendable {
    let limit: Int
    private let count = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = limit
    }

    /// Takes one unit; false (and nothing taken) at the limit.
    func acquire() -> Bool {
        var current = count.load(ordering: .relaxed)
        while current < limit {
            let (exchanged, actual) = count.compareExchange(expected: current, desired: current + 1,
                                                            ordering: .relaxed)
            if exchanged { return true }
            current = actual
        }
        return false
    }

    func release() {
        count.subtract(1, ordering: .relaxed)
    }

    var inUse: Int { count.load(ordering: .relaxed) }
}
