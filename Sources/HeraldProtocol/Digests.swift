import CCrypto

/// SHA-1 (FIPS 180-4), needed only for the WebSocket accept value (RFC 6455
/// §4.2.2 step 5.4): a fixed transform there, not a security property.
/// libcrypto's, which uses the CPU's SHA extensions when present.
public enum SHA1 {
    public static let digestBytes = 20

    /// The 20-byte digest of `bytes`.
    public static func hash(_ bytes: some Collection<UInt8>) -> [UInt8] {
        oneShot(bytes, digestBytes) { CCrypto.SHA1($0, $1, $2) }
    }
}

/// SHA-256 (FIPS 180-4), libcrypto's: idempotency keys, HMAC-SHA256.
public enum SHA256 {
    public static let digestBytes = 32

    /// The 32-byte digest of `bytes`.
    public static func hash(_ bytes: some Collection<UInt8>) -> [UInt8] {
        oneShot(bytes, digestBytes) { CCrypto.SHA256($0, $1, $2) }
    }
}

/// HMAC-SHA256 (RFC 2104), libcrypto's: HS256 connection tokens (RFC 7518 §3.2).
public enum HMACSHA256 {
    public static func authenticate(_ message: some Collection<UInt8>, key: some Collection<UInt8>) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: SHA256.digestBytes)
        var length: UInt32 = 0
        // A non-null key pointer even for an empty key (HMAC reads NULL as "the last key").
        let keyBytes = key.isEmpty ? [0] : Array(key)
        keyBytes.withUnsafeBytes { keyBuffer in
            withContiguous(message) { message in
                _ = HMAC(EVP_sha256(), keyBuffer.baseAddress, Int32(key.count),
                         message.baseAddress?.assumingMemoryBound(to: UInt8.self), message.count, &digest, &length)
            }
        }
        precondition(Int(length) == SHA256.digestBytes, "HMAC-SHA256 gives 32 bytes")
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
