import HeraldIO

/// Bytes ready for the wire — a complete WebSocket frame (header and
/// payload) or an HTTP response — stored once and shared by reference.
///
/// The reference count is Swift's own (atomic) one, driven by hand through
/// `Unmanaged`: one retain per enqueue on a connection, one release when the
/// send that carried it completes. Queues hold `Unmanaged` values, so moving
/// a frame through the send path costs no further retain/release (NOTES.md
/// "Swift on the hot path").
public final class OutboundFrame: @unchecked Sendable {
    // @unchecked: the bytes are written once in `init` and only read after
    // the frame is published, so sharing across threads is safe.
    public let bytes: UnsafeMutableRawBufferPointer
    /// What one queued reference to this frame costs a connection beyond
    /// the frame's bytes, charged against `--send-queue-bytes-max`: a frame
    /// shared by many (a publish, the heartbeat ping) costs each only its
    /// queue node; a connection's own frame (a reply, a pong, an error)
    /// also costs its object and allocations (see `Overhead`).
    public let queueOverheadBytes: Int

    /// Measured costs (x86-64, glibc): a queue node is 16 B in the pool; a
    /// frame object is a 48 B malloc chunk plus its buffer's chunk (its
    /// bytes rounded up to 16, plus 16). 128 covers a small reply whole,
    /// so a flood of tiny requests cannot hold more than the limit says.
    public enum Overhead {
        public static let shared = 16
        public static let owned = 128
    }

    public init(count: Int, shared: Bool = false, _ fill: (UnsafeMutableRawBufferPointer) -> Void) {
        bytes = UnsafeMutableRawBufferPointer(start: Memory.allocate(byteCount: count), count: count)
        queueOverheadBytes = shared ? Overhead.shared : Overhead.owned
        fill(bytes)
    }

    /// A block copy of bytes already built (the 101 of every handshake,
    /// control frames, plain HTTP answers). It took any collection and
    /// copied it byte by byte through its iterator; every caller has an array.
    public convenience init(copying source: [UInt8], shared: Bool = false) {
        self.init(count: source.count, shared: shared) { buffer in
            source.withUnsafeBytes { buffer.copyMemory(from: $0) }
        }
    }

    deinit { Memory.deallocate(bytes.baseAddress!) }

    public var count: Int { bytes.count }

    /// Bytes charged against a connection's queue limit per reference.
    public var queueCost: Int { bytes.count + queueOverheadBytes }
}
