import Testing
@testable import HeraldProtocol

@Suite struct PublishResultTests {
    static func text(topic: String, seq: UInt64, epoch: String, after prefix: String = "") -> String {
        var out = Array(prefix.utf8)
        PublishResult.append(topic: topic, seq: seq, epoch: epoch, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    @Test func aResultIsWrittenAfterWhatTheBodyHolds() {
        #expect(Self.text(topic: "news/eu", seq: 0, epoch: "h1k2") == #"{"topic":"news/eu","seq":0,"epoch":"h1k2"}"#)
        #expect(Self.text(topic: "a", seq: 9, epoch: "e", after: #"{"results":["#)
                == #"{"results":[{"topic":"a","seq":9,"epoch":"e"}"#)
        #expect(Self.text(topic: "t", seq: UInt64.max, epoch: "")
                == #"{"topic":"t","seq":18446744073709551615,"epoch":""}"#)
    }

    /// Every seq length: the result's length is computed before it is
    /// written, and a wrong one would stop the process.
    @Test func everyDigitCountIsSizedExactly() {
        var seq: UInt64 = 1
        for _ in 0..<19 {
            for value in [seq - 1, seq, seq * 9] {
                let parsed = Array(Self.text(topic: "t", seq: value, epoch: "x").utf8).withUnsafeBytes { JSONValue.parse($0) }
                #expect(parsed?["seq"]?.numberValue == Double(value), "\(value)")
            }
            seq *= 10
        }
    }

    /// What needs escaping (an epoch from Redis could) is escaped.
    @Test func anEpochThatNeedsEscapingIsEscaped() {
        let text = Self.text(topic: "t", seq: 3, epoch: "a\"b\\c\u{01}")
        #expect(text == #"{"topic":"t","seq":3,"epoch":"a\"b\\c\u0001"}"#)
        #expect(Array(text.utf8).withUnsafeBytes { JSONValue.parse($0) }?["epoch"]?.stringValue == "a\"b\\c\u{01}")
    }
}
