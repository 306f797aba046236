import COpenSSL
import Synchronization

/// The keys that seal and open stateless session tickets (RFC 8446 §4.6.1;
/// the ticket layout is RFC 5077 §4's: a 16-byte key name, an IV, the
/// AES-256-CBC encrypted session state, an HMAC-SHA256). A ticket names
/// the key that sealed it, so a key can be retired while tickets made with
/// it are still honoured for a while, and several nodes that share the keys
/// resume each other's clients.
///
/// Two sources:
/// - **In memory** (the default): a random key, replaced every
///   `rotationSeconds`; the one before stays for opening only, so a ticket
///   resumes for at least one period and at most two. The keys survive a
///   SIGHUP reload of the certificate (resumption does not break then).
/// - **`--tls-ticket-key-file`**: one or more 80-byte keys (16 bytes name,
///   32 bytes HMAC key, 32 bytes AES key — the layout nginx uses, made with
///   `openssl rand 80`); the first seals, every one opens. The operator
///   rotates by putting a new key first, keeping the old after it, on every
///   node, and sending SIGHUP.
///
/// Shared by every shard: a handshake takes the lock for a key lookup.
public final class TicketKeys: Sendable {
    public struct Key: Sendable, Equatable {
        public let name: [UInt8]
        let hmacKey: [UInt8]
        let aesKey: [UInt8]
        let created: ContinuousClock.Instant
    }

    public struct FileError: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    /// One key in a key file.
    public static let keyFileEntryBytes = 80
    /// An in-memory key seals tickets for an hour, then opens them for
    /// another: a client that comes back within an hour always resumes.
    /// (TLS 1.3 lets a server say how long a ticket may be used, §4.6.1;
    /// OpenSSL's default hint is 2 hours.)
    public static let rotationSeconds = 3_600

    private struct State {
        /// The first seals; all open.
        var keys: [Key]
        var fromFile: Bool
    }

    private let state: Mutex<State>

    /// In-memory keys, rotating.
    public init(now: ContinuousClock.Instant = .now) throws {
        state = Mutex(State(keys: [try Self.randomKey(now: now)], fromFile: false))
    }

    /// Keys from a key file's contents (`--tls-ticket-key-file`).
    public init(fileContents: [UInt8]) throws {
        state = Mutex(State(keys: try Self.parse(fileContents), fromFile: true))
    }

    /// SIGHUP: the file's keys replace the current ones (a bad file throws and changes nothing).
    public func replace(fileContents: [UInt8]) throws {
        let keys = try Self.parse(fileContents)
        state.withLock { $0 = State(keys: keys, fromFile: true) }
    }

    static func parse(_ contents: [UInt8]) throws -> [Key] {
        guard !contents.isEmpty, contents.count % keyFileEntryBytes == 0 else {
            throw FileError(description: "a ticket key file holds one or more 80-byte keys (openssl rand 80); "
                                + "this one has \(contents.count) bytes")
        }
        let now = ContinuousClock.now
        return stride(from: 0, to: contents.count, by: keyFileEntryBytes).map { start in
            Key(name: Array(contents[start..<start + 16]), hmacKey: Array(contents[start + 16..<start + 48]),
                aesKey: Array(contents[start + 48..<start + 80]), created: now)
        }
    }

    static func randomKey(now: ContinuousClock.Instant) throws -> Key {
        var bytes = [UInt8](repeating: 0, count: keyFileEntryBytes)
        guard RAND_bytes(&bytes, Int32(bytes.count)) == 1 else {
            throw FileError(description: "no randomness for a ticket key: \(TLSContext.lastError())")
        }
        return Key(name: Array(bytes[0..<16]), hmacKey: Array(bytes[16..<48]), aesKey: Array(bytes[48..<80]),
                   created: now)
    }

    /// The key that seals a new ticket; in memory, a key older than
    /// `rotationSeconds` is replaced first (the old one kept for opening).
    public func sealingKey(now: ContinuousClock.Instant = .now) -> Key? {
        state.withLock { state in
            if !state.fromFile, now - state.keys[0].created >= .seconds(Self.rotationSeconds),
               let fresh = try? Self.randomKey(now: now) {
                state.keys = [fresh, state.keys[0]]
            }
            return state.keys.first
        }
    }

    /// The key a ticket names, and whether it is the sealing one (a ticket
    /// opened with an older key is answered with a new ticket).
    public func openingKey(name: UnsafeRawBufferPointer) -> (key: Key, current: Bool)? {
        state.withLock { state in
            guard let index = state.keys.firstIndex(where: { $0.name.elementsEqual(name) }) else { return nil }
            return (state.keys[index], index == 0)
        }
    }

    /// OpenSSL's ticket callback (`SSL_CTX_set_tlsext_ticket_key_evp_cb`):
    /// `enc` 1 seals (name and IV out), 0 opens (name and IV in). Returns 1
    /// (done), 2 (opened with an older key: issue a new ticket), 0 (no such
    /// key: a full handshake) or -1 (an error).
    static let callback: @convention(c) (OpaquePointer?, UnsafeMutablePointer<UInt8>?, UnsafeMutablePointer<UInt8>?,
                                         OpaquePointer?, OpaquePointer?, Int32) -> Int32 = { ssl, name, iv, cipher, mac, enc in
        guard let ssl, let name, let iv, let cipher, let mac, let context = SSL_get_SSL_CTX(ssl),
              let data = SSL_CTX_get_ex_data(context, 0) else { return -1 }
        let keys = Unmanaged<TicketKeys>.fromOpaque(data).takeUnretainedValue()
        let sealing = enc == 1
        let found: (key: Key, current: Bool)
        if sealing {
            guard let key = keys.sealingKey() else { return -1 }
            key.name.withUnsafeBufferPointer { name.update(from: $0.baseAddress!, count: 16) }
            // RFC 5077 §4: a fresh IV per ticket (AES-CBC's block size).
            guard RAND_bytes(iv, 16) == 1 else { return -1 }
            found = (key, true)
        } else {
            guard let opened = keys.openingKey(name: UnsafeRawBufferPointer(start: name, count: 16)) else { return 0 }
            found = opened
        }
        let ready = found.key.aesKey.withUnsafeBufferPointer { aes in
            EVP_CipherInit_ex(cipher, EVP_aes_256_cbc(), nil, aes.baseAddress, iv, sealing ? 1 : 0) == 1
        } && found.key.hmacKey.withUnsafeBufferPointer { hmac in
            herald_ticket_mac_init(mac, hmac.baseAddress, hmac.count) == 1
        }
        guard ready else { return -1 }
        return found.current ? 1 : 2
    }
}
