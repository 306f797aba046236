import CZstd

/// Decodes the zstd frames of `herald.zstd.v1` for tools that read many of
/// them (the load generator): one decompression context, the dictionaries
/// the server sent prepared once each by id, and one output buffer reused
/// between calls — no allocation per message.
///
/// Bounds: at most `dictionariesMax` dictionaries (a further one is
/// refused); output at most the caller's `bytesMax`, checked against the
/// size the frame states before anything is decompressed.
public final class ZstdFrameDecoder {
    public static let dictionariesMax = 1_024
    private let context: OpaquePointer
    private var dictionaries: [UInt32: OpaquePointer] = [:]
    private var output: UnsafeMutableRawBufferPointer

    public init() {
        guard let context = ZSTD_createDCtx() else { fatalError("ZSTD_createDCtx: out of memory") }
        self.context = context
        output = .allocate(byteCount: 64 * 1024, alignment: 16)
    }

    deinit {
        for dictionary in dictionaries.values { ZSTD_freeDDict(dictionary) }
        ZSTD_freeDCtx(context)
        output.deallocate()
    }

    public var dictionaryCount: Int { dictionaries.count }

    public func hasDictionary(_ id: UInt32) -> Bool { dictionaries[id] != nil }

    /// Prepares `bytes` as dictionary `id` (an id held already is kept: ids
    /// are never reused by the server). False when they are not a
    /// dictionary or `dictionariesMax` are held.
    public func addDictionary(id: UInt32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        if dictionaries[id] != nil { return true }
        guard dictionaries.count < Self.dictionariesMax, bytes.count > 0,
              let prepared = ZSTD_createDDict(bytes.baseAddress, bytes.count) else { return false }
        dictionaries[id] = prepared
        return true
    }

    /// One zstd frame's content, valid until the next call; nil when the
    /// frame states no size or more than `bytesMax`, names a dictionary not
    /// held (`dictionary` 0: none), or does not decode to its stated size.
    public func decompress(_ frame: UnsafeRawBufferPointer, dictionary id: UInt32,
                           bytesMax: Int) -> UnsafeRawBufferPointer? {
        let size = ZSTD_getFrameContentSize(frame.baseAddress, frame.count)
        // ZSTD_CONTENTSIZE_UNKNOWN and _ERROR are the two top values.
        guard size < UInt64.max - 1, size <= UInt64(bytesMax) else { return nil }
        var prepared: OpaquePointer?
        if id != 0 {
            guard let held = dictionaries[id] else { return nil }
            prepared = held
        }
        if output.count < Int(size) {
            output.deallocate()
            output = .allocate(byteCount: Int(size), alignment: 16)
        }
        let written = prepared.map {
            ZSTD_decompress_usingDDict(context, output.baseAddress, output.count, frame.baseAddress, frame.count, $0)
        } ?? ZSTD_decompressDCtx(context, output.baseAddress, output.count, frame.baseAddress, frame.count)
        guard ZSTD_isError(written) == 0, written == Int(size) else { return nil }
        return UnsafeRawBufferPointer(rebasing: output[0..<written])
    }
}
