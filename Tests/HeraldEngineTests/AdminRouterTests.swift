import Foundation
import Glibc
import HeraldProtocol
import HeraldIO
import Testing
@testable import HeraldEngine

/// An admin router over a one-shard registry, fed raw request bytes.
private struct Harness {
    let registry = makeRegistry(shards: 1)
    let router: AdminRouter

    init(token: String? = nil) {
        router = AdminRouter(token: token, stats: makeStatsReport(registry: registry),
                             publisher: Publisher(registry: registry))
    }

    /// Frames `head` (CRLF added between lines) plus `body` and routes it.
    func respond(_ lines: [String], body: [UInt8] = [], sourceLocation: SourceLocation = #_sourceLocation)
        -> AdminRouter.Response? {
        var headLines = lines
        // RFC 9112 §3.2: every HTTP/1.1 request names its Host.
        if !headLines.dropFirst().contains(where: { $0.lowercased().hasPrefix("host:") }) {
            headLines.insert("Host: admin", at: min(1, headLines.count))
        }
        if !body.isEmpty { headLines.append("Content-Length: \(body.count)") }
        let bytes = Array((headLines.joined(separator: "\r\n") + "\r\n\r\n").utf8) + body
        guard let request = frameAdminRequest(bytes, bodyBytesMax: 1 << 20).request else {
            Issue.record("request did not frame", sourceLocation: sourceLocation)
            return nil
        }
        return router.respond(request)
    }

    func respond(_ lines: [String], text: String) -> AdminRouter.Response? {
        respond(lines, body: Array(text.utf8))
    }

    /// Subscribes one connection of shard 0 so publishes are queued.
    func subscribe(_ topic: String) {
        let shard = ShardRouter(shardIndex: 0, registry: registry)
        var head = ShardRouter.none
        _ = shard.subscribe(ring: 0, slot: 0, generation: 1, name: topic, head: &head, topicsMax: 8)
    }

    /// Frames queued for shard 0, parsed.
    func delivered() -> [ParsedFrame] {
        drainDeliveries(registry.queues[0]).compactMap { parseFrame($0.bytes) }
    }
}

extension AdminRouter.Response {
    var text: String { String(decoding: body, as: UTF8.self) }

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    var json: [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
    }

    var errorMessage: String? { json?["error"] as? String }
}

@Suite struct AdminRouterTests {
    // MARK: Read-only endpoints

    @Test func healthz() throws {
        let harness = Harness()
        let get = try #require(harness.respond(["GET /healthz HTTP/1.1", "Host: x"]))
        #expect(get.status == .ok)
        #expect(get.text == "ok")
        #expect(get.contentType.hasPrefix("text/plain"))
        #expect(try #require(harness.respond(["HEAD /healthz HTTP/1.1"])).status == .ok)
    }

    @Test func stats() throws {
        let response = try #require(Harness().respond(["GET /v1/stats HTTP/1.1"]))
        #expect(response.status == .ok)
        #expect(response.contentType == "application/json")
        let json = try #require(response.json)
        #expect((json["connections"] as? NSNumber)?.intValue == 12)
        #expect(json["shards"] is [Any])
    }

    @Test func metrics() throws {
        let response = try #require(Harness().respond(["GET /metrics HTTP/1.1"]))
        #expect(response.status == .ok)
        #expect(response.contentType == "text/plain; version=0.0.4; charset=utf-8")
        #expect(response.text.contains("\nherald_connections 12\n"))
    }

    @Test(arguments: [("POST /healthz", "GET"), ("DELETE /healthz", "GET"), ("POST /v1/stats", "GET"),
                      ("HEAD /v1/stats", "GET"), ("PUT /metrics", "GET"), ("GET /v1/publish", "POST"),
                      ("PUT /v1/publish?topic=t", "POST"), ("POST /v1/topics/t", "GET")])
    func wrongMethodIs405WithAllow(requestLine: String, allow: String) throws {
        let response = try #require(Harness().respond(["\(requestLine) HTTP/1.1"]))
        #expect(response.status == .methodNotAllowed)
        #expect(response.header("Allow") == allow)
        #expect(response.errorMessage == "method not allowed")
    }

    @Test(arguments: ["/", "/nope", "/v1", "/v1/stats/", "/healthz/x", "/V1/STATS"])
    func unknownPathIs404(path: String) throws {
        let response = try #require(Harness().respond(["GET \(path) HTTP/1.1"]))
        #expect(response.status == .notFound)
        #expect(response.errorMessage == "no such endpoint: \(path)")
    }

    // MARK: Bearer token

    @Test(arguments: [nil, "Bearer wrong!", "Bearer s3cre", "Bearer s3cret!", "Bearer S3CRET", "Basic s3cret",
                      "s3cret", "Bearer  s3cret", "Bearer "])
    func wrongOrMissingTokenIs401(authorization: String?) throws {
        let harness = Harness(token: "s3cret")
        var lines = ["GET /v1/stats HTTP/1.1"]
        if let authorization { lines.append("Authorization: \(authorization)") }
        let response = try #require(harness.respond(lines))
        #expect(response.status == .unauthorized)
        #expect(response.header("WWW-Authenticate") == "Bearer realm=\"herald\"")
        #expect(response.errorMessage == "missing or wrong bearer token")
    }

    @Test func rightTokenIsAccepted() throws {
        let harness = Harness(token: "s3cret")
        let response = try #require(harness.respond(["GET /v1/stats HTTP/1.1", "Authorization: Bearer s3cret"]))
        #expect(response.status == .ok)
        let publish = try #require(harness.respond(["POST /v1/publish?topic=t HTTP/1.1", "Authorization: Bearer s3cret"],
                                                   text: "x"))
        #expect(publish.status == .ok)
    }

    @Test func tokenIsCheckedBeforeRouting() throws {
        let harness = Harness(token: "s3cret")
        #expect(try #require(harness.respond(["GET /nope HTTP/1.1"])).status == .unauthorized)
        #expect(try #require(harness.respond(["GET /healthz HTTP/1.1"])).status == .unauthorized)
        #expect(try #require(harness.respond(["POST /v1/publish?topic=t HTTP/1.1"], text: "x")).status == .unauthorized)
        #expect(harness.registry.info(topic: "t").seq == 0, "an unauthorized publish publishes nothing")
    }

    @Test func noTokenConfiguredIgnoresAuthorization() throws {
        let response = try #require(Harness().respond(["GET /healthz HTTP/1.1", "Authorization: Bearer anything"]))
        #expect(response.status == .ok)
    }

    // MARK: POST /v1/publish?topic=T

    @Test func rawJSONPublish() throws {
        let harness = Harness()
        harness.subscribe("t")
        let first = try #require(harness.respond(["POST /v1/publish?topic=t HTTP/1.1",
                                                  "Content-Type: application/json"], text: #"{"x": 1}"#))
        #expect(first.status == .ok)
        #expect(first.contentType == "application/json")
        #expect(withoutEpochs(first.text) == #"{"topic":"t","seq":1}"#)
        let second = try #require(harness.respond(["POST /v1/publish?topic=t HTTP/1.1",
                                                   "Content-Type: Application/JSON; charset=utf-8"], text: "[2]"))
        #expect(withoutEpochs(second.text) == #"{"topic":"t","seq":2}"#)
        let frames = harness.delivered()
        #expect(frames.map(\.opcode) == [1, 1])
        #expect(frames.count == 2)
        if frames.count == 2 {
            #expect(envelopeData(frames[0].payload, topic: "t", seq: 1) == Array(#"{"x": 1}"#.utf8))
            #expect(envelopeData(frames[1].payload, topic: "t", seq: 2) == Array("[2]".utf8))
        }
    }

    @Test(arguments: [nil, "text/plain", "text/plain; charset=utf-8", "application/x-anything"])
    func rawTextPublish(contentType: String?) throws {
        let harness = Harness()
        harness.subscribe("t")
        var lines = ["POST /v1/publish?topic=t HTTP/1.1"]
        if let contentType { lines.append("Content-Type: \(contentType)") }
        let response = try #require(harness.respond(lines, text: "héllo \"you\""))
        #expect(response.status == .ok)
        #expect(withoutEpochs(response.text) == #"{"topic":"t","seq":1}"#)
        let frame = try #require(harness.delivered().first)
        #expect(frame.opcode == 1)
        #expect(envelopeData(frame.payload, topic: "t", seq: 1) == Array(#""héllo \"you\"""#.utf8))
    }

    @Test func rawBinaryPublish() throws {
        let harness = Harness()
        harness.subscribe("bin")
        let body: [UInt8] = [0xFF, 0x00, 0xC0, 0x80]  // not UTF-8
        let response = try #require(harness.respond(["POST /v1/publish?topic=bin HTTP/1.1",
                                                     "Content-Type: application/octet-stream"], body: body))
        #expect(response.status == .ok)
        #expect(withoutEpochs(response.text) == #"{"topic":"bin","seq":1}"#)
        let frame = try #require(harness.delivered().first)
        #expect(frame.opcode == 2)
        #expect(frame.payload == [1, 3] + Array("bin".utf8) + [0, 0, 0, 0, 0, 0, 0, 1] + body)
    }

    @Test func rawInvalidJSON() throws {
        let harness = Harness()
        for body in ["{", "{'a':1}", "[1,]", "nan"] {
            let response = try #require(harness.respond(["POST /v1/publish?topic=t HTTP/1.1",
                                                         "Content-Type: application/json"], text: body))
            #expect(response.status == .badRequest, "\(body)")
            #expect(response.errorMessage == "body is not valid JSON", "\(body)")
        }
        #expect(harness.registry.info(topic: "t").seq == 0)
    }

    @Test func rawInvalidUTF8Text() throws {
        let harness = Harness()
        let response = try #require(harness.respond(["POST /v1/publish?topic=t HTTP/1.1"], body: [0x61, 0xFF, 0x62]))
        #expect(response.status == .badRequest)
        #expect(response.errorMessage == "body is not UTF-8 text; publish bytes as application/octet-stream")
        #expect(harness.registry.info(topic: "t").seq == 0)
    }

    @Test func rawEmptyBody() throws {
        let harness = Harness()
        let response = try #require(harness.respond(["POST /v1/publish?topic=t HTTP/1.1", "Content-Length: 0"]))
        #expect(response.status == .badRequest)
        #expect(response.errorMessage == "missing body")
    }

    @Test(arguments: ["topic=", "topic=bad%20name", "topic=bad+name", "topic=%C3%A9",
                      "topic=" + String(repeating: "a", count: 129)])
    func rawBadTopic(query: String) throws {
        let harness = Harness()
        let response = try #require(harness.respond(["POST /v1/publish?\(query) HTTP/1.1"], text: "x"))
        #expect(response.status == .badRequest)
        #expect(response.errorMessage == "bad topic name")
        #expect(harness.registry.totals().published == 0)
    }

    @Test func rawBadQueryString() throws {
        let response = try #require(Harness().respond(["POST /v1/publish?topic=%zz HTTP/1.1"], text: "x"))
        #expect(response.status == .badRequest)
        #expect(response.errorMessage == "bad query string")
    }

    @Test func rawTopicIsPercentDecoded() throws {
        let harness = Harness()
        let response = try #require(harness.respond(["POST /v1/publish?x=1&topic=room%2F1%3Aa HTTP/1.1"], text: "x"))
        #expect(response.status == .ok)
        #expect(withoutEpochs(response.text) == #"{"topic":"room/1:a","seq":1}"#)
        #expect(harness.registry.info(topic: "room/1:a").seq == 1)
    }

    // MARK: POST /v1/publish with a JSON body

    @Test func jsonBodyWithOneTopic() throws {
        let harness = Harness()
        harness.subscribe("t")
        let response = try #require(harness.respond(["POST /v1/publish HTTP/1.1", "Content-Type: application/json"],
                                                    text: #"{"topic":"t", "data" : { "k" : [1, "two"] } }"#))
        #expect(response.status == .ok)
        #expect(withoutEpochs(response.text) == #"{"results":[{"topic":"t","seq":1}]}"#)
        let frame = try #require(harness.delivered().first)
        #expect(frame.opcode == 1)
        #expect(envelopeData(frame.payload, topic: "t", seq: 1) == Array(#"{ "k" : [1, "two"] }"#.utf8),
                "data is forwarded byte for byte")
    }

    @Test func jsonBodyWithSeveralTopics() throws {
        let harness = Harness()
        _ = harness.registry.publish(topic: "b", build: plainFrames)
        let response = try #require(harness.respond(["POST /v1/publish HTTP/1.1"],
                                                    text: #"{"data":"hi","topics":["a","b","a"]}"#))
        #expect(response.status == .ok)
        #expect(withoutEpochs(response.text) == #"{"results":[{"topic":"a","seq":1},{"topic":"b","seq":2},{"topic":"a","seq":2}]}"#)
        #expect(harness.registry.info(topic: "a").seq == 2)
        #expect(harness.registry.info(topic: "b").seq == 2)
    }

    @Test func jsonBodyTopicWinsOverTopics() throws {
        let harness = Harness()
        let response = try #require(harness.respond(["POST /v1/publish HTTP/1.1"],
                                                    text: #"{"topics":["x"],"topic":"y","data":null}"#))
        #expect(withoutEpochs(response.text) == #"{"results":[{"topic":"y","seq":1}]}"#)
        #expect(harness.registry.info(topic: "x").seq == 0)
    }

    @Test(arguments: [
        (#"{"topic":"t"}"#, #"missing "data""#),
        (#"{"data":1}"#, #"missing "topic" or "topics""#),
        (#"{"topic":5,"data":1}"#, #""topic" must be a string"#),
        (#"{"topics":[],"data":1}"#, #""topics" must be a non-empty array of strings"#),
        (#"{"topics":"t","data":1}"#, #""topics" must be a non-empty array of strings"#),
        (#"{"topics":["t",1],"data":1}"#, #""topics" must be a non-empty array of strings"#),
        (#"{"topic":"bad name","data":1}"#, "bad topic name"),
        (#"{"topic":"","data":1}"#, "bad topic name"),
        (#"{"topics":["ok","bad name"],"data":1}"#, "bad topic name"),
        (#"[{"topic":"t","data":1}]"#, #"body must be a JSON object {"topic"|"topics", "data"}"#),
        (#"{"topic":"t","data":}"#, #"body must be a JSON object {"topic"|"topics", "data"}"#),
        (#"{"topic":"t","data":1} x"#, #"body must be a JSON object {"topic"|"topics", "data"}"#),
        ("topic=t&data=1", #"body must be a JSON object {"topic"|"topics", "data"}"#),
    ])
    func jsonBodyErrors(body: String, message: String) throws {
        let harness = Harness()
        let response = try #require(harness.respond(["POST /v1/publish HTTP/1.1"], text: body))
        #expect(response.status == .badRequest)
        #expect(response.errorMessage == message)
        #expect(harness.registry.totals().published == 0, "a refused publish publishes to no topic")
    }

    // MARK: POST /v1/publish/batch

    @Test func batchPublishesEveryLineInOrderWithItsOwnResult() throws {
        let harness = Harness()
        harness.subscribe("a")
        let lines = [#"{"topic":"a","data":{"n":1}}"#, "", #"  {"topics":["b","a"],"data":"two"}  "#,
                     #"{"topic":"bad name","data":3}"#, "not json", #"{"topic":"a"}"#, #"{"topic":"a","data":[4]}"#]
        let response = try #require(harness.respond(["POST /v1/publish/batch HTTP/1.1",
                                                     "Content-Type: application/x-ndjson"],
                                                    text: lines.joined(separator: "\r\n") + "\n"))
        #expect(response.status == .ok)
        #expect(withoutEpochs(response.text) == #"{"results":[{"topic":"a","seq":1},"#
            + #"{"results":[{"topic":"b","seq":1},{"topic":"a","seq":2}]},"#
            + #"{"error":"line 3: bad topic name"},"#
            + #"{"error":"line 4: must be a JSON object {\"topic\"|\"topics\", \"data\"}"},"#
            + #"{"error":"line 5: missing \"data\""},{"topic":"a","seq":3}]}"#)
        let delivered = harness.delivered()
        #expect(delivered.count == 3)
        guard delivered.count == 3 else { return }
        #expect(envelopeData(delivered[0].payload, topic: "a", seq: 1) == Array(#"{"n":1}"#.utf8))
        #expect(envelopeData(delivered[1].payload, topic: "a", seq: 2) == Array(#""two""#.utf8))
        #expect(envelopeData(delivered[2].payload, topic: "a", seq: 3) == Array("[4]".utf8))
    }

    @Test func batchRefusesNothingToPublishAndTooManyLines() throws {
        let harness = Harness()
        let blank = try #require(harness.respond(["POST /v1/publish/batch HTTP/1.1"], text: "\n \n"))
        #expect(blank.status == .badRequest)
        let many = String(repeating: #"{"topic":"t","data":1}"# + "\n", count: AdminRouter.batchMessagesMax + 1)
        let tooMany = try #require(harness.respond(["POST /v1/publish/batch HTTP/1.1"], text: many))
        #expect(tooMany.status == .payloadTooLarge)
        #expect(harness.registry.totals().published == 0, "refused before anything was published")
        let names = (0...AdminRouter.batchMessagesMax / 2).map { "\"t\($0)\"" }.joined(separator: ",")
        let wide = #"{"topics":["# + names + #"],"data":1}"# + "\n" + #"{"topics":["# + names + #"],"data":2}"#
        let tooWide = try #require(harness.respond(["POST /v1/publish/batch HTTP/1.1"], text: wide))
        #expect(tooWide.status == .payloadTooLarge, "each topic of a line counts")
        #expect(harness.registry.totals().published == 0)
        let get = try #require(harness.respond(["GET /v1/publish/batch HTTP/1.1"]))
        #expect(get.status == .methodNotAllowed)
    }

    @Test func aBatchBodyMayBeLargerThanOnePublish() {
        let line = Array((#"{"topic":"t","data":""# + String(repeating: "x", count: 100) + "\"}\n").utf8)
        let body = Array(repeating: line, count: 20).flatMap { $0 }
        for (path, limit, framed) in [("/v1/publish/batch", 4096, true), ("/v1/publish", 4096, false)] {
            let bytes = Array("POST \(path) HTTP/1.1\r\nHost: a\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body
            let result = bytes.withUnsafeBytes {
                AdminRequestFramer.next($0, headBytesMax: 8192, bodyBytesMax: 1024, batchBodyBytesMax: limit)
            }
            switch result {
            case .failure(let status, _): #expect(!framed && status == .payloadTooLarge, "\(path)")
            case .request: #expect(framed, "\(path)")
            case .incomplete: Issue.record("\(path): incomplete")
            }
        }
    }

    @Test func jsonBodyEmpty() throws {
        let response = try #require(Harness().respond(["POST /v1/publish HTTP/1.1", "Content-Length: 0"]))
        #expect(response.status == .badRequest)
        #expect(response.errorMessage == "missing body")
    }

    // MARK: GET /v1/topics/T

    @Test func topicInfo() throws {
        let harness = Harness()
        harness.subscribe("room/1")
        for _ in 0..<3 { _ = harness.registry.publish(topic: "room/1", build: plainFrames) }
        let response = try #require(harness.respond(["GET /v1/topics/room%2F1 HTTP/1.1"]))
        #expect(response.status == .ok)
        #expect(response.contentType == "application/json")
        #expect(withoutEpochs(response.text) == #"{"topic":"room/1","subscribers":1,"seq":3}"#)
        let plain = try #require(harness.respond(["GET /v1/topics/room/1 HTTP/1.1"]))
        #expect(plain.text == response.text)
        _ = harness.delivered()
    }

    @Test func unknownTopicInfoIsZero() throws {
        let response = try #require(Harness().respond(["GET /v1/topics/never HTTP/1.1"]))
        #expect(response.status == .ok)
        #expect(withoutEpochs(response.text) == #"{"topic":"never","subscribers":0,"seq":0}"#)
    }

    @Test(arguments: ["/v1/topics/", "/v1/topics/bad%20name", "/v1/topics/%zz", "/v1/topics/caf%C3%A9"])
    func badTopicInfo(path: String) throws {
        let response = try #require(Harness().respond(["GET \(path) HTTP/1.1"]))
        #expect(response.status == .badRequest)
        #expect(response.errorMessage == "bad topic name")
    }

    // MARK: Error bodies

    @Test func errorBodyEscapesTheMessage() {
        let response = AdminRouter.error(.badRequest, "say \"no\"\n")
        #expect(response.text == #"{"error":"say \"no\"\u000a"}"#)
        #expect(response.errorMessage == "say \"no\"\n")
        #expect(response.contentType == "application/json")
    }

    @Test func publishResultsAndTopicInfoNameTheEpoch() throws {
        let harness = Harness()
        let response = try #require(harness.respond(["POST /v1/publish?topic=t HTTP/1.1", "Content-Type: application/json"],
                                                    text: "1"))
        let epoch = try #require(harness.registry.info(topic: "t").epoch)
        #expect(response.text == #"{"topic":"t","seq":1,"epoch":"\#(epoch)"}"#)
        let info = try #require(harness.respond(["GET /v1/topics/t HTTP/1.1"]))
        #expect(info.text == #"{"topic":"t","subscribers":0,"seq":1,"epoch":"\#(epoch)"}"#)
    }
}

/// A response text with its `"epoch"` members taken out (epochs are random
/// per registry; `publishResultsAndTopicInfoNameTheEpoch` checks them).
func withoutEpochs(_ text: String?) -> String? {
    guard var text else { return nil }
    while let start = text.range(of: #","epoch":"#) {
        var end = start.upperBound
        if text[end...].hasPrefix("null") {
            end = text.index(end, offsetBy: 4)
        } else {
            end = text.index(after: end)
            while text[end] != "\"" { end = text.index(after: end) }
            end = text.index(after: end)
        }
        text.removeSubrange(start.lowerBound..<end)
    }
    return text
}

/// `POST /v1/disconnect` with an admin server to ring: the router hands
/// back an awaited answer instead of waiting for the shards.
@Suite struct AwaitedDisconnectTests {
    static func request(_ text: String) -> AdminRequest? {
        frameAdminRequest(text, bodyBytesMax: 1024).request
    }

    @Test func theAnswerIsReadyWhenTheShardsReplyOrAtItsDeadline() throws {
        let registry = makeRegistry(shards: 2)
        let control = ShardControl(wakeDescriptors: [-1, -1])
        let router = AdminRouter(token: nil, stats: makeStatsReport(registry: registry),
                                 publisher: Publisher(registry: registry), control: control)
        let descriptor = try Socket.eventDescriptor()
        defer { Socket.close(descriptor) }
        router.awaitedAnswerDescriptor = descriptor
        let disconnect = try #require(Self.request(
            "POST /v1/disconnect HTTP/1.1\r\nHost: a\r\nContent-Length: 13\r\n\r\n{\"sub\":\"eve\"}"))
        let publish = try #require(Self.request(
            "POST /v1/publish?topic=t HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}"))
        #expect(router.mayAnswerLater(disconnect))
        #expect(!router.mayAnswerLater(publish))

        let awaited = try #require(router.respond(disconnect).awaited)
        #expect(awaited.answer(nowMilliseconds: 0) == nil)  // no shard has replied, the deadline is far
        var replies: [Countdown] = []
        for shard in 0..<2 {
            guard case .disconnect(let subject, let reply) = control.take(shard: shard).first else {
                Issue.record("shard \(shard) got no command")
                return
            }
            #expect(subject == "eve")
            replies.append(reply)
        }
        replies[0].arrive(adding: 2)
        #expect(awaited.answer(nowMilliseconds: 0) == nil)
        #expect(readEvent(descriptor) == nil)  // not rung before the last reply
        replies[1].arrive(adding: 1)
        #expect(readEvent(descriptor) == 1)
        let answer = try #require(awaited.answer(nowMilliseconds: 0))
        #expect(answer.status == .ok && answer.text == #"{"closed":3}"#)

        // No reply by the deadline: 503, with what was closed so far.
        let late = try #require(router.respond(disconnect).awaited)
        _ = control.take(shard: 0)
        _ = control.take(shard: 1)
        #expect(late.answer(nowMilliseconds: late.deadlineMilliseconds - 1) == nil)
        let timedOut = try #require(late.answer(nowMilliseconds: late.deadlineMilliseconds))
        #expect(timedOut.status == .serviceUnavailable && timedOut.header("Retry-After") == "1")
    }
}

/// A shard that stopped taking commands: an admin client that asks again
/// after each 503 cannot grow the shard's queue past its bound.
@Suite struct ShardCommandBoundTests {
    @Test func disconnectsPastAShardsBoundAreRefusedAndAskNoShard() throws {
        let registry = makeRegistry(shards: 2)
        let control = ShardControl(wakeDescriptors: [-1, -1])
        let router = AdminRouter(token: nil, stats: makeStatsReport(registry: registry),
                                 publisher: Publisher(registry: registry), control: control)
        router.awaitedAnswerDescriptor = -1
        let disconnect = try #require(AwaitedDisconnectTests.request(
            "POST /v1/disconnect HTTP/1.1\r\nHost: a\r\nContent-Length: 13\r\n\r\n{\"sub\":\"eve\"}"))
        // Shard 1 keeps up, shard 0 takes nothing.
        for _ in 0..<ShardControl.commandsPerShardMax {
            #expect(router.respond(disconnect).awaited != nil)
            #expect(control.take(shard: 1).count == 1)
        }
        let refused = router.respond(disconnect)
        #expect(refused.awaited == nil && refused.status == .serviceUnavailable)
        #expect(refused.header("Retry-After") == "1")
        #expect(!control.hasCommands(shard: 1), "a refused command reached a shard")
        #expect(control.take(shard: 0).count == ShardControl.commandsPerShardMax)
        // The shard caught up: asking works again.
        #expect(router.respond(disconnect).awaited != nil)
    }
}

/// An eventfd's count, read without blocking (nil while it is zero).
func readEvent(_ descriptor: Int32) -> UInt64? {
    var value: UInt64 = 0
    return Glibc.read(descriptor, &value, 8) == 8 ? value : nil
}
