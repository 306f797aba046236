import COpenSSL

/// One thread's AEAD contexts for herald's TLS 1.3 record layer: an
/// `EVP_CIPHER_CTX` per suite and direction, made at first use and kept,
/// so a record costs a key set-up and the cipher itself — no allocation,
/// no algorithm lookup. Connections hold only their keys (`TrafficKeys`);
/// this is what makes a handed-over connection cost tens of bytes instead
/// of OpenSSL's kilobytes.
///
/// Used by one thread only (a ring's), like the connections it serves.
public final class RecordCrypto {
    /// RFC 8446 §5.2: every TLS 1.3 AEAD here has a 16-byte tag.
    public static let tagBytes = 16

    private var sealContexts: [OpaquePointer?] = Array(repeating: nil, count: TLS13Suite.allCases.count + 1)
    private var openContexts: [OpaquePointer?] = Array(repeating: nil, count: TLS13Suite.allCases.count + 1)

    /// Records sealed under one key before herald sends a KeyUpdate and
    /// moves to the next (RFC 8446 §5.5: AES-GCM may protect at most
    /// 2^24.5 full-size records per key; 2^24 leaves room for the few
    /// records one send adds past the check).
    public static let writeRecordsPerKeyDefault: UInt64 = 1 << 24
    public let writeRecordsPerKeyMax: UInt64

    /// KeyUpdates handled by this thread's connections (for the metrics).
    public internal(set) var keyUpdatesReceived = 0
    public internal(set) var keyUpdatesSent = 0

    public init(writeRecordsPerKeyMax: UInt64 = RecordCrypto.writeRecordsPerKeyDefault) {
        precondition(writeRecordsPerKeyMax > 0, "at least one record per key")
        self.writeRecordsPerKeyMax = writeRecordsPerKeyMax
    }

    deinit {
        for context in sealContexts + openContexts { if let context { EVP_CIPHER_CTX_free(context) } }
    }

    private func context(_ suite: TLS13Suite, sealing: Bool) -> OpaquePointer {
        let slot = Int(suite.rawValue)
        if let made = sealing ? sealContexts[slot] : openContexts[slot] { return made }
        let name = switch suite {
        case .aes128GCMSHA256: "AES-128-GCM"
        case .aes256GCMSHA384: "AES-256-GCM"
        case .chacha20Poly1305SHA256: "ChaCha20-Poly1305"
        }
        // Programmer errors if they fail: the suite was negotiated by this
        // very libcrypto, and a 12-byte IV is each cipher's default.
        guard let cipher = EVP_CIPHER_fetch(nil, name, nil), let context = EVP_CIPHER_CTX_new() else {
            preconditionFailure("libcrypto has no \(name)")
        }
        precondition(EVP_CipherInit_ex2(context, cipher, nil, nil, sealing ? 1 : 0, nil) == 1, "EVP init \(name)")
        EVP_CIPHER_free(cipher)  // the context keeps its own reference
        if sealing { sealContexts[slot] = context } else { openContexts[slot] = context }
        return context
    }

    /// Sets the record's key and nonce (§5.3: the IV XOR the sequence number).
    private func begin(_ context: OpaquePointer, keys: TrafficKeys, suite: TLS13Suite, sealing: Bool) -> Bool {
        var nonce = keys.nonce()
        return withUnsafeBytes(of: &nonce) { nonceBytes in
            keys.withKey(suite.keyBytes) { key in
                EVP_CipherInit_ex2(context, nil, key.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                   nonceBytes.baseAddress!.assumingMemoryBound(to: UInt8.self), sealing ? 1 : 0, nil) == 1
            }
        }
    }

    /// Seals one record in place (RFC 8446 §5.2): `record` is the 5-byte
    /// header, then the inner plaintext (content || type || padding), then
    /// 16 bytes for the tag. The header is the additional data; the inner
    /// plaintext is encrypted where it lies.
    func seal(_ record: UnsafeMutableRawBufferPointer, keys: TrafficKeys, suite: TLS13Suite) {
        let context = context(suite, sealing: true)
        let header = TLSRecord.headerBytes
        // Safe: the caller sized the record as header + inner plaintext + tag.
        let innerBytes = record.count - header - Self.tagBytes
        let start = record.baseAddress!.assumingMemoryBound(to: UInt8.self)
        var written: Int32 = 0
        let ok = begin(context, keys: keys, suite: suite, sealing: true)
            && EVP_EncryptUpdate(context, nil, &written, start, Int32(header)) == 1
            && EVP_EncryptUpdate(context, start + header, &written, start + header, Int32(innerBytes)) == 1
            && EVP_EncryptFinal_ex(context, start + header + Int(written), &written) == 1
            && EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_GET_TAG, Int32(Self.tagBytes),
                                   start + header + innerBytes) == 1
        // Sealing with a valid key and a buffer we sized cannot fail.
        precondition(ok, "AEAD seal failed")
    }

    /// Opens one record in place: `record` is the header, the encrypted
    /// inner plaintext and the tag. True when the tag verifies (the inner
    /// plaintext is then in `record[5..<count - 16]`); false means
    /// bad_record_mac (§5.2).
    func open(_ record: UnsafeMutableRawBufferPointer, keys: TrafficKeys, suite: TLS13Suite) -> Bool {
        let context = context(suite, sealing: false)
        let header = TLSRecord.headerBytes
        guard record.count >= header + Self.tagBytes else { return false }
        let innerBytes = record.count - header - Self.tagBytes
        let start = record.baseAddress!.assumingMemoryBound(to: UInt8.self)
        var written: Int32 = 0
        let ready = begin(context, keys: keys, suite: suite, sealing: false)
            && EVP_DecryptUpdate(context, nil, &written, start, Int32(header)) == 1
            && EVP_DecryptUpdate(context, start + header, &written, start + header, Int32(innerBytes)) == 1
            && EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_SET_TAG, Int32(Self.tagBytes),
                                   start + header + innerBytes) == 1
        guard ready else { return false }
        return EVP_DecryptFinal_ex(context, start + header + Int(written), &written) == 1
    }
}
