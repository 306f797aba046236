import HeraldCore
import HeraldIO
import Synchronization

/// The process-wide view of topics: each topic's sequence number and how
/// many subscribers each shard holds. Publishing assigns the next seq and
/// hands the frame to exactly the shards with subscribers, all under one
/// lock, so every shard receives a topic's messages in seq order whichever
/// thread published them (CONTRACT: seq "with no gaps and no reordering").
///
/// The lock is taken once per publish and once per subscription change,
/// never per delivery.
final class TopicRegistry: Sendable {
    /// What became of one publish.
    enum PublishOutcome: Equatable {
        case published(seq: UInt64)
        /// The topic is new and the registry holds `--topics-max` topics.
        case topicLimit
        /// A shard that would receive it is over `--delivery-backlog-bytes-max`:
        /// nothing was sequenced; the publisher should retry later (503).
        case backlogged

        var seq: UInt64? {
            if case .published(let seq) = self { return seq }
            return nil
        }
    }

    struct TopicInfo: Equatable {
        let subscribers: Int
        let seq: UInt64
    }

    private struct Record {
        let id: UInt32
        var seq: UInt64 = 0
        var subscribers: [Int]
    }

    private struct State {
        var records: [String: Record] = [:]
        var nextID: UInt32 = 0
        var publishedTotal: UInt64 = 0
        var subscriptions = 0
        var refusedTotal: UInt64 = 0
        var backlogRefusedTotal: UInt64 = 0

        /// The record of `topic`, created when missing unless the registry
        /// already holds `topicsMax` topics (then nil, counted).
        mutating func record(_ topic: String, shards: Int, topicsMax: Int) -> Record? {
            if let existing = records[topic] { return existing }
            guard records.count < topicsMax else {
                refusedTotal &+= 1
                return nil
            }
            defer { nextID &+= 1 }
            return Record(id: nextID, subscribers: Array(repeating: 0, count: shards))
        }
    }

    private let state = Mutex(State())
    /// Open connections that negotiated permessage-deflate; publishes are
    /// compressed (once) only while there are any.
    let deflateConnections = Atomic<Int>(0)
    let queues: [DeliveryQueue]
    private let wakeDescriptors: [Int32]

    /// Topics the registry will hold (`--topics-max`): records are kept for
    /// the process's life so seq never restarts, so their number is bounded.
    let topicsMax: Int

    /// A shard's delivery backlog past which publishes to it are refused.
    let deliveryBacklogBytesMax: Int

    init(wakeDescriptors: [Int32], topicsMax: Int = Config().topicsMax,
         deliveryBacklogBytesMax: Int = Config().deliveryBacklogBytesMax) {
        self.wakeDescriptors = wakeDescriptors
        self.topicsMax = topicsMax
        self.deliveryBacklogBytesMax = deliveryBacklogBytesMax
        queues = wakeDescriptors.map { _ in DeliveryQueue() }
    }

    /// Publishes to `topic`: takes the next seq, builds the frame once with
    /// it (only when someone listens) and queues it on every shard with
    /// subscribers. Returns the seq, or nil when it was refused (see `attempt`).
    func publish(topic: String, build: (UInt64) -> (plain: OutboundFrame, compressed: OutboundFrame?)) -> UInt64? {
        attempt(topic: topic, build: build).seq
    }

    /// `publish`, saying why a refused publish was refused. A shard whose
    /// delivery backlog is over its bound refuses the publish *before* a
    /// seq is taken: a seq that reached some shards and not others would
    /// be a gap no one announced.
    func attempt(topic: String, build: (UInt64) -> (plain: OutboundFrame, compressed: OutboundFrame?)) -> PublishOutcome {
        var targets: [Int] = []
        let outcome = state.withLock { state -> PublishOutcome in
            let shardCount = queues.count
            guard var record = state.record(topic, shards: shardCount, topicsMax: topicsMax) else { return .topicLimit }
            for shard in 0..<shardCount where record.subscribers[shard] > 0 { targets.append(shard) }
            for shard in targets where queues[shard].pendingBytes.load(ordering: .relaxed) > deliveryBacklogBytesMax {
                state.backlogRefusedTotal &+= 1
                targets = []
                return .backlogged
            }
            record.seq &+= 1
            state.publishedTotal &+= 1
            if !targets.isEmpty {
                let frames = build(record.seq)
                for shard in targets {
                    queues[shard].push(.init(topicID: record.id, seq: record.seq,
                                             frame: Unmanaged.passRetained(frames.plain),
                                             compressed: frames.compressed.map { Unmanaged.passRetained($0) }))
                }
            }
            state.records[topic] = record
            return .published(seq: record.seq)
        }
        for shard in targets { Socket.signalEvent(wakeDescriptors[shard]) }
        return outcome
    }

    /// A shard gained or lost a subscriber of `topic`. Returns the topic's
    /// id and its seq at this moment: deliveries sequenced after it reach
    /// this shard, earlier ones do not.
    /// The topic's record is created when missing (a shard registers a
    /// topic with `reserve` first, which applies `--topics-max`).
    func subscribersChanged(shard: Int, topic: String, delta: Int) -> (id: UInt32, seq: UInt64) {
        state.withLock { state in
            var record = state.record(topic, shards: queues.count, topicsMax: .max)!
            record.subscribers[shard] += delta
            state.subscriptions += delta
            state.records[topic] = record
            return (record.id, record.seq)
        }
    }

    /// The id of `topic`, creating its record; nil when the registry is full.
    func reserve(topic: String) -> UInt32? {
        state.withLock { state in
            guard let record = state.record(topic, shards: queues.count, topicsMax: topicsMax) else { return nil }
            state.records[topic] = record
            return record.id
        }
    }

    func info(topic: String) -> TopicInfo {
        state.withLock { state in
            guard let record = state.records[topic] else { return TopicInfo(subscribers: 0, seq: 0) }
            return TopicInfo(subscribers: record.subscribers.reduce(0, +), seq: record.seq)
        }
    }

    /// (topics known, subscriptions, messages published, new topics refused) for stats.
    func totals() -> (topics: Int, subscriptions: Int, published: UInt64, refused: UInt64) {
        state.withLock { ($0.records.count, $0.subscriptions, $0.publishedTotal, $0.refusedTotal) }
    }

    /// Publishes refused because a shard's delivery backlog was full.
    var backlogRefusedTotal: UInt64 { state.withLock { $0.backlogRefusedTotal } }
}
