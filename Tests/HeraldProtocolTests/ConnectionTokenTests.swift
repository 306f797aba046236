import HeraldProtocol
import Testing

/// SHA-256 and HMAC against the standards' own vectors, then HS256 tokens
/// signed by this test's independent helper (HMAC over base64url pieces).
struct SHA256Tests {
    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }

    @Test func fips180Vectors() {
        #expect(Self.hex(SHA256.hash(Array("abc".utf8)))
            == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Self.hex(SHA256.hash([UInt8]()))
            == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Self.hex(SHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)))
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test func rfc4231HMACVectors() {
        // Test case 1: key 0x0b × 20, "Hi There".
        #expect(Self.hex(HMACSHA256.authenticate(Array("Hi There".utf8), key: [UInt8](repeating: 0x0b, count: 20)))
            == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        // Test case 2: key "Jefe".
        #expect(Self.hex(HMACSHA256.authenticate(Array("what do ya want for nothing?".utf8), key: Array("Jefe".utf8)))
            == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        // Test case 6: a key longer than the block is hashed first.
        #expect(Self.hex(HMACSHA256.authenticate(
            Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
            key: [UInt8](repeating: 0xaa, count: 131)))
            == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }
}

struct ConnectionTokenTests {
    static let secret = Array("s3cret".utf8)
    static let now: Int64 = 1_800_000_000

    static func sign(header: String = #"{"alg":"HS256","typ":"JWT"}"#, claims: String,
                     secret: [UInt8] = ConnectionTokenTests.secret) -> String {
        let input = Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(claims.utf8))
        return input + "." + Base64URL.encode(HMACSHA256.authenticate(Array(input.utf8), key: secret))
    }

    @Test func validTokenYieldsSubjectGrantAndExpiry() throws {
        let token = Self.sign(claims: #"{"sub":"u1","topics":["news","prices/*"],"exp":1800000600}"#)
        let verified = try ConnectionToken.verify(token, secret: Self.secret, nowSeconds: Self.now).get()
        #expect(verified.subject == "u1")
        #expect(verified.expiresAt == 1_800_000_600)
        #expect(verified.grant.allows("news"))
        #expect(verified.grant.allows("prices/eur"))
        #expect(verified.grant.allows("prices/"))
        #expect(!verified.grant.allows("newsroom"))
        #expect(!verified.grant.allows("price"))
    }

    @Test func aKnownTokenFromAnotherImplementationVerifies() throws {
        // Signed with Python's hmac and hashlib, independently of this module.
        let token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1MSIsInRvcGljcyI6WyJhIl19"
            + ".BErx5KMGMc2EB7aQykkpQsRmain2GK7EX8tJkiJSxNI"
        let verified = try ConnectionToken.verify(token, secret: Self.secret, nowSeconds: Self.now).get()
        #expect(verified.subject == "u1")
        #expect(verified.grant.allows("a"))
    }

    @Test func failures() {
        func reason(_ token: String) -> String? {
            if case .failure(let failure) = ConnectionToken.verify(token, secret: Self.secret, nowSeconds: Self.now) {
                return failure.reason
            }
            return nil
        }
        #expect(reason("") == "malformed token")
        #expect(reason("a.b") == "malformed token")
        #expect(reason("!!.e30.e30") == "malformed token")
        #expect(reason(Self.sign(claims: #"{"sub":"u"}"#, secret: Array("other".utf8))) == "bad token signature")
        #expect(reason(Self.sign(header: #"{"alg":"none"}"#, claims: #"{"sub":"u"}"#)) == "token algorithm must be HS256")
        #expect(reason(Self.sign(header: #"{"alg":"HS512"}"#, claims: #"{"sub":"u"}"#)) == "token algorithm must be HS256")
        #expect(reason(Self.sign(claims: #"{"exp":1799999900}"#)) == "token expired")
        #expect(reason(Self.sign(claims: #"{"exp":1799999980}"#)) == nil) // within the 30 s leeway
        #expect(reason(Self.sign(claims: #"{"nbf":1800000100}"#)) == "token not yet valid")
        // Absurd NumericDates are refused, not converted (Int64(1e300) traps).
        #expect(reason(Self.sign(claims: #"{"exp":1e300}"#)) == "bad exp claim")
        #expect(reason(Self.sign(claims: #"{"nbf":-1e300}"#)) == "bad nbf claim")
        #expect(reason(Self.sign(claims: #"{"topics":"all"}"#)) == "topics claim must be an array")
        #expect(reason(Self.sign(claims: #"{"topics":["bad topic"]}"#)) == "bad entry in topics claim")
        #expect(reason(Self.sign(claims: #"{"topics":["a*b*"]}"#)) == "bad entry in topics claim")
        #expect(reason(Self.sign(claims: #"[1,2]"#)) == "token claims are not a JSON object")
        // A tampered payload fails the signature.
        let good = Self.sign(claims: #"{"topics":["a"]}"#).split(separator: ".")
        let forged = good[0] + "." + Base64URL.encode(Array(#"{"topics":["*"]}"#.utf8)) + "." + good[2]
        #expect(reason(String(forged)) == "bad token signature")
    }

    @Test func noTopicsClaimAllowsNothingAndStarAllowsEverything() throws {
        let none = try ConnectionToken.verify(Self.sign(claims: #"{"sub":"u"}"#), secret: Self.secret,
                                              nowSeconds: Self.now).get()
        #expect(!none.grant.allows("anything"))
        let all = try ConnectionToken.verify(Self.sign(claims: #"{"topics":["*"]}"#), secret: Self.secret,
                                             nowSeconds: Self.now).get()
        #expect(all.grant.allows("anything"))
    }

    @Test func base64URLRoundTripWithoutPadding() {
        for length in 0..<40 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 250) }
            let text = Base64URL.encode(bytes)
            #expect(!text.contains("=") && !text.contains("+") && !text.contains("/"))
            #expect(Base64URL.decode(text) == bytes)
        }
        #expect(Base64URL.decode("a") == nil)
        #expect(Base64URL.decode("YQ==") == nil)
    }
}
