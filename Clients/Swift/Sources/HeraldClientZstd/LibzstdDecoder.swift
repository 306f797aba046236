import CLibzstd
import Foundation
import HeraldClient

/// `herald.zstd.v1` decoding with the system's libzstd: pass it to
/// `HeraldClient(url:…, zstd: LibzstdDecoder())`. One decompression
/// context, reused under a lock (the client decodes one frame at a time).
public final class LibzstdDecoder: HeraldZstdDecoder, @unchecked Sendable {
    private let lock = NSLock()
    private let context: OpaquePointer

    public init() {
        guard let context = ZSTD_createDCtx() else { fatalError("ZSTD_createDCtx: out of memory") }
        self.context = context
    }

    deinit { ZSTD_freeDCtx(context) }

    public func prepareDictionary(_ bytes: [UInt8]) throws -> any HeraldZstdDictionary {
        guard let prepared = bytes.withUnsafeBytes({ ZSTD_createDDict($0.baseAddress, $0.count) }) else {
            throw HeraldZstdError("not a zstd dictionary")
        }
        return PreparedDictionary(prepared)
    }

    public func contentSize(of frame: ArraySlice<UInt8>) -> Int? {
        let size = frame.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress, $0.count) }
        // ZSTD_CONTENTSIZE_UNKNOWN and _ERROR are the two largest values.
        guard size < UInt64.max - 1, size <= UInt64(Int.max) else { return nil }
        return Int(size)
    }

    public func decompress(_ frame: ArraySlice<UInt8>, size: Int,
                           dictionary: (any HeraldZstdDictionary)?) throws -> [UInt8] {
        var output = [UInt8](repeating: 0, count: size)
        let written = output.withUnsafeMutableBytes { destination in
            frame.withUnsafeBytes { source in
                lock.withLock {
                    if let prepared = dictionary as? PreparedDictionary {
                        ZSTD_decompress_usingDDict(context, destination.baseAddress, destination.count,
                                                   source.baseAddress, source.count, prepared.pointer)
                    } else {
                        ZSTD_decompressDCtx(context, destination.baseAddress, destination.count,
                                            source.baseAddress, source.count)
                    }
                }
            }
        }
        if ZSTD_isError(written) != 0 {
            throw HeraldZstdError("corrupt zstd frame: \(String(cString: ZSTD_getErrorName(written)))")
        }
        guard written == size else { throw HeraldZstdError("zstd frame of \(written) bytes, stated \(size)") }
        return output
    }

    final class PreparedDictionary: HeraldZstdDictionary, @unchecked Sendable {
        let pointer: OpaquePointer
        init(_ pointer: OpaquePointer) { self.pointer = pointer }
        deinit { ZSTD_freeDDict(pointer) }
    }
}
