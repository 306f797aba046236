import CURing
import Glibc

/// A provided-buffer ring (`IORING_REGISTER_PBUF_RING`): `count` buffers of
/// `bufferBytes` each that the kernel picks from for multishot receives.
///
/// liburing 2.3 has no `io_uring_setup_buf_ring`, so the ring memory is
/// mmap'ed here and registered by hand (NOTES.md). Buffers are returned with
/// `recycle` as soon as their bytes have been parsed; a connection whose
/// frame is still incomplete copies the tail out instead of holding one.
public final class BufferRing {
    public let group: UInt16
    public let count: Int
    public let bufferBytes: Int
    @usableFromInline let ringMemory: UnsafeMutablePointer<io_uring_buf_ring>
    @usableFromInline let ringBytes: Int
    @usableFromInline let buffers: UnsafeMutableRawPointer
    @usableFromInline let mask: Int32
    /// Buffers handed back since the last `publish()`.
    @usableFromInline var pendingReturns: Int32 = 0
    private unowned let owner: Ring

    public init(ring: Ring, group: UInt16, count: Int, bufferBytes: Int) throws {
        precondition(count > 0 && count & (count - 1) == 0 && count <= 32_768,
                     "buffer ring entries must be a power of two ≤ 32768 (kernel limit)")
        self.group = group
        self.count = count
        self.bufferBytes = bufferBytes
        owner = ring
        ringBytes = count * MemoryLayout<io_uring_buf>.stride
        let memory = mmap(nil, ringBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let memory, memory != MAP_FAILED else {
            throw Ring.SetupError(description: "mmap of a \(ringBytes)-byte buffer ring failed: \(IOErrno.current)")
        }
        ringMemory = memory.assumingMemoryBound(to: io_uring_buf_ring.self)
        io_uring_buf_ring_init(ringMemory)
        // The buffers themselves: one anonymous mapping, touched only by the
        // kernel as data arrives, so untouched buffers cost no RSS.
        let totalBytes = count * bufferBytes
        let region = mmap(nil, totalBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let region, region != MAP_FAILED else {
            munmap(memory, ringBytes)
            throw Ring.SetupError(description: "mmap of \(totalBytes) bytes of receive buffers failed: \(IOErrno.current)")
        }
        buffers = region
        mask = Int32(io_uring_buf_ring_mask(UInt32(count)))

        var registration = io_uring_buf_reg()
        registration.ring_addr = UInt64(UInt(bitPattern: memory))
        registration.ring_entries = UInt32(count)
        registration.bgid = group
        let result = io_uring_register_buf_ring(ring.raw, &registration, 0)
        guard result == 0 else {
            munmap(memory, ringBytes)
            munmap(region, totalBytes)
            throw Ring.SetupError(description: "io_uring_register_buf_ring failed: \(IOErrno(result: result))"
                + " — provided-buffer rings need Linux ≥ 5.19")
        }
        for id in 0..<count {
            io_uring_buf_ring_add(ringMemory, buffer(UInt16(id)).baseAddress, UInt32(bufferBytes),
                                  UInt16(id), mask, Int32(id))
        }
        io_uring_buf_ring_advance(ringMemory, Int32(count))
    }

    deinit {
        munmap(UnsafeMutableRawPointer(ringMemory), ringBytes)
        munmap(buffers, count * bufferBytes)
    }

    /// The whole buffer `id` (the kernel filled its first `result` bytes).
    @inlinable
    public func buffer(_ id: UInt16) -> UnsafeMutableRawBufferPointer {
        precondition(Int(id) < count)
        // Safe: id < count, so the offset stays inside the mapping.
        return UnsafeMutableRawBufferPointer(start: buffers + Int(id) * bufferBytes, count: bufferBytes)
    }

    /// Gives buffer `id` back; it becomes visible to the kernel at `publish()`.
    @inlinable
    public func recycle(_ id: UInt16) {
        io_uring_buf_ring_add(ringMemory, buffer(id).baseAddress, UInt32(bufferBytes), id, mask, pendingReturns)
        pendingReturns += 1
    }

    /// Publishes recycled buffers with one release store (once per loop turn).
    @inlinable
    public func publish() {
        guard pendingReturns > 0 else { return }
        io_uring_buf_ring_advance(ringMemory, pendingReturns)
        pendingReturns = 0
    }
}
