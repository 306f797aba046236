import HeraldCore
import HeraldProtocol

/// Topic subscriptions of this ring's connections and delivery of
/// published frames to them, with the slow-consumer policy.
extension Reactor {
    /// `reply` is false for `topics=` on the upgrade URL: those subscribe
    /// silently (the client asked in the URL; its first message is data).
    /// `resumed`: a deferred recovery running now (not counted again if it
    /// has to wait once more).
    func subscribe(_ index: UInt32, topic: String, since: Recovery.Position? = nil, reply: Bool = true,
                   resumed: Bool = false) {
        guard TopicName.isValid(topic) else {
            counters.add(.clientErrorsSent)
            sendText(index, ServerMessage.error(code: "bad_topic", message: "topic names are 1-128 bytes of A-Z a-z 0-9 . _ - : @ /",
                                                topic: topic))
            return
        }
        let slot = slab.pointer(index)
        // A later request for a topic replaces a recovery still waiting for it.
        let wasDeferred = dropDeferredRecovery(index, topic: topic)
        if settings.jwtSecret != nil && !grants.allows(slot.pointee.grant, topic) {
            // CONTRACT "Security": outside the token's topics → `forbidden`.
            counters.add(.subscribesForbidden)
            counters.add(.clientErrorsSent)
            sendText(index, ServerMessage.error(code: "forbidden", message: "topic not allowed by the connection token",
                                                topic: topic))
            return
        }
        if let since, reply, slot.pointee.flags.contains(.overLimit) {
            // The queue is over its limit (reading is paused): a replay now
            // would pile up to `--history-size` more frames behind it, once
            // per such subscribe the client managed to send. It waits until
            // the queue is back under the limit; the subscription starts
            // then, so its seam is still exact.
            deferRecovery(index, topic: topic, since: since, replacing: wasDeferred || resumed)
            return
        }
        let result = router.subscribe(ring: UInt16(ringIndex), slot: index, generation: slab.handle(index).generation,
                                      name: topic, head: &slot.pointee.subscriptions,
                                      topicsMax: settings.topicsPerConnectionMax)
        switch result {
        case .subscribed(let seq, let epoch, let node):
            guard reply else { return }
            guard let since else {
                sendText(index, ServerMessage.subscribed(topic: topic, seq: seq, epoch: epoch))
                return
            }
            recover(index, topic: topic, since: since, seam: seq, epoch: epoch, node: node)
        case .alreadySubscribed(let seq, let epoch):
            guard reply else { return }
            // Already live: nothing to replay; recovered only if nothing was missed.
            var recovered: Bool?
            if let since {
                recovered = Recovery.decide(since: since, seam: seq, epoch: epoch) == .upToDate
                counters.add(recovered == true ? .recoveriesSucceeded : .recoveriesRefused)
            }
            sendText(index, ServerMessage.subscribed(topic: topic, seq: seq, epoch: epoch, recovered: recovered))
        case .held(let node):
            // Multi-node: the broker is reading the topic's position; the
            // reply (and any recovery) goes out when it is known.
            router.hold(node, since: since, reply: reply)
        case .topicLimit:
            counters.add(.clientErrorsSent)
            sendText(index, ServerMessage.error(code: "topic_limit",
                                                message: "the server holds its maximum number of topics", topic: topic))
        case .tooManyTopics:
            counters.add(.clientErrorsSent)
            sendText(index, ServerMessage.error(code: "too_many_topics",
                                                message: "at most \(settings.topicsPerConnectionMax) topics per connection",
                                                topic: topic))
        }
    }

    /// A new subscription with `since`: the reply, then exactly the missed
    /// messages from the topic's history (the frames built at publish, no
    /// re-encoding), in order, up to the seam; every later message arrives
    /// live (the seam is where the shard's deliveries for this subscriber
    /// start, so there is no gap and no duplicate between the two).
    /// A zstd connection gets the kept zstd frames (the dictionary first,
    /// once, when the subscription `node` has not had it).
    func recover(_ index: UInt32, topic: String, since: Recovery.Position, seam: UInt64, epoch: String,
                 node: UInt32? = nil) {
        let kept = router.registry.recover(topic: topic, since: since, seam: seam, epoch: epoch)
        var decision = kept.decision
        let entries = kept.frames
        let slot = slab.pointer(index)
        let zstd = slot.pointee.flags.contains(.zstd)
        var dictionarySent = node.map { router.dictionarySent($0) } ?? 0
        // Each kept message as this connection gets it (a dictionary it
        // needs goes first), and what it costs its queue.
        var frames: [(frame: Unmanaged<OutboundFrame>, cost: Int, dictionary: UInt32)] = []
        frames.reserveCapacity(entries.count)
        for entry in entries {
            if zstd, let frame = entry.zstd {
                if let dictionary = entry.zstdDictionary {
                    let id = dictionary._withUnsafeGuaranteedRef { $0.id }
                    // Without the subscription's node (a held cluster
                    // subscribe; no dictionaries there) it is plain.
                    guard node != nil else {
                        frames.append(plainReplay(slot, entry))
                        continue
                    }
                    if dictionarySent != id && !(slot.pointee.flags.contains(.heldDictionaries)
                                                 && heldDictionaries[index]?.contains(id) == true) {
                        let shared = dictionary._withUnsafeGuaranteedRef { Unmanaged.passUnretained($0.frame) }
                        frames.append((shared, shared._withUnsafeGuaranteedRef { $0.queueCost }, id))
                    }
                    dictionarySent = id
                }
                frames.append((frame, frame._withUnsafeGuaranteedRef { $0.queueCost }, 0))
            } else {
                frames.append(plainReplay(slot, entry))
            }
        }
        // The queue's byte count is 32 bits and the queue is bounded near
        // --send-queue-bytes-max (≤ 1 GiB) when a replay starts: a replay
        // that would take it past 2 GiB (only possible with a huge
        // --history-size × --publish-bytes-max) is refused, never wrapped.
        if Int(slot.pointee.queuedBytes) + frames.reduce(0, { $0 + $1.cost }) > Self.replayQueueCeilingBytes {
            frames = []
            decision = .notRecovered
        }
        let recovered = decision != .notRecovered
        counters.add(recovered ? .recoveriesSucceeded : .recoveriesRefused)
        sendText(index, ServerMessage.subscribed(topic: topic, seq: seam, epoch: epoch, recovered: recovered))
        if let node, !frames.isEmpty, dictionarySent != router.dictionarySent(node) {
            // What the replay ends with is what live deliveries go on from.
            router.noteDictionarySent(node, id: dictionarySent)
        }
        for (frame, cost, dictionary) in frames {
            enqueueShared(index, frame, cost: cost)
            counters.add(dictionary != 0 ? .zstdDictionariesSent : .messagesReplayed)
        }
        for entry in entries {
            // `recover` handed over one reference per frame; the queue holds its own.
            entry.release()
        }
    }

    private func plainReplay(_ slot: UnsafeMutablePointer<ConnectionSlot>,
                             _ entry: TopicHistory.Entry) -> (frame: Unmanaged<OutboundFrame>, cost: Int, dictionary: UInt32) {
        let frame = frameFor(slot, plain: entry.plain, compressed: entry.compressed)
        return (frame, frame._withUnsafeGuaranteedRef { $0.queueCost }, 0)
    }

    /// How far a replay may take a connection's queue (see `recover`).
    static let replayQueueCeilingBytes = 1 << 31

    func unsubscribe(_ index: UInt32, topic: String) {
        guard TopicName.isValid(topic) else {
            counters.add(.clientErrorsSent)
            sendText(index, ServerMessage.error(code: "bad_topic", message: "topic names are 1-128 bytes of A-Z a-z 0-9 . _ - : @ /",
                                                topic: topic))
            return
        }
        _ = dropDeferredRecovery(index, topic: topic)
        let slot = slab.pointer(index)
        // Unsubscribing from a topic the connection does not hold is not an
        // error: the end state is what the client asked for.
        _ = router.unsubscribe(name: topic, head: &slot.pointee.subscriptions)
        sendText(index, ServerMessage.unsubscribed(topic: topic))
    }

    /// Holds a subscribe with `since` until the queue is back under its
    /// limit. Bounded like subscriptions: one per topic, and no more
    /// waiting than `--topics-per-connection-max` (beyond: `too_many_topics`).
    private func deferRecovery(_ index: UInt32, topic: String, since: Recovery.Position, replacing: Bool) {
        var waiting = deferredRecoveries[index] ?? []
        guard waiting.count < settings.topicsPerConnectionMax else {
            counters.add(.clientErrorsSent)
            sendText(index, ServerMessage.error(code: "too_many_topics",
                                                message: "at most \(settings.topicsPerConnectionMax) topics per connection",
                                                topic: topic))
            return
        }
        waiting.append((topic, since))
        deferredRecoveries[index] = waiting
        if !replacing { counters.add(.recoveriesDeferred) }
    }

    /// Forgets a waiting recovery of `topic`; true if there was one.
    private func dropDeferredRecovery(_ index: UInt32, topic: String) -> Bool {
        guard var waiting = deferredRecoveries[index], let at = waiting.firstIndex(where: { $0.topic == topic }) else {
            return false
        }
        waiting.remove(at: at)
        deferredRecoveries[index] = waiting.isEmpty ? nil : waiting
        return true
    }

    /// The queue is back under its limit: the waiting recoveries run, in
    /// the order they arrived (one that takes the queue over the limit
    /// again makes the rest wait once more, in the same order).
    func resumeDeferredRecoveries(_ index: UInt32) {
        guard let waiting = deferredRecoveries.removeValue(forKey: index) else { return }
        for request in waiting where slab.pointer(index).pointee.life.acceptsData {
            subscribe(index, topic: request.topic, since: request.since, resumed: true)
        }
    }

    func leaveAllTopics(_ index: UInt32) {
        let slot = slab.pointer(index)
        guard slot.pointee.subscriptions != ShardRouter.none else { return }
        router.unsubscribeAll(head: &slot.pointee.subscriptions)
    }

    /// Which of a message's shared frames a connection gets: the compressed
    /// one when it negotiated permessage-deflate and the message fits the
    /// window it asked for (see `Reactor.deflateResponse(for:)`; the plain
    /// frame's size bounds the message's), else the plain one.
    @inline(__always)
    func frameFor(_ slot: UnsafeMutablePointer<ConnectionSlot>, plain: Unmanaged<OutboundFrame>,
                  compressed: Unmanaged<OutboundFrame>?) -> Unmanaged<OutboundFrame> {
        guard slot.pointee.flags.contains(.deflate), let compressed else { return plain }
        let window = slot.pointee.deflateWindowBits
        guard window == 0 || plain._withUnsafeGuaranteedRef({ $0.count }) <= 1 << Int(window) else { return plain }
        return compressed
    }

    /// Queues a published frame on one subscriber (one retain, no copy).
    /// Returns false when the subscriber cannot take it (closing, stale).
    func deliver(_ index: UInt32, generation: UInt32, node: UInt32, seq: UInt64, delivery: DeliveryQueue.Delivery) {
        guard slab.isLive(SlotHandle(index: index, generation: generation)) else { return }
        let slot = slab.pointer(index)
        let zstd = slot.pointee.flags.contains(.zstd) ? delivery.zstd : nil
        let frame = zstd ?? frameFor(slot, plain: delivery.frame, compressed: delivery.compressed)
        // A zstd frame made with a dictionary this connection lacks: the
        // dictionary goes first, once per subscription and dictionary — not
        // at all when the client said it holds it (`zstd_dicts=`).
        var dictionaryFrame: (frame: Unmanaged<OutboundFrame>, id: UInt32, cost: Int)?
        if zstd != nil, let candidate = delivery.zstdDictionary {
            let id = candidate._withUnsafeGuaranteedRef { $0.id }
            if router.dictionarySent(node) != id {
                if slot.pointee.flags.contains(.heldDictionaries), heldDictionaries[index]?.contains(id) == true {
                    router.noteDictionarySent(node, id: id)
                } else {
                    let shared = candidate._withUnsafeGuaranteedRef { Unmanaged.passUnretained($0.frame) }
                    dictionaryFrame = (shared, id, shared._withUnsafeGuaranteedRef { $0.queueCost })
                }
            }
        }
        let frameCost = frame._withUnsafeGuaranteedRef { $0.queueCost }
        let cost = frameCost + (dictionaryFrame?.cost ?? 0)
        guard slot.pointee.life.acceptsData else { return }
        if slot.pointee.flags.contains(.dropping) {
            // Policy `drop`, socket stalled past --send-timeout: nothing is
            // queued until it takes a whole send again; the gap says what.
            counters.add(.messagesDropped)
            router.noteDropped(node, seq: seq)
            return
        }
        if SendQueueLimit.admitPublish(cost: cost, queued: Int(slot.pointee.queuedBytes),
                                       limit: settings.sendQueueBytesMax) == .slowConsumer {
            switch settings.slowConsumerPolicy {
            case .disconnect:
                counters.add(.slowConsumerDisconnects)
                // The close frame queues behind data the peer is not reading;
                // the close timeout then ends the connection either way.
                initiateClose(index, .policyViolation, reason: "slow consumer")
            case .drop:
                counters.add(.messagesDropped)
                router.noteDropped(node, seq: seq)
            }
            return
        }
        if let gap = router.takeGap(node) { sendGap(index, gap) }
        if let dictionaryFrame {
            enqueueShared(index, dictionaryFrame.frame, cost: dictionaryFrame.cost)
            router.noteDictionarySent(node, id: dictionaryFrame.id)
            counters.add(.zstdDictionariesSent)
        }
        enqueueShared(index, frame, cost: frameCost)
        counters.add(.messagesDelivered)
    }

    /// Announces what a `drop`-policy subscriber missed, once its queue has
    /// room again (CONTRACT: `{"type":"gap","topic":"T","from":A,"to":B}`).
    func sendPendingGaps(_ index: UInt32) {
        let slot = slab.pointer(index)
        var node = slot.pointee.subscriptions
        while node != ShardRouter.none {
            if let gap = router.takeGap(node) { sendGap(index, gap) }
            node = router.nextOfConnection(node)
        }
    }

    func sendGap(_ index: UInt32, _ gap: (topic: String, epoch: String, from: UInt64, to: UInt64)) {
        counters.add(.gapsSent)
        sendText(index, ServerMessage.gap(topic: gap.topic, epoch: gap.epoch, from: gap.from, to: gap.to))
    }
}
