import HeraldCompression
import Testing

/// Round trips through our deflater and inflater, and the RFC 7692 §7.2.3.1
/// example, which an independent implementation produced.
struct PerMessageDeflateTests {
    @Test func rfc7692ExampleInflates() throws {
        // "Hello" compressed without context takeover (RFC 7692 §7.2.3.1).
        let compressed: [UInt8] = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
        let inflater = MessageInflater()
        let result = compressed.withUnsafeBytes { inflater.decompress($0, bytesMax: 1024).map { Array($0) } }
        #expect(try result.get() == Array("Hello".utf8))
    }

    @Test func roundTripRepetitiveText() throws {
        let text = Array(String(repeating: "{\"type\":\"message\",\"topic\":\"prices\"}", count: 40).utf8)
        let deflater = MessageDeflater()
        let compressed = try #require(text.withUnsafeBytes { deflater.compress($0) })
        #expect(compressed.count < text.count / 4)
        #expect(Array(compressed.suffix(4)) != [0x00, 0x00, 0xFF, 0xFF])
        let inflater = MessageInflater()
        let back = compressed.withUnsafeBytes { inflater.decompress($0, bytesMax: 64 * 1024).map { Array($0) } }
        #expect(try back.get() == text)
    }

    @Test func eachMessageIsIndependent() throws {
        // No context takeover: the second message must inflate alone.
        let deflater = MessageDeflater()
        let first = Array(String(repeating: "alpha beta gamma ", count: 20).utf8)
        let second = Array(String(repeating: "alpha beta gamma delta ", count: 20).utf8)
        _ = first.withUnsafeBytes { deflater.compress($0) }
        let compressed = try #require(second.withUnsafeBytes { deflater.compress($0) })
        let inflater = MessageInflater()
        let back = compressed.withUnsafeBytes { inflater.decompress($0, bytesMax: 64 * 1024).map { Array($0) } }
        #expect(try back.get() == second)
    }

    @Test func incompressibleInputIsLeftAlone() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let noise = (0..<256).map { _ -> UInt8 in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
        #expect(noise.withUnsafeBytes { MessageDeflater().compress($0) } == nil)
    }

    @Test func inflatedSizeIsBounded() throws {
        let big = [UInt8](repeating: UInt8(ascii: "a"), count: 10_000)
        let compressed = try #require(big.withUnsafeBytes { MessageDeflater().compress($0) })
        let inflater = MessageInflater()
        let result = compressed.withUnsafeBytes { inflater.decompress($0, bytesMax: 9_999).map { Array($0) } }
        #expect(result == .failure(.tooLarge))
        let exact = compressed.withUnsafeBytes { inflater.decompress($0, bytesMax: 10_000).map { $0.count } }
        #expect(exact == .success(10_000))
    }

    @Test func garbageIsCorrupt() {
        let garbage: [UInt8] = [0xff, 0xff, 0xff, 0xff, 0x12, 0x34]
        let result = garbage.withUnsafeBytes { MessageInflater().decompress($0, bytesMax: 1024).map { Array($0) } }
        #expect(result == .failure(.corrupt))
    }
}
