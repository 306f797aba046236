import HeraldTLS
import Synchronization

/// The TLS configuration new connections get, replaceable at run time:
/// SIGHUP reads `--tls-cert` and `--tls-key` again (CONTRACT "Security").
/// Connections already open keep the context they started with (each
/// OpenSSL session holds a reference to its `SSL_CTX`), so a reload drops
/// nothing; a file that does not load leaves the previous context in place.
final class TLSCertificates: Sendable {
    let certificateFile: String
    let keyFile: String
    private let current: Mutex<TLSContext>
    let reloads = Atomic<UInt64>(0)
    let reloadFailures = Atomic<UInt64>(0)

    init(certificateFile: String, keyFile: String) throws {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        current = Mutex(try TLSContext(certificateChainFile: certificateFile, privateKeyFile: keyFile))
    }

    /// The context a new connection's session is made from.
    var context: TLSContext { current.withLock { $0 } }

    /// Reads the files again; on success new handshakes use them.
    func reload() {
        do {
            let fresh = try TLSContext(certificateChainFile: certificateFile, privateKeyFile: keyFile)
            current.withLock { $0 = fresh }
            reloads.add(1, ordering: .relaxed)
            Log.info("tls certificate reloaded", ["cert": certificateFile])
        } catch {
            reloadFailures.add(1, ordering: .relaxed)
            Log.error("tls reload failed; the previous certificate stays", ["cert": certificateFile, "error": "\(error)"])
        }
    }
}
