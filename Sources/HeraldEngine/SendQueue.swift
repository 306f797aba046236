import HeraldIO

/// The per-ring pool of send-queue nodes: each connection's queue is a
/// singly linked list of node indices (head/tail in its slot), so a queued
/// frame costs one 12-byte node (a reference and a link), not an array per connection.
///
/// The pool grows in place when every node is taken (amortised; bounded in
/// practice by `--send-queue-bytes-max` per connection).
struct SendNodePool {
    static let none: UInt32 = .max

    private var frames: [Unmanaged<OutboundFrame>?] = []
    private var next: [UInt32] = []
    private var freeHead: UInt32 = SendNodePool.none

    init(initialCapacity: Int) {
        frames.reserveCapacity(initialCapacity)
        next.reserveCapacity(initialCapacity)
    }

    /// Takes a node holding `frame` (already retained by the caller).
    mutating func make(_ frame: Unmanaged<OutboundFrame>) -> UInt32 {
        if freeHead != SendNodePool.none {
            let node = freeHead
            freeHead = next[Int(node)]
            frames[Int(node)] = frame
            next[Int(node)] = SendNodePool.none
            return node
        }
        frames.append(frame)
        next.append(SendNodePool.none)
        return UInt32(frames.count - 1)
    }

    /// Releases the node's frame reference and returns the node to the pool;
    /// yields the following node.
    mutating func release(_ node: UInt32) -> UInt32 {
        let following = next[Int(node)]
        frames[Int(node)]?.release()
        frames[Int(node)] = nil
        next[Int(node)] = freeHead
        freeHead = node
        return following
    }

    func frame(_ node: UInt32) -> UnsafeMutableRawBufferPointer {
        frames[Int(node)]!._withUnsafeGuaranteedRef { $0.bytes }
    }

    /// The queue overhead the node's frame was charged with.
    func overhead(_ node: UInt32) -> Int {
        frames[Int(node)]!._withUnsafeGuaranteedRef { $0.queueOverheadBytes }
    }

    func following(_ node: UInt32) -> UInt32 { next[Int(node)] }

    mutating func link(_ node: UInt32, to following: UInt32) { next[Int(node)] = following }

    var capacity: Int { frames.count }
}
