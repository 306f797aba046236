import Testing

@testable import HeraldProtocol

@Suite struct ServerMessageTests {
    func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test func exactBytes() {
        #expect(text(ServerMessage.pong()) == #"{"type":"pong"}"#)
        #expect(text(ServerMessage.subscribed(topic: "news", seq: 0, epoch: "e.1"))
                == #"{"type":"subscribed","topic":"news","seq":0,"epoch":"e.1"}"#)
        #expect(text(ServerMessage.subscribed(topic: "a", seq: UInt64.max, epoch: "x"))
                == #"{"type":"subscribed","topic":"a","seq":18446744073709551615,"epoch":"x"}"#)
        #expect(text(ServerMessage.subscribed(topic: "a", seq: 3, epoch: "x", recovered: true))
                == #"{"type":"subscribed","topic":"a","seq":3,"epoch":"x","recovered":true}"#)
        #expect(text(ServerMessage.subscribed(topic: "a", seq: 3, epoch: "x", recovered: false))
                == #"{"type":"subscribed","topic":"a","seq":3,"epoch":"x","recovered":false}"#)
        #expect(text(ServerMessage.refreshed(expiresAt: 1_767_225_600)) == #"{"type":"refreshed","exp":1767225600}"#)
        #expect(text(ServerMessage.refreshed(expiresAt: nil)) == #"{"type":"refreshed","exp":null}"#)
        #expect(text(ServerMessage.gap(topic: "g", epoch: "x", from: 2, to: 9))
                == #"{"type":"gap","topic":"g","epoch":"x","from":2,"to":9}"#)
        #expect(text(ServerMessage.unsubscribed(topic: "news")) == #"{"type":"unsubscribed","topic":"news"}"#)
        #expect(text(ServerMessage.error(code: "bad_topic", message: "no")) == #"{"type":"error","code":"bad_topic","message":"no"}"#)
        #expect(text(ServerMessage.error(code: "forbidden", message: "no", topic: "a/b"))
                == #"{"type":"error","code":"forbidden","message":"no","topic":"a/b"}"#)
        #expect(text(ServerMessage.message(topic: "t", seq: 3, jsonData: Array(#"{"x":1}"#.utf8))) == #"{"type":"message","topic":"t","seq":3,"data":{"x":1}}"#)
    }

    @Test func errorMessageIsEscaped() {
        let bytes = ServerMessage.error(code: "bad_json", message: "quote \" backslash \\ newline \n")
        let value = bytes.withUnsafeBytes { JSONValue.parse($0) }
        #expect(value?["message"] == .string("quote \" backslash \\ newline \n"))
        #expect(value?["type"] == .string("error"))
    }
}
