import CCrypto

/// SHA-1 (FIPS 180-4), needed only for the WebSocket accept value (RFC 6455
/// §4.2.2 step 5.4): a fixed transform there, not a security property.
/// libcrypto's, which uses the CPU's SHA extensions when present.
public enum SHA1 {
    public static let digestBytes = 20

    /// The 20-byte digest of `bytes`.
    /// A context on the stack, not the one-shot `SHA1()` (see CCrypto's shim.h).
    public static func hash(_ bytes: some Collection<UInt8>) -> [UInt8] {
        oneShot(bytes, digestBytes) { input, count, output in
            var context = SHA_CTX()
            SHA1_Init(&context)
            SHA1_Update(&context, input, count)
            SHA1_Final(output, &context)
            return output
        }
    }
}

/// SHA-256 (FIPS 180-4), libcrypto's: idempotency keys, HMAC-SHA256.
public enum SHA256 {
    public static let digestBytes = 32

    /// The 32-byte digest of `bytes`.
    /// A context on the stack, like `SHA1.hash`.
    public static func hash(_ bytes: some Collection<UInt8>) -> [UInt8] {
        oneShot(bytes, digestBytes) { input, count, output in
            var context = SHA256_CTX()
            SHA256_Init(&context)
            SHA256_Update(&context, input, count)
            SHA256_Final(output, &context)
            return output
        }
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
    /// a few hundred ns for the four or five blocks hashed below — and every
    /// connection with a token pays it. RFC 4231's vectors pin it
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

public func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    guard !a.isEmpty else { return true }
    return a.withUnsafeBytes { a in b.withUnsafeBytes { b in CRYPTO_memcmp(a.baseAddress, b.baseAddress, a.count) == 0 } }
}

/// libcrypto's one-shot digest `function(input, length, output)` of `bytes`.
private func oneShot(_ bytes: some Collection<UInt8>, _ digestBytes: Int,
                     _ function: (UnsafePointer<UInt8>?, Int, UnsafeMutablePointer<UInt8>?) -> UnsafeMutablePointer<UInt8>?)
    -> [UInt8] {
    var digest = [UInt8](repeating: 0, count: digestBytes)
    withContiguous(bytes) { input in
        digest.withUnsafeMutableBufferPointer { output in
            _ = function(input.baseAddress?.assumingMemoryBound(to: UInt8.self), input.count, output.baseAddress)
        }
    }
    return digest
}

/// `bytes` as one contiguous buffer (copied only when it is not one already).
private func withContiguous<R>(_ bytes: some Collection<UInt8>, _ body: (UnsafeRawBufferPointer) -> R) -> R {
    if let result = bytes.withContiguousStorageIfAvailable({ body(UnsafeRawBufferPointer($0)) }) { return result }
    return Array(bytes).withUnsafeBytes(body)
}
