import Glibc

/// Fixed pool of `msghdr` + iovec arrays for in-flight `sendmsg` requests.
/// The kernel reads them until the completion arrives, so each in-flight
/// send owns one; they are allocated once at start.
struct SendBatchPool: ~Copyable {
    /// Frames gathered into one sendmsg. 16 covers a burst of queued
    /// publishes while keeping the batch at 312 bytes (56 + 16 × 16).
    static let iovecsMax = 16

    let count: Int
    private let headers: UnsafeMutablePointer<msghdr>
    private let vectors: UnsafeMutablePointer<iovec>
    private var freeList: [UInt32]

    init(count: Int) {
        self.count = count
        // Left untouched (no RSS) until used: a batch's msghdr and iovecs
        // are always written in full before the kernel reads them.
        headers = .allocate(capacity: count)
        vectors = .allocate(capacity: count * SendBatchPool.iovecsMax)
        freeList = (0..<UInt32(count)).reversed()
    }

    deinit {
        headers.deallocate()
        vectors.deallocate()
    }

    mutating func take() -> UInt32? { freeList.popLast() }

    mutating func give(_ batch: UInt32) { freeList.append(batch) }

    var available: Int { freeList.count }

    func message(_ batch: UInt32) -> UnsafeMutablePointer<msghdr> { headers + Int(batch) }

    func vectors(_ batch: UInt32) -> UnsafeMutablePointer<iovec> {
        // Safe: batch < count, so the slice stays inside the allocation.
        vectors + Int(batch) * SendBatchPool.iovecsMax
    }
}
