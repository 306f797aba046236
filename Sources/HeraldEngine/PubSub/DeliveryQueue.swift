import HeraldIO
import Synchronization

/// The lock-free hand-off of published frames to one shard: many producers
/// (the admin thread; any thread) push, the shard thread takes everything
/// at once. A Treiber stack whose consumer swaps the head for nil and
/// reverses the list, so each drain yields pushes in order. Taking the whole
/// list with one exchange means the consumer never races a pop (no ABA).
final class DeliveryQueue: @unchecked Sendable {
    // @unchecked: `head` is atomic; nodes are owned by whoever holds them
    // after a successful push (the queue) or drain (the consumer).
    struct Delivery {
        let topicID: UInt32
        let seq: UInt64
        /// Retained once for this shard; released by the shard when every
        /// local subscriber has its own reference.
        let frame: Unmanaged<OutboundFrame>
        /// The same message compressed for permessage-deflate connections
        /// (RSV1 set), when any exist and it compressed; retained likewise.
        let compressed: Unmanaged<OutboundFrame>?
        /// When it was sequenced (CLOCK_MONOTONIC µs), for the
        /// publish→delivery histogram; 0 = not stamped (tests).
        var publishedAtMicroseconds: UInt64 = 0
        /// Multi-node: not a message but news about the topic, ordered
        /// with its messages (`frame` is then the registry's empty
        /// `controlFrame`); nil for every message.
        var control: Control? = nil
        /// The same message as a `herald.zstd.v1` frame, when any such
        /// connection exists and it compressed; retained likewise.
        var zstd: Unmanaged<OutboundFrame>? = nil
        /// The dictionary `zstd` was compressed with (nil: none); its
        /// delivery frame goes first to a subscriber that lacks it.
        var zstdDictionary: Unmanaged<TopicDictionary>? = nil
    }

    /// What the broker tells shards about a followed topic (at `seq`).
    enum Control {
        /// The topic's position is known: held subscribes get their reply
        /// (their seam is `seq`).
        case resolved(epoch: String)
        /// Redis could not be reached: held subscribes get an error.
        case unavailable
        /// Messages `from...seq` are lost to this node: every subscriber
        /// gets a `gap`.
        case gap(from: UInt64)
        /// A new epoch: every subscriber's position is void.
        case reset(epoch: String)
    }

    private struct Node {
        var next: UnsafeMutablePointer<Node>?
        let delivery: Delivery
    }

    private let head = Atomic<UInt>(0)
    /// What the queue holds: each delivery's frame bytes plus
    /// `deliveryOverheadBytes`. Publishers read it (under the registry
    /// lock) to refuse a publish when a shard's backlog is over
    /// `--delivery-backlog-bytes-max`; the shard subtracts as it drains.
    let pendingBytes = Atomic<Int>(0)
    /// Deliveries waiting (the depth gauge).
    let pendingCount = Atomic<Int>(0)
    /// A queue node, its delivery and the frames' object headers (~96 B).
    static let deliveryOverheadBytes = 96

    static func cost(_ delivery: Delivery) -> Int {
        delivery.frame._withUnsafeGuaranteedRef { $0.count } + deliveryOverheadBytes
    }

    deinit {
        drain {
            $0.frame.release()
            $0.compressed?.release()
            $0.zstd?.release()
            $0.zstdDictionary?.release()
        }
    }

    /// Queues `delivery`; true when the queue was empty, i.e. when the
    /// shard must be woken. A push onto a non-empty queue needs no wake:
    /// the push that made it non-empty woke the shard, whose next drain
    /// (one exchange of the head) takes this delivery too. So a burst of
    /// publishes costs one eventfd write per shard, not one per publish.
    @discardableResult
    func push(_ delivery: Delivery) -> Bool {
        pendingBytes.add(Self.cost(delivery), ordering: .relaxed)
        pendingCount.add(1, ordering: .relaxed)
        // malloc's block (`Memory.allocate`): one per publish and shard.
        let node = Memory.allocate(byteCount: MemoryLayout<Node>.stride).bindMemory(to: Node.self, capacity: 1)
        node.initialize(to: Node(next: nil, delivery: delivery))
        var expected = head.load(ordering: .relaxed)
        while true {
            node.pointee.next = UnsafeMutablePointer(bitPattern: expected)
            let (exchanged, current) = head.compareExchange(expected: expected, desired: UInt(bitPattern: node),
                                                             successOrdering: .releasing, failureOrdering: .relaxed)
            if exchanged { return expected == 0 }
            expected = current
        }
    }

    var isEmpty: Bool { head.load(ordering: .relaxed) == 0 }

    /// Hands every queued delivery to `body`, oldest first.
    func drain(_ body: (Delivery) -> Void) {
        var node = UnsafeMutablePointer<Node>(bitPattern: head.exchange(0, ordering: .acquiring))
        // Reverse: the stack holds newest first.
        var ordered: UnsafeMutablePointer<Node>?
        while let current = node {
            node = current.pointee.next
            current.pointee.next = ordered
            ordered = current
        }
        while let current = ordered {
            ordered = current.pointee.next
            body(current.pointee.delivery)
            pendingBytes.subtract(Self.cost(current.pointee.delivery), ordering: .relaxed)
            pendingCount.subtract(1, ordering: .relaxed)
            current.deinitialize(count: 1)
            Memory.deallocate(current)
        }
    }
}
