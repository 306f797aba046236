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

    @Test func messageWrittenInPlaceEqualsTheBuiltOne() {
        for seq in [0, 9, 10, 99, 100, 12_345, UInt64.max] {
            for topic in ["t", "a.b:c/d@e_f-g", String(repeating: "x", count: 200)] {
                let data = Array(#"{"k":[1,"two"]}"#.utf8)
                let built = ServerMessage.message(topic: topic, seq: seq, jsonData: data)
                guard let length = ServerMessage.messageLength(topic: topic, seq: seq, jsonDataCount: data.count) else {
                    Issue.record("no length for \(topic)")
                    continue
                }
                #expect(length == built.count)
                var written = [UInt8](repeating: 0, count: length)
                written.withUnsafeMutableBytes { out in
                    data.withUnsafeBytes { ServerMessage.writeMessage(topic: topic, seq: seq, jsonData: $0, to: out) }
                }
                #expect(written == built, "seq \(seq) topic \(topic)")
            }
        }
    }

    @Test func messageLengthRefusesATopicThatNeedsEscaping() {
        #expect(ServerMessage.messageLength(topic: "a\"b", seq: 1, jsonDataCount: 1) == nil)
        #expect(ServerMessage.messageLength(topic: "a\\b", seq: 1, jsonDataCount: 1) == nil)
        #expect(ServerMessage.messageLength(topic: "a\nb", seq: 1, jsonDataCount: 1) == nil)
        #expect(ServerMessage.messageLength(topic: "é", seq: 1, jsonDataCount: 1) != nil)
    }

    @Test func digitCounts() {
        for value in [0, 1, 9, 10, 11, 99, 100, 1_000_000, UInt64.max] {
            var out: [UInt8] = []
            JSONNumber.append(value, to: &out)
            #expect(JSONNumber.digitCount(value) == out.count)
            #expect(String(decoding: out, as: UTF8.self) == String(value))
        }
    }

    @Test func errorMessageIsEscaped() {
        let bytes = ServerMessage.error(code: "bad_json", message: "quote \" backslash \\ newline \n")
        let value = bytes.withUnsafeBytes { JSONValue.parse($0) }
        #expect(value?["message"] == .string("quote \" backslash \\ newline \n"))
        #expect(value?["type"] == .string("error"))
    }
}
