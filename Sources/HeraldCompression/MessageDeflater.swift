import CZlib

/// Compresses whole messages for permessage-deflate with no context
/// takeover (RFC 7692 §7.1.1.1): every message starts from an empty window,
/// so one compressed frame is valid for every subscriber that negotiated
/// the extension. One instance per thread; not thread-safe.
public final class MessageDeflater {
    private let stream: UnsafeMutablePointer<z_stream>
    private var output: [UInt8] = []

    /// Level 6 is zlib's default trade-off; the cost is paid once per
    /// publish, not per subscriber.
    public init(level: Int32 = 6, windowBits: Int32 = 15) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let result = herald_deflate_init_raw(stream, level, windowBits)
        precondition(result == Z_OK, "deflateInit2 failed: \(result)")
    }

    deinit {
        deflateEnd(stream)
        stream.deallocate()
    }

    /// The compressed message: raw DEFLATE flushed with Z_SYNC_FLUSH and the
    /// trailing 00 00 FF FF removed (RFC 7692 §7.2.1). Nil when compression
    /// would not make it smaller (the caller then sends it uncompressed,
    /// which the extension allows per message).
    public func compress(_ input: UnsafeRawBufferPointer) -> [UInt8]? {
        deflateReset(stream)
        // deflateBound plus the sync-flush marker is always enough.
        let bound = Int(deflateBound(stream, UInt(input.count))) + 16
        if output.count < bound { output = [UInt8](repeating: 0, count: bound) }
        let produced: Int = output.withUnsafeMutableBytes { out in
            stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.pointee.avail_in = uInt(input.count)
            stream.pointee.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(out.count)
            let result = deflate(stream, Z_SYNC_FLUSH)
            guard result == Z_OK || result == Z_BUF_ERROR, stream.pointee.avail_in == 0 else { return -1 }
            return out.count - Int(stream.pointee.avail_out)
        }
        guard produced >= 4 else { return nil }
        let length = produced - 4
        guard length < input.count else { return nil }
        return Array(output[0..<length])
    }
}
