/// TLS 1.3 record framing constants (RFC 8446 §5).
enum TLSRecord {
    /// `ContentType opaque_type; ProtocolVersion legacy_record_version; uint16 length;` (§5.2).
    static let headerBytes = 5
    /// A record's plaintext is at most 2^14 bytes (§5.1).
    static let plaintextBytesMax = 16_384
    /// TLSCiphertext.length "MUST NOT exceed 2^14 + 256 bytes" (§5.2).
    static let ciphertextBytesMax = 16_384 + 256
    /// legacy_record_version of every protected record (§5.2).
    static let legacyVersion: UInt16 = 0x0303
    /// Header, content type byte and tag around `content` bytes of one record.
    static let overheadBytes = headerBytes + 1 + RecordCrypto.tagBytes

    /// §5.1 / §B.1.
    enum ContentType: UInt8 {
        case changeCipherSpec = 20
        case alert = 21
        case handshake = 22
        case applicationData = 23
    }

    /// The one post-handshake message a client may send us: KeyUpdate
    /// (§4.6.3, HandshakeType key_update(24)); its body is one byte.
    static let keyUpdateType: UInt8 = 24
    static let keyUpdateBytes = 5

    /// Writes a record header for `length` bytes of ciphertext.
    static func writeHeader(_ to: UnsafeMutableRawBufferPointer, length: Int) {
        to[0] = ContentType.applicationData.rawValue
        to[1] = UInt8(legacyVersion >> 8)
        to[2] = UInt8(legacyVersion & 0xFF)
        // Safe: length ≤ ciphertextBytesMax < 2^16.
        to[3] = UInt8(truncatingIfNeeded: length >> 8)
        to[4] = UInt8(truncatingIfNeeded: length)
    }
}

/// The alerts herald's record layer sends or understands (RFC 8446 §6,
/// AlertDescription).
public struct TLSAlert: Equatable, Sendable, CustomStringConvertible {
    public let code: UInt8

    public init(code: UInt8) { self.code = code }

    /// §6.1: the orderly end of a direction.
    public static let closeNotify = TLSAlert(code: 0)
    /// §5: an unexpected record type or message, §5.4: inner plaintext all zeros.
    public static let unexpectedMessage = TLSAlert(code: 10)
    /// §5.2: a record that does not deprotect.
    public static let badRecordMAC = TLSAlert(code: 20)
    /// §5.1/§5.2/§5.4: a record over the length limits.
    public static let recordOverflow = TLSAlert(code: 22)
    /// §4.6.3: request_update other than 0 or 1.
    public static let illegalParameter = TLSAlert(code: 47)
    /// §6.2: a message that cannot be parsed (an alert not 2 bytes long, a KeyUpdate of another length).
    public static let decodeError = TLSAlert(code: 50)
    /// §6.1: "This alert notifies the recipient that the sender is canceling the handshake";
    /// not an error, a close_notify should follow.
    public static let userCanceled = TLSAlert(code: 90)

    public var description: String {
        switch code {
        case 0: "close_notify"
        case 10: "unexpected_message"
        case 20: "bad_record_mac"
        case 22: "record_overflow"
        case 47: "illegal_parameter"
        case 50: "decode_error"
        case 90: "user_canceled"
        default: "alert \(code)"
        }
    }
}
