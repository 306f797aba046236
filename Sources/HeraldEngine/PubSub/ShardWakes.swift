import HeraldIO

/// The shards a publishing thread queued deliveries for and has not woken
/// yet. An admin thread answers a pipelined burst (or a batch) of
/// publishes before it wakes anyone: each shard whose queue became
/// non-empty gets one eventfd write at the end of the burst instead of one
/// per publish that found its queue drained — with the shard awake on the
/// other core, that was nearly every publish (issue 12: `write` was ~6 % of
/// the server's CPU with single publishes). Bounded by the shard count.
/// Owned by one thread (not `Sendable`).
final class ShardWakes {
    private let descriptors: [Int32]
    private var pending: [Bool]
    private var pendingCount = 0
    /// The shard whose thread publishes (`--admin-threads 0`): it delivers
    /// its own queue in the same turn, so it is never woken.
    private let ownShard: Int?

    init(descriptors: [Int32], ownShard: Int? = nil) {
        self.descriptors = descriptors
        self.ownShard = ownShard
        pending = Array(repeating: false, count: descriptors.count)
    }

    /// Remembers that `shard` must be woken before the burst's answers go out.
    func request(_ shard: Int) {
        guard !pending[shard], shard != ownShard else { return }
        pending[shard] = true
        pendingCount += 1
    }

    /// Wakes every shard requested since the last flush, once each.
    func flush() {
        guard pendingCount > 0 else { return }
        for shard in pending.indices where pending[shard] {
            pending[shard] = false
            Socket.signalEvent(descriptors[shard])
        }
        pendingCount = 0
    }
}
