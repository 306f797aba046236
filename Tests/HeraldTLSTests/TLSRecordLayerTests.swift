import COpenSSL
import Testing
@testable import HeraldTLS

/// Differential tests of herald's TLS 1.3 record layer against OpenSSL
/// itself as the client (RFC 8446 §5, §4.6, §6): every byte the layer seals
/// is opened by OpenSSL, and every byte OpenSSL seals is opened by the layer.
@Suite struct TLSRecordLayerTests {
    let context: TLSContext

    init() throws { context = try TestCertificate.context() }

    static let suites = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"]

    @Test(arguments: suites)
    func dataBothWaysInEverySuite(suite: String) throws {
        let pair = TLSPair(context: context, client: TLSPeer(suites: suite))
        #expect(pair.connect())
        let layer = try #require(pair.layer)  // a copy, read only
        #expect(layer.suite == TLS13Suite.allCases.first { "\($0)" == Self.suiteName(suite) })
        #expect(pair.toServer(Array("hello".utf8)) == Array("hello".utf8))
        #expect(pair.toClient(Array("world".utf8)) == .data(Array("world".utf8)))
        // Bigger than one record, both ways: records of 2^14 bytes and a rest.
        let big = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        #expect(pair.toServer(big) == big)
        #expect(pair.toClient(big) == .data(big))
        #expect(pair.outcomes.allSatisfy { $0 == .progress })
    }

    static func suiteName(_ openssl: String) -> String {
        switch openssl {
        case "TLS_AES_128_GCM_SHA256": "aes128GCMSHA256"
        case "TLS_AES_256_GCM_SHA384": "aes256GCMSHA384"
        default: "chacha20Poly1305SHA256"
        }
    }

    @Test func sessionTicketsGoOutFirstAndResume() throws {
        let first = TLSPair(context: context)
        #expect(first.connect())
        // The tickets OpenSSL wrote at the end of the handshake are sealed
        // under the server's first key: the client reads them, then our data.
        #expect(first.toClient(Array("after tickets".utf8)) == .data(Array("after tickets".utf8)))
        #expect(first.client.ticketsReceived == 2)
        let session = try #require(first.client.session)
        defer { SSL_SESSION_free(session) }
        let second = TLSPair(context: context, client: TLSPeer(session: session))
        #expect(second.connect())
        #expect(second.client.reused)
        #expect(second.toServer(Array("resumed".utf8)) == Array("resumed".utf8))
        #expect(second.toClient(Array("resumed".utf8)) == .data(Array("resumed".utf8)))
    }

    @Test func dataInTheFlightOfTheFinishedIsNotLost() throws {
        // A browser sends its upgrade request right behind its Finished: it
        // is left in OpenSSL's input and read by the record layer.
        let request = Array("GET /ws HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        let pair = TLSPair(context: context)
        #expect(pair.connect(early: request))
        #expect(!pair.handoverRemaining.isEmpty)
        #expect(pair.received == request)
    }

    @Test func recordsCutAnywhereAreReassembled() throws {
        let pair = TLSPair(context: context)
        #expect(pair.connect())
        let message = (0..<40_000).map { UInt8(truncatingIfNeeded: $0) }
        pair.client.write(message)
        pair.client.write(Array("second".utf8))
        let wire = pair.client.take()
        pair.received = []
        for byte in wire { pair.serverReceive([byte]) }
        #expect(pair.received == message + Array("second".utf8))
        #expect(pair.layer?.bufferedBytes == 0)
        // And in uneven chunks that cut headers too.
        pair.client.write(message)
        let again = pair.client.take()
        pair.received = []
        var at = 0
        var step = 3
        while at < again.count {
            pair.serverReceive(Array(again[at..<min(again.count, at + step)]))
            at += step
            step = step * 7 % 4_099 + 1
        }
        #expect(pair.received == message)
        #expect(pair.outcomes.allSatisfy { $0 == .progress })
    }

    @Test func aRecordThatStopsArrivingHoldsWhatArrivedNotWhatItPromised() throws {
        // A hostile client announces a full-size record and trickles it:
        // the buffer grows with the bytes sent (never more than twice them).
        let pair = TLSPair(context: context)
        #expect(pair.connect())
        let message = [UInt8](repeating: 7, count: 16_000)
        pair.client.write(message)
        let wire = pair.client.take()
        pair.received = []
        pair.serverReceive(Array(wire[0..<3]))
        #expect(pair.layer?.bufferedBytes == 0)  // a header cut short waits inline
        pair.serverReceive(Array(wire[3..<40]))
        #expect((pair.layer?.bufferedBytes ?? 0) <= TLSRecordLayer.pieceBytesMin)
        var at = 40
        while at < wire.count - 100 {
            let end = min(wire.count - 100, at + 777)
            pair.serverReceive(Array(wire[at..<end]))
            at = end
            #expect((pair.layer?.bufferedBytes ?? 0) <= max(TLSRecordLayer.pieceBytesMin, 2 * at))
        }
        pair.serverReceive(Array(wire[at...]))
        #expect(pair.received == message)
        #expect(pair.layer?.bufferedBytes == 0)
    }

    @Test func keyUpdateRequestedByTheClientIsAnswered() throws {
        let pair = TLSPair(context: context)
        #expect(pair.connect())
        #expect(SSL_key_update(pair.client.ssl, SSL_KEY_UPDATE_REQUESTED) == 1)
        // The KeyUpdate goes out with the next record (§4.6.3).
        #expect(pair.toServer(Array("under new keys".utf8)) == Array("under new keys".utf8))
        #expect(pair.crypto.keyUpdatesReceived == 1)
        #expect(pair.layer?.hasOutput == true)  // our answer is due
        #expect(pair.toClient(Array("answered".utf8)) == .data(Array("answered".utf8)))
        #expect(pair.crypto.keyUpdatesSent == 1)
        #expect(pair.layer?.hasOutput == false)
        // Both directions are on their second keys and keep working.
        #expect(pair.toServer(Array("again".utf8)) == Array("again".utf8))
        #expect(pair.toClient(Array("again".utf8)) == .data(Array("again".utf8)))
        // Not requested: the server updates its receiving keys only.
        #expect(SSL_key_update(pair.client.ssl, SSL_KEY_UPDATE_NOT_REQUESTED) == 1)
        #expect(pair.toServer(Array("third".utf8)) == Array("third".utf8))
        #expect(pair.layer?.hasOutput == false)
        #expect(pair.crypto.keyUpdatesReceived == 2)
        #expect(pair.toClient(Array("still".utf8)) == .data(Array("still".utf8)))
        #expect(pair.crypto.keyUpdatesSent == 1)
    }

    @Test func theServerUpdatesItsKeysAfterItsRecordLimit() throws {
        let pair = TLSPair(context: context, crypto: RecordCrypto(writeRecordsPerKeyMax: 4))
        #expect(pair.connect())
        for round in 0..<20 {
            let message = Array("message \(round)".utf8)
            #expect(pair.toClient(message) == .data(message))
        }
        // Two tickets + 20 records, a new key every 4 records.
        #expect(pair.crypto.keyUpdatesSent >= 5)
        #expect(pair.toServer(Array("client keys unchanged".utf8)) == Array("client keys unchanged".utf8))
    }

    @Test func closeNotifyBothWays() throws {
        let pair = TLSPair(context: context)
        #expect(pair.connect())
        pair.layer!.close()
        let closing = try #require(pair.layer)
        #expect(closing.closeQueued && closing.isWriteClosed && closing.hasOutput)
        #expect(pair.toClient(Array("last".utf8)) == .closed)
        // Nothing is sealed after it.
        let closed = try #require(pair.layer)
        #expect(closed.sealedBytes(plaintextBytes: 10, crypto: pair.crypto) == 0)
        #expect(!closed.hasOutput)
        _ = SSL_shutdown(pair.client.ssl)
        pair.serverReceive(pair.client.take())
        #expect(pair.outcomes.last == .closed)
    }

    @Test func aTamperedRecordIsBadRecordMACAndTheClientIsTold() throws {
        let pair = TLSPair(context: context)
        #expect(pair.connect())
        pair.client.write(Array("payload".utf8))
        var wire = pair.client.take()
        wire[wire.count - 20] ^= 0x01
        pair.serverReceive(wire)
        #expect(pair.outcomes.last == .failed(.badRecordMAC))
        #expect(pair.received.isEmpty)
        // The alert is the only thing sealed, whatever is offered.
        let result = pair.toClient(Array("never sent".utf8))
        guard case .failed(let reason) = result else {
            Issue.record("the client read \(result)")
            return
        }
        #expect(reason.contains("bad record mac"))
        // Nothing more is read.
        pair.serverReceive(wire)
        #expect(pair.received.isEmpty)
    }

    @Test func aTLS12ConnectionKeepsOpenSSL() throws {
        let pair = TLSPair(context: context, client: TLSPeer(maxVersion: TLS1_2_VERSION))
        #expect(!pair.connect())
        #expect(pair.server.isHandshakeComplete && pair.server.version == "TLSv1.2")
        #expect(pair.layer == nil)
        #expect(pair.toServer(Array("over 1.2".utf8)) == Array("over 1.2".utf8))
    }
}

/// Records a hostile client could send, forged with the client's own keys
/// (OpenSSL never sends these): each must end the connection with the
/// alert RFC 8446 names.
@Suite struct TLSRecordLayerHostileTests {
    let context: TLSContext

    init() throws { context = try TestCertificate.context() }

    /// A connected pair and the client's write keys, its sequence number
    /// where OpenSSL left it (no records sent yet).
    func connected() throws -> (TLSPair, TrafficKeys) {
        let pair = TLSPair(context: context)
        #expect(pair.connect())
        let layer = try #require(pair.layer)
        return (pair, TrafficKeys(secret: pair.client.clientSecret, suite: layer.suite))
    }

    /// A protected record with `inner` as its TLSInnerPlaintext.
    func forge(_ inner: [UInt8], keys: inout TrafficKeys, suite: TLS13Suite, outerType: UInt8 = 23) -> [UInt8] {
        var record = [UInt8](repeating: 0, count: 5 + inner.count + RecordCrypto.tagBytes)
        record.withUnsafeMutableBytes { buffer in
            TLSRecord.writeHeader(buffer, length: inner.count + RecordCrypto.tagBytes)
            UnsafeMutableRawBufferPointer(rebasing: buffer[5..<5 + inner.count]).copyBytes(from: inner)
            RecordCrypto().seal(buffer, keys: keys, suite: suite)
        }
        keys.sequence += 1
        record[0] = outerType
        return record
    }

    func outcome(of inner: [UInt8], outerType: UInt8 = 23) throws -> TLSRecordLayer.Outcome? {
        var (pair, keys) = try connected()
        let suite = pair.layer!.suite
        pair.serverReceive(forge(inner, keys: &keys, suite: suite, outerType: outerType))
        return pair.outcomes.last
    }

    @Test func forgedRecordsAreReadLikeOpenSSLs() throws {
        var (pair, keys) = try connected()
        let suite = pair.layer!.suite
        // Padding after the content type (§5.4) and an empty application record.
        pair.serverReceive(forge(Array("padded".utf8) + [23, 0, 0, 0, 0], keys: &keys, suite: suite))
        pair.serverReceive(forge([23], keys: &keys, suite: suite))
        #expect(pair.received == Array("padded".utf8))
        // A KeyUpdate split over two records (§5.1 allows handshake fragments).
        pair.serverReceive(forge([24, 0, 23 - 23, 22], keys: &keys, suite: suite))
        #expect(pair.outcomes.last == .progress)
        pair.serverReceive(forge([1, 0, 22], keys: &keys, suite: suite))
        #expect(pair.outcomes.last == .progress)
        keys.update(suite: suite)
        pair.serverReceive(forge(Array("new".utf8) + [23], keys: &keys, suite: suite))
        #expect(pair.received == Array("padded".utf8) + Array("new".utf8))
        // user_canceled is not an error (§6.1).
        pair.serverReceive(forge([1, 90, 21], keys: &keys, suite: suite))
        #expect(pair.outcomes.last == .progress)
    }

    @Test func innerPlaintextOfZerosIsUnexpectedMessage() throws {
        #expect(try outcome(of: [0, 0, 0]) == .failed(.unexpectedMessage))
    }

    @Test func aChangeCipherSpecAfterTheHandshakeIsUnexpectedMessage() throws {
        #expect(try outcome(of: [1, 20]) == .failed(.unexpectedMessage))
        let (pair, _) = try connected()
        pair.serverReceive([20, 3, 3, 0, 1, 1])
        #expect(pair.outcomes.last == .failed(.unexpectedMessage))
    }

    @Test func aRecordLongerThanAllowedIsRecordOverflow() throws {
        let (pair, _) = try connected()
        let length = TLSRecord.ciphertextBytesMax + 1
        pair.serverReceive([23, 3, 3, UInt8(length >> 8), UInt8(length & 0xFF)])
        #expect(pair.outcomes.last == .failed(.recordOverflow))
        // Content over 2^14 bytes inside an allowed ciphertext length (§5.4).
        #expect(try outcome(of: [UInt8](repeating: 65, count: 16_385) + [23]) == .failed(.recordOverflow))
    }

    @Test func handshakeMessagesOtherThanKeyUpdateAreRefused() throws {
        // NewSessionTicket (4) from a client, a KeyUpdate of the wrong length,
        // a request_update of 2, a KeyUpdate that does not end its record.
        #expect(try outcome(of: [4, 0, 0, 1, 0, 22]) == .failed(.unexpectedMessage))
        #expect(try outcome(of: [24, 0, 0, 2, 0, 0, 22]) == .failed(.decodeError))
        #expect(try outcome(of: [24, 0, 0, 1, 2, 22]) == .failed(.illegalParameter))
        #expect(try outcome(of: [24, 0, 0, 1, 0, 24, 22]) == .failed(.unexpectedMessage))
        #expect(try outcome(of: [22]) == .failed(.unexpectedMessage))
    }

    @Test func alertsFromThePeer() throws {
        #expect(try outcome(of: [1, 0, 21]) == .closed)
        #expect(try outcome(of: [2, 40, 21]) == .peerAlert(TLSAlert(code: 40)))
        #expect(try outcome(of: [2, 40, 0, 21]) == .failed(.decodeError))
        // Application data while a handshake message is half received (§5.1).
        var (pair, keys) = try connected()
        let suite = pair.layer!.suite
        pair.serverReceive(forge([24, 0, 22], keys: &keys, suite: suite))
        pair.serverReceive(forge(Array("x".utf8) + [23], keys: &keys, suite: suite))
        #expect(pair.outcomes.last == .failed(.unexpectedMessage))
    }
}
