import Testing

@testable import HeraldProtocol

@Suite struct JSONValueTests {
    func parse(_ text: String) -> JSONValue? {
        Array(text.utf8).withUnsafeBytes { JSONValue.parse($0) }
    }

    @Test func parsesValidCorpus() {
        for input in JSONCorpus.valid {
            #expect(input.withUnsafeBytes { JSONValue.parse($0) } != nil, "\(String(decoding: input, as: UTF8.self))")
        }
    }

    @Test func rejectsInvalidCorpus() {
        for input in JSONCorpus.invalid {
            #expect(input.withUnsafeBytes { JSONValue.parse($0) } == nil, "\(hex(input))")
        }
    }

    @Test func buildsValues() {
        #expect(parse(" null ") == .null)
        #expect(parse("[true,false]") == .array([.bool(true), .bool(false)]))
        #expect(parse("-0.5e+1") == .number(-5))
        #expect(parse("\"a\\u00e9\\n\\\"\"") == .string("aé\n\""))
        #expect(parse("\"\\ud83d\\ude00\"") == .string("😀"))
        #expect(parse("\"\\u0000\"") == .string("\u{0}"))
        #expect(parse("{\"a\":[1,{\"b\":null}],\"c\":\"d\"}") == .object([("a", .array([.number(1), .object([("b", .null)])])), ("c", .string("d"))]))
    }

    @Test func objectEqualityIsOrderSensitive() {
        #expect(parse("{\"a\":1,\"b\":2}") != parse("{\"b\":2,\"a\":1}"))
        #expect(parse("{\"a\":1}") != parse("{\"a\":2}"))
        #expect(parse("{\"a\":1}") != parse("{\"a\":1,\"a\":1}"))
        #expect(JSONValue.object([]) != JSONValue.array([]))
    }

    @Test func subscriptTakesTheLastDuplicate() {
        let value = parse("{\"type\":\"a\",\"n\":1,\"type\":\"b\"}")
        #expect(value?["type"] == .string("b"))
        #expect(value?["n"]?.numberValue == 1)
        #expect(value?["missing"] == nil)
        #expect(parse("[1]")?["type"] == nil)
    }

    @Test func depthLimit() {
        #expect(JSONCorpus.nested(64).withUnsafeBytes { JSONValue.parse($0) } != nil)
        #expect(JSONCorpus.nested(65).withUnsafeBytes { JSONValue.parse($0) } == nil)
        #expect(JSONCorpus.nested(3).withUnsafeBytes { JSONValue.parse($0, depthMax: 2) } == nil)
        // Deep input fails cleanly instead of overflowing the stack.
        #expect(JSONCorpus.nested(100_000).withUnsafeBytes { JSONValue.parse($0) } == nil)
    }

    @Test func serializesAndRoundTrips() {
        for text in ["{\"a\":[1,2.5,-3,1e-07],\"b\":{\"c\":null,\"d\":true},\"e\":\"x\\\"\\u0001y\"}", "[]", "\"\"", "false"] {
            guard let value = parse(text) else {
                Issue.record("did not parse \(text)")
                continue
            }
            var out: [UInt8] = []
            value.append(to: &out)
            #expect(out.withUnsafeBytes { JSONValue.parse($0) } == value, "\(text)")
        }
        var out: [UInt8] = []
        JSONValue.object([("n", .number(42)), ("inf", .number(.infinity))]).append(to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "{\"n\":42,\"inf\":null}")
    }
}
