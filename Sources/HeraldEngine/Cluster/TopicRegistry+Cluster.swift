import HeraldIO

/// Multi-node: the broker thread feeds followed topics into the registry.
/// Each call takes the lock once, updates the record (seq, epoch, history)
/// and queues the message or control item on the shards with subscribers,
/// so a shard sees a topic's news and messages in the order the broker
/// produced them. The frames were built (and compressed) by the broker
/// before the call: outside the lock, once per message per node.
extension TopicRegistry {
    typealias Frames = PublishFrames

    /// A message ready for the shards: its seq, frames and publish time
    /// (Redis's clock, for the history TTL).
    struct FollowedMessage {
        let seq: UInt64
        let frames: Frames
        let publishedAtMilliseconds: UInt64
    }

    /// The broker knows `topic`'s position: the record goes live at it
    /// with `kept` (consecutive, ending at `position.seq`) as its history,
    /// and held subscribes are answered. False when the topic is gone or no
    /// longer waits (the broker then stops following it).
    @discardableResult
    func resolveFollowed(topic: String, position: FollowPosition, kept: [FollowedMessage]) -> Bool {
        let time = now()
        return withFollowed(topic) { record, state in
            guard record.follow == .pending else { return false }
            record.follow = .live
            record.clusterEpoch = position.epoch
            record.seq = position.seq
            state.ledger.dropAll(&record.history)
            if historySize > 0 {
                for message in kept.suffix(historySize) where message.seq <= position.seq {
                    keep(message.frames, seq: message.seq, topic: topic, history: &record.history, ledger: &state.ledger,
                         now: keptTime(message, now: time))
                }
            }
            push(.resolved(epoch: position.epoch), seq: position.seq, record: record)
            return true
        }
    }

    /// The next message of a live followed topic (seq = record's + 1):
    /// queued for the shards with subscribers and kept. False when the
    /// topic is not live here (gone, or still resolving): nothing queued.
    @discardableResult
    func deliverFollowed(topic: String, message: FollowedMessage) -> Bool {
        let time = now()
        let stamp = SystemClock.monotonicMicroseconds()
        return withFollowed(topic) { record, state in
            guard record.follow == .live, message.seq == record.seq + 1 else { return false }
            record.seq = message.seq
            state.publishedTotal &+= 1
            for shard in 0..<queues.count where record.subscribers[shard] > 0 {
                let wasEmpty = queues[shard].push(.init(topicID: record.id, seq: message.seq,
                                                        frame: Unmanaged.passRetained(message.frames.plain),
                                                        compressed: message.frames.compressed.map { Unmanaged.passRetained($0) },
                                                        publishedAtMicroseconds: stamp,
                                                        zstd: message.frames.zstd.map { Unmanaged.passRetained($0) }))
                if wasEmpty { Socket.signalEvent(wakeDescriptors[shard]) }
            }
            if historySize > 0 {
                keep(message.frames, seq: message.seq, topic: topic, history: &record.history, ledger: &state.ledger,
                     now: keptTime(message, now: time))
            }
            record.lastActivityMilliseconds = time
            return true
        }
    }

    /// Messages `from...to` are lost to this node (gone from the stream):
    /// the subscribers get a `gap`, the history restarts after it (a
    /// recovery across the hole is impossible).
    func gapFollowed(topic: String, from: UInt64, to: UInt64) {
        withFollowed(topic) { record, state in
            guard record.follow == .live, from == record.seq + 1, to >= from else { return false }
            record.seq = to
            state.ledger.dropAll(&record.history)
            push(.gap(from: from), seq: to, record: record)
            return true
        }
    }

    /// The topic's sequence restarted under another epoch: subscribers'
    /// positions are void; live from `position` on, with no history.
    func resetFollowed(topic: String, position: FollowPosition) {
        withFollowed(topic) { record, state in
            guard record.follow == .live else { return false }
            record.clusterEpoch = position.epoch
            record.seq = position.seq
            state.ledger.dropAll(&record.history)
            push(.reset(epoch: position.epoch), seq: position.seq, record: record)
            return true
        }
    }

    /// The broker could not follow `topic` (its Redis is unreachable):
    /// held subscribes get an error and the next first subscriber asks again.
    func failFollow(topic: String) {
        withFollowed(topic) { record, _ in
            guard record.follow == .pending else { return false }
            record.follow = .none
            push(.unavailable, seq: record.seq, record: record)
            return true
        }
    }

    /// Stops following `topic` if it still has no subscribers (its history
    /// goes: the next follow reads the stream again); true when stopped.
    func unfollowIfIdle(topic: String) -> Bool {
        // A record collected since (idle, no history) follows nothing.
        guard state.withLock({ $0.records[topic] != nil }) else { return true }
        return withFollowed(topic) { record, state in
            guard record.subscriberTotal == 0, record.follow != .none else { return false }
            record.follow = .none
            record.clusterEpoch = nil
            state.ledger.dropAll(&record.history)
            return true
        }
    }

    /// Whether the registry still follows `topic` (live or resolving).
    func isFollowed(_ topic: String) -> Bool {
        state.withLock { ($0.records[topic]?.follow ?? .none) != .none }
    }

    /// The position the registry holds for a live followed topic.
    func followedPosition(_ topic: String) -> FollowPosition? {
        state.withLock { state in
            guard let record = state.records[topic], record.follow == .live, let epoch = record.clusterEpoch else { return nil }
            return FollowPosition(epoch: epoch, seq: record.seq)
        }
    }

    /// Runs `body` on `topic`'s record under the lock (taken out of the
    /// table, so no array in it is copied); false when there is none.
    @discardableResult
    private func withFollowed(_ topic: String, _ body: (inout Record, inout State) -> Bool) -> Bool {
        state.withLock { state in
            guard var record = state.records.removeValue(forKey: topic) else { return false }
            let done = body(&record, &state)
            state.records[topic] = record
            // Kept messages past the global bound go, this topic's included.
            if historySize > 0 { state.settleHistory(bytesMax: historyBytesMax) }
            return done
        }
    }

    /// Queues a control item on every shard with subscribers of `record`.
    private func push(_ control: DeliveryQueue.Control, seq: UInt64, record: Record) {
        for shard in 0..<queues.count where record.subscribers[shard] > 0 {
            var item = DeliveryQueue.Delivery(topicID: record.id, seq: seq, frame: Unmanaged.passRetained(controlFrame),
                                              compressed: nil)
            item.control = control
            if queues[shard].push(item) { Socket.signalEvent(wakeDescriptors[shard]) }
        }
    }

    /// A kept message's age on this node's monotonic clock: its publish
    /// time is Redis's wall clock, so the age is taken from the wall clock
    /// here (clamped at zero: clocks of two machines disagree a little).
    private func keptTime(_ message: FollowedMessage, now time: UInt64) -> UInt64 {
        let wall = UInt64(SystemClock.wallMilliseconds())
        let age = wall > message.publishedAtMilliseconds ? wall - message.publishedAtMilliseconds : 0
        return time > age ? time - age : 0
    }
}
