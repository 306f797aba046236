/// The JSON forms of a publish (CONTRACT "Admin listener"): one
/// `{"topic":"T","data":D}` or `{"topics":[…],"data":D}` object — the body
/// of `POST /v1/publish`, or one line of `POST /v1/publish/batch` (NDJSON).
/// Pure, so the reader of every admin body byte is unit-tested and fuzzed.
public struct PublishRequest: Sendable, Equatable {
    /// The first topic, checked: for `topic`, the only one.
    public let topic: String
    /// The topics after the first of a `topics` list, checked; empty for
    /// `topic`, so a single-topic request holds no list (a batch line
    /// allocated one per line; issue 12).
    public let moreTopics: [String]
    /// Whether it named one `topic` (its result is then not a list).
    public let single: Bool
    /// Where the `data` value's bytes are, exactly as sent, in the bytes
    /// `parse` read: the caller publishes them from there (a batch line
    /// copied them into an array of its own; issue 12).
    public let data: Range<Int>

    public init(topics: [String], single: Bool, data: Range<Int>) {
        precondition(!topics.isEmpty, "a publish names at least one topic")
        topic = topics[0]
        moreTopics = Array(topics.dropFirst())
        self.single = single
        self.data = data
    }

    /// Every topic in order (a list built per call: loops use
    /// `topicCount` and `topic(at:)`).
    public var topics: [String] { [topic] + moreTopics }
    public var topicCount: Int { 1 + moreTopics.count }
    public func topic(at index: Int) -> String { index == 0 ? topic : moreTopics[index - 1] }

    /// The same request with `data` moved `offset` bytes on (a batch line
    /// is parsed alone; its ranges are then made the body's).
    func offset(by offset: Int) -> PublishRequest {
        PublishRequest(topic: topic, moreTopics: moreTopics, single: single,
                       data: data.lowerBound + offset..<data.upperBound + offset)
    }

    private init(topic: String, moreTopics: [String], single: Bool, data: Range<Int>) {
        self.topic = topic
        self.moreTopics = moreTopics
        self.single = single
        self.data = data
    }

    public struct Failure: Error, Sendable, Equatable {
        public let message: String
        public init(_ message: String) { self.message = message }
    }

    public static func parse(_ bytes: UnsafeRawBufferPointer) -> Result<PublishRequest, Failure> {
        // One validating pass over the object gives each member's value
        // range; only the topic member is parsed into a value. (The data,
        // often most of the bytes, is validated once and forwarded as it
        // is: a batch line is not parsed into a tree.) Duplicate names: the
        // last one counts, as `JSONValue`'s subscript reads them.
        var topicRange: Range<Int>?
        var topicsRange: Range<Int>?
        var dataRange: Range<Int>?
        let object = JSONValidator.forEachTopLevelMember(bytes) { name, valueRange in
            if Self.isName(name, "topic") {
                topicRange = valueRange
            } else if Self.isName(name, "topics") {
                topicsRange = valueRange
            } else if Self.isName(name, "data") {
                dataRange = valueRange
            }
        }
        guard object else {
            return .failure(.init("must be a JSON object {\"topic\"|\"topics\", \"data\"}"))
        }
        guard let dataRange else { return .failure(.init("missing \"data\"")) }
        var topics: [String] = []
        let single: Bool
        if let range = topicRange {
            // Read straight from the validated bytes (no JSON tree for the
            // one member every batch line has).
            guard let name = Self.string(bytes, range) else { return .failure(.init("\"topic\" must be a string")) }
            guard TopicName.isValid(name) else { return .failure(.init("bad topic name")) }
            return .success(PublishRequest(topic: name, moreTopics: [], single: true, data: dataRange))
        } else if let range = topicsRange,
                  let list = JSONValue.parse(UnsafeRawBufferPointer(rebasing: bytes[range])) {
            guard let array = list.arrayValue, !array.isEmpty else {
                return .failure(.init("\"topics\" must be a non-empty array of strings"))
            }
            for item in array {
                guard let name = item.stringValue else {
                    return .failure(.init("\"topics\" must be a non-empty array of strings"))
                }
                topics.append(name)
            }
            single = false
        } else {
            return .failure(.init("missing \"topic\" or \"topics\""))
        }
        for name in topics where !TopicName.isValid(name) {
            return .failure(.init("bad topic name"))
        }
        return .success(PublishRequest(topics: topics, single: single, data: dataRange))
    }

    /// Whether a member's decoded name is `literal`. Compared byte by byte
    /// from the literal's storage: `elementsEqual` against a String's
    /// UTF-8 view walked it through the view's iterator, ~750 instructions
    /// per batch line for the three names (callgrind; issue 12).
    @inline(__always)
    private static func isName(_ name: UnsafeRawBufferPointer, _ literal: StaticString) -> Bool {
        guard name.count == literal.utf8CodeUnitCount else { return false }
        let expected = literal.utf8Start
        for index in 0..<name.count where name[index] != expected[index] { return false }
        return true
    }

    /// The string a validated JSON value is, nil when it is another kind.
    /// Without escapes its bytes are the string's (already checked UTF-8):
    /// no decoding buffer.
    private static func string(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> String? {
        guard bytes[range.lowerBound] == JSONLexer.quote else { return nil }
        // Safe: a validated string value is at least its two quotes.
        let content = UnsafeRawBufferPointer(rebasing: bytes[(range.lowerBound + 1)..<(range.upperBound - 1)])
        if !content.contains(JSONLexer.backslash) { return String(decoding: content, as: UTF8.self) }
        var decoded: [UInt8] = []
        var index = range.lowerBound
        guard JSONLexer.scanString(bytes, &index, decode: true, into: &decoded), index == range.upperBound else {
            return nil
        }
        return String(decoding: decoded, as: UTF8.self)
    }
}

/// A `POST /v1/publish/batch` body: NDJSON, one publish object per line.
public enum PublishBatch {
    public enum Parsed: Sendable, Equatable {
        /// No line holds anything but whitespace.
        case empty
        /// More than `messagesMax` lines, or topics across the lines
        /// (each topic of a `topics` line counts once).
        case tooMany
        /// Every non-blank line in order: its publish, or why it is refused
        /// (the message names the line, counting non-blank lines from 1).
        case lines([Result<PublishRequest, PublishRequest.Failure>])
    }

    /// Blank lines (JSON whitespace only) are skipped and `\r\n` is
    /// accepted; a line's `data` over `dataBytesMax` is refused like a
    /// malformed one. Everything is parsed before the caller publishes
    /// anything, so a batch over the limit is refused whole.
    /// Line ranges reserved before a batch is scanned (16 B each).
    static let linesReserved = 128

    public static func parse(_ body: UnsafeRawBufferPointer, dataBytesMax: Int, messagesMax: Int) -> Parsed {
        // Room for a usual batch at once (growing the list by doubling
        // allocated up to 2 KB per batch in steps; issue 12), without a
        // first pass to count the lines; a longer batch grows from there.
        var lines: [Range<Int>] = []
        lines.reserveCapacity(min(messagesMax, Self.linesReserved))
        var start = 0
        while start <= body.count {
            let end = lineEnd(body, from: start)
            if !isBlank(body, start..<end) {
                guard lines.count < messagesMax else { return .tooMany }
                lines.append(start..<end)
            }
            start = end + 1
        }
        guard !lines.isEmpty else { return .empty }
        var parsed: [Result<PublishRequest, PublishRequest.Failure>] = []
        parsed.reserveCapacity(lines.count)
        var publishes = 0
        for (position, line) in lines.enumerated() {
            var result = PublishRequest.parse(UnsafeRawBufferPointer(rebasing: body[line]))
            if case .success(let request) = result {
                if request.data.count > dataBytesMax {
                    result = .failure(.init("data over --publish-bytes-max (\(dataBytesMax) bytes)"))
                } else {
                    publishes += request.topicCount
                    // The line's ranges made the body's.
                    result = .success(request.offset(by: line.lowerBound))
                }
            }
            if case .failure(let failure) = result { result = .failure(.init("line \(position + 1): " + failure.message)) }
            parsed.append(result)
        }
        return publishes <= messagesMax ? .lines(parsed) : .tooMany
    }

    /// The index of the first LF at or after `start`, or `body.count`.
    /// Sixteen bytes at a time while they hold none: a byte-by-byte scan
    /// that also tracked blank lines was ~650 instructions per batch line
    /// (callgrind; issue 12).
    static func lineEnd(_ body: UnsafeRawBufferPointer, from start: Int) -> Int {
        // A local, not a `static let` (see HTTPRequestHeadParser).
        let newlines = SIMD16<UInt8>(repeating: UInt8(ascii: "\n"))
        var index = start
        while index + 16 <= body.count {
            // Safe: index + 16 <= body.count.
            if any(body.loadUnaligned(fromByteOffset: index, as: SIMD16<UInt8>.self) .== newlines) { break }
            index += 16
        }
        while index < body.count && body[index] != UInt8(ascii: "\n") { index += 1 }
        return index
    }

    /// Whether `line` holds only JSON whitespace (RFC 8259 §2; its LF is
    /// not part of it). A line that holds anything is seen at its first byte.
    static func isBlank(_ body: UnsafeRawBufferPointer, _ line: Range<Int>) -> Bool {
        for index in line {
            switch body[index] {
            case 0x20, 0x09, 0x0D: continue
            default: return false
            }
        }
        return true
    }
}
