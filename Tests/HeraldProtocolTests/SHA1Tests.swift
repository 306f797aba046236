import Testing

@testable import HeraldProtocol

@Suite struct SHA1Tests {
    func digest(_ s: String) -> String { hex(SHA1.hash(Array(s.utf8))) }

    /// FIPS 180 / RFC 3174 §7.3 test vectors.
    @Test func standardVectors() {
        #expect(digest("") == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(digest("abc") == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(
            digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                == "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        #expect(digest("The quick brown fox jumps over the lazy dog") == "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12")
        #expect(hex(SHA1.hash(Array(repeating: UInt8(ascii: "a"), count: 1_000_000))) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    }

    @Test func digestIsTwentyBytes() {
        for length in [55, 56, 63, 64, 65] {
            #expect(SHA1.hash(Array(repeating: UInt8(1), count: length)).count == SHA1.digestBytes)
        }
    }
}
