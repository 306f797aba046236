import HeraldCore
import HeraldProtocol

/// One shard's subscriptions: for every topic with local subscribers, a
/// doubly linked list of subscription nodes; for every connection, a singly
/// linked list of its nodes (head in the slot). Subscribing, unsubscribing
/// and disconnecting unlink in O(1) per subscription — no scan of a topic's
/// subscriber list. Touched only by the shard thread.
final class ShardRouter {
    static let none: UInt32 = .max

    struct Subscription {
        var ring: UInt16 = 0
        var slot: UInt32 = 0
        var generation: UInt32 = 0
        var topic: UInt32 = 0
        var previous: UInt32 = ShardRouter.none
        var next: UInt32 = ShardRouter.none
        var nextOfConnection: UInt32 = ShardRouter.none
        /// `herald.zstd.v1`: the id of the topic's dictionary this
        /// connection was sent (0: none). Fills the padding before `gapFrom`.
        var dictionarySent: UInt32 = 0
        /// Messages dropped for this subscriber (policy `drop`) and not yet
        /// announced with a `gap` message; 0 when none.
        var gapFrom: UInt64 = 0
        var gapTo: UInt64 = 0
    }

    struct Topic {
        var name: String
        var globalID: UInt32
        /// The registry's epoch for this topic's seq sequence.
        var epoch: String = ""
        var head: UInt32 = ShardRouter.none
        var count = 0
        /// The last seq this shard delivered (or the topic's seq when the
        /// shard's first subscriber joined); older deliveries are stale.
        var lastSeq: UInt64 = 0
        /// Multi-node: the broker has not yet read the topic's position;
        /// its subscribers' replies wait in `held` (seq and epoch unknown).
        var pending = false
    }

    /// A subscribe whose reply waits for the topic's position (multi-node),
    /// by subscription node. Bounded like subscriptions (one per node);
    /// empty except while a new topic's follow is being resolved.
    struct Held {
        var since: Recovery.Position?
        var reply: Bool
    }

    private var held: [UInt32: Held] = [:]

    let shardIndex: Int
    let registry: TopicRegistry
    private(set) var subscriptions: [Subscription] = []
    private var freeSubscriptions: [UInt32] = []
    private(set) var topics: [Topic] = []
    private var freeTopics: [UInt32] = []
    private var topicsByName: [String: UInt32] = [:]
    private var topicsByGlobalID: [UInt32: UInt32] = [:]

    init(shardIndex: Int, registry: TopicRegistry) {
        self.shardIndex = shardIndex
        self.registry = registry
    }

    enum SubscribeResult: Equatable {
        /// Subscribed; the seq to report (the seam: every later seq is
        /// delivered live, this one and earlier are not) and the epoch.
        case subscribed(seq: UInt64, epoch: String, node: UInt32)
        case alreadySubscribed(seq: UInt64, epoch: String)
        /// Multi-node: subscribed (or already, to a topic still resolving);
        /// the reply waits in `held` for the topic's position.
        case held(node: UInt32)
        case tooManyTopics
        /// The process holds `--topics-max` topics and this one is new.
        case topicLimit
    }

    /// Adds `(ring, slot)` to `name`. `head` is the connection's list head.
    func subscribe(ring: UInt16, slot: UInt32, generation: UInt32, name: String,
                   head: inout UInt32, topicsMax: Int) -> SubscribeResult {
        var count = 0
        var node = head
        while node != Self.none {
            let topic = topics[Int(subscriptions[Int(node)].topic)]
            if topic.name == name {
                if topic.pending {
                    // The later request's `since` and reply replace the first's.
                    return .held(node: node)
                }
                return .alreadySubscribed(seq: topic.lastSeq, epoch: topic.epoch)
            }
            count += 1
            node = subscriptions[Int(node)].nextOfConnection
        }
        guard count < topicsMax else { return .tooManyTopics }
        guard let topic = localTopic(name) else { return .topicLimit }
        let index = makeSubscription()
        subscriptions[Int(index)] = Subscription(ring: ring, slot: slot, generation: generation, topic: topic,
                                                 previous: Self.none, next: topics[Int(topic)].head,
                                                 nextOfConnection: head)
        if topics[Int(topic)].head != Self.none {
            subscriptions[Int(topics[Int(topic)].head)].previous = index
        }
        topics[Int(topic)].head = index
        head = index
        topics[Int(topic)].count += 1
        // Every change is reported so GET /v1/topics/T counts exactly (the
        // first local subscriber was counted by `join` in `localTopic`).
        if topics[Int(topic)].count > 1 { registry.added(shard: shardIndex, topic: name) }
        if topics[Int(topic)].pending { return .held(node: index) }
        return .subscribed(seq: topics[Int(topic)].lastSeq, epoch: topics[Int(topic)].epoch, node: index)
    }

    /// Removes the connection's subscription to `name`; false when it had none.
    func unsubscribe(name: String, head: inout UInt32) -> Bool {
        var previous = Self.none
        var node = head
        while node != Self.none {
            let next = subscriptions[Int(node)].nextOfConnection
            if topics[Int(subscriptions[Int(node)].topic)].name == name {
                if previous == Self.none { head = next } else { subscriptions[Int(previous)].nextOfConnection = next }
                remove(node)
                return true
            }
            previous = node
            node = next
        }
        return false
    }

    /// Drops every subscription of a closing connection.
    func unsubscribeAll(head: inout UInt32) {
        var node = head
        while node != Self.none {
            let next = subscriptions[Int(node)].nextOfConnection
            remove(node)
            node = next
        }
        head = Self.none
    }

    /// Unlinks a node from its topic list (O(1)) and frees it.
    private func remove(_ node: UInt32) {
        let subscription = subscriptions[Int(node)]
        let topic = subscription.topic
        if subscription.previous == Self.none {
            topics[Int(topic)].head = subscription.next
        } else {
            subscriptions[Int(subscription.previous)].next = subscription.next
        }
        if subscription.next != Self.none {
            subscriptions[Int(subscription.next)].previous = subscription.previous
        }
        topics[Int(topic)].count -= 1
        if !held.isEmpty { held[node] = nil }
        registry.left(shard: shardIndex, topic: topics[Int(topic)].name)
        if topics[Int(topic)].count == 0 { releaseTopic(topic) }
        subscriptions[Int(node)] = Subscription()
        freeSubscriptions.append(node)
    }

    /// Walks the subscribers of the topic a delivery is for. `visit`
    /// returns nothing; it may not subscribe or unsubscribe (the shard
    /// defers closes it triggers until after the walk).
    func forEachSubscriber(globalID: UInt32, seq: UInt64, _ visit: (UInt32, Subscription) -> Void) -> String? {
        guard let topic = topicsByGlobalID[globalID] else { return nil }
        guard seq > topics[Int(topic)].lastSeq else { return nil }
        topics[Int(topic)].lastSeq = seq
        var node = topics[Int(topic)].head
        while node != Self.none {
            let subscription = subscriptions[Int(node)]
            visit(node, subscription)
            node = subscription.next
        }
        return topics[Int(topic)].name
    }

    /// The dictionary id a subscription's connection holds (0: none).
    func dictionarySent(_ node: UInt32) -> UInt32 { subscriptions[Int(node)].dictionarySent }

    func noteDictionarySent(_ node: UInt32, id: UInt32) { subscriptions[Int(node)].dictionarySent = id }

    func noteDropped(_ node: UInt32, seq: UInt64) {
        if subscriptions[Int(node)].gapFrom == 0 { subscriptions[Int(node)].gapFrom = seq }
        subscriptions[Int(node)].gapTo = seq
    }

    /// Takes the pending gap of a node (clearing it).
    func takeGap(_ node: UInt32) -> (topic: String, epoch: String, from: UInt64, to: UInt64)? {
        let subscription = subscriptions[Int(node)]
        guard subscription.gapFrom != 0 else { return nil }
        subscriptions[Int(node)].gapFrom = 0
        subscriptions[Int(node)].gapTo = 0
        let topic = topics[Int(subscription.topic)]
        return (topic.name, topic.epoch, subscription.gapFrom, subscription.gapTo)
    }

    func nextOfConnection(_ node: UInt32) -> UInt32 { subscriptions[Int(node)].nextOfConnection }

    // MARK: Multi-node news about a topic (DeliveryQueue.Control)

    /// Holds the reply of a subscribe to a topic still resolving.
    func hold(_ node: UInt32, since: Recovery.Position?, reply: Bool) {
        held[node] = Held(since: since, reply: reply)
    }

    /// One subscriber and what it waited for.
    struct Waiter {
        let node: UInt32
        let subscription: Subscription
        let held: Held
    }

    /// The topic's position is known: it goes live at `seq`; the held
    /// subscribes come back to be answered (their seam is `seq`). Nil when
    /// this shard no longer holds the topic or it is not resolving.
    func resolve(globalID: UInt32, seq: UInt64, epoch: String) -> (name: String, waiters: [Waiter])? {
        guard let topic = topicsByGlobalID[globalID], topics[Int(topic)].pending else { return nil }
        topics[Int(topic)].pending = false
        topics[Int(topic)].lastSeq = seq
        topics[Int(topic)].epoch = epoch
        return (topics[Int(topic)].name, takeHeld(topic))
    }

    /// The topic could not be followed: the held subscribes come back to
    /// be refused (the caller unsubscribes them).
    func failHeld(globalID: UInt32) -> (name: String, waiters: [Waiter])? {
        guard let topic = topicsByGlobalID[globalID], topics[Int(topic)].pending else { return nil }
        return (topics[Int(topic)].name, takeHeld(topic))
    }

    private func takeHeld(_ topic: UInt32) -> [Waiter] {
        var waiters: [Waiter] = []
        var node = topics[Int(topic)].head
        while node != Self.none {
            let subscription = subscriptions[Int(node)]
            if let request = held.removeValue(forKey: node) {
                waiters.append(Waiter(node: node, subscription: subscription, held: request))
            }
            node = subscription.next
        }
        return waiters
    }

    /// Messages `from...to` are lost to this node: the topic moves on to
    /// `to`; every subscriber is visited to be told. Nil when stale.
    func skip(globalID: UInt32, from: UInt64, to: UInt64) -> (name: String, epoch: String, subscribers: [Subscription])? {
        guard let topic = topicsByGlobalID[globalID], !topics[Int(topic)].pending,
              to > topics[Int(topic)].lastSeq else { return nil }
        topics[Int(topic)].lastSeq = to
        return (topics[Int(topic)].name, topics[Int(topic)].epoch, subscribers(topic))
    }

    /// The topic restarted under `epoch`: live from `seq`; every subscriber
    /// is visited to be told. Nil when stale (already on that epoch).
    func reset(globalID: UInt32, seq: UInt64, epoch: String) -> (name: String, subscribers: [Subscription])? {
        guard let topic = topicsByGlobalID[globalID], !topics[Int(topic)].pending,
              topics[Int(topic)].epoch != epoch else { return nil }
        topics[Int(topic)].lastSeq = seq
        topics[Int(topic)].epoch = epoch
        return (topics[Int(topic)].name, subscribers(topic))
    }

    private func subscribers(_ topic: UInt32) -> [Subscription] {
        var result: [Subscription] = []
        var node = topics[Int(topic)].head
        while node != Self.none {
            result.append(subscriptions[Int(node)])
            node = subscriptions[Int(node)].next
        }
        return result
    }

    var subscriptionCount: Int { subscriptions.count - freeSubscriptions.count }

    /// The shard's topic `name`; a new one joins the registry, which counts
    /// this first subscriber and says from which seq deliveries come.
    private func localTopic(_ name: String) -> UInt32? {
        if let existing = topicsByName[name] { return existing }
        guard let joined = registry.join(shard: shardIndex, topic: name) else { return nil }
        let globalID = joined.id
        let topic = Topic(name: name, globalID: globalID, epoch: joined.epoch, lastSeq: joined.seq,
                          pending: joined.pending)
        let index: UInt32
        if let reused = freeTopics.popLast() {
            index = reused
            topics[Int(index)] = topic
        } else {
            index = UInt32(topics.count)
            topics.append(topic)
        }
        topicsByName[name] = index
        topicsByGlobalID[globalID] = index
        return index
    }

    private func releaseTopic(_ topic: UInt32) {
        topicsByName[topics[Int(topic)].name] = nil
        topicsByGlobalID[topics[Int(topic)].globalID] = nil
        topics[Int(topic)] = Topic(name: "", globalID: .max)
        freeTopics.append(topic)
    }

    private func makeSubscription() -> UInt32 {
        if let reused = freeSubscriptions.popLast() { return reused }
        subscriptions.append(Subscription())
        return UInt32(subscriptions.count - 1)
    }
}
