import Testing

@testable import HeraldProtocol

@Suite struct JSONValidatorTests {
    @Test func acceptsValidCorpus() {
        for input in JSONCorpus.valid {
            #expect(input.withUnsafeBytes { JSONValidator.isValid($0) }, "\(String(decoding: input, as: UTF8.self))")
        }
    }

    @Test func rejectsInvalidCorpus() {
        for input in JSONCorpus.invalid {
            #expect(!input.withUnsafeBytes { JSONValidator.isValid($0) }, "\(hex(input))")
        }
    }

    @Test func depthLimit() {
        #expect(JSONCorpus.nested(64).withUnsafeBytes { JSONValidator.isValid($0) })
        #expect(!JSONCorpus.nested(65).withUnsafeBytes { JSONValidator.isValid($0) })
        #expect(JSONCorpus.nested(65).withUnsafeBytes { JSONValidator.isValid($0, depthMax: 65) })
        #expect(!Array("{\"a\":{\"b\":1}}".utf8).withUnsafeBytes { JSONValidator.isValid($0, depthMax: 1) })
        #expect(!JSONCorpus.nested(100_000).withUnsafeBytes { JSONValidator.isValid($0) })
    }

    @Test func topLevelMembersGiveRawValueRanges() throws {
        let body = Array(" {\"topic\": \"news\", \"data\" : {\"x\": [1, 2]} } ".utf8)
        let members = try #require(body.withUnsafeBytes { JSONValidator.topLevelMembers($0) })
        #expect(members.map(\.name) == ["topic", "data"])
        #expect(String(decoding: body[members[0].valueRange], as: UTF8.self) == "\"news\"")
        #expect(String(decoding: body[members[1].valueRange], as: UTF8.self) == "{\"x\": [1, 2]}")
        #expect(Array("{}".utf8).withUnsafeBytes { JSONValidator.topLevelMembers($0) }?.isEmpty == true)
        #expect(Array("[1]".utf8).withUnsafeBytes { JSONValidator.topLevelMembers($0) } == nil)
        #expect(Array("{\"a\":1} x".utf8).withUnsafeBytes { JSONValidator.topLevelMembers($0) } == nil)
        #expect(Array("{\"a\":1,}".utf8).withUnsafeBytes { JSONValidator.topLevelMembers($0) } == nil)
    }
}
