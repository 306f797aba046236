import COpenSSL
import Testing
@testable import HeraldTLS

@Suite struct TicketKeysTests {
    @Test func inMemoryKeysRotateAndTheOldOneStillOpens() throws {
        let start = ContinuousClock.now
        let keys = try TicketKeys(now: start)
        let first = try #require(keys.sealingKey(now: start))
        #expect(keys.sealingKey(now: start + .seconds(TicketKeys.rotationSeconds - 1)) == first)
        let second = try #require(keys.sealingKey(now: start + .seconds(TicketKeys.rotationSeconds)))
        #expect(second != first)
        // The retired key opens (renewal asked), the new one opens as current.
        #expect(first.name.withUnsafeBytes { keys.openingKey(name: $0)?.current } == false)
        #expect(second.name.withUnsafeBytes { keys.openingKey(name: $0)?.current } == true)
        // One more period: the first is gone for good.
        let third = try #require(keys.sealingKey(now: start + .seconds(2 * TicketKeys.rotationSeconds)))
        #expect(third != second)
        #expect(first.name.withUnsafeBytes { keys.openingKey(name: $0) } == nil)
    }

    @Test func keyFilesHoldWhole80ByteKeysTheFirstSealing() throws {
        let file = (0..<160).map { UInt8($0) }
        let keys = try TicketKeys(fileContents: file)
        let sealing = try #require(keys.sealingKey(now: .now + .seconds(100 * TicketKeys.rotationSeconds)))
        #expect(sealing.name == Array(0..<16))  // never rotated away: the operator rotates files
        #expect(Array(80..<96).map { UInt8($0) }.withUnsafeBytes { keys.openingKey(name: $0)?.current } == false)
        #expect(throws: TicketKeys.FileError.self) { try TicketKeys(fileContents: Array(file.prefix(79))) }
        #expect(throws: TicketKeys.FileError.self) { try TicketKeys(fileContents: []) }
        // A bad replacement changes nothing.
        #expect(throws: TicketKeys.FileError.self) { try keys.replace(fileContents: [1, 2, 3]) }
        #expect(keys.sealingKey()?.name == Array(0..<16))
    }

    /// A client's session from one context, offered to another.
    func resumes(from first: TLSContext, on second: TLSContext) throws -> Bool {
        let pair = TLSPair(context: first)
        #expect(pair.connect())
        #expect(pair.toClient(Array("tickets".utf8)) == .data(Array("tickets".utf8)))
        let session = try #require(pair.client.session)
        defer { SSL_SESSION_free(session) }
        let again = TLSPair(context: second, client: TLSPeer(session: session))
        #expect(again.connect())
        #expect(again.toServer(Array("x".utf8)) == Array("x".utf8))
        return again.client.reused && again.server.isResumed
    }

    @Test func nodesSharingKeysResumeEachOthersClients() throws {
        let files = TestCertificate.files
        let shared = try TicketKeys(fileContents: (0..<80).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        let a = try TLSContext(certificateChainFile: files.certificate, privateKeyFile: files.key, ticketKeys: shared)
        let b = try TLSContext(certificateChainFile: files.certificate, privateKeyFile: files.key, ticketKeys: shared)
        #expect(try resumes(from: a, on: b))
        // Different keys: the ticket does not open, a full handshake follows (and works).
        let other = try TLSContext(certificateChainFile: files.certificate, privateKeyFile: files.key)
        #expect(try !resumes(from: a, on: other))
    }
}
