import COpenSSL

/// One server-side TLS connection over memory BIOs: the reactor feeds it
/// the ciphertext its io_uring receives produced and sends what it writes
/// out — OpenSSL never touches the socket, so no call blocks and no thread
/// is added (issue 10: TLS on the same io_uring loop).
///
/// Used by its connection's shard thread only.
public final class TLSSession {
    private let ssl: OpaquePointer
    /// Ciphertext from the peer (we write, OpenSSL reads).
    private var input: OpaquePointer
    /// Ciphertext for the peer (OpenSSL writes, we read).
    private var output: OpaquePointer
    /// A drained memory BIO keeps its largest buffer: one past this is
    /// replaced by a new, empty BIO (`trim`).
    static let idleBufferBytesMax = 512

    /// The application traffic secrets OpenSSL derived (RFC 8446 §7.1:
    /// client/server_application_traffic_secret_0), as its key-log
    /// callback reports them; what `handOver` gives herald's record layer.
    private var clientSecret = InlineArray<48, UInt8>(repeating: 0)
    private var serverSecret = InlineArray<48, UInt8>(repeating: 0)
    private var clientSecretBytes = 0
    private var serverSecretBytes = 0

    /// A server-side session (`client: false`), or a client's (the load generator's).
    public init?(context: TLSContext, client: Bool = false) {
        guard let ssl = SSL_new(context.context) else { return nil }
        guard let input = BIO_new(BIO_s_mem()), let output = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            return nil
        }
        herald_bio_mem_retry_when_empty(input)
        herald_bio_mem_retry_when_empty(output)
        // The SSL object owns both BIOs from here (freed with it).
        SSL_set_bio(ssl, input, output)
        if client { SSL_set_connect_state(ssl) } else { SSL_set_accept_state(ssl) }
        self.ssl = ssl
        self.input = input
        self.output = output
        // Unretained: the SSL object dies with this session (deinit).
        herald_ssl_set_app_data(ssl, Unmanaged.passUnretained(self).toOpaque())
    }

    deinit {
        SSL_free(ssl)
        withUnsafeMutableBytes(of: &clientSecret) { OPENSSL_cleanse($0.baseAddress, $0.count) }
        withUnsafeMutableBytes(of: &serverSecret) { OPENSSL_cleanse($0.baseAddress, $0.count) }
    }

    /// `SSL_CTX_set_keylog_callback`: OpenSSL's NSS key-log lines,
    /// `LABEL <client random, hex> <secret, hex>`, for its session.
    static let keyLogCallback: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?) -> Void = { ssl, line in
        guard let ssl, let line, let data = herald_ssl_get_app_data(ssl) else { return }
        let session = Unmanaged<TLSSession>.fromOpaque(data).takeUnretainedValue()
        let fields = String(cString: line).split(separator: " ")
        guard fields.count == 3 else { return }
        switch fields[0] {
        case "CLIENT_TRAFFIC_SECRET_0":
            session.clientSecretBytes = TLSSession.decodeHex(fields[2], into: &session.clientSecret)
        case "SERVER_TRAFFIC_SECRET_0":
            session.serverSecretBytes = TLSSession.decodeHex(fields[2], into: &session.serverSecret)
        default:
            break
        }
    }

    /// Decodes up to 48 bytes of hex; returns the count (0 when malformed).
    private static func decodeHex(_ hex: Substring, into bytes: inout InlineArray<48, UInt8>) -> Int {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0, digits.count / 2 <= 48 else { return 0 }
        func value(_ digit: UInt8) -> UInt8? {
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        for index in 0..<digits.count / 2 {
            guard let high = value(digits[2 * index]), let low = value(digits[2 * index + 1]) else { return 0 }
            bytes[index] = high << 4 | low
        }
        return digits.count / 2
    }

    public var isHandshakeComplete: Bool { SSL_is_init_finished(ssl) == 1 }

    /// The handshake resumed a session (a ticket), skipping the certificate.
    public var isResumed: Bool { SSL_session_reused(ssl) == 1 }

    /// The negotiated protocol ("TLSv1.3", "TLSv1.2").
    public var version: String { String(cString: SSL_get_version(ssl)) }

    public enum Outcome {
        /// Consumed; plaintext (if any) was handed over.
        case progress
        /// The peer sent close_notify: no more plaintext will come.
        case closed
        /// A handshake or record failure (garbage, a bad MAC, a version or
        /// cipher we refuse, a renegotiation attempt): end the connection.
        case failed(String)
        /// The TLS 1.3 handshake completed and herald's record layer takes
        /// over (`receive(handOver: true)`): this session is done with and
        /// should be freed; `remaining` is ciphertext that arrived after
        /// the client's Finished, for the record layer.
        case handedOver(TLSRecordLayer, remaining: [UInt8])
    }

    /// Takes `ciphertext` from the socket, advances the handshake, and hands
    /// every byte of plaintext it yields to `plaintext`, in `scratch`-sized
    /// pieces. What OpenSSL has to say back (handshake messages, alerts,
    /// session tickets) waits in `pendingOutput`.
    ///
    /// With `handOver`, a TLS 1.3 handshake that completes here ends in
    /// `.handedOver` (when the suite is one herald's record layer runs)
    /// instead of OpenSSL reading on.
    public func receive(_ ciphertext: UnsafeRawBufferPointer, scratch: UnsafeMutableRawBufferPointer,
                        handOver: Bool = false, _ plaintext: (UnsafeMutableRawBufferPointer) -> Void) -> Outcome {
        if ciphertext.count > 0 {
            // A memory BIO takes everything it is given.
            _ = BIO_write(input, ciphertext.baseAddress, Int32(ciphertext.count))
        }
        if !isHandshakeComplete {
            let outputBefore = pendingOutput
            let result = SSL_do_handshake(ssl)
            if result != 1 {
                switch SSL_get_error(ssl, result) {
                case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: return .progress
                default: return .failed(TLSContext.lastError())
                }
            }
            if handOver, let layer = makeRecordLayer(outputBefore: outputBefore) {
                return .handedOver(layer, remaining: takeAll(input))
            }
        }
        while true {
            let count = SSL_read(ssl, scratch.baseAddress, Int32(scratch.count))
            if count > 0 {
                plaintext(UnsafeMutableRawBufferPointer(rebasing: scratch[0..<Int(count)]))
                continue
            }
            switch SSL_get_error(ssl, count) {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: return .progress
            case SSL_ERROR_ZERO_RETURN: return .closed
            default: return .failed(TLSContext.lastError())
            }
        }
    }

    /// The record layer that continues this connection, when the handshake
    /// that just completed allows it: TLS 1.3, a suite herald runs, both
    /// application secrets seen, and nothing buffered inside OpenSSL
    /// (OpenSSL reads one record at a time from its BIO when read-ahead is
    /// off, its default, so what follows the client's Finished is still in
    /// `input`). The records OpenSSL wrote in the call that completed the
    /// handshake are its NewSessionTickets (RFC 8446 §4.6.1), sealed under
    /// the server's first application key: their count is where the record
    /// layer's write sequence starts (§5.3), and their bytes, with anything
    /// else unsent, go out first.
    private func makeRecordLayer(outputBefore: Int) -> TLSRecordLayer? {
        guard SSL_version(ssl) == TLS1_3_VERSION, let cipher = SSL_get_current_cipher(ssl),
              let suite = TLS13Suite(codePoint: SSL_CIPHER_get_protocol_id(cipher)),
              clientSecretBytes == suite.hashBytes, serverSecretBytes == suite.hashBytes,
              SSL_has_pending(ssl) == 0 else { return nil }
        let output = takeAll(output)
        var offset = outputBefore
        var records: UInt64 = 0
        while offset + TLSRecord.headerBytes <= output.count,
              output[offset] == TLSRecord.ContentType.applicationData.rawValue {
            offset += TLSRecord.headerBytes + (Int(output[offset + 3]) << 8 | Int(output[offset + 4]))
            records += 1
        }
        guard offset == output.count else {
            // Not whole protected records: leave it all to OpenSSL.
            output.withUnsafeBytes { _ = BIO_write(self.output, $0.baseAddress, Int32($0.count)) }
            return nil
        }
        return withUnsafeBytes(of: &clientSecret) { client in
            withUnsafeBytes(of: &serverSecret) { server in
                TLSRecordLayer(suite: suite, clientSecret: client.prefix(suite.hashBytes),
                               serverSecret: server.prefix(suite.hashBytes), serverRecordsSent: records,
                               unsentOutput: output)
            }
        }
    }

    /// Everything a memory BIO holds, read out.
    private func takeAll(_ bio: OpaquePointer) -> [UInt8] {
        let count = Int(BIO_ctrl_pending(bio))
        guard count > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: count)
        let read = bytes.withUnsafeMutableBytes { BIO_read(bio, $0.baseAddress, Int32(count)) }
        precondition(Int(read) == count, "a memory BIO gives what it holds")
        return bytes
    }

    /// Encrypts all of `plaintext` into `pendingOutput` (a memory BIO never
    /// refuses, so one call writes everything). False on a failure.
    public func write(_ plaintext: UnsafeRawBufferPointer) -> Bool {
        guard plaintext.count > 0 else { return true }
        return SSL_write(ssl, plaintext.baseAddress, Int32(plaintext.count)) == Int32(plaintext.count)
    }

    /// Whether `close` queued our close_notify.
    public private(set) var closeQueued = false

    /// Queues the close_notify alert (RFC 8446 §6.1: each party sends one
    /// before closing its write side, so the peer can tell the end from a
    /// truncation attack) into `pendingOutput`. Once.
    public func close() {
        guard !closeQueued else { return }
        closeQueued = true
        _ = SSL_shutdown(ssl)  // 0: ours is queued, the peer's not yet read
    }

    /// Ciphertext waiting to be sent.
    public var pendingOutput: Int { Int(BIO_ctrl_pending(output)) }

    /// Gives back what an idle connection does not need: a memory BIO that
    /// is empty but still holds a large buffer (a burst of records left it)
    /// is replaced by a new one, so an idle TLS connection keeps its `SSL`
    /// and two small BIOs, not the high-water mark of its traffic
    /// (`SSL_MODE_RELEASE_BUFFERS` does the same for OpenSSL's own record
    /// buffers). Call when the connection's input and output are drained.
    public func trim() {
        if BIO_ctrl_pending(input) == 0, herald_bio_mem_capacity(input) > Self.idleBufferBytesMax,
           let fresh = BIO_new(BIO_s_mem()) {
            herald_bio_mem_retry_when_empty(fresh)
            SSL_set0_rbio(ssl, fresh)  // frees the old one
            input = fresh
        }
        if BIO_ctrl_pending(output) == 0, herald_bio_mem_capacity(output) > Self.idleBufferBytesMax,
           let fresh = BIO_new(BIO_s_mem()) {
            herald_bio_mem_retry_when_empty(fresh)
            SSL_set0_wbio(ssl, fresh)
            output = fresh
        }
    }

    /// Moves up to `buffer.count` bytes of pending ciphertext into `buffer`.
    public func takeOutput(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard buffer.count > 0 else { return 0 }
        return max(0, Int(BIO_read(output, buffer.baseAddress, Int32(buffer.count))))
    }
}
