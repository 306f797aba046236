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

    public init(count: Int, _ fill: (UnsafeMutableRawBufferPointer) -> Void) {
        bytes = .allocate(byteCount: count, alignment: 16)
        fill(bytes)
    }

    public convenience init(copying source: some Collection<UInt8>) {
        self.init(count: source.count) { buffer in
            _ = buffer.initializeMemory(as: UInt8.self, from: source)
        }
    }

    deinit { bytes.deallocate() }

    public var count: Int { bytes.count }
}
