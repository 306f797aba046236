import COpenSSL

/// The TLS 1.3 cipher suites herald's own record layer runs (RFC 8446
/// §B.4). The CCM suites are not enabled by OpenSSL's defaults; a
/// connection that negotiates one keeps its `SSL` object.
public enum TLS13Suite: UInt8, Sendable, CaseIterable {
    case aes128GCMSHA256 = 1
    case aes256GCMSHA384 = 2
    case chacha20Poly1305SHA256 = 3

    /// From the IANA code point (`SSL_CIPHER_get_protocol_id`).
    public init?(codePoint: UInt16) {
        switch codePoint {
        case 0x1301: self = .aes128GCMSHA256
        case 0x1302: self = .aes256GCMSHA384
        case 0x1303: self = .chacha20Poly1305SHA256
        default: return nil
        }
    }

    /// The AEAD key length (RFC 8446 §5.3: the key length of the AEAD).
    public var keyBytes: Int { self == .aes128GCMSHA256 ? 16 : 32 }
    /// The suite's hash length: the length of every traffic secret (§7.1).
    public var hashBytes: Int { self == .aes256GCMSHA384 ? 48 : 32 }

    var digest: OpaquePointer { self == .aes256GCMSHA384 ? EVP_sha384() : EVP_sha256() }
}

/// One direction's record protection state (RFC 8446 §7.3): the traffic
/// secret (kept only to derive the next one on a KeyUpdate, §7.2), the
/// AEAD key and IV derived from it, and the 64-bit record sequence number
/// (§5.3), which starts at 0 for every new key. 112 bytes, inline.
public struct TrafficKeys: Sendable {
    /// Every AEAD of RFC 8446 §B.4 takes a 12-byte nonce (iv_length is
    /// max(8 bytes, N_MIN) = 12 for AES-GCM and ChaCha20-Poly1305, §5.3).
    public static let ivBytes = 12

    /// Room for the longest hash of a supported suite (SHA-384) and the longest key (AES-256, ChaCha20).
    var secret = InlineArray<48, UInt8>(repeating: 0)
    var key = InlineArray<32, UInt8>(repeating: 0)
    var iv = InlineArray<12, UInt8>(repeating: 0)
    public internal(set) var sequence: UInt64 = 0

    /// Derives key and IV from `secret` (§7.3):
    /// `key = HKDF-Expand-Label(Secret, "key", "", key_length)`,
    /// `iv  = HKDF-Expand-Label(Secret, "iv", "", iv_length)`.
    public init(secret: some Collection<UInt8>, suite: TLS13Suite) {
        precondition(secret.count == suite.hashBytes, "a traffic secret is as long as the suite's hash")
        withUnsafeMutableBytes(of: &self.secret) { _ = $0.initializeMemory(as: UInt8.self, from: secret) }
        derive(suite: suite)
    }

    /// The next generation after a KeyUpdate (§7.2):
    /// `application_traffic_secret_N+1 = HKDF-Expand-Label(application_traffic_secret_N, "traffic upd", "", Hash.length)`;
    /// key and IV are derived again and the sequence number restarts at 0 (§5.3).
    public mutating func update(suite: TLS13Suite) {
        let next = withUnsafeBytes(of: &secret) { current in
            HKDF.expandLabel(secret: UnsafeRawBufferPointer(rebasing: current[0..<suite.hashBytes]),
                             label: "traffic upd", length: suite.hashBytes, digest: suite.digest)
        }
        withUnsafeMutableBytes(of: &secret) { _ = $0.initializeMemory(as: UInt8.self, from: next) }
        derive(suite: suite)
        sequence = 0
    }

    private mutating func derive(suite: TLS13Suite) {
        let (newKey, newIV) = withUnsafeBytes(of: &secret) { current in
            let secret = UnsafeRawBufferPointer(rebasing: current[0..<suite.hashBytes])
            return (HKDF.expandLabel(secret: secret, label: "key", length: suite.keyBytes, digest: suite.digest),
                    HKDF.expandLabel(secret: secret, label: "iv", length: Self.ivBytes, digest: suite.digest))
        }
        withUnsafeMutableBytes(of: &key) { _ = $0.initializeMemory(as: UInt8.self, from: newKey) }
        withUnsafeMutableBytes(of: &iv) { _ = $0.initializeMemory(as: UInt8.self, from: newIV) }
    }

    /// The per-record nonce (§5.3): the 64-bit sequence number in network
    /// byte order, left-padded with zeros to iv_length, XORed with the IV.
    func nonce() -> InlineArray<12, UInt8> {
        var nonce = iv
        for byte in 0..<8 {
            // Safe: byte < 8, so the shift is within UInt64 and 4 + byte < 12.
            nonce[4 + byte] ^= UInt8(truncatingIfNeeded: sequence >> (56 - 8 * UInt64(byte)))
        }
        return nonce
    }

    /// The AEAD key, `count` bytes of it.
    func withKey<R>(_ count: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        withUnsafeBytes(of: key) { body(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
    }
}

/// HKDF-Expand (RFC 5869 §2.3) and TLS 1.3's HKDF-Expand-Label (RFC 8446
/// §7.1) over libcrypto's HMAC. Used at the hand-over and on KeyUpdates
/// only, never per record.
enum HKDF {
    /// `HKDF-Expand-Label(Secret, Label, Context, Length) = HKDF-Expand(Secret, HkdfLabel, Length)`, where
    /// `HkdfLabel = uint16 length || opaque label<7..255> ("tls13 " + Label) || opaque context<0..255>`.
    static func expandLabel(secret: UnsafeRawBufferPointer, label: String, context: [UInt8] = [],
                            length: Int, digest: OpaquePointer) -> [UInt8] {
        let fullLabel = Array("tls13 \(label)".utf8)
        precondition(fullLabel.count <= 255 && context.count <= 255 && length <= 0xFFFF, "HkdfLabel field too long")
        var info: [UInt8] = [UInt8(length >> 8), UInt8(length & 0xFF), UInt8(fullLabel.count)]
        info += fullLabel
        info.append(UInt8(context.count))
        info += context
        return expand(prk: secret, info: info, length: length, digest: digest)
    }

    /// `T(0) = ""`, `T(i) = HMAC(PRK, T(i-1) || info || i)`; the first
    /// `length` bytes of `T(1) || T(2) || …` (RFC 5869 §2.3).
    static func expand(prk: UnsafeRawBufferPointer, info: [UInt8], length: Int, digest: OpaquePointer) -> [UInt8] {
        let hashBytes = Int(EVP_MD_get_size(digest))
        precondition(length <= 255 * hashBytes, "RFC 5869: L <= 255 * HashLen")
        var output: [UInt8] = []
        var previous: [UInt8] = []
        var counter: UInt8 = 1
        while output.count < length {
            let message = previous + info + [counter]
            var block = [UInt8](repeating: 0, count: hashBytes)
            var blockBytes: UInt32 = 0
            let done = message.withUnsafeBytes { messageBytes in
                HMAC(digest, prk.baseAddress, Int32(prk.count), messageBytes.baseAddress?.assumingMemoryBound(to: UInt8.self),
                     messageBytes.count, &block, &blockBytes)
            }
            precondition(done != nil && Int(blockBytes) == hashBytes, "HMAC failed")
            output += block
            previous = block
            counter &+= 1
        }
        return Array(output.prefix(length))
    }
}
