import Testing

@testable import HeraldProtocol

@Suite struct ClientMessageTests {
    func parse(_ text: String) -> Result<ClientMessage, ClientMessageError> {
        Array(text.utf8).withUnsafeBytes { ClientMessage.parse($0) }
    }

    @Test func validMessages() {
        #expect(parse(#"{"type":"subscribe","topic":"news"}"#) == .success(.subscribe(topic: "news", since: nil)))
        #expect(parse(#" {"topic":"a/b:c","type":"unsubscribe"} "#) == .success(.unsubscribe(topic: "a/b:c")))
        #expect(parse(#"{"type":"ping"}"#) == .success(.ping))
        #expect(parse(#"{"type":"ping","id":7,"extra":[1]}"#) == .success(.ping))
    }

    @Test(arguments: ["", "not json", "[]", "\"subscribe\"", "null", #"{"type":"ping""#, #"{"type":"ping"} x"#])
    func badJSON(text: String) {
        #expect(parse(text) == .failure(.badJSON))
    }

    @Test(arguments: [#"{}"#, #"{"type":1}"#, #"{"type":null}"#, #"{"type":"publish"}"#, #"{"type":"PING"}"#, #"{"Type":"ping"}"#])
    func unknownType(text: String) {
        #expect(parse(text) == .failure(.unknownType))
    }

    @Test(arguments: [
        #"{"type":"subscribe"}"#, #"{"type":"subscribe","topic":1}"#, #"{"type":"subscribe","topic":""}"#,
        #"{"type":"unsubscribe","topic":"a b"}"#, #"{"type":"subscribe","topic":["a"]}"#,
    ])
    func badTopic(text: String) {
        #expect(parse(text) == .failure(.badTopic))
    }

    @Test func topicLengthLimit() {
        let ok = String(repeating: "t", count: TopicName.bytesMax)
        #expect(parse(#"{"type":"subscribe","topic":"\#(ok)"}"#) == .success(.subscribe(topic: ok, since: nil)))
        #expect(parse(#"{"type":"subscribe","topic":"\#(ok)t"}"#) == .failure(.badTopic))
    }

    @Test func errorCodesMatchTheContract() {
        #expect(ClientMessageError.badJSON.code == "bad_json")
        #expect(ClientMessageError.unknownType.code == "unknown_type")
        #expect(ClientMessageError.badTopic.code == "bad_topic")
    }

    @Test func subscribeWithSince() {
        #expect(parse(#"{"type":"subscribe","topic":"t","since":{"seq":41,"epoch":"abc.1"}}"#)
                == .success(.subscribe(topic: "t", since: Recovery.Position(seq: 41, epoch: "abc.1"))))
        for bad in [#""since":5"#, #""since":{"seq":-1,"epoch":"e"}"#, #""since":{"seq":1.5,"epoch":"e"}"#,
                    #""since":{"epoch":"e"}"#, #""since":{"seq":1}"#, #""since":{"seq":1,"epoch":7}"#,
                    #""since":{"seq":1,"epoch":"\#(String(repeating: "e", count: 65))"}"#] {
            #expect(parse(#"{"type":"subscribe","topic":"t",\#(bad)}"#) == .failure(.badSince), "\(bad)")
        }
    }

    @Test func refresh() {
        #expect(parse(#"{"type":"refresh","token":"a.b.c"}"#) == .success(.refresh(token: "a.b.c")))
        for bad in [#"{"type":"refresh"}"#, #"{"type":"refresh","token":""}"#, #"{"type":"refresh","token":5}"#,
                    #"{"type":"refresh","token":"\#(String(repeating: "t", count: 4097))"}"#] {
            #expect(parse(bad) == .failure(.badToken), "\(bad.prefix(40))")
        }
        #expect(ClientMessageError.badToken.code == "unauthorized")
    }
}
