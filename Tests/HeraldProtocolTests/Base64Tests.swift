import Testing

@testable import HeraldProtocol

@Suite struct Base64Tests {
    /// RFC 4648 §10.
    static let vectors: [(String, String)] = [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy"),
    ]

    @Test func encodesRFCVectors() {
        for (plain, encoded) in Self.vectors {
            #expect(Base64.encode(Array(plain.utf8)) == encoded)
        }
    }

    @Test func decodesRFCVectors() {
        for (plain, encoded) in Self.vectors {
            #expect(Base64.decode(encoded) == Array(plain.utf8))
        }
    }

    @Test(arguments: ["Zg=", "Zg", "Z===", "====", "Zm9v\n", " Zm9v", "Zh==", "Zm9=", "Zm=v", "Zm9vYg==Zm9v", "Zm9v-_==", "Zg==="])
    func rejectsNonCanonicalInput(input: String) {
        #expect(Base64.decode(input) == nil)
        #expect(Array(input.utf8).withUnsafeBufferPointer { Base64.decodedCount($0) } == nil)
    }

    /// `decodedCount` (the handshake's key check) counts what `decode` would produce.
    @Test func decodedCountAgreesWithDecode() {
        for (plain, encoded) in Self.vectors {
            #expect(Array(encoded.utf8).withUnsafeBufferPointer { Base64.decodedCount($0) } == plain.utf8.count)
        }
        let key = Array("dGhlIHNhbXBsZSBub25jZQ==".utf8)
        #expect(key.withUnsafeBufferPointer { Base64.decodedCount($0) } == 16)
    }

    @Test func roundTripsEveryByteValue() {
        let all = (0...255).map { UInt8($0) }
        for length in 0...all.count where length % 37 == 0 || length < 5 {
            let input = Array(all.prefix(length))
            #expect(Base64.decode(Base64.encode(input)) == input)
        }
        #expect(Base64.encode([0xFB, 0xFF]) == "+/8=")
    }
}
