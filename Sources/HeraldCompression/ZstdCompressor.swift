import CZstd

/// Compresses whole messages for the `herald.zstd.v1` subprotocol: one
/// self-contained zstd frame per message (content size in its header, so a
/// client knows the size before it decompresses and can refuse a bomb),
/// made once per publish and shared by every subscriber. One context,
/// reused; not thread-safe (one instance per publishing thread, or under a
/// lock).
public final class ZstdCompressor {
    private let context: OpaquePointer
    private var output: [UInt8] = []
    public let level: Int32

    /// Level 3 is zstd's default; the cost is paid once per publish.
    public init(level: Int32 = 3) {
        guard let context = ZSTD_createCCtx() else { preconditionFailure("ZSTD_createCCtx failed") }
        self.context = context
        self.level = level
        _ = ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)
        // The frame header carries the content size (the decoder's bound)
        // and no dictionary id (the message's envelope names it).
        _ = ZSTD_CCtx_setParameter(context, ZSTD_c_contentSizeFlag, 1)
        _ = ZSTD_CCtx_setParameter(context, ZSTD_c_dictIDFlag, 0)
    }

    deinit { ZSTD_freeCCtx(context) }

    /// The zstd frame of `input`, with `dictionary` when given; nil when it
    /// would not be smaller (the caller sends the message uncompressed,
    /// which the protocol allows).
    public func compress(_ input: UnsafeRawBufferPointer, dictionary: ZstdDictionary? = nil) -> [UInt8]? {
        let bound = ZSTD_compressBound(input.count)
        if output.count < bound { output = [UInt8](repeating: 0, count: bound) }
        // The dictionary applies to this frame only (a null one clears it).
        _ = ZSTD_CCtx_refCDict(context, dictionary?.prepared)
        let produced = output.withUnsafeMutableBytes { out in
            ZSTD_compress2(context, out.baseAddress, out.count, input.baseAddress, input.count)
        }
        guard ZSTD_isError(produced) == 0, produced < input.count else { return nil }
        return Array(output[0..<produced])
    }
}
