import HeraldCore
import Synchronization

/// What `/healthz`, `/v1/stats` and `/metrics` say about the cluster
/// (CONTRACT "Multi-node": while Redis is unreachable, health and metrics
/// say so). Written by the broker and the admin threads, read by stats.
final class ClusterStatus: Sendable {
    let endpoints: [RedisEndpoint]
    let nodeID: String
    /// Bit i: the broker's connections to instance i are up (≤ 64 instances).
    let upMask = Atomic<UInt64>(0)
    let reconnects = Atomic<UInt64>(0)
    /// Topics this node follows through Redis (a channel subscription each).
    let followed = Atomic<Int>(0)
    let messagesReceived = Atomic<UInt64>(0)
    /// Messages that came twice (on the channel after a sync had them).
    let duplicates = Atomic<UInt64>(0)
    /// Position reads: a new follow, a seq jump, another epoch, a reconnect.
    let syncs = Atomic<UInt64>(0)
    /// Messages a sync found and delivered (missed on the channel).
    let backfilled = Atomic<UInt64>(0)
    /// Messages lost to this node (gone from the stream): announced as gaps.
    let gapMessages = Atomic<UInt64>(0)
    let resets = Atomic<UInt64>(0)
    /// Follows that failed because Redis was unreachable (subscribers got
    /// the `unavailable` error).
    let followsFailed = Atomic<UInt64>(0)
    let publishes = Atomic<UInt64>(0)
    /// Publishes answered 503 because Redis could not be reached.
    let publishFailures = Atomic<UInt64>(0)
    let idempotentReplays = Atomic<UInt64>(0)
    /// Malformed messages or replies from Redis (logged, skipped).
    let protocolErrors = Atomic<UInt64>(0)

    init(endpoints: [RedisEndpoint], nodeID: String) {
        precondition(endpoints.count <= 64, "at most 64 Redis instances")
        self.endpoints = endpoints
        self.nodeID = nodeID
    }

    func isUp(_ instance: Int) -> Bool { upMask.load(ordering: .relaxed) & (1 << UInt64(instance)) != 0 }

    var allUp: Bool {
        upMask.load(ordering: .relaxed) == (endpoints.count == 64 ? .max : (1 << UInt64(endpoints.count)) - 1)
    }

    func setUp(_ instance: Int, _ up: Bool) {
        if up {
            _ = upMask.bitwiseOr(1 << UInt64(instance), ordering: .relaxed)
        } else {
            _ = upMask.bitwiseAnd(~(1 << UInt64(instance)), ordering: .relaxed)
        }
    }

    /// The instances that are down, for the health answer.
    var downEndpoints: [RedisEndpoint] {
        endpoints.indices.filter { !isUp($0) }.map { endpoints[$0] }
    }
}
