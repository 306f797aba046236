import COpenSSL

/// The server's TLS configuration (an OpenSSL `SSL_CTX`): certificate
/// chain and key, TLS 1.2 and 1.3 only, modern cipher suites, ALPN
/// `http/1.1`, no renegotiation, `SSL_MODE_RELEASE_BUFFERS` (an idle
/// connection keeps no record buffers). Shared by every shard: OpenSSL's
/// `SSL_CTX` is safe to make sessions from on many threads.
public final class TLSContext: @unchecked Sendable {
    // @unchecked: the SSL_CTX is configured in init and only read after
    // (SSL_new), which OpenSSL allows from any thread.
    let context: OpaquePointer
    /// Seal and open session tickets; referenced by the SSL_CTX (ex_data 0).
    public let ticketKeys: TicketKeys?

    public struct LoadError: Error, CustomStringConvertible {
        public let description: String
    }

    /// TLS 1.2 suites (1.3's are OpenSSL's defaults, all AEAD): forward
    /// secret ECDHE with AES-GCM or ChaCha20-Poly1305, ECDSA or RSA keys.
    static let tls12Ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
        + "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
        + "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

    /// Loads a PEM certificate chain (leaf first) and its private key;
    /// tickets are sealed with `ticketKeys` (new in-memory keys when nil).
    public init(certificateChainFile: String, privateKeyFile: String, ticketKeys: TicketKeys? = nil) throws {
        guard let context = SSL_CTX_new(TLS_server_method()) else { throw LoadError(description: Self.lastError()) }
        self.context = context
        let keys = try ticketKeys ?? TicketKeys()
        self.ticketKeys = keys
        SSL_CTX_set_ex_data(context, 0, Unmanaged.passUnretained(keys).toOpaque())
        guard SSL_CTX_set_tlsext_ticket_key_evp_cb(context, TicketKeys.callback) == 1 else {
            throw LoadError(description: "ticket keys: \(Self.lastError())")
        }
        guard herald_ssl_ctx_tls12_minimum(context) == 1 else { throw LoadError(description: Self.lastError()) }
        herald_ssl_ctx_harden(context)
        _ = herald_ssl_ctx_set_mode(context, herald_ssl_mode_release_buffers())
        guard SSL_CTX_set_cipher_list(context, Self.tls12Ciphers) == 1 else {
            throw LoadError(description: "cipher list: \(Self.lastError())")
        }
        herald_ssl_ctx_alpn_http11(context)
        herald_ssl_ctx_no_session_cache(context)
        // OpenSSL reports each secret it derives as a key-log line; the
        // application traffic secrets are what herald's own record layer
        // needs after a TLS 1.3 handshake (TLSSession.handOver).
        SSL_CTX_set_keylog_callback(context, TLSSession.keyLogCallback)
        guard SSL_CTX_use_certificate_chain_file(context, certificateChainFile) == 1 else {
            throw LoadError(description: "certificate \(certificateChainFile): \(Self.lastError())")
        }
        guard SSL_CTX_use_PrivateKey_file(context, privateKeyFile, SSL_FILETYPE_PEM) == 1 else {
            throw LoadError(description: "key \(privateKeyFile): \(Self.lastError())")
        }
        guard SSL_CTX_check_private_key(context) == 1 else {
            throw LoadError(description: "the key does not match the certificate: \(Self.lastError())")
        }
    }

    private init(context: OpaquePointer) {
        self.context = context
        ticketKeys = nil
    }

    /// A client configuration for the load generator: TLS 1.2 and 1.3,
    /// released buffers, and no certificate verification — it measures the
    /// server, whatever certificate it has (never use it to reach anything
    /// that matters).
    public static func unverifiedClient() throws -> TLSContext {
        guard let context = SSL_CTX_new(TLS_client_method()) else { throw LoadError(description: lastError()) }
        let made = TLSContext(context: context)
        guard herald_ssl_ctx_tls12_minimum(context) == 1 else { throw LoadError(description: lastError()) }
        _ = herald_ssl_ctx_set_mode(context, herald_ssl_mode_release_buffers())
        SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
        return made
    }

    deinit {
        SSL_CTX_free(context)
    }

    /// OpenSSL's error queue, emptied, as one line.
    static func lastError() -> String {
        var parts: [String] = []
        while true {
            let code = ERR_get_error()
            guard code != 0 else { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            parts.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return parts.isEmpty ? "unknown error" : parts.joined(separator: "; ")
    }
}
