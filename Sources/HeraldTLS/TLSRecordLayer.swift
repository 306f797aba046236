import COpenSSL

/// Herald's own TLS 1.3 record layer for one connection, after OpenSSL did
/// the handshake and the `SSL` object was freed (issue 10's "TLS like kTLS,
/// in user space"). It holds what RFC 8446 §5 needs and nothing else: the
/// suite, each direction's traffic secret, key, IV and sequence number
/// (§7.3, §5.3), and — only while they are needed — a record that arrived
/// in pieces and the session tickets OpenSSL wrote last. An idle
/// connection costs this value (`stride`, ~300 bytes) where an `SSL` costs
/// ~15 KB.
///
/// A value stored in place: the reactor keeps one per connection slot in a
/// region of fixed-size entries (so thousands of them never scatter over
/// heap pages that a TLS handshake's freed kilobytes would otherwise keep
/// resident), hands it out by pointer, and calls `release` when the
/// connection ends. Never copy a live one: its buffers belong to one copy.
/// The AEAD itself runs on the thread's `RecordCrypto`. Used by its
/// connection's thread only.
public struct TLSRecordLayer {
    public let suite: TLS13Suite
    /// Client → server (client_application_traffic_secret_N).
    private var read: TrafficKeys
    /// Server → client (server_application_traffic_secret_N).
    private var write: TrafficKeys

    /// A record whose bytes have not all arrived: its header (`pieceHeader`,
    /// up to 5 bytes) and then, once the length is known, a buffer that
    /// grows with the bytes that arrive (at most twice them, never past the
    /// record's size, ≤ 5 + 2^14 + 256 bytes, §5.2): a client that sends a
    /// header promising 16 KiB and stops holds what it sent, not 16 KiB.
    /// Freed when the record is complete: an idle connection holds none.
    private var piece: UnsafeMutableRawBufferPointer?
    private var pieceFill = 0
    private var pieceHeader = InlineArray<5, UInt8>(repeating: 0)
    private var pieceHeaderFill: UInt8 = 0

    /// A post-handshake handshake message split over records (§5.1 allows
    /// it): the only one accepted is KeyUpdate, 5 bytes.
    private var handshakeBytes = InlineArray<5, UInt8>(repeating: 0)
    private var handshakeFill: UInt8 = 0

    /// Ciphertext OpenSSL wrote that is not sent yet (the NewSessionTicket
    /// records, §4.6.1, sealed under the server's first application
    /// key): it goes out before anything this layer seals.
    private var handoverOutput: UnsafeMutableRawBufferPointer?

    private struct Pending: OptionSet {
        let rawValue: UInt8
        /// The peer asked for a KeyUpdate (§4.6.3: answered before our next application data).
        static let keyUpdate = Pending(rawValue: 1 << 0)
        /// close_notify to send (§6.1).
        static let closeNotify = Pending(rawValue: 1 << 1)
        /// A fatal alert to send (`fatalAlert`), then nothing more.
        static let fatalAlert = Pending(rawValue: 1 << 2)
        /// close_notify or a fatal alert went out: nothing more is sealed.
        static let writeClosed = Pending(rawValue: 1 << 3)
    }
    private var pending = Pending()
    private var fatalAlert: UInt8 = 0

    /// Takes over from a handshake (`TLSSession.handOver`): the
    /// application traffic secrets, how many records OpenSSL already sealed
    /// under the server's (its session tickets), and those records' bytes
    /// if they are not sent yet.
    public init(suite: TLS13Suite, clientSecret: some Collection<UInt8>, serverSecret: some Collection<UInt8>,
                serverRecordsSent: UInt64, unsentOutput: [UInt8]) {
        self.suite = suite
        read = TrafficKeys(secret: clientSecret, suite: suite)
        write = TrafficKeys(secret: serverSecret, suite: suite)
        write.sequence = serverRecordsSent
        if !unsentOutput.isEmpty {
            let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: unsentOutput.count, alignment: 1)
            bytes.copyBytes(from: unsentOutput)
            handoverOutput = bytes
        }
    }

    /// The connection ended: buffers freed, keys wiped (they are secrets,
    /// not to be left in reused memory). The value is dead after this.
    public mutating func release() {
        piece?.deallocate()
        piece = nil
        handoverOutput?.deallocate()
        handoverOutput = nil
        withUnsafeMutableBytes(of: &read) { OPENSSL_cleanse($0.baseAddress, $0.count) }
        withUnsafeMutableBytes(of: &write) { OPENSSL_cleanse($0.baseAddress, $0.count) }
    }

    // MARK: Receiving

    public enum Outcome: Equatable, Sendable {
        /// Consumed (or stopped because `plaintext` said so).
        case progress
        /// The peer's close_notify (§6.1): no more data comes.
        case closed
        /// The peer sent an error alert (§6.2): the connection is over, nothing is sent back.
        case peerAlert(TLSAlert)
        /// We must end the connection with `alert` (§5, §6.2); it is queued
        /// (`hasOutput`), and nothing but it will be sealed from now.
        case failed(TLSAlert)
    }

    /// Bytes held for a record still waiting for its rest (the buffer's capacity).
    public var bufferedBytes: Int { piece?.count ?? 0 }

    /// Ciphertext from the socket: each complete record is opened in place
    /// (its bytes are the caller's, writable) and its application data
    /// handed to `plaintext`, which returns false to stop (the connection
    /// ended). A record cut at the end waits for its rest.
    public mutating func receive(_ bytes: UnsafeMutableRawBufferPointer, crypto: RecordCrypto,
                        _ plaintext: (UnsafeMutableRawBufferPointer) -> Bool) -> Outcome {
        guard !pending.contains(.fatalAlert) else { return .progress }
        var rest = bytes
        if pieceHeaderFill > 0 || piece != nil {
            let (outcome, used) = continuePiece(rest, crypto: crypto, plaintext)
            rest = UnsafeMutableRawBufferPointer(rebasing: rest[used...])
            guard let outcome else { return .progress }
            guard outcome == .progress else { return outcome }
            guard piece == nil && pieceHeaderFill == 0 else { return .progress }
        }
        while rest.count >= TLSRecord.headerBytes {
            let length: Int
            switch Self.checkHeader(UnsafeRawBufferPointer(rebasing: rest[0..<TLSRecord.headerBytes])) {
            case .failure(let error): return fail(error.alert)
            case .success(let checked): length = checked
            }
            let recordBytes = TLSRecord.headerBytes + length
            guard rest.count >= recordBytes else { break }
            let outcome = process(UnsafeMutableRawBufferPointer(rebasing: rest[0..<recordBytes]), crypto: crypto, plaintext)
            guard let outcome else { return .progress }
            guard outcome == .progress else { return outcome }
            rest = UnsafeMutableRawBufferPointer(rebasing: rest[recordBytes...])
        }
        if rest.count > 0 { startPiece(UnsafeRawBufferPointer(rest)) }
        return .progress
    }

    /// §5.2: the outer type of every protected record is application_data
    /// (anything else after the handshake — a change_cipher_spec, a
    /// plaintext alert or handshake — is unexpected_message, §5), and its
    /// length is at most 2^14 + 256 (record_overflow). The version is part
    /// of the AAD: a wrong one fails the tag.
    static func checkHeader(_ header: UnsafeRawBufferPointer) -> Result<Int, AlertError> {
        guard header[0] == TLSRecord.ContentType.applicationData.rawValue else {
            return .failure(AlertError(alert: .unexpectedMessage))
        }
        let length = Int(header[3]) << 8 | Int(header[4])
        guard length <= TLSRecord.ciphertextBytesMax else { return .failure(AlertError(alert: .recordOverflow)) }
        // At least the tag and the inner content type byte; less cannot deprotect.
        guard length > RecordCrypto.tagBytes else { return .failure(AlertError(alert: .badRecordMAC)) }
        return .success(length)
    }

    struct AlertError: Error { let alert: TLSAlert }

    /// Keeps the first bytes of a record that was cut.
    private mutating func startPiece(_ bytes: UnsafeRawBufferPointer) {
        if bytes.count < TLSRecord.headerBytes {
            withUnsafeMutableBytes(of: &pieceHeader) { header in
                for offset in 0..<bytes.count { header[offset] = bytes[offset] }
            }
            // Safe: bytes.count < 5.
            pieceHeaderFill = UInt8(truncatingIfNeeded: bytes.count)
            return
        }
        // The header was checked by `receive`; bytes.count < the record's size.
        let buffer = Self.pieceBuffer(capacity: min(Self.recordBytes(header: bytes), 2 * bytes.count))
        UnsafeMutableRawBufferPointer(rebasing: buffer[0..<bytes.count]).copyMemory(from: bytes)
        piece = buffer
        pieceFill = bytes.count
    }

    /// A piece buffer holds at least this much (small records arrive whole
    /// or nearly: no growing for them).
    static let pieceBytesMin = 512

    private static func pieceBuffer(capacity: Int) -> UnsafeMutableRawBufferPointer {
        .allocate(byteCount: max(capacity, min(pieceBytesMin, capacity)), alignment: 16)
    }

    /// Header plus the length its last two bytes give.
    private static func recordBytes(header: UnsafeRawBufferPointer) -> Int {
        TLSRecord.headerBytes + (Int(header[3]) << 8 | Int(header[4]))
    }

    /// Adds `bytes` to the record that was cut; processes it once whole.
    /// Returns the outcome (nil: `plaintext` said stop) and how many of
    /// `bytes` it used.
    private mutating func continuePiece(_ bytes: UnsafeMutableRawBufferPointer, crypto: RecordCrypto,
                               _ plaintext: (UnsafeMutableRawBufferPointer) -> Bool) -> (Outcome?, Int) {
        var used = 0
        if piece == nil {
            let wanted = TLSRecord.headerBytes - Int(pieceHeaderFill)
            let taken = min(wanted, bytes.count)
            withUnsafeMutableBytes(of: &pieceHeader) { header in
                for offset in 0..<taken { header[Int(pieceHeaderFill) + offset] = bytes[offset] }
            }
            // Safe: pieceHeaderFill + taken ≤ 5.
            pieceHeaderFill += UInt8(truncatingIfNeeded: taken)
            used = taken
            guard pieceHeaderFill == TLSRecord.headerBytes else { return (.progress, used) }
            pieceHeaderFill = 0
            let checked = withUnsafeBytes(of: &pieceHeader) { Self.checkHeader($0) }
            switch checked {
            case .failure(let error): return (fail(error.alert), used)
            case .success(let length):
                let size = TLSRecord.headerBytes + length
                let buffer = Self.pieceBuffer(capacity: min(size, Self.pieceBytesMin))
                withUnsafeBytes(of: &pieceHeader) {
                    UnsafeMutableRawBufferPointer(rebasing: buffer[0..<TLSRecord.headerBytes]).copyMemory(from: $0)
                }
                piece = buffer
                pieceFill = TLSRecord.headerBytes
            }
        }
        guard var buffer = piece else { return (.progress, used) }
        let size = Self.recordBytes(header: UnsafeRawBufferPointer(buffer))
        let taken = min(size - pieceFill, bytes.count - used)
        if pieceFill + taken > buffer.count {
            // Grow with what arrived: at least double, at most the record.
            let grown = Self.pieceBuffer(capacity: min(size, max(2 * buffer.count, pieceFill + taken)))
            UnsafeMutableRawBufferPointer(rebasing: grown[0..<pieceFill])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: buffer[0..<pieceFill]))
            buffer.deallocate()
            buffer = grown
            piece = grown
        }
        UnsafeMutableRawBufferPointer(rebasing: buffer[pieceFill..<pieceFill + taken])
            .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[used..<used + taken]))
        pieceFill += taken
        used += taken
        guard pieceFill == size else { return (.progress, used) }
        piece = nil
        pieceFill = 0
        defer { buffer.deallocate() }
        return (process(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<size]), crypto: crypto, plaintext), used)
    }

    /// One whole record (§5.2, §5.4): deprotect it, find its real content
    /// type, act on it. Nil when `plaintext` asked to stop.
    private mutating func process(_ record: UnsafeMutableRawBufferPointer, crypto: RecordCrypto,
                         _ plaintext: (UnsafeMutableRawBufferPointer) -> Bool) -> Outcome? {
        // §5.3: a sequence number never wraps; 2^64 records cannot arrive
        // in practice, but the rule is kept.
        guard read.sequence < UInt64.max else { return fail(.unexpectedMessage) }
        guard crypto.open(record, keys: read, suite: suite) else { return fail(.badRecordMAC) }
        read.sequence += 1
        // §5.4: the content type is the last non-zero byte of the inner
        // plaintext; zeros after it are padding. All zeros: unexpected_message.
        let innerEnd = record.count - RecordCrypto.tagBytes
        var typeAt = innerEnd - 1
        while typeAt >= TLSRecord.headerBytes && record[typeAt] == 0 { typeAt -= 1 }
        guard typeAt >= TLSRecord.headerBytes else { return fail(.unexpectedMessage) }
        let content = UnsafeMutableRawBufferPointer(rebasing: record[TLSRecord.headerBytes..<typeAt])
        // §5.4: TLSInnerPlaintext is at most 2^14 + 1 bytes (content and type).
        guard content.count <= TLSRecord.plaintextBytesMax else { return fail(.recordOverflow) }
        switch TLSRecord.ContentType(rawValue: record[typeAt]) {
        case .applicationData:
            // §5.1: handshake messages must not be interleaved with other record types.
            guard handshakeFill == 0 else { return fail(.unexpectedMessage) }
            guard content.count == 0 || plaintext(content) else { return nil }
            return .progress
        case .alert:
            guard handshakeFill == 0 else { return fail(.unexpectedMessage) }
            // §5.1: alerts are not fragmented and not coalesced: exactly 2 bytes (level, description).
            guard content.count == 2 else { return fail(.decodeError) }
            let alert = TLSAlert(code: content[1])
            if alert == .closeNotify { return .closed }
            // §6.1: user_canceled is followed by a close_notify; not an error in itself.
            if alert == .userCanceled { return .progress }
            // §6.2 (and §6: unknown alerts are errors): the connection is over.
            return .peerAlert(alert)
        case .handshake:
            return handshake(UnsafeRawBufferPointer(content), crypto: crypto)
        case .changeCipherSpec, nil:
            // §5: change_cipher_spec only before the peer's Finished; unknown types are unexpected.
            return fail(.unexpectedMessage)
        }
    }

    /// Post-handshake handshake bytes (§4.6). A client may send KeyUpdate
    /// only (NewSessionTicket is the server's, and herald never asks for
    /// post-handshake authentication), possibly split over records.
    private mutating func handshake(_ content: UnsafeRawBufferPointer, crypto: RecordCrypto) -> Outcome {
        // §5.1: zero-length fragments of handshake messages must not be sent.
        guard content.count > 0 else { return fail(.unexpectedMessage) }
        for (position, byte) in content.enumerated() {
            let at = Int(handshakeFill)
            switch at {
            case 0 where byte != TLSRecord.keyUpdateType: return fail(.unexpectedMessage)
            // §4.6.3: `struct { KeyUpdateRequest request_update; } KeyUpdate;` — a 24-bit length of 1.
            case 1, 2: if byte != 0 { return fail(.decodeError) }
            case 3: if byte != 1 { return fail(.decodeError) }
            // update_not_requested(0), update_requested(1); anything else: illegal_parameter.
            case 4: if byte > 1 { return fail(.illegalParameter) }
            default: break
            }
            handshakeBytes[at] = byte
            handshakeFill += 1
            guard handshakeFill == TLSRecord.keyUpdateBytes else { continue }
            // §5.1: a message that changes keys must end its record
            // ("Handshake messages MUST NOT span key changes").
            guard position == content.count - 1 else { return fail(.unexpectedMessage) }
            handshakeFill = 0
            // §4.6.3: the receiving keys change now; a request is answered
            // with our own KeyUpdate (update_not_requested) before our next
            // application data, and several requests with one.
            read.update(suite: suite)
            crypto.keyUpdatesReceived += 1
            if handshakeBytes[4] == 1 { pending.insert(.keyUpdate) }
        }
        return .progress
    }

    /// Queues `alert` (§6.2: "terminate the connection with an alert"):
    /// nothing else is read or sealed after it.
    private mutating func fail(_ alert: TLSAlert) -> Outcome {
        if !pending.contains(.writeClosed) {
            pending.insert(.fatalAlert)
            fatalAlert = alert.code
        }
        piece?.deallocate()
        piece = nil
        return .failed(alert)
    }

    // MARK: Sealing

    /// Queues our close_notify (§6.1); once.
    public mutating func close() {
        guard !pending.contains(.writeClosed), !pending.contains(.fatalAlert) else { return }
        pending.insert(.closeNotify)
    }

    public var closeQueued: Bool { pending.contains(.closeNotify) || pending.contains(.writeClosed) }

    /// Whether nothing more may be sealed (close_notify or an alert is out or queued).
    public var isWriteClosed: Bool { !pending.isDisjoint(with: [.writeClosed, .closeNotify, .fatalAlert]) }

    /// Whether application data is still sealed (no close_notify sent, no fatal alert).
    public var sealsData: Bool { pending.isDisjoint(with: [.writeClosed, .fatalAlert]) }

    /// Whether `seal` has something to send besides application data
    /// (tickets, a KeyUpdate answer, close_notify, an alert).
    public var hasOutput: Bool {
        handoverOutput != nil || !pending.isDisjoint(with: [.keyUpdate, .closeNotify, .fatalAlert])
    }

    /// How many bytes `seal` writes for `plaintextBytes` of application
    /// data (0 once the write side is closed: nothing more is sealed).
    public func sealedBytes(plaintextBytes: Int, crypto: RecordCrypto) -> Int {
        guard !pending.contains(.writeClosed) else { return 0 }
        var total = handoverOutput?.count ?? 0
        if needsKeyUpdate(crypto) { total += TLSRecord.keyUpdateBytes + TLSRecord.overheadBytes }
        if !pending.contains(.fatalAlert) {
            let records = (plaintextBytes + TLSRecord.plaintextBytesMax - 1) / TLSRecord.plaintextBytesMax
            total += plaintextBytes + records * TLSRecord.overheadBytes
        }
        if !pending.isDisjoint(with: [.closeNotify, .fatalAlert]) { total += 2 + TLSRecord.overheadBytes }
        return total
    }

    private func needsKeyUpdate(_ crypto: RecordCrypto) -> Bool {
        pending.contains(.keyUpdate) || write.sequence >= crypto.writeRecordsPerKeyMax
    }

    /// Seals `plaintextBytes` of application data, which `produce` hands to
    /// its argument in any number of pieces, into `output` (exactly
    /// `sealedBytes(plaintextBytes:)` long): first the tickets left from the
    /// handshake, then a KeyUpdate if one is due (answering the peer's, or
    /// ours after `writeRecordsPerKeyMax` records, §5.5), the data in
    /// records of up to 2^14 bytes, and last a queued close_notify or alert.
    /// A pending fatal alert seals no data.
    public mutating func seal(plaintextBytes: Int, into output: UnsafeMutableRawBufferPointer, crypto: RecordCrypto,
                     _ produce: ((UnsafeRawBufferPointer) -> Void) -> Void) {
        guard !pending.contains(.writeClosed) else { return }
        var at = 0
        if let tickets = handoverOutput {
            UnsafeMutableRawBufferPointer(rebasing: output[0..<tickets.count]).copyMemory(from: UnsafeRawBufferPointer(tickets))
            at = tickets.count
            tickets.deallocate()
            handoverOutput = nil
        }
        if needsKeyUpdate(crypto) {
            // §4.6.3: our KeyUpdate goes under the current key, then ours changes.
            let message: [UInt8] = [TLSRecord.keyUpdateType, 0, 0, 1, 0]
            at += sealRecord(message, type: .handshake, at: at, into: output, crypto: crypto)
            write.update(suite: suite)
            crypto.keyUpdatesSent += 1
            pending.remove(.keyUpdate)
        }
        if !pending.contains(.fatalAlert) && plaintextBytes > 0 {
            at = sealData(plaintextBytes, at: at, into: output, crypto: crypto, produce)
        }
        if pending.contains(.fatalAlert) {
            // §6: level fatal(2) for an error alert.
            at += sealRecord([2, fatalAlert], type: .alert, at: at, into: output, crypto: crypto)
            pending = [.writeClosed]
        } else if pending.contains(.closeNotify) {
            // §6: the level is implied by the alert in TLS 1.3; warning(1) as OpenSSL sends it.
            at += sealRecord([1, TLSAlert.closeNotify.code], type: .alert, at: at, into: output, crypto: crypto)
            pending = [.writeClosed]
        }
        precondition(at == output.count, "seal wrote \(at) of \(output.count) bytes")
    }

    /// Copies the produced plaintext into records laid out in `output` and
    /// seals each in place when it is full.
    private mutating func sealData(_ plaintextBytes: Int, at start: Int, into output: UnsafeMutableRawBufferPointer,
                          crypto: RecordCrypto, _ produce: ((UnsafeRawBufferPointer) -> Void) -> Void) -> Int {
        var remaining = plaintextBytes
        var recordStart = start
        var recordContent = 0
        var recordFill = 0
        func open() {
            recordContent = min(remaining, TLSRecord.plaintextBytesMax)
            recordFill = 0
        }
        open()
        produce { bytes in
            var taken = 0
            while taken < bytes.count {
                precondition(remaining > 0, "more plaintext than announced")
                let count = min(bytes.count - taken, recordContent - recordFill)
                let to = recordStart + TLSRecord.headerBytes + recordFill
                UnsafeMutableRawBufferPointer(rebasing: output[to..<to + count])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[taken..<taken + count]))
                taken += count
                recordFill += count
                remaining -= count
                if recordFill == recordContent {
                    recordStart += finishRecord(content: recordContent, type: .applicationData, at: recordStart,
                                                into: output, crypto: crypto)
                    if remaining > 0 { open() }
                }
            }
        }
        precondition(remaining == 0, "less plaintext than announced")
        return recordStart
    }

    /// Seals a small record (`content` copied in) at `at`; returns its size.
    private mutating func sealRecord(_ content: [UInt8], type: TLSRecord.ContentType, at: Int,
                            into output: UnsafeMutableRawBufferPointer, crypto: RecordCrypto) -> Int {
        let to = at + TLSRecord.headerBytes
        UnsafeMutableRawBufferPointer(rebasing: output[to..<to + content.count]).copyBytes(from: content)
        return finishRecord(content: content.count, type: type, at: at, into: output, crypto: crypto)
    }

    /// The content is in place after the header's room: writes the header
    /// and the content type (no padding, §5.4 allows none), seals, and
    /// advances the sequence number. Returns the record's size.
    private mutating func finishRecord(content: Int, type: TLSRecord.ContentType, at: Int,
                              into output: UnsafeMutableRawBufferPointer, crypto: RecordCrypto) -> Int {
        let size = content + TLSRecord.overheadBytes
        let record = UnsafeMutableRawBufferPointer(rebasing: output[at..<at + size])
        TLSRecord.writeHeader(record, length: size - TLSRecord.headerBytes)
        record[TLSRecord.headerBytes + content] = type.rawValue
        crypto.seal(record, keys: write, suite: suite)
        write.sequence += 1
        return size
    }
}
