import Foundation
import Testing
@testable import HeraldClient

@Suite struct PureTests {
    @Test func backoffGrowsWithJitterWithinItsBounds() {
        let backoff = Backoff(minimum: .milliseconds(500), maximum: .seconds(30))
        #expect(backoff.delay(attempt: 1, random: 0) == .milliseconds(250))
        #expect(backoff.delay(attempt: 1, random: 1) == .milliseconds(500))
        #expect(backoff.delay(attempt: 3, random: 1) == .seconds(2))
        #expect(backoff.delay(attempt: 40, random: 1) == .seconds(30))
        #expect(backoff.delay(attempt: 40, random: 0) == .seconds(15))
    }

    @Test func binaryEnvelopesDecode() {
        let bytes: [UInt8] = [1, 3] + Array("a/b".utf8) + [0, 0, 0, 0, 0, 0, 1, 2] + [9, 8]
        #expect(BinaryEnvelope.decode(bytes) == HeraldMessage(topic: "a/b", seq: 258, payload: .binary(Data([9, 8]))))
        #expect(BinaryEnvelope.decode([2, 1, 65, 0, 0, 0, 0, 0, 0, 0, 1]) == nil)
        #expect(BinaryEnvelope.decode([1, 5, 65]) == nil)
    }

    @Test func tokenExpiryIsReadAndRenewedEarly() {
        // {"alg":"HS256"}.{"sub":"u","exp":2000000000}.sig
        let token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1IiwiZXhwIjoyMDAwMDAwMDAwfQ.c2ln"
        #expect(TokenExpiry.seconds(of: token) == 2_000_000_000)
        #expect(TokenExpiry.seconds(of: "not.a-token") == nil)
        #expect(TokenExpiry.renewIn(exp: 1_000, now: 900) == 95)
        #expect(TokenExpiry.renewIn(exp: 1_000, now: 990) == 9)
        #expect(TokenExpiry.renewIn(exp: 1_000, now: 999.5) == 1)
    }

    @Test func theDataOfAHeraldMessageIsTakenAsPublished() {
        let text = #"{"type":"message","topic":"t","seq":3,"data":{"b": 1.50, "a":[1,"x"]}}"#
        let object = try! JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
        #expect(String(decoding: HeraldClient.rawData(text, object), as: UTF8.self) == #"{"b": 1.50, "a":[1,"x"]}"#)
        let other = #"{"data":"x","type":"message","topic":"t","seq":3}"#
        let parsed = try! JSONSerialization.jsonObject(with: Data(other.utf8)) as! [String: Any]
        #expect(String(decoding: HeraldClient.rawData(other, parsed), as: UTF8.self) == #""x""#)
    }

    @Test func topicNamesFollowTheServersGrammar() {
        #expect(HeraldClient.isValidTopic("news/eu:1@a_b-c.d"))
        #expect(!HeraldClient.isValidTopic(""))
        #expect(!HeraldClient.isValidTopic("a b"))
        #expect(!HeraldClient.isValidTopic(String(repeating: "x", count: 129)))
        #expect(!HeraldClient.isValidTopic("quote\""))
    }
}
