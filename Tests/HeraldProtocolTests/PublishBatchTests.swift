import Testing
@testable import HeraldProtocol

@Suite struct PublishBatchTests {
    static func parse(_ text: String, dataMax: Int = 1 << 20, messagesMax: Int = 10) -> PublishBatch.Parsed {
        Array(text.utf8).withUnsafeBytes { PublishBatch.parse($0, dataBytesMax: dataMax, messagesMax: messagesMax) }
    }

    /// A parsed line as read back from the body: its topics, whether it
    /// named one `topic`, and its data's text where its range points.
    struct Line: Equatable {
        let topics: [String]
        let single: Bool
        let data: String
    }

    /// The lines of `text`, each read back through its ranges into `text`.
    static func lines(_ text: String, dataMax: Int = 1 << 20,
                      messagesMax: Int = 10) -> [Result<Line, PublishRequest.Failure>]? {
        let body = Array(text.utf8)
        guard case .lines(let lines) = parse(text, dataMax: dataMax, messagesMax: messagesMax) else { return nil }
        return lines.map { line in
            line.map { Line(topics: $0.topics, single: $0.single, data: String(decoding: body[$0.data], as: UTF8.self)) }
        }
    }

    @Test func linesInOrderBlankOnesSkipped() {
        let parsed = Self.lines("{\"topic\":\"a\",\"data\":1}\r\n\n \t\n{\"topics\":[\"b\",\"c\"],\"data\":[2]}\n")
        #expect(parsed == [
            .success(Line(topics: ["a"], single: true, data: "1")),
            .success(Line(topics: ["b", "c"], single: false, data: "[2]")),
        ])
    }

    @Test func aBadLineIsNamedAndTheOthersStand() {
        let parsed = Self.parse("{\"topic\":\"a\",\"data\":1}\nnope\n{\"topic\":\"a\",\"data\":\"" + String(repeating: "x", count: 10)
                                + "\"}", dataMax: 8)
        guard case .lines(let lines) = parsed, lines.count == 3 else {
            Issue.record("\(parsed)")
            return
        }
        #expect(lines[1] == .failure(.init("line 2: must be a JSON object {\"topic\"|\"topics\", \"data\"}")))
        #expect(lines[2] == .failure(.init("line 3: data over --publish-bytes-max (8 bytes)")))
    }

    /// The topic member is decoded from the validated bytes without a JSON
    /// tree: escapes in its name and value mean what they mean in JSON, the
    /// last duplicate counts, and anything but a string is refused.
    @Test func theTopicMemberReadsAsJSON() {
        let escaped = Self.lines(#"{"to\u0070ic":"news\/eu","data":1}"#)
        #expect(escaped == [.success(Line(topics: ["news/eu"], single: true, data: "1"))])
        let duplicate = Self.lines(#"{"topic":"a","data":1,"topic":"b"}"#)
        #expect(duplicate == [.success(Line(topics: ["b"], single: true, data: "1"))])
        for value in ["1", "null", "[\"a\"]", "{\"a\":1}", "true"] {
            #expect(Self.parse(#"{"topic":"# + value + #","data":1}"#)
                    == .lines([.failure(.init("line 1: \"topic\" must be a string"))]), "\(value)")
        }
        #expect(Self.parse(#"{"topic":"a b","data":1}"#) == .lines([.failure(.init("line 1: bad topic name"))]))
    }

    @Test func moreLinesThanReservedAreAllKeptInOrder() {
        let count = PublishBatch.linesReserved * 2 + 3
        let text = (0..<count).map { "{\"topic\":\"t\($0)\",\"data\":\($0)}" }.joined(separator: "\n")
        guard let lines = Self.lines(text, messagesMax: count) else {
            Issue.record("not parsed")
            return
        }
        #expect(lines.count == count)
        #expect(lines.enumerated().allSatisfy { index, line in
            line == .success(Line(topics: ["t\(index)"], single: true, data: "\(index)"))
        })
    }

    /// Lines are found sixteen bytes at a time: an LF at every offset of a
    /// chunk, and at the body's end or not, is found where a byte-by-byte
    /// scan finds it.
    @Test func lineEndsAreFoundAtEveryOffset() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let body = (0..<Int.random(in: 0...80, using: &generator)).map { _ in
                UInt8.random(in: 0...3, using: &generator) == 0 ? UInt8(ascii: "\n") : UInt8(ascii: "x")
            }
            body.withUnsafeBytes { bytes in
                for start in 0...bytes.count {
                    let expected = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
                    #expect(PublishBatch.lineEnd(bytes, from: start) == expected, "\(body) from \(start)")
                }
            }
        }
    }

    /// Lines of every length around the sixteen-byte chunks, blank ones of
    /// whitespace longer than a chunk between them.
    @Test func linesOfEveryLengthAroundAChunk() {
        var text = ""
        var expected: [Line] = []
        for padding in 0..<40 {
            let data = "\"" + String(repeating: "x", count: padding) + "\""
            text += #"{"topic":"t","data":"# + data + "}\n" + String(repeating: " \t\r", count: padding % 9) + "\n"
            expected.append(Line(topics: ["t"], single: true, data: data))
        }
        #expect(Self.lines(text, messagesMax: 40) == expected.map { .success($0) })
    }

    @Test func limitsCountLinesAndTopics() {
        #expect(Self.parse(" \n\r\n") == .empty)
        #expect(Self.parse(String(repeating: "{\"topic\":\"a\",\"data\":1}\n", count: 3), messagesMax: 2) == .tooMany)
        #expect(Self.parse("{\"topics\":[\"a\",\"b\",\"c\"],\"data\":1}", messagesMax: 2) == .tooMany)
        #expect(Self.parse("{\"topics\":[\"a\",\"b\"],\"data\":1}", messagesMax: 2) != .tooMany)
    }
}
