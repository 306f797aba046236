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

    public init?(context: TLSContext) {
        guard let ssl = SSL_new(context.context) else { return nil }
        guard let input = BIO_new(BIO_s_mem()), let output = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            return nil
        }
        herald_bio_mem_retry_when_empty(input)
        herald_bio_mem_retry_when_empty(output)
        // The SSL object owns both BIOs from here (freed with it).
        SSL_set_bio(ssl, input, output)
        SSL_set_accept_state(ssl)
        self.ssl = ssl
        self.input = input
        self.output = output
    }

    deinit {
        SSL_free(ssl)
    }

    public var isHandshakeComplete: Bool { SSL_is_init_finished(ssl) == 1 }

    /// The negotiated protocol ("TLSv1.3", "TLSv1.2").
    public var version: String { String(cString: SSL_get_version(ssl)) }

    public enum Outcome: Equatable {
        /// Consumed; plaintext (if any) was handed over.
        case progress
        /// The peer sent close_notify: no more plaintext will come.
        case closed
        /// A handshake or record failure (garbage, a bad MAC, a version or
        /// cipher we refuse, a renegotiation attempt): end the connection.
        case failed(String)
    }

    /// Takes `ciphertext` from the socket, advances the handshake, and hands
    /// every byte of plaintext it yields to `plaintext`, in `scratch`-sized
    /// pieces. What OpenSSL has to say back (handshake messages, alerts,
    /// session tickets) waits in `pendingOutput`.
    public func receive(_ ciphertext: UnsafeRawBufferPointer, scratch: UnsafeMutableRawBufferPointer,
                        _ plaintext: (UnsafeMutableRawBufferPointer) -> Void) -> Outcome {
        if ciphertext.count > 0 {
            // A memory BIO takes everything it is given.
            _ = BIO_write(input, ciphertext.baseAddress, Int32(ciphertext.count))
        }
        if !isHandshakeComplete {
            let result = SSL_do_handshake(ssl)
            if result != 1 {
                switch SSL_get_error(ssl, result) {
                case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: return .progress
                default: return .failed(TLSContext.lastError())
                }
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
