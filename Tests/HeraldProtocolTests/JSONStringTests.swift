import Testing

@testable import HeraldProtocol

@Suite struct JSONStringTests {
    func literal(_ input: [UInt8]) -> String {
        var out: [UInt8] = []
        JSONString.append(input, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    @Test func escapesQuotesBackslashesAndControls() {
        #expect(literal(bytes("plain")) == "\"plain\"")
        #expect(literal(bytes("a\"b\\c")) == "\"a\\\"b\\\\c\"")
        #expect(literal(bytes("\n\t\u{0}\u{1F}")) == "\"\\u000a\\u0009\\u0000\\u001f\"")
        #expect(literal(bytes("é/😀\u{7F}")) == "\"é/😀\u{7F}\"")
    }

    @Test func appendsToExistingBytes() {
        var out = bytes("x=")
        JSONString.append("y".utf8, to: &out)
        #expect(out == bytes("x=\"y\""))
    }

    /// Invalid UTF-8 becomes U+FFFD so the output is always a valid text frame.
    @Test func replacesInvalidUTF8() {
        #expect(literal([0x61, 0xFF, 0x62]) == "\"a\u{FFFD}b\"")
        var out: [UInt8] = []
        JSONString.append([0xC0, 0x80, 0x22], to: &out)
        #expect(out.withUnsafeBytes { JSONValidator.isValid($0) })
    }

    /// A String's bytes (the fast path: no validation, one copy when
    /// nothing needs escaping) come out as the generic path writes them.
    @Test func stringsMatchTheByteCollectionPath() {
        for text in ["topic-1", "", "a\"b\\c", "\n\t\u{0}\u{1F}x", "é/😀\u{7F}", String(repeating: "long-", count: 40)] {
            var fromString: [UInt8] = [0x2C]
            JSONString.append(text.utf8, to: &fromString)
            var fromBytes: [UInt8] = [0x2C]
            JSONString.append(Array(text.utf8), to: &fromBytes)
            #expect(fromString == fromBytes, "\(text)")
        }
    }

    @Test func everyByteStringRoundTrips() {
        var random = SplitMix64(seed: 77)
        for _ in 0..<500 {
            let text = String(decoding: (0..<Int.random(in: 0...20, using: &random)).map { _ in UInt8.random(in: 0...127, using: &random) }, as: UTF8.self)
            var out: [UInt8] = []
            JSONString.append(text.utf8, to: &out)
            #expect(out.withUnsafeBytes { JSONValue.parse($0) } == .string(text))
        }
    }
}
