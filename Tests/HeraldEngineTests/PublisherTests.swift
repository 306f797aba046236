import Foundation
import HeraldCompression
import Testing
import HeraldIO
@testable import HeraldEngine

@Suite struct PublisherTests {
    private static func parsed(_ frame: OutboundFrame, sourceLocation: SourceLocation = #_sourceLocation) -> ParsedFrame? {
        let result = parseFrame(frame.byteArray)
        if result == nil { Issue.record("not exactly one well-formed frame", sourceLocation: sourceLocation) }
        return result
    }

    @Test func jsonPayloadIsEmbeddedAsIs() throws {
        let frame = Publisher.frame(topic: "news", seq: 7, payload: .json(Array(#"{"a": [1, 2]}"#.utf8)))
        let parsed = try #require(Self.parsed(frame))
        #expect(parsed.fin)
        #expect(parsed.rsv == 0)
        #expect(parsed.opcode == 0x1)
        #expect(!parsed.masked, "RFC 6455 §5.1: a server never masks")
        #expect(String(decoding: parsed.payload, as: UTF8.self)
                == #"{"type":"message","topic":"news","seq":7,"data":{"a": [1, 2]}}"#)
    }

    /// The uncompressed publish path writes the envelope straight into the
    /// frame; it must equal the frame built through an array, for every
    /// header length (7-bit, 16-bit, 64-bit) and seq width.
    @Test func jsonFrameWrittenInPlaceEqualsTheBuiltOne() throws {
        for (seq, dataBytes) in [(UInt64(0), 3), (9, 60), (10, 100), (1_000_000, 126), (UInt64.max, 70_000)] {
            let data = Array(#"[""#.utf8) + Array(repeating: UInt8(ascii: "x"), count: dataBytes - 3) + Array(#""]"#.utf8)
            let built = Publisher.frame(topic: "room/42", seq: seq, payload: .json(data))
            let frames = Publisher.frames(topic: "room/42", seq: seq, payload: .json(data), deflater: nil)
            #expect(frames.plain.byteArray == built.byteArray, "seq \(seq), \(dataBytes) B")
            #expect(frames.compressed == nil && frames.zstd == nil)
        }
    }

    @Test func topicNeedingEscapeFallsBackToTheBuiltEnvelope() throws {
        // Never a valid topic name, but the envelope stays valid JSON if one came.
        #expect(Publisher.jsonFrame(topic: "a\"b", seq: 1, data: Array("1".utf8)) == nil)
        let frames = Publisher.frames(topic: "a\"b", seq: 1, payload: .json(Array("1".utf8)), deflater: nil)
        let payload = try #require(Self.parsed(frames.plain)).payload
        #expect(String(decoding: payload, as: UTF8.self) == #"{"type":"message","topic":"a\"b","seq":1,"data":1}"#)
    }

    @Test func envelopeParsesAsJSON() throws {
        let frame = Publisher.frame(topic: "a.b:c/d@e_f-g", seq: 1234567890123,
                                    payload: .json(Array(#"[true,null,"x"]"#.utf8)))
        let payload = try #require(Self.parsed(frame)).payload
        let object = try #require(try JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any])
        #expect(object["type"] as? String == "message")
        #expect(object["topic"] as? String == "a.b:c/d@e_f-g")
        #expect((object["seq"] as? NSNumber)?.int64Value == 1234567890123)
        let data = try #require(object["data"] as? [Any])
        #expect(data.count == 3)
        #expect(data[2] as? String == "x")
    }

    @Test func textPayloadBecomesAJSONString() throws {
        let text = "say \"hi\"\\\n\u{01}é🙂"
        let frame = Publisher.frame(topic: "t", seq: 1, payload: .text(Array(text.utf8)))
        let parsed = try #require(Self.parsed(frame))
        #expect(parsed.opcode == 0x1)
        #expect(String(decoding: parsed.payload, as: UTF8.self)
                == #"{"type":"message","topic":"t","seq":1,"data":"say \"hi\"\\\u000a\u0001é🙂"}"#)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(parsed.payload)) as? [String: Any])
        #expect(object["data"] as? String == text, "the string round-trips")
    }

    @Test func binaryEnvelopeLayout() throws {
        let payload: [UInt8] = [0x00, 0xFF, 0x10, 0x80]
        let frame = Publisher.frame(topic: "bin", seq: 0x0102_0304_0506_0708, payload: .binary(payload))
        let parsed = try #require(Self.parsed(frame))
        #expect(parsed.fin)
        #expect(parsed.opcode == 0x2)
        #expect(!parsed.masked)
        // version | topic length | topic | seq (big-endian, 8) | payload
        let expected: [UInt8] = [1, 3] + Array("bin".utf8) + [1, 2, 3, 4, 5, 6, 7, 8] + payload
        #expect(parsed.payload == expected)
        #expect(Publisher.binaryEnvelopeVersion == 1)
    }

    @Test func binaryWithEmptyPayloadAndLongestTopic() throws {
        let topic = String(repeating: "t", count: 128)
        let frame = Publisher.frame(topic: topic, seq: 1, payload: .binary([]))
        let parsed = try #require(Self.parsed(frame))
        #expect(parsed.payload.count == 2 + 128 + 8)
        #expect(parsed.payload[0] == 1)
        #expect(parsed.payload[1] == 128)
        #expect(Array(parsed.payload[2..<130]) == Array(topic.utf8))
        #expect(Array(parsed.payload[130...]) == [0, 0, 0, 0, 0, 0, 0, 1])
    }

    /// 7-bit, 16-bit and 64-bit payload lengths (RFC 6455 §5.2), each
    /// minimal, and the frame exactly header + envelope long.
    @Test(arguments: [0, 1, 100, 125, 200, 65_000, 70_000])
    func lengthEncodings(dataBytes: Int) throws {
        let data = [UInt8](repeating: UInt8(ascii: "x"), count: dataBytes)
        let binary = Publisher.frame(topic: "t", seq: 1, payload: .binary(data))
        let binaryParsed = try #require(Self.parsed(binary))
        #expect(binaryParsed.payload.count == 2 + 1 + 8 + dataBytes)
        #expect(Array(binaryParsed.payload[11...]) == data)

        let text = Publisher.frame(topic: "t", seq: 1, payload: .text(data))
        let textParsed = try #require(Self.parsed(text))
        #expect(envelopeData(textParsed.payload, topic: "t", seq: 1) == [UInt8(ascii: "\"")] + data + [UInt8(ascii: "\"")])
    }

    @Test func publishUsesTheRegistrySeqAndQueuesTheSameBytes() throws {
        let registry = makeRegistry(shards: 1)
        let publisher = Publisher(registry: registry)
        _ = registry.subscribersChanged(shard: 0, topic: "t", delta: 1)
        #expect(publisher.publish(topic: "t", payload: .json(Array("1".utf8))) == 1)
        #expect(publisher.publish(topic: "t", payload: .text(Array("two".utf8))) == 2)
        #expect(publisher.publish(topic: "t", payload: .binary([3])) == 3)
        let drained = drainDeliveries(registry.queues[0])
        #expect(drained.map(\.seq) == [1, 2, 3])
        #expect(drained.map(\.bytes) == [
            Publisher.frame(topic: "t", seq: 1, payload: .json(Array("1".utf8))).byteArray,
            Publisher.frame(topic: "t", seq: 2, payload: .text(Array("two".utf8))).byteArray,
            Publisher.frame(topic: "t", seq: 3, payload: .binary([3])).byteArray,
        ])
    }

    // MARK: permessage-deflate twin (RFC 7692)

    private static let compressible = Array(("[" + String(repeating: "\"herald\",", count: 40) + "0]").utf8)

    @Test func noCompressedTwinWithoutDeflateConnections() {
        let registry = makeRegistry(shards: 1)
        let publisher = Publisher(registry: registry)
        _ = registry.subscribersChanged(shard: 0, topic: "t", delta: 1)
        _ = publisher.publish(topic: "t", payload: .json(Self.compressible))
        let drained = drainDeliveries(registry.queues[0])
        #expect(drained.count == 1)
        #expect(drained.first?.compressed == nil)
    }

    @Test(arguments: [false, true])
    func compressedTwinInflatesToThePlainPayload(binary: Bool) throws {
        let registry = makeRegistry(shards: 1)
        let publisher = Publisher(registry: registry)
        registry.deflateConnections.store(1, ordering: .relaxed)
        _ = registry.subscribersChanged(shard: 0, topic: "t", delta: 1)
        _ = publisher.publish(topic: "t", payload: binary ? .binary(Self.compressible) : .json(Self.compressible))
        let delivery = try #require(drainDeliveries(registry.queues[0]).first)
        let plain = try #require(parseFrame(delivery.bytes))
        let compressedBytes = try #require(delivery.compressed)
        let compressed = try #require(parseFrame(compressedBytes))
        #expect(plain.rsv == 0)
        #expect(compressed.rsv == 0b100, "RSV1 marks a compressed message (RFC 7692 §6)")
        #expect(compressed.opcode == plain.opcode)
        #expect(compressed.opcode == (binary ? 2 : 1))
        #expect(compressed.fin)
        #expect(!compressed.masked)
        #expect(compressed.payload.count < plain.payload.count)
        let inflater = MessageInflater()
        let inflated = compressed.payload.withUnsafeBytes { inflater.decompress($0, bytesMax: 1 << 16).map(Array.init) }
        #expect(try inflated.get() == plain.payload)
    }

    @Test func smallMessagesAreNotCompressed() throws {
        let registry = makeRegistry(shards: 1)
        let publisher = Publisher(registry: registry)
        registry.deflateConnections.store(1, ordering: .relaxed)
        _ = registry.subscribersChanged(shard: 0, topic: "t", delta: 1)
        _ = publisher.publish(topic: "t", payload: .json(Array("1".utf8)))
        let delivery = try #require(drainDeliveries(registry.queues[0]).first)
        #expect(try #require(parseFrame(delivery.bytes)).payload.count < publisher.compression.minBytes)
        #expect(delivery.compressed == nil)
    }
}

/// `--zstd-train-after N`: the Nth publish queues its topic's training and
/// returns at once; the trainer thread trains it. Past the queue's bound a
/// training is skipped and counted, never waited for.
@Suite struct QueuedDictionaryTrainingTests {
    static let trainAfter = 200

    static func makePublisher() -> Publisher {
        let registry = TopicRegistry(wakeDescriptors: [-1], historySize: 400)
        return Publisher(registry: registry, dictionaries: Publisher.DictionarySettings(
            bytes: 4_096, topicsMax: 10, trainAfter: trainAfter))
    }

    static func publish(_ publisher: Publisher, topic: String, count: Int) {
        for i in 0..<count {
            let event = #"{"user":"u\#(i % 5)","text":"hello number \#(i % 7)","room":"lobby","ok":true}"#
            #expect(publisher.publish(topic: topic, payload: .json(Array(event.utf8))) != nil)
        }
    }

    @Test func theNthPublishQueuesTheTrainingAndTheTrainerTrainsIt() {
        let publisher = Self.makePublisher()
        Self.publish(publisher, topic: "room", count: Self.trainAfter + 5)
        // Queued once (at the Nth message only), not trained on the publishing thread.
        #expect(publisher.training.queue.count == 1)
        #expect(publisher.registry.dictionaryTotals.count == 0)
        let trainer = SystemThread.start(name: "test-train") { publisher.trainQueued() }
        // Bounded wait for the trainer (not a timing assertion: it fails
        // only if nothing is trained within a minute).
        for _ in 0..<6_000 where publisher.training.trained.load(ordering: .relaxed)
            + publisher.training.failed.load(ordering: .relaxed) == 0 {
            usleep(10_000)
        }
        publisher.training.queue.close()
        trainer.join()
        let trained = publisher.training.trained.load(ordering: .relaxed)
        let failed = publisher.training.failed.load(ordering: .relaxed)
        #expect(trained == 1 && failed == 0)
        #expect(publisher.registry.dictionaryTotals.count == 1)
    }

    @Test func aFullQueueSkipsTheTrainingAndCountsIt() {
        let publisher = Self.makePublisher()
        for index in 0..<Publisher.DictionaryTraining.queueMax {
            #expect(publisher.training.queue.push(.due("waiting-\(index)")))
        }
        Self.publish(publisher, topic: "room", count: Self.trainAfter)
        let skipped = publisher.training.skipped.load(ordering: .relaxed)
        #expect(skipped == 1)
        #expect(publisher.training.queue.count == Publisher.DictionaryTraining.queueMax)
        #expect(publisher.registry.dictionaryTotals.count == 0)
    }
}

/// `POST /v1/topics/T/dictionary` with a trainer thread: the request hands
/// its training over and its answer is awaited, so the serving thread (an
/// admin thread, or a shard with `--admin-threads 0`) never trains.
@Suite struct AwaitedTrainingTests {
    static func request(_ topic: String) -> AdminRequest? {
        frameAdminRequest("POST /v1/topics/\(topic)/dictionary HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
                          bodyBytesMax: 1024).request
    }

    static func makeRouter(_ publisher: Publisher, descriptor: Int32) -> AdminRouter {
        let router = AdminRouter(token: nil, stats: makeStatsReport(registry: publisher.registry), publisher: publisher)
        router.awaitedAnswerDescriptor = descriptor
        publisher.training.hasWorker.store(true, ordering: .relaxed)
        return router
    }

    @Test func theTrainerAnswersTheRequestAndRingsTheServer() throws {
        let publisher = QueuedDictionaryTrainingTests.makePublisher()
        QueuedDictionaryTrainingTests.publish(publisher, topic: "room", count: 50)
        let descriptor = try Socket.eventDescriptor()
        defer { Socket.close(descriptor) }
        let router = Self.makeRouter(publisher, descriptor: descriptor)
        let request = try #require(Self.request("room"))
        #expect(router.mayAnswerLater(request))

        let awaited = try #require(router.respond(request).awaited)
        // Handed over, not trained in place.
        #expect(publisher.registry.dictionaryTotals.count == 0)
        #expect(awaited.answer(nowMilliseconds: 0) == nil)
        #expect(readEvent(descriptor) == nil)
        // The trainer thread's part, done here.
        guard case .requested(let job)? = publisher.training.queue.pop() else {
            Issue.record("no requested training queued")
            return
        }
        #expect(job.topic == "room")
        job.finish(publisher.trainDictionary(topic: job.topic))
        #expect(readEvent(descriptor) == 1)
        let answer = try #require(awaited.answer(nowMilliseconds: 0))
        #expect(answer.status == .ok, "\(answer.text)")
        #expect(answer.json?["topic"] as? String == "room" && answer.json?["samples"] as? Int == 50)
        #expect(publisher.registry.dictionaryTotals.count == 1)
        // A requested training is not an automatic one.
        #expect(publisher.training.trained.load(ordering: .relaxed) == 0)

        // A refusal travels the same way: an unknown topic is a 404.
        let nobody = try #require(Self.request("nobody"))
        let unknown = try #require(router.respond(nobody).awaited)
        guard case .requested(let missing)? = publisher.training.queue.pop() else {
            Issue.record("no requested training queued")
            return
        }
        missing.finish(publisher.trainDictionary(topic: missing.topic))
        #expect(try #require(unknown.answer(nowMilliseconds: 0)).status == .notFound)
    }

    @Test func aTrainingThatOutlivesItsDeadlineGets503() throws {
        let publisher = QueuedDictionaryTrainingTests.makePublisher()
        let router = Self.makeRouter(publisher, descriptor: -1)
        let request = try #require(Self.request("room"))
        let awaited = try #require(router.respond(request).awaited)
        #expect(awaited.answer(nowMilliseconds: awaited.deadlineMilliseconds - 1) == nil)
        let late = try #require(awaited.answer(nowMilliseconds: awaited.deadlineMilliseconds))
        #expect(late.status == .serviceUnavailable && late.header("Retry-After") == "1")
    }

    @Test func aFullTrainingQueueRefusesTheRequest() throws {
        let publisher = QueuedDictionaryTrainingTests.makePublisher()
        let router = Self.makeRouter(publisher, descriptor: -1)
        for index in 0..<Publisher.DictionaryTraining.queueMax {
            #expect(publisher.training.queue.push(.due("waiting-\(index)")))
        }
        let request = try #require(Self.request("room"))
        let refused = router.respond(request)
        #expect(refused.awaited == nil)
        #expect(refused.status == .serviceUnavailable && refused.header("Retry-After") == "1")
        #expect(publisher.training.queue.count == Publisher.DictionaryTraining.queueMax)
    }

    @Test func withoutATrainerThreadTheRequestTrainsInPlace() throws {
        let publisher = QueuedDictionaryTrainingTests.makePublisher()
        QueuedDictionaryTrainingTests.publish(publisher, topic: "room", count: 50)
        let router = AdminRouter(token: nil, stats: makeStatsReport(registry: publisher.registry), publisher: publisher)
        let request = try #require(Self.request("room"))
        #expect(!router.mayAnswerLater(request))
        let answer = router.respond(request)
        #expect(answer.awaited == nil && answer.status == .ok)
    }
}
