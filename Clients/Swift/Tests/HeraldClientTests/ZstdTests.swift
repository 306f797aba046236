import CLibzstd
import Foundation
import HeraldClientZstd
import Testing
@testable import HeraldClient

/// herald.zstd.v1 frames through `ZstdFrames` with the libzstd decoder,
/// compressed here with libzstd as the server does (content size stated,
/// no dictionary id in the zstd frame).
@Suite struct ZstdFramesTests {
    /// A raw-content dictionary: any bytes serve as one to libzstd.
    static let dictionary = Array(#"{"type":"message","topic":"chat","seq":,"data":{"user":"alice","text":""}}"#.utf8)

    static func compress(_ plain: [UInt8], dictionary: [UInt8]? = nil, statingSize: Bool = true) -> [UInt8] {
        let context = ZSTD_createCCtx()!
        defer { ZSTD_freeCCtx(context) }
        ZSTD_CCtx_setParameter(context, ZSTD_c_contentSizeFlag, statingSize ? 1 : 0)
        ZSTD_CCtx_setParameter(context, ZSTD_c_dictIDFlag, 0)
        if let dictionary {
            dictionary.withUnsafeBytes { _ = ZSTD_CCtx_loadDictionary(context, $0.baseAddress, $0.count) }
        }
        var output = [UInt8](repeating: 0, count: ZSTD_compressBound(plain.count))
        let written: Int
        if statingSize {
            written = output.withUnsafeMutableBytes { out in
                plain.withUnsafeBytes { ZSTD_compress2(context, out.baseAddress, out.count, $0.baseAddress, $0.count) }
            }
        } else {
            // A streamed frame does not know its size up front.
            written = output.withUnsafeMutableBytes { out in
                plain.withUnsafeBytes { source in
                    var input = ZSTD_inBuffer(src: source.baseAddress, size: source.count, pos: 0)
                    var buffer = ZSTD_outBuffer(dst: out.baseAddress, size: out.count, pos: 0)
                    _ = ZSTD_compressStream2(context, &buffer, &input, ZSTD_e_end)
                    return buffer.pos
                }
            }
        }
        precondition(ZSTD_isError(written) == 0)
        return Array(output[0..<written])
    }

    static func message(kind: UInt8, id: UInt32, _ zstd: [UInt8]) -> [UInt8] {
        [UInt8(ascii: "Z"), kind] + withUnsafeBytes(of: id.bigEndian, Array.init) + zstd
    }

    static func dictionaryFrame(id: UInt32, topic: String, _ bytes: [UInt8]) -> [UInt8] {
        [UInt8(ascii: "Z"), 3] + withUnsafeBytes(of: id.bigEndian, Array.init) + [UInt8(topic.utf8.count)]
            + Array(topic.utf8) + bytes
    }

    @Test func textAndEnvelopesRoundTripWithAndWithoutADictionary() throws {
        var frames = ZstdFrames(decoder: LibzstdDecoder())
        let text = #"{"type":"message","topic":"chat","seq":7,"data":{"user":"alice","text":"hello there"}}"#
        guard case .text(let plain) = try frames.decode(Self.message(kind: 1, id: 0, Self.compress(Array(text.utf8))),
                                                        limit: 1 << 20) else { Issue.record("not text"); return }
        #expect(plain == text)

        guard case .dictionary = try frames.decode(Self.dictionaryFrame(id: 9, topic: "chat", Self.dictionary),
                                                   limit: 1 << 20) else { Issue.record("not a dictionary"); return }
        let small = Self.compress(Array(text.utf8), dictionary: Self.dictionary)
        #expect(small.count < Self.compress(Array(text.utf8)).count, "the dictionary makes it smaller")
        guard case .text(let withDictionary) = try frames.decode(Self.message(kind: 1, id: 9, small), limit: 1 << 20)
        else { Issue.record("not text"); return }
        #expect(withDictionary == text)

        let envelope: [UInt8] = [1, 4] + Array("chat".utf8) + [0, 0, 0, 0, 0, 0, 0, 8] + Array(repeating: 0xAB, count: 300)
        guard case .envelope(let bytes) = try frames.decode(Self.message(kind: 2, id: 9,
                                                                         Self.compress(envelope, dictionary: Self.dictionary)),
                                                            limit: 1 << 20) else { Issue.record("not an envelope"); return }
        #expect(bytes == envelope)
        #expect(frames.heldIds == [9])
    }

    @Test func framesItCannotOrMustNotDecodeAreRefused() throws {
        var frames = ZstdFrames(decoder: LibzstdDecoder())
        let big = Array(repeating: UInt8(ascii: "a"), count: 100_000)
        // Over the limit: refused from the stated size, before decompressing.
        #expect(throws: HeraldZstdError.self) { try frames.decode(Self.message(kind: 1, id: 0, Self.compress(big)), limit: 99_999) }
        _ = try frames.decode(Self.message(kind: 1, id: 0, Self.compress(big)), limit: 100_000)
        #expect(throws: HeraldZstdError.self) {
            try frames.decode(Self.message(kind: 1, id: 0, Self.compress(big, statingSize: false)), limit: 1 << 20)
        }
        #expect(throws: HeraldZstdError.self) {
            try frames.decode(Self.message(kind: 1, id: 5, Self.compress(Array("x".utf8), dictionary: Self.dictionary)),
                              limit: 1 << 20)
        }
        var corrupt = Self.compress(Array(repeating: 7, count: 1000))
        corrupt[corrupt.count - 2] ^= 0xFF
        #expect(throws: HeraldZstdError.self) { try frames.decode(Self.message(kind: 2, id: 0, corrupt), limit: 1 << 20) }
        #expect(throws: HeraldZstdError.self) { try frames.decode(Self.message(kind: 4, id: 0, []), limit: 1 << 20) }
        #expect(throws: HeraldZstdError.self) { try frames.decode([UInt8(ascii: "Z"), 1, 0], limit: 1 << 20) }
        #expect(throws: HeraldZstdError.self) { try frames.decode([UInt8(ascii: "Z"), 3, 0, 0, 0, 1, 9, 65], limit: 1 << 20) }
        #expect(throws: HeraldZstdError.self) {
            try frames.decode(Self.message(kind: 1, id: 0, Self.compress([0xFF, 0xFE])), limit: 1 << 20)  // not UTF-8
        }
    }

    @Test func atMost64DictionariesAreKeptAndTheNewest16Listed() throws {
        var frames = ZstdFrames(decoder: LibzstdDecoder())
        for id in UInt32(1)...70 {
            _ = try frames.decode(Self.dictionaryFrame(id: id, topic: "t\(id)", Self.dictionary), limit: 1 << 20)
        }
        #expect(frames.dictionaries.count == 64)
        #expect(frames.dictionaries[6] == nil && frames.dictionaries[7] != nil)
        #expect(frames.heldIds == Array((55...70).reversed()))
        // A dictionary sent again moves to the newest place.
        _ = try frames.decode(Self.dictionaryFrame(id: 7, topic: "t7", Self.dictionary), limit: 1 << 20)
        #expect(frames.heldIds.first == 7 && frames.order.count == 64)
    }
}
