import HeraldCore
import HeraldIO
import HeraldProtocol
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
        /// Multi-node: the topic's Redis could not be reached (503).
        case unavailable(String)

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
        /// Multi-node: the node does not follow the topic yet; `seq` and
        /// `epoch` are unknown until the broker resolves it (the shard
        /// holds its subscribe replies until then).
        var pending = false
    }

    /// Multi-node: whether the broker follows a topic's Redis channel.
    enum Follow {
        case none, pending, live
    }

    // Internal (not private) for TopicRegistry+Cluster.swift; touched only
    // under `state`'s lock.
    struct Record {
        let id: UInt32
        /// The epoch of this record's own seq sequence (`epochPrefix` and
        /// the id in base 36), formatted once: every publish's result names
        /// it, and formatting it per publish cost ~1/60 of the admin
        /// thread's time (issue 12).
        let localEpoch: String
        var seq: UInt64 = 0
        var subscribers: [Int]
        var subscriberTotal = 0
        /// Monotonic milliseconds of the last publish or subscriber change.
        var lastActivityMilliseconds: UInt64
        /// On `State.idleQueue` (at most once).
        var queuedForCollection = false
        /// The last messages (nil while none are kept).
        var history: TopicHistory?
        /// Multi-node: followed through Redis, and the epoch Redis named.
        var follow = Follow.none
        var clusterEpoch: String?
        /// The topic's zstd dictionary (`herald.zstd.v1`), once trained.
        var dictionary: TopicDictionary?

        /// Whether the record must now go on the collection queue (no
        /// subscribers, not queued yet); marks it queued when so.
        mutating func claimCollectionQueueing() -> Bool {
            guard subscriberTotal == 0, !queuedForCollection else { return false }
            queuedForCollection = true
            return true
        }
    }

    struct State {
        var records: [String: Record] = [:]
        var nextID: UInt32 = 0
        var publishedTotal: UInt64 = 0
        var subscriptions = 0
        var refusedTotal: UInt64 = 0
        var backlogRefusedTotal: UInt64 = 0
        /// Publishes whose frames were built inside the lock: without a
        /// look-ahead (nothing to compress, or the topic was new), or with a
        /// stale one (another publish to it came in between: `prebuilt`).
        var framesBuiltUnderLockTotal: UInt64 = 0
        var collectedTotal: UInt64 = 0
        /// Topics with a zstd dictionary, the memory those hold, and the
        /// last dictionary id handed out (ids are never reused).
        var dictionaries = 0
        var dictionaryBytes = 0
        var lastDictionaryID: UInt32 = 0
        /// Topics with no subscribers, oldest first, to be checked for
        /// collection (each at most once; `idleHead` is the front).
        var idleQueue: [(name: String, sinceMilliseconds: UInt64)] = []
        var idleHead = 0
        /// Kept history's totals and its eviction order.
        var ledger = HistoryLedger()

        /// The position of `topic`'s record in the table, the record
        /// created when missing unless the registry already holds
        /// `topicsMax` topics (then nil, counted). The publish path changes
        /// the record in place through it: no record is taken out and put
        /// back (two hashes of the name and a deletion from the table per
        /// publish). Valid until a record is added or removed.
        mutating func recordPosition(_ topic: String, shards: Int, topicsMax: Int, now: UInt64,
                                     epochPrefix: String) -> Dictionary<String, Record>.Index? {
            if let position = records.index(forKey: topic) { return position }
            guard let record = newRecord(shards: shards, topicsMax: topicsMax, now: now, epochPrefix: epochPrefix) else {
                return nil
            }
            records[topic] = record
            return records.index(forKey: topic)
        }

        /// Takes `topic`'s record out of the table (or makes a new one, as
        /// `recordPosition` does): the caller holds the only reference to
        /// its arrays, so mutating them (the history ring, the subscriber
        /// counts) copies nothing, and puts it back with `records[topic] = record`.
        mutating func takeRecord(_ topic: String, shards: Int, topicsMax: Int, now: UInt64,
                                 epochPrefix: String) -> Record? {
            if let existing = records.removeValue(forKey: topic) { return existing }
            return newRecord(shards: shards, topicsMax: topicsMax, now: now, epochPrefix: epochPrefix)
        }

        /// A record for a new topic; nil (counted) when the registry
        /// already holds `topicsMax` topics.
        private mutating func newRecord(shards: Int, topicsMax: Int, now: UInt64, epochPrefix: String) -> Record? {
            guard records.count < topicsMax else {
                refusedTotal &+= 1
                return nil
            }
            defer { nextID &+= 1 }
            return Record(id: nextID, localEpoch: TopicRegistry.epoch(prefix: epochPrefix, id: nextID),
                          subscribers: Array(repeating: 0, count: shards), lastActivityMilliseconds: now)
        }

        /// Puts a record with no subscribers on the collection queue.
        mutating func markIdle(_ topic: String, _ record: inout Record, now: UInt64) {
            if record.claimCollectionQueueing() { idleQueue.append((topic, now)) }
        }
    }

    let state = Mutex(State())
    /// How long publishes wait for the registry's lock, and hold it (the
    /// frame is built and, with permessage-deflate subscribers, compressed
    /// inside). Written under the lock, so one writer at a time.
    let publishLockWait = LatencyHistogram()
    let publishLockHold = LatencyHistogram()
    /// Open connections that negotiated `herald.zstd.v1`; publishes are
    /// zstd-compressed (once) only while there are any.
    let zstdConnections = Atomic<Int>(0)
    /// Open connections that negotiated permessage-deflate; publishes are
    /// compressed (once) only while there are any.
    let deflateConnections = Atomic<Int>(0)
    let queues: [DeliveryQueue]
    let wakeDescriptors: [Int32]
    /// Multi-node: where first subscribers and idle topics are reported
    /// to the broker; nil on a single node.
    let follows: FollowRequests?
    /// The frame control items carry (never sent): one object, retained
    /// per item like a message's frame.
    let controlFrame = OutboundFrame(count: 0, shared: true) { _ in }

    /// Topics the registry holds at once (`--topics-max`).
    let topicsMax: Int
    /// Idle time after which a topic with no subscribers is freed.
    let topicIdleMilliseconds: UInt64
    /// Names this process's seq sequences: start time and randomness, so a
    /// restarted node never reuses an epoch.
    let processToken: String
    /// `processToken` and the dot, joined once (every publish's result
    /// names its epoch).
    let epochPrefix: String
    /// Monotonic milliseconds (injected so tests can move time).
    let now: @Sendable () -> UInt64
    /// Records looked at per collection sweep: bounds the lock hold time.
    static let collectionBatchMax = 10_000
    /// `--history-size`, `--history-ttl`, `--history-bytes-max`.
    let historySize: Int
    let historyTTLMilliseconds: UInt64
    let historyBytesMax: Int

    /// A shard's delivery backlog past which publishes to it are refused.
    let deliveryBacklogBytesMax: Int

    init(wakeDescriptors: [Int32], topicsMax: Int = Config().topicsMax,
         deliveryBacklogBytesMax: Int = Config().deliveryBacklogBytesMax,
         topicIdleMilliseconds: UInt64 = UInt64(Config().topicIdleSeconds * 1000),
         historySize: Int = 0, historyTTLMilliseconds: UInt64 = UInt64(Config().historyTTLSeconds * 1000),
         historyBytesMax: Int = Config().historyBytesMax, follows: FollowRequests? = nil,
         now: @escaping @Sendable () -> UInt64 = { SystemClock.monotonicMilliseconds() }) {
        self.follows = follows
        self.historySize = historySize
        self.historyTTLMilliseconds = historyTTLMilliseconds
        self.historyBytesMax = historyBytesMax
        self.wakeDescriptors = wakeDescriptors
        self.topicsMax = topicsMax
        self.topicIdleMilliseconds = topicIdleMilliseconds
        self.now = now
        var random = SystemRandomNumberGenerator()
        processToken = String(UInt64(SystemClock.wallSeconds()), radix: 36) + String(random.next() & 0xFFFFFF, radix: 36)
        epochPrefix = processToken + "."
        self.deliveryBacklogBytesMax = deliveryBacklogBytesMax
        queues = wakeDescriptors.map { _ in DeliveryQueue() }
    }

    /// Publishes to `topic`: takes the next seq, builds the frame once with
    /// it (only when someone listens) and queues it on every shard with
    /// subscribers. Returns the seq, or nil when it was refused (see `attempt`).
    func publish(topic: String, build: (UInt64) -> PublishFrames) -> UInt64? {
        attempt(topic: topic, build: build).seq
    }

    /// `publish`, saying why a refused publish was refused. A shard whose
    /// delivery backlog is over its bound refuses the publish *before* a
    /// seq is taken: a seq that reached some shards and not others would
    /// be a gap no one announced.
    func attempt(topic: String, build: (UInt64) -> PublishFrames) -> PublishOutcome {
        attempt(topic: topic) { seq, _ in build(seq) }
    }

    /// What the next publish to `topic` will be, read without publishing:
    /// its seq, the topic's dictionary, and whether it builds frames at all
    /// (someone subscribes, or messages are kept). nil: no such topic yet.
    /// Frames built from this outside the lock are used by `attempt` when
    /// nothing moved in between.
    func nextPublish(of topic: String) -> (seq: UInt64, dictionary: TopicDictionary?, builds: Bool)? {
        state.withLock { state in
            state.records[topic].map { ($0.seq &+ 1, $0.dictionary, $0.subscriberTotal > 0 || historySize > 0) }
        }
    }

    /// `attempt`, the frame builder also given the topic's zstd dictionary.
    /// `prebuilt`: frames built before the lock for a seq and dictionary
    /// (`nextPublish`), used when they are still the topic's next — so the
    /// compression of a publish runs outside the lock every shard's
    /// subscribe takes; otherwise the frames are built inside, as before.
    /// `wakes`: the publishing thread's deferred wake-ups (the shards are
    /// woken when it flushes them); nil wakes them before returning.
    func attempt(topic: String, prebuilt: (seq: UInt64, dictionary: TopicDictionary?, frames: PublishFrames)? = nil,
                 wakes: ShardWakes? = nil,
                 build: (UInt64, TopicDictionary?) -> PublishFrames) -> PublishOutcome {
        // Shards to wake after the lock when there is no `wakes` to defer
        // them to (allocated only then).
        var wake: [Int] = []
        let time = now()
        // `requested`: when the caller began to wait for the lock; nil when
        // it was free (a zero wait, recorded without reading the clock:
        // the four clock reads per publish were ~5 % of the admin thread's
        // time in batches; issue 12).
        func locked(_ state: inout State, requested: UInt64?) -> PublishOutcome {
            let acquired = SystemClock.monotonicMicroseconds()
            defer {
                publishLockWait.record(microseconds: requested.map { acquired &- min(acquired, $0) } ?? 0)
                publishLockHold.record(microseconds: SystemClock.monotonicMicroseconds() &- acquired)
            }
            guard let position = state.recordPosition(topic, shards: queues.count, topicsMax: topicsMax, now: time,
                                                      epochPrefix: epochPrefix) else {
                return .topicLimit
            }
            // The record is changed in place (see `recordPosition`); nothing
            // below adds or removes a record, so `position` stays valid.
            var builtUnderLock = false
            let published = withRecord(at: position, in: &state) { record, ledger -> (seq: UInt64, epoch: String, idle: Bool)? in
                // The shards with subscribers (walked twice rather than
                // listed: no allocation per publish).
                var targetCount = 0
                for shard in 0..<queues.count where record.subscribers[shard] > 0 {
                    if queues[shard].pendingBytes.load(ordering: .relaxed) > deliveryBacklogBytesMax { return nil }
                    targetCount += 1
                }
                record.seq &+= 1
                if targetCount > 0 || historySize > 0 {
                    let frames: PublishFrames
                    if let prebuilt, prebuilt.seq == record.seq, prebuilt.dictionary === record.dictionary {
                        frames = prebuilt.frames
                    } else {
                        frames = build(record.seq, record.dictionary)
                        builtUnderLock = true
                    }
                    let stamp = targetCount == 0 ? 0 : acquired
                    for shard in 0..<queues.count where record.subscribers[shard] > 0 {
                        let wasEmpty = queues[shard].push(.init(topicID: record.id, seq: record.seq,
                                                                frame: Unmanaged.passRetained(frames.plain),
                                                                compressed: frames.compressed.map { Unmanaged.passRetained($0) },
                                                                publishedAtMicroseconds: stamp,
                                                                zstd: frames.zstd.map { Unmanaged.passRetained($0) },
                                                                zstdDictionary: frames.zstdDictionary.map { Unmanaged.passRetained($0) }))
                        if wasEmpty {
                            if let wakes { wakes.request(shard) } else { wake.append(shard) }
                        }
                    }
                    if historySize > 0 { keep(frames, seq: record.seq, topic: topic, history: &record.history, ledger: &ledger, now: time) }
                }
                record.lastActivityMilliseconds = time
                return (record.seq, epoch(record), record.claimCollectionQueueing())
            }
            guard let published else {
                // Refused before a seq was taken: the record is unchanged
                // (it has subscribers, so it was not made by this publish).
                state.backlogRefusedTotal &+= 1
                return .backlogged
            }
            state.publishedTotal &+= 1
            if builtUnderLock { state.framesBuiltUnderLockTotal &+= 1 }
            if published.idle { state.idleQueue.append((topic, time)) }
            if historySize > 0 { state.settleHistory(bytesMax: historyBytesMax) }
            return .published(seq: published.seq, epoch: published.epoch)
        }
        let outcome: PublishOutcome
        if let uncontended = state.withLockIfAvailable({ locked(&$0, requested: nil) }) {
            outcome = uncontended
        } else {
            let requested = SystemClock.monotonicMicroseconds()
            outcome = state.withLock { locked(&$0, requested: requested) }
        }
        for shard in wake { Socket.signalEvent(wakeDescriptors[shard]) }
        return outcome
    }

    deinit {
        // The kept frames' references (the process is ending, or a test's
        // registry goes: either way nothing may leak).
        state.withLock { state in
            for name in Array(state.records.keys) {
                guard var record = state.records[name], record.history != nil else { continue }
                state.ledger.dropAll(&record.history)
                state.records[name] = record
            }
        }
    }

    /// Runs `body` on the record at `position` and the history ledger, both
    /// in place (disjoint parts of the state: no copy of the record).
    private func withRecord<Result>(at position: Dictionary<String, Record>.Index, in state: inout State,
                                    _ body: (inout Record, inout HistoryLedger) -> Result) -> Result {
        body(&state.records.values[position], &state.ledger)
    }

    /// Topics whose names start with `prefix`, in name order, at most
    /// `limit`: (name, subscribers, seq, epoch).
    func list(prefix: String, limit: Int) -> [(name: String, subscribers: Int, seq: UInt64, epoch: String)] {
        state.withLock { state in
            state.records.filter { $0.key.hasPrefix(prefix) }
                .map { (name: $0.key, subscribers: $0.value.subscriberTotal, seq: $0.value.seq, epoch: epoch($0.value)) }
                .sorted { $0.name < $1.name }
                .prefix(limit)
                .map { $0 }
        }
    }

    /// The epoch string of record `id`: process token and record id.
    func epoch(_ id: UInt32) -> String { Self.epoch(prefix: epochPrefix, id: id) }

    static func epoch(prefix: String, id: UInt32) -> String { prefix + String(id, radix: 36) }

    /// A record's epoch: Redis's on a followed topic, else the process's own.
    func epoch(_ record: Record) -> String { record.clusterEpoch ?? record.localEpoch }

    /// A shard takes `topic`'s first local subscriber: creates the record if
    /// needed and counts the subscriber in one step (a record can only be
    /// collected while no shard counts a subscriber, so nothing collects it
    /// between the two). Nil when the topic is new and `--topics-max` is reached.
    func join(shard: Int, topic: String) -> Joined? {
        let time = now()
        var request = false
        let joined = state.withLock { state -> Joined? in
            guard var record = state.takeRecord(topic, shards: queues.count, topicsMax: topicsMax, now: time,
                                                       epochPrefix: epochPrefix) else {
                return nil
            }
            record.subscribers[shard] += 1
            record.subscriberTotal += 1
            record.lastActivityMilliseconds = time
            state.subscriptions += 1
            var pending = false
            if follows != nil && record.follow != .live {
                // Multi-node: the broker subscribes to the topic's channel
                // and reads its position; the shard holds the reply until then.
                pending = true
                if record.follow == .none {
                    record.follow = .pending
                    request = true
                }
            }
            state.records[topic] = record
            return Joined(id: record.id, seq: record.seq, epoch: epoch(record), pending: pending)
        }
        if request { follows?.follow(topic) }
        return joined
    }

    /// Another local subscriber of a topic this shard already counts.
    func added(shard: Int, topic: String) {
        state.withLock { state in
            // Counted in place: one lookup (removing and re-inserting the
            // record hashed the name twice, for every subscribe).
            guard let position = state.records.index(forKey: topic) else {
                preconditionFailure("a shard added a subscriber to a topic it does not hold: \(topic)")
            }
            state.records.values[position].subscribers[shard] += 1
            state.records.values[position].subscriberTotal += 1
            state.subscriptions += 1
        }
    }

    /// A shard lost a subscriber of `topic`; the last one makes the topic a
    /// candidate for collection.
    func left(shard: Int, topic: String) {
        let time = now()
        state.withLock { state in
            guard var record = state.records.removeValue(forKey: topic) else {
                preconditionFailure("a shard removed a subscriber from a topic it does not hold: \(topic)")
            }
            record.subscribers[shard] -= 1
            record.subscriberTotal -= 1
            record.lastActivityMilliseconds = time
            state.subscriptions -= 1
            state.markIdle(topic, &record, now: time)
            let unfollow = record.subscriberTotal == 0 && record.follow != .none
            state.records[topic] = record
            // Multi-node: the broker drops the Redis subscription lazily
            // (a reload subscribes again within seconds).
            if unfollow { follows?.idle(topic) }
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
                guard var record = state.records.removeValue(forKey: entry.name) else { continue }
                record.queuedForCollection = false
                expire(&record, state: &state, now: time)
                if record.subscriberTotal > 0 {
                    // Subscribed again: queued anew when its last one leaves.
                    state.records[entry.name] = record
                } else if time &- record.lastActivityMilliseconds >= topicIdleMilliseconds && record.history == nil {
                    freed += 1  // already out of the table
                    if let dictionary = record.dictionary {
                        state.dictionaries -= 1
                        state.dictionaryBytes -= dictionary.memoryBytes
                    }
                } else {
                    // Used since it was queued, or still holding history: look
                    // again once the idle period (or the oldest kept
                    // message's TTL) has passed.
                    record.queuedForCollection = true
                    state.records[entry.name] = record
                    var since = record.lastActivityMilliseconds
                    if let oldest = record.history?.oldest {
                        since = max(since, oldest.publishedAtMilliseconds &+ historyTTLMilliseconds &- topicIdleMilliseconds)
                    }
                    requeue.append((entry.name, since))
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
            return TopicInfo(subscribers: record.subscriberTotal, seq: record.seq, epoch: epoch(record))
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
    var framesBuiltUnderLockTotal: UInt64 { state.withLock { $0.framesBuiltUnderLockTotal } }
}
