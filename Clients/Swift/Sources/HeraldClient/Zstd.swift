import Foundation

/// A zstd decoder for the `herald.zstd.v1` subprotocol (Docs/PROTOCOL.md
/// "zstd with trained dictionaries"). `HeraldClient` does the framing, keeps
/// the dictionaries the server sends and checks sizes; the decoder only
/// decompresses. The HeraldClientZstd product has one on libzstd
/// (`LibzstdDecoder`), kept out of this target so an app that does not
/// want zstd never links a C library.
public protocol HeraldZstdDecoder: Sendable {
    /// A dictionary the server sent, prepared for decoding (freed when the
    /// returned value is released). Throws for bytes that are not one.
    func prepareDictionary(_ bytes: [UInt8]) throws -> any HeraldZstdDictionary
    /// The content size the zstd frame states, nil when it states none.
    func contentSize(of frame: ArraySlice<UInt8>) -> Int?
    /// Decompresses one zstd frame that states `size` with the dictionary
    /// (or none); throws when the frame is corrupt or is not `size` bytes.
    func decompress(_ frame: ArraySlice<UInt8>, size: Int, dictionary: (any HeraldZstdDictionary)?) throws -> [UInt8]
}

/// A prepared dictionary (`HeraldZstdDecoder.prepareDictionary`).
public protocol HeraldZstdDictionary: AnyObject, Sendable {}

/// What is wrong with a zstd frame the client could not decode.
public struct HeraldZstdError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The frames of `herald.zstd.v1`: `'Z' | kind | dictionary id (u32 BE) |
/// zstd frame` (kind 1 the text message, 2 a binary envelope) and
/// `'Z' | 3 | id | topic length | topic | dictionary`.
struct ZstdFrames {
    static let subprotocol = "herald.zstd.v1"
    /// Dictionaries kept; the oldest go first. The server sends a topic's
    /// dictionary once per subscription, so one dropped while in use makes
    /// a frame undecodable and the client reconnects for it.
    static let dictionariesKept = 64
    /// Ids listed in `zstd_dicts=` (the server's bound).
    static let heldIdsListed = 16

    enum Decoded {
        case dictionary
        case text(String)
        case envelope([UInt8])
    }

    let decoder: any HeraldZstdDecoder
    private(set) var dictionaries: [UInt32: any HeraldZstdDictionary] = [:]
    /// Ids, oldest first.
    private(set) var order: [UInt32] = []

    init(decoder: any HeraldZstdDecoder) { self.decoder = decoder }

    /// The ids kept, most recent first, for `zstd_dicts=`.
    var heldIds: [UInt32] { Array(order.reversed().prefix(Self.heldIdsListed)) }

    mutating func decode(_ bytes: [UInt8], limit: Int) throws -> Decoded {
        guard bytes.count >= 6, bytes[0] == UInt8(ascii: "Z") else { throw HeraldZstdError("short zstd frame") }
        let kind = bytes[1]
        let id = bytes[2..<6].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        switch kind {
        case 3:
            guard bytes.count >= 7, bytes.count >= 7 + Int(bytes[6]) else {
                throw HeraldZstdError("short zstd dictionary frame")
            }
            let prepared = try decoder.prepareDictionary(Array(bytes[(7 + Int(bytes[6]))...]))
            order.removeAll { $0 == id }
            order.append(id)
            dictionaries[id] = prepared
            while order.count > Self.dictionariesKept { dictionaries[order.removeFirst()] = nil }
            return .dictionary
        case 1, 2:
            var dictionary: (any HeraldZstdDictionary)?
            if id != 0 {
                guard let kept = dictionaries[id] else {
                    throw HeraldZstdError("zstd dictionary \(id) was never received (or was dropped)")
                }
                dictionary = kept
            }
            let frame = bytes[6...]
            // The size is checked before anything is decompressed: no bomb.
            guard let size = decoder.contentSize(of: frame) else {
                throw HeraldZstdError("zstd frame without a content size")
            }
            guard size <= limit else { throw HeraldZstdError("zstd frame of \(size) bytes, over the limit of \(limit)") }
            let plain = try decoder.decompress(frame, size: size, dictionary: dictionary)
            if kind == 2 { return .envelope(plain) }
            guard let text = String(bytes: plain, encoding: .utf8) else {
                throw HeraldZstdError("a zstd text message that is not UTF-8")
            }
            return .text(text)
        default:
            throw HeraldZstdError("unknown zstd frame kind \(kind)")
        }
    }
}
