import Glibc

/// Fixed pool of `msghdr` + iovec arrays for in-flight `sendmsg` requests.
/// The kernel reads them until the completion arrives, so each in-flight
/// send owns one; they are allocated once at start.
struct SendBatchPool: ~Copyable {
    /// Frames gathered into one sendmsg. 16 covers a burst of queued
    /// publishes while keeping the batch at 304 bytes.
    static let iovecsMax = 16

    let count: Int
    private let headers: UnsafeMutablePointer<msghdr>
    private let vectors: UnsafeMutablePointer<iovec>
    private var freeList: [UInt32]

    init(count: Int) {
        self.count = count
        headers = .allocate(capacity: count)
        headers.initialize(repeating: msghdr(), count: count)
        vectors = .allocate(capacity: count * SendBatchPool.iovecsMax)
        vectors.initialize(repeating: iovec(), count: count * SendBatchPool.iovecsMax)
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
