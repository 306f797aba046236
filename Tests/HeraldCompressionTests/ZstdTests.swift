import Testing
@testable import HeraldCompression

/// One frame through `ZstdFrameDecoder` (what the load generator decodes
/// with), the dictionary given as bytes.
private enum ZstdDecompressor {
    static func decompress(_ frame: [UInt8], dictionary: [UInt8] = [], bytesMax: Int) -> [UInt8]? {
        let decoder = ZstdFrameDecoder()
        if !dictionary.isEmpty, !dictionary.withUnsafeBytes({ decoder.addDictionary(id: 1, $0) }) { return nil }
        return frame.withUnsafeBytes {
            decoder.decompress($0, dictionary: dictionary.isEmpty ? 0 : 1, bytesMax: bytesMax).map(Array.init)
        }
    }
}

@Suite struct ZstdTests {
    static func event(_ i: Int) -> [UInt8] {
        Array(#"{"type":"message","topic":"chat","seq":\#(i),"data":{"user":"u\#(i % 5)","text":"hello number \#(i % 7)","ok":true}}"#.utf8)
    }

    @Test func roundTripsWithoutADictionaryAndStatesTheSize() throws {
        let compressor = ZstdCompressor(level: 3)
        let message = Array(String(repeating: #"{"a":1,"b":[1,2,3]}"#, count: 20).utf8)
        let frame = try #require(message.withUnsafeBytes { compressor.compress($0) })
        #expect(frame.count < message.count)
        #expect(ZstdDecompressor.decompress(frame, bytesMax: message.count) == message)
        // The stated size is checked before anything is decompressed.
        #expect(ZstdDecompressor.decompress(frame, bytesMax: message.count - 1) == nil)
        // Incompressible input is not sent compressed.
        #expect([UInt8](repeating: 0x41, count: 1).withUnsafeBytes { compressor.compress($0) } == nil)
    }

    @Test func aTrainedDictionaryShrinksSmallMessages() throws {
        let samples = (0..<400).map(Self.event)
        let trained = try ZstdDictionary.train(samples: samples, capacity: 8_192).get()
        #expect(!trained.isEmpty && trained.count <= 8_192)
        let dictionary = try #require(ZstdDictionary(id: 1, bytes: trained, level: 3))
        let compressor = ZstdCompressor(level: 3)
        let message = Self.event(1_000)
        let with = try #require(message.withUnsafeBytes { compressor.compress($0, dictionary: dictionary) })
        let without = message.withUnsafeBytes { compressor.compress($0) }
        #expect(with.count < (without?.count ?? message.count) / 2)
        #expect(ZstdDecompressor.decompress(with, dictionary: trained, bytesMax: 4_096) == message)
        // The same context, without the dictionary again (it applies to one frame only).
        let plainAgain = try #require(Array(String(repeating: "abcabc", count: 40).utf8).withUnsafeBytes { compressor.compress($0) })
        #expect(ZstdDecompressor.decompress(plainAgain, bytesMax: 4_096) == Array(String(repeating: "abcabc", count: 40).utf8))
    }

    @Test func tooFewSamplesDoNotTrain() {
        let result = ZstdDictionary.train(samples: [[1, 2, 3]], capacity: 1_024)
        if case .success = result { Issue.record("trained from one three-byte sample") }
    }
}

@Suite struct ZstdFrameDecoderTests {
    @Test func decodesWithAndWithoutDictionariesAndRefusesWhatItMust() throws {
        let decoder = ZstdFrameDecoder()
        let long = Array(String(repeating: #"{"user":"alice","text":"on my way"},"#, count: 20).utf8)
        let plain = try #require(long.withUnsafeBytes { ZstdCompressor(level: 3).compress($0) })
        let out = plain.withUnsafeBytes { decoder.decompress($0, dictionary: 0, bytesMax: 1 << 20).map(Array.init) }
        #expect(out == long)
        #expect(plain.withUnsafeBytes { decoder.decompress($0, dictionary: 0, bytesMax: long.count - 1) } == nil,
                "over bytesMax: refused from the stated size")
        let text = Array(#"{"type":"message","topic":"chat","seq":1,"data":{"user":"u3","text":"message number 3"}}"#.utf8)
        let samples = (0..<200).map { Array(#"{"user":"u\#($0 % 7)","text":"message number \#($0)","room":"lobby"}"#.utf8) }
        let trained = try ZstdDictionary.train(samples: samples, capacity: 4096).get()
        let dictionary = try #require(ZstdDictionary(id: 7, bytes: trained, level: 3))
        let small = try #require(text.withUnsafeBytes { ZstdCompressor(level: 3).compress($0, dictionary: dictionary) })
        #expect(small.withUnsafeBytes { decoder.decompress($0, dictionary: 7, bytesMax: 1 << 20) } == nil,
                "a dictionary not held")
        #expect(trained.withUnsafeBytes { decoder.addDictionary(id: 7, $0) })
        #expect(small.withUnsafeBytes { decoder.decompress($0, dictionary: 7, bytesMax: 1 << 20).map(Array.init) } == text)
        var corrupt = small
        corrupt[corrupt.count - 1] ^= 0x55
        #expect(corrupt.withUnsafeBytes { decoder.decompress($0, dictionary: 7, bytesMax: 1 << 20) } == nil)
        #expect([UInt8]().withUnsafeBytes { decoder.addDictionary(id: 8, $0) } == false)
        #expect(decoder.dictionaryCount == 1)
    }
}
