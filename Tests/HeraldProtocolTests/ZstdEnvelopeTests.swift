import Testing
@testable import HeraldProtocol

@Suite struct ZstdEnvelopeTests {
    @Test func messageAndDictionaryLayouts() {
        #expect(ZstdEnvelope.message(kind: .text, dictionaryID: 0x0102_0304, compressed: [9, 8])
                == [0x5A, 1, 1, 2, 3, 4, 9, 8])
        #expect(ZstdEnvelope.message(kind: .binary, dictionaryID: 0, compressed: [7]) == [0x5A, 2, 0, 0, 0, 0, 7])
        #expect(ZstdEnvelope.dictionary(id: 5, topic: "ab", bytes: [1, 2, 3])
                == [0x5A, 3, 0, 0, 0, 5, 2, UInt8(ascii: "a"), UInt8(ascii: "b"), 1, 2, 3])
    }

    static func head(_ target: String, _ extra: [(String, String)]) -> HTTPRequestHead {
        PublicRequestRoutingTests.head(target, fields: [
            ("Host", "example"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", PublicRequestRoutingTests.key), ("Sec-WebSocket-Version", "13"),
        ] + extra)
    }

    @Test func theSubprotocolReplacesDeflateWhenOffered() throws {
        let offered = try #require(PublicRequestRoutingTests.upgrade(PublicRequestRoutingTests.decide(Self.head(
            "/ws", [("Sec-WebSocket-Protocol", "other, herald.zstd.v1"),
                    ("Sec-WebSocket-Extensions", "permessage-deflate")]))))
        #expect(offered.zstd && offered.deflate == nil)
        let notOffered = try #require(PublicRequestRoutingTests.upgrade(PublicRequestRoutingTests.decide(Self.head(
            "/ws", [("Sec-WebSocket-Protocol", "herald.zstd.v2"), ("Sec-WebSocket-Extensions", "permessage-deflate")]))))
        #expect(!notOffered.zstd && notOffered.deflate != nil)
        // /echo is the diagnostics route: plain frames only.
        let echo = try #require(PublicRequestRoutingTests.upgrade(PublicRequestRoutingTests.decide(Self.head(
            "/echo", [("Sec-WebSocket-Protocol", "herald.zstd.v1")]))))
        #expect(!echo.zstd)
    }

    @Test func heldDictionaryIdsAreBoundedAndChecked() throws {
        let held = try #require(PublicRequestRoutingTests.upgrade(PublicRequestRoutingTests.decide(Self.head(
            "/ws?zstd_dicts=3,7&zstd_dicts=9", [("Sec-WebSocket-Protocol", "herald.zstd.v1")]))))
        #expect(held.heldDictionaries == [3, 7, 9])
        let seventeen = (1...17).map(String.init).joined(separator: ",")
        for bad in ["x", "0", "-1", "4294967296", seventeen] {
            let decision = PublicRequestRoutingTests.decide(Self.head("/ws?zstd_dicts=\(bad)", []))
            #expect(PublicRequestRoutingTests.upgrade(decision) == nil, "zstd_dicts=\(bad)")
        }
    }
}

@Suite struct ZstdEnvelopeParseTests {
    @Test func parsesWhatItBuildsAndRefusesTheRest() {
        let message = ZstdEnvelope.message(kind: .text, dictionaryID: 0x0102_0304, compressed: [9, 8, 7])
        message.withUnsafeBytes { bytes in
            guard case .message(let kind, let id, let frame) = ZstdEnvelope.parse(bytes) else {
                Issue.record("not a message"); return
            }
            #expect(kind == .text && id == 0x0102_0304 && Array(frame) == [9, 8, 7])
        }
        let dictionary = ZstdEnvelope.dictionary(id: 5, topic: "chat", bytes: [1, 2, 3, 4])
        dictionary.withUnsafeBytes { bytes in
            guard case .dictionary(let id, let topic, let body) = ZstdEnvelope.parse(bytes) else {
                Issue.record("not a dictionary"); return
            }
            #expect(id == 5 && Array(topic) == Array("chat".utf8) && Array(body) == [1, 2, 3, 4])
        }
        for bad: [UInt8] in [[], [0x5A, 1, 0, 0, 0], [1, 1, 0, 0, 0, 0], [0x5A, 4, 0, 0, 0, 0],
                             [0x5A, 3, 0, 0, 0, 0, 0], [0x5A, 3, 0, 0, 0, 1], [0x5A, 3, 0, 0, 0, 1, 5, 65]] {
            #expect(bad.withUnsafeBytes { ZstdEnvelope.parse($0) } == nil, "\(bad)")
        }
    }
}
