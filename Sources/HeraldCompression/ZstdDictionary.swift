import CZstd

/// A trained zstd dictionary (`ZDICT_trainFromBuffer`) and its prepared
/// compression state (`ZSTD_CDict`, digested once, used by every publish to
/// its topic). Immutable after init; compression with it happens on one
/// `ZstdCompressor` at a time.
public final class ZstdDictionary: @unchecked Sendable {
    // @unchecked: the CDict is read-only after creation (zstd allows one
    // CDict to serve several contexts).
    public let id: UInt32
    public let bytes: [UInt8]
    let prepared: OpaquePointer

    public init?(id: UInt32, bytes: [UInt8], level: Int32) {
        guard !bytes.isEmpty,
              let prepared = bytes.withUnsafeBytes({ ZSTD_createCDict($0.baseAddress, $0.count, level) }) else {
            return nil
        }
        self.id = id
        self.bytes = bytes
        self.prepared = prepared
    }

    deinit { ZSTD_freeCDict(prepared) }

    /// What the dictionary holds in memory: its bytes and the prepared tables.
    public var memoryBytes: Int { bytes.count + ZSTD_sizeof_CDict(prepared) }

    public struct TrainingError: Error, CustomStringConvertible {
        public let description: String
    }

    /// A dictionary of at most `capacity` bytes trained on `samples` (a
    /// topic's recent messages, as subscribers receive them).
    public static func train(samples: [[UInt8]], capacity: Int) -> Result<[UInt8], TrainingError> {
        let joined = samples.flatMap { $0 }
        let sizes = samples.map { $0.count }
        var dictionary = [UInt8](repeating: 0, count: capacity)
        let produced = dictionary.withUnsafeMutableBytes { out in
            joined.withUnsafeBytes { input in
                sizes.withUnsafeBufferPointer { sizes in
                    ZDICT_trainFromBuffer(out.baseAddress, out.count, input.baseAddress, sizes.baseAddress,
                                          UInt32(samples.count))
                }
            }
        }
        guard ZDICT_isError(produced) == 0 else {
            return .failure(TrainingError(description: String(cString: ZDICT_getErrorName(produced))))
        }
        return .success(Array(dictionary[0..<produced]))
    }
}
