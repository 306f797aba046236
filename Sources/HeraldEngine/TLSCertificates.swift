import HeraldIO
import HeraldTLS
import Synchronization

/// The TLS configuration new connections get, replaceable at run time:
/// SIGHUP reads `--tls-cert` and `--tls-key` (and `--tls-ticket-key-file`)
/// again (CONTRACT "Security"). Connections already open keep the context
/// they started with (each OpenSSL session holds a reference to its
/// `SSL_CTX`), so a reload drops nothing; a file that does not load leaves
/// the previous context in place. The session ticket keys carry over to the
/// new context, so clients still resume after a reload.
final class TLSCertificates: Sendable {
    let certificateFile: String
    let keyFile: String
    let ticketKeyFile: String?
    private let ticketKeys: TicketKeys
    private let current: Mutex<TLSContext>
    let reloads = Atomic<UInt64>(0)
    let reloadFailures = Atomic<UInt64>(0)

    init(certificateFile: String, keyFile: String, ticketKeyFile: String? = nil) throws {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.ticketKeyFile = ticketKeyFile
        ticketKeys = try ticketKeyFile.map { try TicketKeys(fileContents: try Self.read($0)) } ?? TicketKeys()
        current = Mutex(try TLSContext(certificateChainFile: certificateFile, privateKeyFile: keyFile,
                                       ticketKeys: ticketKeys))
    }

    /// A ticket key file's bytes (80 per key).
    private static func read(_ path: String) throws -> [UInt8] {
        guard let bytes = ProcessEnvironment.readBytes(path, bytesMax: TicketKeys.keyFileEntryBytes * 64) else {
            throw TicketKeys.FileError(description: "cannot read \(path) (or it is over 64 keys)")
        }
        return bytes
    }

    /// The context a new connection's session is made from.
    var context: TLSContext { current.withLock { $0 } }

    /// Reads the files again; on success new handshakes use them.
    func reload() {
        do {
            if let ticketKeyFile { try ticketKeys.replace(fileContents: try Self.read(ticketKeyFile)) }
            let fresh = try TLSContext(certificateChainFile: certificateFile, privateKeyFile: keyFile,
                                       ticketKeys: ticketKeys)
            current.withLock { $0 = fresh }
            reloads.add(1, ordering: .relaxed)
            Log.info("tls certificate reloaded", ["cert": certificateFile])
        } catch {
            reloadFailures.add(1, ordering: .relaxed)
            Log.error("tls reload failed; the previous certificate stays", ["cert": certificateFile, "error": "\(error)"])
        }
    }
}
