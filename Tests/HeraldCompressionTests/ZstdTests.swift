import Testing
@testable import HeraldCompression

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
