// libFuzzer harnesses for every parser that takes network input, compiled
// together with the pure sources they test (Tests/Fuzz/fuzz.sh), so they
// reach internal API. One binary; HERALD_FUZZ_TARGET picks the harness.
//
// A harness traps (precondition) when an invariant breaks; libFuzzer and
// AddressSanitizer report crashes, leaks and memory errors. Every crash
// found becomes a unit test next to the parser's other tests.

import Glibc

/// The harness chosen once per process.
private let target: String = {
    guard let name = getenv("HERALD_FUZZ_TARGET") else {
        fputs("HERALD_FUZZ_TARGET must name a harness: \(harnesses.keys.sorted().joined(separator: ", "))\n", stderr)
        exit(2)
    }
    return String(cString: name)
}()

private let harnesses: [String: (UnsafeRawBufferPointer) -> Void] = [
    "frame-decoder": fuzzFrameDecoder,
    "http-head": fuzzHTTPHead,
    "admin-request": fuzzAdminRequest,
    "chunked-body": fuzzChunkedBody,
    "json": fuzzJSON,
    "utf8": fuzzUTF8,
    "extension-offer": fuzzExtensionOffer,
    "connection-token": fuzzConnectionToken,
    "query-string": fuzzQueryString,
    "publish-batch": fuzzPublishBatch,
    "liveness": fuzzLiveness,
    "lifecycle": fuzzLifecycle,
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let harness = harnesses[target] else {
        fputs("unknown HERALD_FUZZ_TARGET \(target)\n", stderr)
        exit(2)
    }
    harness(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

/// Splits `bytes` into chunks whose sizes come from the input's first
/// byte, so one input exercises a parser fed in pieces.
private func chunks(_ bytes: UnsafeRawBufferPointer) -> (step: Int, rest: [UInt8]) {
    guard let first = bytes.first else { return (1, []) }
    return (Int(first % 17) + 1, Array(bytes.dropFirst()))
}

// MARK: RFC 6455 frames

private func fuzzFrameDecoder(_ input: UnsafeRawBufferPointer) {
    let (step, bytes) = chunks(input)
    var decoder = FrameDecoder()
    var buffer = bytes
    let limit = 4096
    var payloadInMessage = 0
    var inControlFrame = false
    buffer.withUnsafeMutableBytes { all in
        var offset = 0
        var available = min(step, all.count)
        var steps = 0
        while steps < 100_000 {
            steps += 1
            let window = UnsafeMutableRawBufferPointer(rebasing: all[offset..<available])
            let result = decoder.next(window, messageBytesMax: limit, allowRSV1: step % 2 == 0)
            precondition(result.consumed >= 0 && result.consumed <= window.count, "consumed outside the buffer")
            offset += result.consumed
            switch result.event {
            case .needMore:
                if available == all.count { return }
                available = min(all.count, available + step)
            case .frameStart(let header):
                inControlFrame = header.opcode.isControl
                if header.opcode.isControl {
                    precondition(header.fin, "a fragmented control frame was accepted")
                    precondition(header.payloadLength <= 125, "an oversized control frame was accepted")
                } else if header.isFirstFrameOfMessage {
                    payloadInMessage = 0
                }
            case .payload(let chunk, _):
                if !inControlFrame {
                    payloadInMessage += chunk.count
                    precondition(payloadInMessage <= limit, "a message over messageBytesMax was passed on")
                }
            case .failure:
                // Sticky: a failed decoder keeps failing and consumes nothing.
                let again = decoder.next(UnsafeMutableRawBufferPointer(rebasing: all[offset..<all.count]),
                                         messageBytesMax: limit, allowRSV1: false)
                if case .failure = again.event {} else { preconditionFailure("decoder recovered after a failure") }
                precondition(again.consumed == 0)
                return
            }
        }
    }
}

// MARK: HTTP heads, routing, admin framing, chunked bodies

private func fuzzHTTPHead(_ input: UnsafeRawBufferPointer) {
    let limit = 8192
    // The head's end and its line-ending errors as the parser found them
    // before it kept "the byte before was a CR" instead of looking back:
    // both readings must agree, at this limit and at a small one.
    for max in [limit, Int(input.first ?? 0)] {
        let reference = referenceHeadEnd(input, maxHeadBytes: max)
        switch (HTTPRequestHeadParser.parse(input, maxHeadBytes: max), reference) {
        case (.complete(_, let length), .complete(let end)): precondition(length == end, "the head ends elsewhere")
        case (.malformed, .complete): break  // its lines are refused
        case (.malformed, .malformed), (.incomplete, .incomplete), (.tooLarge, .tooLarge): break
        default: preconditionFailure("the head's end or line endings read differently")
        }
    }
    // The request line and field lines as a plain reading checks them
    // (split at spaces and colons, each byte tested on its own): the
    // parser reads each line once, its checks folded into one pass.
    if case .complete(let end) = referenceHeadEnd(input, maxHeadBytes: limit) {
        let reference = referenceLines(UnsafeRawBufferPointer(rebasing: input[..<end]))
        switch HTTPRequestHeadParser.parse(input, maxHeadBytes: limit) {
        case .complete(let head, _):
            guard let line = reference else { preconditionFailure("a head with an invalid line was accepted") }
            precondition(head.method == line.method && head.target == line.target
                         && head.versionMinor == line.versionMinor, "the request line reads differently")
            let question = line.target.firstIndex(of: "?")
            if line.target.hasPrefix("/") {
                precondition(head.path == String(line.target[..<(question ?? line.target.endIndex)])
                             && head.query == question.map { String(line.target[line.target.index(after: $0)...]) } ?? "",
                             "the path and query are not the target's")
            }
        case .malformed:
            precondition(reference == nil, "a head whose lines are valid was refused")
        default:
            preconditionFailure("a complete head did not parse")
        }
    }
    switch HTTPRequestHeadParser.parse(input, maxHeadBytes: limit) {
    case .complete(let head, let length):
        precondition(length > 0 && length <= input.count && length <= limit, "head length outside the input")
        // The fields as the head's packed table gives them are the field
        // lines split plainly: name before the first colon, value after it
        // without SP/HTAB at either end.
        let read = head.headers.map { (Array($0.name.utf8), Array($0.value.utf8)) }
        let reference = referenceFields(UnsafeRawBufferPointer(rebasing: input[..<length])).map {
            (Array(String(decoding: $0.name, as: UTF8.self).utf8), Array(String(decoding: $0.value, as: UTF8.self).utf8))
        }
        precondition(read.count == reference.count && zip(read, reference).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 },
                     "the fields read back differ from the field lines")
        let policy = PublicRoutingPolicy(enableEcho: input.count % 2 == 0, topicsPerConnectionMax: 4,
                                         jwtSecret: input.count % 3 == 0 ? Array("k".utf8) : nil)
        let decision = PublicRequestRouting.decide(head, overCapacity: false, policy: policy, nowSeconds: 1_700_000_000)
        if case .upgrade(let upgrade) = decision {
            precondition(upgrade.topics.count <= 4, "more topics than allowed")
            precondition(Set(upgrade.topics).count == upgrade.topics.count, "a topic counted twice")
            precondition(upgrade.topics.allSatisfy(TopicName.isValid), "an invalid topic passed")
            precondition(head.hasValidHost, "an upgrade without exactly one Host")
            // The key read in place gives the accept value its joined text gives.
            precondition(head.header("Sec-WebSocket-Key").map(WebSocketHandshake.acceptValue(forKey:)) == upgrade.accept,
                         "the accept value is not that of the one key")
            precondition(head.header("Sec-WebSocket-Version") == WebSocketHandshake.version, "upgraded without version 13")
        }
        _ = HTTPBodyFraming.of(head, bodyBytesMax: 1 << 20)
        _ = head.expectsContinue
    case .incomplete:
        precondition(input.count < limit, "incomplete past the limit")
    case .tooLarge, .malformed:
        break
    }
}

/// A complete head's lines, cut at each CRLF (without them), byte by byte.
private func referenceCRLFLines(_ head: UnsafeRawBufferPointer) -> [[UInt8]] {
    var lines: [[UInt8]] = []
    var line: [UInt8] = []
    var index = 0
    while index + 1 < head.count {
        if head[index] == 13 && head[index + 1] == 10 {
            lines.append(line)
            line = []
            index += 2
        } else {
            line.append(head[index])
            index += 1
        }
    }
    return lines
}

/// A complete head's request line (method, target, minor version) when
/// it and every field line are valid, read plainly: the request line is
/// three parts at exactly two spaces, a token, visible ASCII and
/// "HTTP/1.0" or "HTTP/1.1"; a field line is a token, a colon and a value
/// of no control character but HTAB (SP and HTAB trimmed). nil otherwise.
private func referenceLines(_ head: UnsafeRawBufferPointer) -> (method: String, target: String, versionMinor: Int)? {
    let lines = referenceCRLFLines(head)
    let meaningful = Array(lines.drop { $0.isEmpty }.dropLast())
    guard let requestLine = meaningful.first else { return nil }
    let parts = requestLine.split(separator: 32, omittingEmptySubsequences: false)
    guard parts.count == 3, !parts[0].isEmpty, parts[0].allSatisfy(ASCII.isTokenChar),
          !parts[1].isEmpty, parts[1].allSatisfy({ $0 > 32 && $0 < 127 }) else { return nil }
    let version = String(decoding: parts[2], as: UTF8.self)
    guard version == "HTTP/1.1" || version == "HTTP/1.0" else { return nil }
    for field in meaningful.dropFirst() {
        guard let colon = field.firstIndex(of: UInt8(ascii: ":")), colon > 0,
              field[..<colon].allSatisfy(ASCII.isTokenChar),
              field[(colon + 1)...].allSatisfy({ ($0 >= 32 || $0 == 9) && $0 != 127 }) else { return nil }
    }
    return (String(decoding: parts[0], as: UTF8.self), String(decoding: parts[1], as: UTF8.self),
            version == "HTTP/1.1" ? 1 : 0)
}

/// The field lines of a complete head (`head` ends with CRLF CRLF), split
/// without the parser: the lines after the request line, each cut at its
/// first colon, the value without leading and trailing SP and HTAB.
private func referenceFields(_ head: UnsafeRawBufferPointer) -> [(name: [UInt8], value: [UInt8])] {
    let lines = referenceCRLFLines(head)
    // Empty lines before the request line, the request line, and the
    // empty line that ends the head are not fields.
    let fieldLines = lines.drop { $0.isEmpty }.dropFirst().filter { !$0.isEmpty }
    return fieldLines.map { line in
        let colon = line.firstIndex(of: UInt8(ascii: ":"))!
        var value = Array(line[(colon + 1)...])
        while let first = value.first, first == 32 || first == 9 { value.removeFirst() }
        while let last = value.last, last == 32 || last == 9 { value.removeLast() }
        return (Array(line[..<colon]), value)
    }
}

private func fuzzAdminRequest(_ input: UnsafeRawBufferPointer) {
    let (step, bytes) = chunks(input)
    // Whole buffer at once…
    let whole = bytes.withUnsafeBytes { AdminRequestFramer.next($0, headBytesMax: 1024, bodyBytesMax: 4096) }
    // …and fed in pieces through the incremental reader: the same request.
    var reader = AdminRequestReader()
    var pending: [UInt8] = []
    var fed = 0
    var pieces: AdminRequest?
    var failed = false
    while fed < bytes.count && pieces == nil && !failed {
        let end = min(bytes.count, fed + step)
        pending += bytes[fed..<end]
        fed = end
        var progress = true
        while progress && pieces == nil && !failed {
            let (consumed, event) = pending.withUnsafeBytes { reader.read($0, headBytesMax: 1024, bodyBytesMax: 4096) }
            precondition(consumed <= pending.count, "consumed more than given")
            pending.removeFirst(consumed)
            progress = consumed > 0 && !pending.isEmpty
            switch event {
            case .request(let request): pieces = request
            case .failure: failed = true
            case .needMore, .expectsContinue: break
            }
        }
    }
    if case .request(let request, _) = whole, let pieces {
        precondition(request.body == pieces.body, "pieces decoded another body")
        precondition(request.head.target == pieces.head.target)
        precondition(request.body.count <= 4096, "body over the limit")
    }
}

private func fuzzChunkedBody(_ input: UnsafeRawBufferPointer) {
    let (step, bytes) = chunks(input)
    var decoder = ChunkedBodyDecoder()
    var body: [UInt8] = []
    var offset = 0
    while offset < bytes.count {
        let end = min(bytes.count, offset + step)
        let result = bytes[offset..<end].withUnsafeBytes { decoder.feed($0, into: &body, bodyBytesMax: 2048) }
        precondition(body.count <= 2048, "body over the limit")
        switch result {
        case .needMore: offset = end
        case .done(let consumed):
            precondition(consumed > 0 && consumed <= end - offset)
            return
        case .failure: return
        }
    }
}

// MARK: JSON, UTF-8, extension offers, tokens, query strings

private func fuzzJSON(_ input: UnsafeRawBufferPointer) {
    let valid = JSONValidator.isValid(input)
    let value = JSONValue.parse(input)
    precondition(valid == (value != nil), "validator and parser disagree")
    _ = JSONValidator.topLevelMembers(input)
    _ = ClientMessage.parse(input)
}

private func fuzzUTF8(_ input: UnsafeRawBufferPointer) {
    // Differential: our validator against Swift's own decoding.
    let ours = UTF8Validator.isValid(input)
    let swifts = String(validating: input.bindMemory(to: UInt8.self), as: UTF8.self) != nil
    precondition(ours == swifts, "UTF8Validator disagrees with Swift on \(Array(input))")
    // Streaming in pieces gives the same answer.
    let (step, bytes) = chunks(input)
    var validator = UTF8Validator()
    var streamed = true
    var offset = 0
    while offset < bytes.count && streamed {
        let end = min(bytes.count, offset + step)
        streamed = bytes[offset..<end].withUnsafeBytes { validator.validate($0) }
        offset = end
    }
    let wholeRest = bytes.withUnsafeBytes { UTF8Validator.isValid($0) }
    precondition((streamed && validator.isAtCharacterBoundary) == wholeRest, "streaming disagrees with whole")
}

private func fuzzExtensionOffer(_ input: UnsafeRawBufferPointer) {
    let text = String(decoding: input, as: UTF8.self)
    if let offer = DeflateOffer.parse(text), let bits = offer.serverMaxWindowBits {
        precondition((8...15).contains(bits), "window bits out of range")
    }
    _ = ExtensionListParser.parse(text)
}

private func fuzzConnectionToken(_ input: UnsafeRawBufferPointer) {
    let text = String(decoding: input, as: UTF8.self)
    if case .success = ConnectionToken.verify(text, secret: Array("fuzz-secret".utf8), nowSeconds: 1_700_000_000) {
        // A random input passing an HMAC check would be a broken check.
        precondition(text.utf8.count > 40, "a short token verified")
    }
}

private func fuzzQueryString(_ input: UnsafeRawBufferPointer) {
    let text = String(decoding: input, as: UTF8.self)
    if let pairs = QueryString.parse(text) {
        let separators = text.utf8.filter { $0 == UInt8(ascii: "&") }.count
        precondition(pairs.count <= separators + 1, "more pairs than separators allow")
    }
    _ = QueryString.percentDecode(Substring(text))
    // The parser reads the query's bytes in place; a plain reading by
    // splitting must agree with it, pair for pair.
    let parsed = QueryString.parse(text).map { $0.map { [$0.name, $0.value] } }
    precondition(parsed == referenceQuery(text), "the query parser disagrees with a reading by splitting")
}

/// Where a head ends, as `HTTPRequestHeadParser.parse` scanned until
/// issue 12's last step: every byte checked against the one before it.
private enum ReferenceHeadEnd { case complete(Int), malformed, incomplete, tooLarge }

private func referenceHeadEnd(_ bytes: UnsafeRawBufferPointer, maxHeadBytes: Int) -> ReferenceHeadEnd {
    let count = bytes.count
    var start = 0
    while count - start >= 2 && bytes[start] == 0x0D && bytes[start + 1] == 0x0A { start += 2 }
    var lineStart = start
    var index = start
    while index < count {
        if index >= maxHeadBytes { return .tooLarge }
        let byte = bytes[index]
        if byte == 0x0A {
            guard index > start, bytes[index - 1] == 0x0D else { return .malformed }
            if index - 1 == lineStart && lineStart > start { return .complete(index + 1) }
            lineStart = index + 1
        } else if index > start && bytes[index - 1] == 0x0D {
            return .malformed
        }
        index += 1
    }
    return count >= maxHeadBytes ? .tooLarge : .incomplete
}

/// `QueryString.parse` the obvious way, for the query-string harness.
private func referenceQuery(_ text: String) -> [[String]]? {
    func decode(_ bytes: [UInt8]) -> String? {
        var out: [UInt8] = []
        var index = 0
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "%"):
                guard index + 2 < bytes.count, let high = QueryString.hexValue(bytes[index + 1]),
                      let low = QueryString.hexValue(bytes[index + 2]) else { return nil }
                out.append(high << 4 | low)
                index += 3
            case UInt8(ascii: "+"):
                out.append(UInt8(ascii: " "))
                index += 1
            default:
                out.append(bytes[index])
                index += 1
            }
        }
        return String(validating: out, as: UTF8.self)
    }
    var pairs: [[String]] = []
    for pair in Array(text.utf8).split(separator: UInt8(ascii: "&")) {
        let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
        guard let name = decode(Array(parts[0])), let value = decode(parts.count > 1 ? Array(parts[1]) : []) else {
            return nil
        }
        pairs.append([name, value])
    }
    return pairs
}

/// `POST /v1/publish/batch` bodies (and so `POST /v1/publish` JSON bodies,
/// each line being one): whatever the bytes, the limits hold, every
/// accepted line names only valid topics, and a line parses the same alone.
private func fuzzPublishBatch(_ input: UnsafeRawBufferPointer) {
    let dataMax = 64
    let messagesMax = 8
    switch PublishBatch.parse(input, dataBytesMax: dataMax, messagesMax: messagesMax) {
    case .empty:
        precondition(input.allSatisfy { [0x20, 0x09, 0x0D, 0x0A].contains($0) }, "a non-blank body read as empty")
    case .tooMany:
        break
    case .lines(let lines):
        precondition(!lines.isEmpty && lines.count <= messagesMax, "line count past the limit")
        var topics = 0
        for case .success(let request) in lines {
            precondition(!request.topics.isEmpty && request.topics.allSatisfy { TopicName.isValid($0) }, "bad topic kept")
            precondition(request.data.count <= dataMax, "data over the limit kept")
            // Its data's range is in the body, on one line, and is JSON.
            precondition(request.data.lowerBound >= 0 && request.data.upperBound <= input.count, "data outside the body")
            let data = UnsafeRawBufferPointer(rebasing: input[request.data])
            precondition(!data.contains(UInt8(ascii: "\n")) && JSONValue.parse(data) != nil, "data is not one JSON value")
            precondition(!request.single || request.topics.count == 1, "a single topic with several names")
            topics += request.topics.count
        }
        precondition(topics <= messagesMax, "publishes past the limit")
    }
    if !input.contains(UInt8(ascii: "\n")) {
        // The members are read without a JSON tree: a tree's reading must agree.
        let tree = JSONValue.parse(input)
        switch PublishRequest.parse(input) {
        case .success(let request):
            guard case .object = tree, let data = tree?["data"] else { preconditionFailure("a publish read from a non-object") }
            precondition(JSONValue.parse(UnsafeRawBufferPointer(rebasing: input[request.data])) == data,
                         "data differs from the tree's")
            if case .string(let topic) = tree?["topic"] {
                precondition(request.single && request.topics == [topic], "topic differs from the tree's")
            } else {
                precondition(!request.single, "a single topic the tree does not have")
            }
        case .failure:
            if case .object = tree, case .string(let topic) = tree?["topic"], tree?["data"] != nil,
               TopicName.isValid(topic) {
                preconditionFailure("a valid single publish refused")
            }
        }
    }
    // (A line naming more topics than a batch may publish refuses the
    // whole batch: `.tooMany`.)
    if !input.contains(UInt8(ascii: "\n")), case .success(let alone) = PublishRequest.parse(input),
       alone.data.count <= dataMax, alone.topicCount <= messagesMax {
        precondition(PublishBatch.parse(input, dataBytesMax: dataMax, messagesMax: messagesMax) == .lines([.success(alone)]),
                     "one line parses differently inside a batch")
    }
}

// MARK: The liveness decision, driven by random stamps

private func fuzzLiveness(_ input: UnsafeRawBufferPointer) {
    var words: [UInt32] = []
    var index = 0
    while index + 4 <= input.count && words.count < 16 {
        words.append(input.loadUnaligned(fromByteOffset: index, as: UInt32.self))
        index += 4
    }
    guard words.count >= 8 else { return }
    let timing = Liveness.Timing(pingIntervalTicks: words[0] % 100_000, pongTimeoutTicks: words[1] % 100_000,
                                 sendTimeoutTicks: words[2] % 100_000, policy: words[3] % 2 == 0 ? .drop : .disconnect)
    var snapshot = Liveness.Snapshot(nowTick: words[4], lastHeardTick: words[5])
    let flags = words[6]
    snapshot.pingOutstanding = flags & 1 != 0
    snapshot.stalled = flags & 2 != 0
    snapshot.overLimit = flags & 4 != 0
    snapshot.dropping = flags & 8 != 0
    snapshot.tokenExpired = flags & 16 != 0
    snapshot.pingSentTick = words[7]
    snapshot.stalledSinceTick = words.count > 8 ? words[8] : 0
    snapshot.overLimitSinceTick = words.count > 9 ? words[9] : 0
    let decision = Liveness.decide(snapshot, timing)
    precondition(decision.nextCheckTicks >= 1, "a timer due now would spin")
    let longest = max(timing.pingIntervalTicks, timing.pongTimeoutTicks, timing.sendTimeoutTicks)
    precondition(decision.nextCheckTicks <= longest, "a deadline later than every rule")
    if snapshot.tokenExpired { precondition(decision.action == .closeTokenExpired) }
    if decision.action == .startDropping { precondition(timing.policy == .drop && !snapshot.dropping) }
    if decision.action == .closeSlowConsumer { precondition(timing.policy == .disconnect && snapshot.stalled) }
}

// MARK: The connection lifecycle, driven by random event sequences

private func fuzzLifecycle(_ input: UnsafeRawBufferPointer) {
    var life = ConnectionLifecycle()
    life.reserved()
    var closeFramesQueued = 0
    var tornDown = false
    for byte in input.prefix(256) {
        let before = life
        switch byte % 9 {
        case 0: if life.state == .handshaking { life.upgraded() }
        case 1: if life.state == .accepting { life.accepted() }
        case 2: if life.state == .handshaking { life.answeredHTTP() }
        case 3:
            if case .reply = life.peerClosed(code: byte & 16 == 0 ? nil : .normal) { closeFramesQueued += 1 }
        case 4: if life.fail() { closeFramesQueued += 1 }
        case 5: if life.initiateClose() { closeFramesQueued += 1 }
        case 6: _ = life.drained(receiving: byte & 32 != 0)
        case 7:
            let teardown = life.tearDown()
            if teardown.begin {
                precondition(!tornDown, "torn down twice")
                tornDown = true
            }
        default: _ = life.peerEnded()
        }
        // Invariants: one close frame at most; nothing revives a torn-down
        // slot; a connection sending its close accepts no more data.
        precondition(closeFramesQueued <= 1, "two close frames queued")
        if before.state == .tearingDown { precondition(life.state == .tearingDown, "a torn-down slot came back") }
        if life.flags.contains(.closeSent) { precondition(!life.acceptsData, "data accepted after our close") }
        if life.state == .tearingDown { precondition(!life.readsInput, "input read after teardown") }
    }
}
