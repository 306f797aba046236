import COpenSSL
import Foundation
@testable import HeraldTLS

/// A self-signed P-256 certificate and key written to a temporary
/// directory, made with libcrypto in-process.
enum TestCertificate {
    static let files: (certificate: String, key: String) = make()

    private static func make() -> (String, String) {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("herald-tls-tests-\(getpid())").path
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let keyContext = EVP_PKEY_CTX_new_from_name(nil, "EC", nil)
        var key: OpaquePointer?
        precondition(EVP_PKEY_keygen_init(keyContext) == 1 && EVP_PKEY_CTX_set_group_name(keyContext, "P-256") == 1
                     && EVP_PKEY_generate(keyContext, &key) == 1)
        EVP_PKEY_CTX_free(keyContext)
        let certificate = X509_new()
        X509_set_version(certificate, 2)
        ASN1_INTEGER_set(X509_get_serialNumber(certificate), 1)
        X509_gmtime_adj(X509_getm_notBefore(certificate), 0)
        X509_gmtime_adj(X509_getm_notAfter(certificate), 86_400)
        X509_set_pubkey(certificate, key)
        let name = X509_get_subject_name(certificate)
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, "localhost", -1, -1, 0)
        X509_set_issuer_name(certificate, name)
        precondition(X509_sign(certificate, key, EVP_sha256()) > 0)
        let certificatePath = directory + "/cert.pem", keyPath = directory + "/key.pem"
        let certificateFile = BIO_new_file(certificatePath, "w")
        PEM_write_bio_X509(certificateFile, certificate)
        BIO_free(certificateFile)
        let keyFile = BIO_new_file(keyPath, "w")
        PEM_write_bio_PrivateKey(keyFile, key, nil, nil, 0, nil, nil)
        BIO_free(keyFile)
        X509_free(certificate)
        EVP_PKEY_free(key)
        return (certificatePath, keyPath)
    }

    static func context() throws -> TLSContext {
        try TLSContext(certificateChainFile: files.certificate, privateKeyFile: files.key)
    }
}

/// OpenSSL as the client: the other end of every differential test. It
/// talks to a `TLSSession` (the server's handshake) and then to the
/// `TLSRecordLayer` that takes over, through byte arrays standing in for
/// the socket.
final class TLSPeer {
    let context: OpaquePointer
    let ssl: OpaquePointer
    let input: OpaquePointer
    let output: OpaquePointer
    /// The client's own application traffic secrets (its key log), to
    /// forge records the way a hostile client could.
    var clientSecret: [UInt8] = []
    var serverSecret: [UInt8] = []
    var ticketsReceived = 0

    init(maxVersion: Int32 = TLS1_3_VERSION, suites: String? = nil, session: OpaquePointer? = nil) {
        context = SSL_CTX_new(TLS_client_method())
        herald_test_ssl_ctx_max_version(context, maxVersion)
        if let suites { precondition(SSL_CTX_set_ciphersuites(context, suites) == 1) }
        herald_test_ssl_ctx_client_cache(context)
        SSL_CTX_set_keylog_callback(context, TLSPeer.keyLog)
        SSL_CTX_sess_set_new_cb(context, TLSPeer.newSession)
        ssl = SSL_new(context)
        input = BIO_new(BIO_s_mem())
        output = BIO_new(BIO_s_mem())
        herald_bio_mem_retry_when_empty(input)
        herald_bio_mem_retry_when_empty(output)
        SSL_set_bio(ssl, input, output)
        SSL_set_connect_state(ssl)
        if let session { SSL_set_session(ssl, session) }
        herald_ssl_set_app_data(ssl, Unmanaged.passUnretained(self).toOpaque())
    }

    deinit {
        SSL_free(ssl)
        SSL_CTX_free(context)
    }

    static let keyLog: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?) -> Void = { ssl, line in
        guard let ssl, let line, let data = herald_ssl_get_app_data(ssl) else { return }
        let peer = Unmanaged<TLSPeer>.fromOpaque(data).takeUnretainedValue()
        let fields = String(cString: line).split(separator: " ")
        guard fields.count == 3 else { return }
        let bytes = stride(from: 0, to: fields[2].count, by: 2).map { offset -> UInt8 in
            let start = fields[2].index(fields[2].startIndex, offsetBy: offset)
            return UInt8(fields[2][start..<fields[2].index(start, offsetBy: 2)], radix: 16)!
        }
        if fields[0] == "CLIENT_TRAFFIC_SECRET_0" { peer.clientSecret = bytes }
        if fields[0] == "SERVER_TRAFFIC_SECRET_0" { peer.serverSecret = bytes }
    }

    static let newSession: @convention(c) (OpaquePointer?, OpaquePointer?) -> Int32 = { ssl, _ in
        guard let ssl, let data = herald_ssl_get_app_data(ssl) else { return 0 }
        Unmanaged<TLSPeer>.fromOpaque(data).takeUnretainedValue().ticketsReceived += 1
        return 0  // not kept by the callback (SSL_get1_session keeps the last)
    }

    /// Feeds the client `bytes` from the server.
    func give(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        bytes.withUnsafeBytes { _ = BIO_write(input, $0.baseAddress, Int32($0.count)) }
    }

    /// What the client has written for the server.
    func take() -> [UInt8] {
        let count = Int(BIO_ctrl_pending(output))
        var bytes = [UInt8](repeating: 0, count: count)
        if count > 0 { _ = bytes.withUnsafeMutableBytes { BIO_read(output, $0.baseAddress, Int32(count)) } }
        return bytes
    }

    /// Advances the client's handshake; true once complete.
    @discardableResult
    func handshake() -> Bool { SSL_do_handshake(ssl) == 1 }

    func write(_ bytes: [UInt8]) {
        let written = bytes.withUnsafeBytes { SSL_write(ssl, $0.baseAddress, Int32($0.count)) }
        precondition(Int(written) == bytes.count)
    }

    enum ReadResult: Equatable {
        case data([UInt8])
        /// The server's close_notify.
        case closed
        /// A fatal error: OpenSSL's reason string (it names the alert received).
        case failed(String)
    }

    /// Reads everything the client can decrypt now.
    func read() -> ReadResult {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress, Int32($0.count)) }
            if count > 0 {
                received += buffer[0..<Int(count)]
                continue
            }
            switch SSL_get_error(ssl, count) {
            case SSL_ERROR_WANT_READ: return .data(received)
            case SSL_ERROR_ZERO_RETURN: return .closed
            default: return .failed(TLSContext.lastError())
            }
        }
    }

    var session: OpaquePointer? { SSL_get1_session(ssl) }
    var reused: Bool { SSL_session_reused(ssl) == 1 }
}

/// A server (`TLSSession`, then `TLSRecordLayer`) and an OpenSSL client,
/// connected through byte arrays.
final class TLSPair {
    let client: TLSPeer
    let server: TLSSession
    var layer: TLSRecordLayer?
    let crypto: RecordCrypto
    let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 16_384, alignment: 16)
    /// Plaintext the server received, from OpenSSL before the hand-over or from the record layer after.
    var received: [UInt8] = []
    var outcomes: [TLSRecordLayer.Outcome] = []
    /// Ciphertext that arrived after the client's Finished, as the hand-over gave it.
    var handoverRemaining: [UInt8] = []

    init(context: TLSContext, client: TLSPeer = TLSPeer(), crypto: RecordCrypto = RecordCrypto()) {
        self.client = client
        server = TLSSession(context: context)!
        self.crypto = crypto
    }

    deinit {
        scratch.deallocate()
        layer?.release()
    }

    /// Runs the handshake to the hand-over; `early` is written by the
    /// client right after its Finished, in the same flight (as a browser
    /// sends its upgrade request). Returns whether the server handed over.
    @discardableResult
    func connect(early: [UInt8] = [], handOver: Bool = true) -> Bool {
        for _ in 0..<4 {
            let done = client.handshake()
            if done && !early.isEmpty && received.isEmpty && layer == nil { client.write(early) }
            serverReceive(client.take(), handOver: handOver)
            if layer != nil { return true }
            client.give(serverOutput())
            if done && server.isHandshakeComplete { return false }
        }
        return layer != nil
    }

    /// Ciphertext for the server: to the session before the hand-over, to the layer after.
    func serverReceive(_ bytes: [UInt8], handOver: Bool = true) {
        if layer != nil {
            var copy = bytes
            let outcome = copy.withUnsafeMutableBytes { buffer in
                layer!.receive(buffer, crypto: crypto) { plaintext in
                    received += plaintext
                    return true
                }
            }
            outcomes.append(outcome)
            return
        }
        let outcome = bytes.withUnsafeBytes { buffer in
            server.receive(buffer, scratch: scratch, handOver: handOver) { received += $0 }
        }
        if case .handedOver(let made, let remaining) = outcome {
            layer = made
            handoverRemaining = remaining
            if !remaining.isEmpty { serverReceive(remaining) }
        }
    }

    /// What the server has to send: OpenSSL's pending output, or `plaintext` sealed by the layer.
    func serverOutput(_ plaintext: [UInt8] = []) -> [UInt8] {
        guard layer != nil else {
            var bytes = [UInt8](repeating: 0, count: server.pendingOutput)
            _ = bytes.withUnsafeMutableBytes { server.takeOutput(into: $0) }
            return bytes
        }
        let size = layer!.sealedBytes(plaintextBytes: plaintext.count, crypto: crypto)
        var sealed = [UInt8](repeating: 0, count: size)
        sealed.withUnsafeMutableBytes { output in
            layer!.seal(plaintextBytes: plaintext.count, into: output, crypto: crypto) { append in
                // In pieces, as queued frames arrive: exercises records spanning pieces.
                var at = 0
                while at < plaintext.count {
                    let end = min(plaintext.count, at + 1_000)
                    plaintext[at..<end].withUnsafeBytes { append($0) }
                    at = end
                }
            }
        }
        return sealed
    }

    /// Server → client: seals `plaintext`, hands it to OpenSSL, returns what the client read.
    func toClient(_ plaintext: [UInt8]) -> TLSPeer.ReadResult {
        client.give(serverOutput(plaintext))
        return client.read()
    }

    /// Client → server: OpenSSL seals `plaintext`; returns what the layer received.
    func toServer(_ plaintext: [UInt8]) -> [UInt8] {
        received = []
        client.write(plaintext)
        serverReceive(client.take())
        return received
    }
}
