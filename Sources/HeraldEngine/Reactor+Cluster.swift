import HeraldCore
import HeraldProtocol

/// Multi-node news about a followed topic, carried out on this ring's
/// connections (the shard learns it from `DeliveryQueue.Control` items, in
/// order with the topic's messages).
extension Reactor {
    /// A held subscribe's topic has its position: the reply it waited
    /// for, and its recovery when it asked with `since`.
    func answerHeld(_ index: UInt32, generation: UInt32, topic: String, held: ShardRouter.Held, seam: UInt64,
                    epoch: String) {
        guard slab.isLive(SlotHandle(index: index, generation: generation)),
              slab.pointer(index).pointee.life.acceptsData, held.reply else { return }
        if let since = held.since {
            recover(index, topic: topic, since: since, seam: seam, epoch: epoch)
        } else {
            sendText(index, ServerMessage.subscribed(topic: topic, seq: seam, epoch: epoch))
        }
    }

    /// A held subscribe's topic could not be followed (Redis unreachable):
    /// the subscription goes and the client is told it may retry.
    func refuseHeld(_ index: UInt32, generation: UInt32, topic: String, reply: Bool) {
        guard slab.isLive(SlotHandle(index: index, generation: generation)) else { return }
        let slot = slab.pointer(index)
        _ = router.unsubscribe(name: topic, head: &slot.pointee.subscriptions)
        guard slot.pointee.life.acceptsData else { return }
        counters.add(.clientErrorsSent)
        sendText(index, ServerMessage.error(code: "unavailable",
                                            message: "the cluster's Redis is unreachable; subscribe again later",
                                            topic: topic))
    }

    /// Messages lost to this node (gone from Redis's stream while it could
    /// not receive them): announced, never silent.
    func announceGap(_ index: UInt32, generation: UInt32, _ gap: (topic: String, epoch: String, from: UInt64, to: UInt64)) {
        guard slab.isLive(SlotHandle(index: index, generation: generation)),
              slab.pointer(index).pointee.life.acceptsData else { return }
        sendGap(index, gap)
    }

    /// The topic's sequence restarted (Redis lost it): the subscriber's
    /// position is void, as after a subscribe that could not recover.
    func announceReset(_ index: UInt32, generation: UInt32, topic: String, seq: UInt64, epoch: String) {
        guard slab.isLive(SlotHandle(index: index, generation: generation)),
              slab.pointer(index).pointee.life.acceptsData else { return }
        counters.add(.recoveriesRefused)
        sendText(index, ServerMessage.subscribed(topic: topic, seq: seq, epoch: epoch, recovered: false))
    }
}
