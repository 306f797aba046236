import CURing
import Glibc

/// Fixed pool of `msghdr` + iovec arrays for in-flight sends. The kernel
/// reads them until the completion arrives, so each in-flight send owns
/// one; they are allocated once at start. HeraldIO owns them because they
/// are kernel structures: the engine names a batch by index and hands it
/// byte ranges.
public struct SendBatchPool: ~Copyable {
    /// Frames gathered into one sendmsg. 16 covers a burst of queued
    /// publishes while keeping the batch at 312 bytes (56 + 16 × 16).
    public static let iovecsMax = 16

    public let count: Int
    private let headers: UnsafeMutablePointer<msghdr>
    private let vectors: UnsafeMutablePointer<iovec>
    /// Bytes each in-flight send asked for (set by `prepareSend`), so its
    /// completion tells a short write from a whole one without walking the
    /// connection's queue again.
    private let requested: UnsafeMutablePointer<Int>
    private var freeList: [UInt32]

    public init(count: Int) {
        self.count = count
        // Left untouched (no RSS) until used: a batch's msghdr and iovecs
        // are always written in full before the kernel reads them.
        headers = .allocate(capacity: count)
        vectors = .allocate(capacity: count * SendBatchPool.iovecsMax)
        requested = .allocate(capacity: count)
        freeList = (0..<UInt32(count)).reversed()
    }

    deinit {
        headers.deallocate()
        vectors.deallocate()
        requested.deallocate()
    }

    /// The bytes the send prepared on `batch` asked for.
    public func requestedBytes(_ batch: UInt32) -> Int { requested[Int(batch)] }

    public mutating func take() -> UInt32? { freeList.popLast() }

    public mutating func give(_ batch: UInt32) { freeList.append(batch) }

    public var available: Int { freeList.count }

    /// Sets vector `position` (< `iovecsMax`) of `batch` to `bytes`.
    public func set(_ batch: UInt32, _ position: Int, _ bytes: UnsafeRawBufferPointer) {
        precondition(position < SendBatchPool.iovecsMax && Int(batch) < count, "batch vector out of range")
        // Safe: batch < count and position < iovecsMax, so the slot is inside the allocation.
        vectors[Int(batch) * SendBatchPool.iovecsMax + position] =
            iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress), iov_len: bytes.count)
    }

    /// Prepares the non-blocking send of the first `vectorCount` vectors of
    /// `batch` on a direct descriptor: one frame goes as IORING_OP_SEND (no
    /// msghdr and iovec import, which sendmsg pays per call), several as one
    /// sendmsg.
    public func prepareSend(on ring: Ring, fixedFile: UInt32, batch: UInt32, vectorCount: Int, userData: UserData) {
        // Safe: batch < count (the caller took it from this pool).
        let first = vectors + Int(batch) * SendBatchPool.iovecsMax
        requested[Int(batch)] = (0..<vectorCount).reduce(0) { $0 + first[$1].iov_len }
        if vectorCount == 1 {
            ring.prepareSend(fixedFile: fixedFile,
                             bytes: UnsafeRawBufferPointer(start: first.pointee.iov_base, count: first.pointee.iov_len),
                             linked: false, nonBlocking: true, userData: userData)
            return
        }
        let message = headers + Int(batch)
        message.pointee = msghdr()
        message.pointee.msg_iov = first
        message.pointee.msg_iovlen = vectorCount
        ring.prepareSendMessage(fixedFile: fixedFile, message: message, userData: userData)
    }
}
