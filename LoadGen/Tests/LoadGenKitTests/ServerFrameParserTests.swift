import HeraldProtocol
import Testing
@testable import LoadGenKit

@Suite struct ServerFrameParserTests {
    func parse(_ bytes: [UInt8]) -> ServerFrameStep { bytes.withUnsafeBytes { ServerFrameParser.parse($0) } }

    @Test func smallTextFrame() {
        let frame = FrameEncoder.frame(opcode: .text, payload: Array("hello".utf8))
        #expect(parse(frame) == .frame(opcode: 1, fin: true, payloadStart: 2, payloadLength: 5, frameLength: 7))
        #expect(parse(Array(frame.prefix(4))) == .needMore)
        #expect(parse([0x81]) == .needMore)
    }

    @Test func extendedLengths() {
        let medium = FrameEncoder.frame(opcode: .binary, payload: [UInt8](repeating: 7, count: 300))
        #expect(parse(medium) == .frame(opcode: 2, fin: true, payloadStart: 4, payloadLength: 300, frameLength: 304))
        let large = FrameEncoder.frame(opcode: .text, payload: [UInt8](repeating: 65, count: 70_000))
        #expect(parse(large) == .frame(opcode: 1, fin: true, payloadStart: 10, payloadLength: 70_000, frameLength: 70_010))
        #expect(parse(Array(large.prefix(9))) == .needMore)
    }

    @Test func controlFrames() {
        #expect(parse([0x89, 0x02, 0x61, 0x62]) == .frame(opcode: 9, fin: true, payloadStart: 2, payloadLength: 2, frameLength: 4))
        #expect(parse([0x88, 0x02, 0x03, 0xE8]) == .frame(opcode: 8, fin: true, payloadStart: 2, payloadLength: 2, frameLength: 4))
        // A fragmented ping and an over-long one are protocol errors (RFC 6455 §5.5).
        if case .invalid = parse([0x09, 0x00]) {} else { Issue.record("fragmented ping accepted") }
        if case .invalid = parse([0x89, 126, 0, 200]) {} else { Issue.record("long ping accepted") }
    }

    @Test func rejectsMaskedReservedAndHuge() {
        if case .invalid = parse([0x81, 0x85, 1, 2, 3, 4, 0, 0, 0, 0, 0]) {} else { Issue.record("masked accepted") }
        if case .invalid = parse([0xC1, 0x00]) {} else { Issue.record("RSV1 accepted") }
        if case .invalid = parse([0x83, 0x00]) {} else { Issue.record("reserved opcode accepted") }
        if case .invalid = parse([0x82, 127, 0, 0, 0, 1, 0, 0, 0, 0]) {} else { Issue.record("4 GiB frame accepted") }
    }

    @Test func twoFramesInOneBuffer() {
        let bytes = FrameEncoder.frame(opcode: .text, payload: Array("a".utf8)) + [0x89, 0x00]
        guard case .frame(_, _, _, _, let first, _) = parse(bytes) else { Issue.record("no frame"); return }
        #expect(first == 3)
        #expect(parse(Array(bytes[first...])) == .frame(opcode: 9, fin: true, payloadStart: 2, payloadLength: 0, frameLength: 2))
    }
}

@Suite struct CompressedFrameTests {
    @Test func rsv1OnlyWhenDeflateWasAgreedAndOnlyOnDataFrames() {
        let compressed: [UInt8] = [0xC1, 0x02, 0xAA, 0xBB]  // FIN, RSV1, text
        #expect(compressed.withUnsafeBytes { ServerFrameParser.parse($0) } == .invalid("reserved bits set (no extension negotiated)"))
        #expect(compressed.withUnsafeBytes { ServerFrameParser.parse($0, deflate: true) }
                == .frame(opcode: 1, fin: true, payloadStart: 2, payloadLength: 2, frameLength: 4, compressed: true))
        let ping: [UInt8] = [0xC9, 0x00]
        #expect(ping.withUnsafeBytes { ServerFrameParser.parse($0, deflate: true) } == .invalid("reserved bits set (no extension negotiated)"))
        let rsv2: [UInt8] = [0xA1, 0x00]
        #expect(rsv2.withUnsafeBytes { ServerFrameParser.parse($0, deflate: true) } == .invalid("reserved bits set (no extension negotiated)"))
    }
}

@Suite struct HandshakeResponseTests {
    func check(_ text: String, _ accept: String) -> HandshakeResponse.Verdict {
        Array(text.utf8).withUnsafeBytes { HandshakeResponse.check($0, expectedAccept: accept) }
    }

    @Test func aCodecMustBeAgreed() {
        let head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
        let accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        func verdict(_ text: String, _ codec: Codec) -> HandshakeResponse.Verdict {
            Array(text.utf8).withUnsafeBytes { HandshakeResponse.check($0, expectedAccept: accept, codec: codec) }
        }
        let zstd = head + "Sec-WebSocket-Protocol: herald.zstd.v1\r\n\r\n"
        let deflate = head + "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n\r\n"
        #expect(verdict(zstd, .zstd) == .accepted(headLength: zstd.utf8.count))
        #expect(verdict(deflate, .deflate) == .accepted(headLength: deflate.utf8.count))
        #expect(verdict(head + "\r\n", .plain) == .accepted(headLength: head.utf8.count + 2))
        for (text, codec) in [(head + "\r\n", Codec.zstd), (deflate, .zstd), (zstd, .deflate), (head + "\r\n", .deflate)] {
            if case .rejected = verdict(text, codec) {} else { Issue.record("\(codec) passed without being agreed") }
        }
    }

    @Test func rfcExample() {
        // RFC 6455 §1.3's key and accept.
        #expect(WebSocketHandshake.acceptValue(forKey: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        let head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        #expect(check(head, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == .accepted(headLength: head.utf8.count))
        #expect(check(head + "\u{81}", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == .accepted(headLength: head.utf8.count))
        #expect(check(String(head.dropLast(2)), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == .needMore)
        if case .rejected = check(head, "wrong") {} else { Issue.record("wrong accept passed") }
    }

    @Test func rejectsNon101() {
        if case .rejected(let why) = check("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", "x") {
            #expect(why.contains("404"))
        } else {
            Issue.record("404 accepted")
        }
    }

    @Test func keysDifferPerClient() {
        #expect(HandshakeResponse.key(for: 1) != HandshakeResponse.key(for: 2))
        #expect(HandshakeResponse.key(for: 1).utf8.count == 24)  // 16 bytes in base64
        #expect(Base64.decode(HandshakeResponse.key(for: 99))?.count == 16)
    }
}
