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
///
/// Every topic has an **epoch** (CONTRACT "History and recovery"): it names
/// the topic's seq sequence and changes whenever that sequence restarts —
/// a new process (the process token differs) or a record freed and created
/// again (its id differs). Records of topics with no subscribers are
/// **collected** after `--topic-idle-seconds` without activity, so names
/// nobody uses never exhaust `--topics-max`.
final class TopicRegistry: Sendable {
    /// What became of one publish.
    enum PublishOutcome: Equatable {
        case published(seq: UInt64, epoch: String)
        /// The topic is new and the registry holds `--topics-max` topics.
        case topicLimit
        /// A shard that would receive it is over `--delivery-backlog-bytes-max`:
        /// nothing was sequenced; the publisher should retry later (503).
        case backlogged

        var seq: UInt64? {
            if case .published(let seq, _) = self { return seq }
            return nil
        }
    }

    struct TopicInfo: Equatable {
        let subscribers: Int
        let seq: UInt64
        /// nil while the topic does not exist (never used, or collected).
        let epoch: String?
    }

    /// What a shard learns when it takes a topic's first local subscriber.
    struct Joined: Equatable {
        let id: UInt32
        /// The topic's seq now: deliveries sequenced after it reach the shard.
        let seq: UInt64
        let epoch: String
    }

    private struct Record {
        let id: UInt32
        var seq: UInt64 = 0
        var subscribers: [Int]
        var subscriberTotal = 0
        /// Monotonic milliseconds of the last publish or subscriber change.
        var lastActivityMilliseconds: UInt64
        /// On `State.idleQueue` (at most once).
        var queuedForCollection = false
    }

    private struct State {
        var records: [String: Record] = [:]
        var nextID: UInt32 = 0
        var publishedTotal: UInt64 = 0
        var subscriptions = 0
        var refusedTotal: UInt64 = 0
        var backlogRefusedTotal: UInt64 = 0
        var collectedTotal: UInt64 = 0
        /// Topics with no subscribers, oldest first, to be checked for
        /// collection (each at most once; `idleHead` is the front).
        var idleQueue: [(name: String, sinceMilliseconds: UInt64)] = []
        var idleHead = 0

        /// The record of `topic`, created when missing unless the registry
        /// already holds `topicsMax` topics (then nil, counted). A new record
        /// starts idle: it is queued for collection.
        mutating func record(_ topic: String, shards: Int, topicsMax: Int, now: UInt64) -> Record? {
            if let existing = records[topic] { return existing }
            guard records.count < topicsMax else {
                refusedTotal &+= 1
                return nil
            }
            defer { nextID &+= 1 }
            return Record(id: nextID, subscribers: Array(repeating: 0, count: shards), lastActivityMilliseconds: now)
        }

        /// Puts a record with no subscribers on the collection queue.
        mutating func markIdle(_ topic: String, _ record: inout Record, now: UInt64) {
            guard record.subscriberTotal == 0, !record.queuedForCollection else { return }
            record.queuedForCollection = true
            idleQueue.append((topic, now))
        }
    }

    private let state = Mutex(State())
    /// Open connections that negotiated permessage-deflate; publishes are
    /// compressed (once) only while there are any.
    let deflateConnections = Atomic<Int>(0)
    let queues: [DeliveryQueue]
    private let wakeDescriptors: [Int32]

    /// Topics the registry holds at once (`--topics-max`).
    let topicsMax: Int
    /// Idle time after which a topic with no subscribers is freed.
    let topicIdleMilliseconds: UInt64
    /// Names this process's seq sequences: start time and randomness, so a
    /// restarted node never reuses an epoch.
    let processToken: String
    /// Monotonic milliseconds (injected so tests can move time).
    let now: @Sendable () -> UInt64
    /// Records looked at per collection sweep: bounds the lock hold time.
    static let collectionBatchMax = 10_000

    /// A shard's delivery backlog past which publishes to it are refused.
    let deliveryBacklogBytesMax: Int

    init(wakeDescriptors: [Int32], topicsMax: Int = Config().topicsMax,
         deliveryBacklogBytesMax: Int = Config().deliveryBacklogBytesMax,
         topicIdleMilliseconds: UInt64 = UInt64(Config().topicIdleSeconds * 1000),
         now: @escaping @Sendable () -> UInt64 = { SystemClock.monotonicMilliseconds() }) {
        self.wakeDescriptors = wakeDescriptors
        self.topicsMax = topicsMax
        self.topicIdleMilliseconds = topicIdleMilliseconds
        self.now = now
        var random = SystemRandomNumberGenerator()
        processToken = String(UInt64(SystemClock.wallSeconds()), radix: 36) + String(random.next() & 0xFFFFFF, radix: 36)
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
        let time = now()
        let outcome = state.withLock { state -> PublishOutcome in
            let shardCount = queues.count
            guard var record = state.record(topic, shards: shardCount, topicsMax: topicsMax, now: time) else {
                return .topicLimit
            }
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
            record.lastActivityMilliseconds = time
            state.markIdle(topic, &record, now: time)
            state.records[topic] = record
            return .published(seq: record.seq, epoch: epoch(record.id))
        }
        for shard in targets { Socket.signalEvent(wakeDescriptors[shard]) }
        return outcome
    }

    /// The epoch string of record `id`: process token and record id.
    func epoch(_ id: UInt32) -> String { processToken + "." + String(id, radix: 36) }

    /// A shard takes `topic`'s first local subscriber: creates the record if
    /// needed and counts the subscriber in one step (a record can only be
    /// collected while no shard counts a subscriber, so nothing collects it
    /// between the two). Nil when the topic is new and `--topics-max` is reached.
    func join(shard: Int, topic: String) -> Joined? {
        let time = now()
        return state.withLock { state -> Joined? in
            guard var record = state.record(topic, shards: queues.count, topicsMax: topicsMax, now: time) else {
                return nil
            }
            record.subscribers[shard] += 1
            record.subscriberTotal += 1
            record.lastActivityMilliseconds = time
            state.subscriptions += 1
            state.records[topic] = record
            return Joined(id: record.id, seq: record.seq, epoch: epoch(record.id))
        }
    }

    /// Another local subscriber of a topic this shard already counts.
    func added(shard: Int, topic: String) {
        state.withLock { state in
            guard var record = state.records[topic] else {
                preconditionFailure("a shard added a subscriber to a topic it does not hold: \(topic)")
            }
            record.subscribers[shard] += 1
            record.subscriberTotal += 1
            state.subscriptions += 1
            state.records[topic] = record
        }
    }

    /// A shard lost a subscriber of `topic`; the last one makes the topic a
    /// candidate for collection.
    func left(shard: Int, topic: String) {
        let time = now()
        state.withLock { state in
            guard var record = state.records[topic] else {
                preconditionFailure("a shard removed a subscriber from a topic it does not hold: \(topic)")
            }
            record.subscribers[shard] -= 1
            record.subscriberTotal -= 1
            record.lastActivityMilliseconds = time
            state.subscriptions -= 1
            state.markIdle(topic, &record, now: time)
            state.records[topic] = record
        }
    }

    /// Frees topics that have had no subscribers and no publish for
    /// `--topic-idle-seconds` (their next use starts a new epoch). Looks at
    /// no more than `collectionBatchMax` queued topics per call; returns how
    /// many it freed.
    @discardableResult
    func collectIdle() -> Int {
        let time = now()
        return state.withLock { state -> Int in
            var freed = 0
            var looked = 0
            var requeue: [(name: String, sinceMilliseconds: UInt64)] = []
            while state.idleHead < state.idleQueue.count && looked < Self.collectionBatchMax {
                let entry = state.idleQueue[state.idleHead]
                guard time &- entry.sinceMilliseconds >= topicIdleMilliseconds else { break }
                state.idleHead += 1
                looked += 1
                guard var record = state.records[entry.name] else { continue }
                record.queuedForCollection = false
                if record.subscriberTotal > 0 {
                    // Subscribed again: queued anew when its last one leaves.
                    state.records[entry.name] = record
                } else if time &- record.lastActivityMilliseconds >= topicIdleMilliseconds {
                    state.records[entry.name] = nil
                    freed += 1
                } else {
                    // Used since it was queued: look again once it has been
                    // idle for the whole period.
                    record.queuedForCollection = true
                    state.records[entry.name] = record
                    requeue.append((entry.name, record.lastActivityMilliseconds))
                }
            }
            state.idleQueue += requeue
            if state.idleHead > 1024 && state.idleHead * 2 > state.idleQueue.count {
                state.idleQueue.removeFirst(state.idleHead)
                state.idleHead = 0
            }
            state.collectedTotal &+= UInt64(freed)
            return freed
        }
    }

    func info(topic: String) -> TopicInfo {
        state.withLock { state in
            guard let record = state.records[topic] else { return TopicInfo(subscribers: 0, seq: 0, epoch: nil) }
            return TopicInfo(subscribers: record.subscriberTotal, seq: record.seq, epoch: epoch(record.id))
        }
    }

    /// The subscribers shard `shard` holds for `topic` (tests, diagnostics).
    func shardSubscribers(_ shard: Int, _ topic: String) -> Int {
        state.withLock { $0.records[topic]?.subscribers[shard] ?? 0 }
    }

    /// The record id and seq of `topic`, nil when it does not exist.
    func identity(of topic: String) -> (id: UInt32, seq: UInt64)? {
        state.withLock { state in state.records[topic].map { ($0.id, $0.seq) } }
    }

    /// Topics freed by `collectIdle` since start.
    var collectedTotal: UInt64 { state.withLock { $0.collectedTotal } }

    /// (topics known, subscriptions, messages published, new topics refused) for stats.
    func totals() -> (topics: Int, subscriptions: Int, published: UInt64, refused: UInt64) {
        state.withLock { ($0.records.count, $0.subscriptions, $0.publishedTotal, $0.refusedTotal) }
    }

    /// Publishes refused because a shard's delivery backlog was full.
    var backlogRefusedTotal: UInt64 { state.withLock { $0.backlogRefusedTotal } }
}
