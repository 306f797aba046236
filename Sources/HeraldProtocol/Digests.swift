import CCrypto

/// SHA-1 (FIPS 180-4), needed only for the WebSocket accept value (RFC 6455
/// §4.2.2 step 5.4): a fixed transform there, not a security property.
/// libcrypto's, which uses the CPU's SHA extensions when present.
public enum SHA1 {
    public static let digestBytes = 20

    /// The 20-byte digest of `bytes`: a context on the stack, not the
    /// one-shot `SHA1()` (see CCrypto's shim.h).
    public static func hash(_ bytes: some Collection<UInt8>) -> [UInt8] {
        digest(bytes, digestBytes, SHA_CTX(), initialize: { SHA1_Init(&$0) }, update: { SHA1_Update(&$0, $1, $2) },
               finish: { SHA1_Final($0, &$1) })
    }

    /// The digest of `first` followed by `second`, handed to `body` from
    /// the stack: the accept value hashes the client's key and the GUID
    /// without joining them into a new array first.
    public static func withDigest<R>(of first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer,
                                     _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        var context = SHA_CTX()
        SHA1_Init(&context)
        SHA1_Update(&context, first.baseAddress, first.count)
        SHA1_Update(&context, second.baseAddress, second.count)
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: digestBytes) { digest in
            SHA1_Final(digest.baseAddress, &context)
            return body(UnsafeBufferPointer(digest))
        }
    }
}

/// SHA-256 (FIPS 180-4), libcrypto's: idempotency keys, HMAC-SHA256.
public enum SHA256 {
    public static let digestBytes = 32

    /// The 32-byte digest of `bytes`, like `SHA1.hash`.
    public static func hash(_ bytes: some Collection<UInt8>) -> [UInt8] {
        digest(bytes, digestBytes, SHA256_CTX(), initialize: { SHA256_Init(&$0) },
               update: { SHA256_Update(&$0, $1, $2) }, finish: { SHA256_Final($0, &$1) })
    }
}

/// HMAC-SHA256 (RFC 2104), libcrypto's: HS256 connection tokens (RFC 7518 §3.2).
public enum HMACSHA256 {
    /// SHA-256's block size (RFC 2104 §2: B = 64).
    static let blockBytes = 64

    /// RFC 2104 HMAC over libcrypto's SHA-256 contexts:
    /// H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ message)). Written out because OpenSSL
    /// 3.0's one-shot `HMAC()` fetches the digest and MAC from the provider
    /// and allocates contexts on every call: 2.4 µs for a token here, against
    /// ~0.6 µs for the same steps as below (C loops of 10^6 calls) — and
    /// every connection with a token pays it. RFC 4231's vectors pin it
    /// (ConnectionTokenTests).
    public static func authenticate(_ message: some Collection<UInt8>, key: some Collection<UInt8>) -> [UInt8] {
        // RFC 2104 §2: a key longer than B is hashed first; then zero-padded to B.
        var block = key.count > blockBytes ? SHA256.hash(key) : Array(key)
        block += [UInt8](repeating: 0, count: blockBytes - block.count)
        var inner = SHA256_CTX()
        var outer = SHA256_CTX()
        SHA256_Init(&inner)
        SHA256_Init(&outer)
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: blockBytes) { pad in
            for index in 0..<blockBytes { pad[index] = block[index] ^ 0x36 }
            SHA256_Update(&inner, pad.baseAddress, blockBytes)
            for index in 0..<blockBytes { pad[index] = block[index] ^ 0x5C }
            SHA256_Update(&outer, pad.baseAddress, blockBytes)
        }
        withContiguous(message) { message in _ = SHA256_Update(&inner, message.baseAddress, message.count) }
        var digest = [UInt8](repeating: 0, count: SHA256.digestBytes)
        digest.withUnsafeMutableBufferPointer { digest in
            SHA256_Final(digest.baseAddress, &inner)
            SHA256_Update(&outer, digest.baseAddress, SHA256.digestBytes)
            SHA256_Final(digest.baseAddress, &outer)
        }
        return digest
    }
}

/// Equal contents, compared in time that depends only on the length
/// (libcrypto's `CRYPTO_memcmp`): a signature check that leaks nothing
/// about where a forged signature first differs.
public func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    guard !a.isEmpty else { return true }
    return a.withUnsafeBytes { a in b.withUnsafeBytes { b in CRYPTO_memcmp(a.baseAddress, b.baseAddress, a.count) == 0 } }
}

/// The digest of `bytes` through one of libcrypto's low-level contexts
/// (`SHA_CTX`, `SHA256_CTX`), kept on the stack.
private func digest<Context>(_ bytes: some Collection<UInt8>, _ digestBytes: Int, _ initial: Context,
                             initialize: (inout Context) -> Int32,
                             update: (inout Context, UnsafeRawPointer?, Int) -> Int32,
                             finish: (UnsafeMutablePointer<UInt8>?, inout Context) -> Int32) -> [UInt8] {
    var context = initial
    var digest = [UInt8](repeating: 0, count: digestBytes)
    _ = initialize(&context)
    withContiguous(bytes) { input in _ = update(&context, input.baseAddress, input.count) }
    digest.withUnsafeMutableBufferPointer { output in _ = finish(output.baseAddress, &context) }
    return digest
}

/// `bytes` as one contiguous buffer (copied only when it is not one already).
private func withContiguous<R>(_ bytes: some Collection<UInt8>, _ body: (UnsafeRawBufferPointer) -> R) -> R {
    if let result = bytes.withContiguousStorageIfAvailable({ body(UnsafeRawBufferPointer($0)) }) { return result }
    return Array(bytes).withUnsafeBytes(body)
}
