import Foundation
import Histogram
import Testing
@testable import LoadGenKit

@Suite struct LatencyTests {
    @Test func percentilesFromKnownInputs() {
        var histogram = Histogram<UInt64>(highestTrackableValue: 120_000_000_000, numberOfSignificantValueDigits: .three)
        // 1..1000 µs, one each.
        for micro in 1...1_000 { _ = histogram.record(UInt64(micro) * 1_000) }
        let summary = LatencySummary(histogram)
        #expect(summary.count == 1_000)
        // Three significant digits: within 0.1 % of the exact order statistic.
        #expect(abs(summary.p50 - 500) <= 1)
        #expect(abs(summary.p90 - 900) <= 1)
        #expect(abs(summary.p99 - 990) <= 1)
        #expect(abs(summary.p999 - 999) <= 1)
        #expect(abs(summary.max - 1_000) <= 1)
    }

    @Test func emptyHistogram() {
        let summary = LatencySummary(Histogram<UInt64>(highestTrackableValue: 1_000_000, numberOfSignificantValueDigits: .three))
        #expect(summary.count == 0)
        #expect(summary.max == 0)
    }

    @Test func messageFieldsFromEnvelope() {
        let body = MessageFields.body(index: 42, nanoseconds: 123_456_789_012, paddingBytes: 3)
        #expect(String(decoding: body, as: UTF8.self) == #"{"i":42,"t":123456789012,"p":"xxx"}"#)
        let envelope = Array(#"{"type":"message","topic":"t0","seq":7,"data":"#.utf8) + body + [125]
        envelope.withUnsafeBytes {
            #expect(MessageFields.integer(after: MessageFields.indexKey, in: $0) == 42)
            #expect(MessageFields.integer(after: MessageFields.timeKey, in: $0) == 123_456_789_012)
        }
        Array(#"{"type":"error","code":"x"}"#.utf8).withUnsafeBytes {
            #expect(MessageFields.integer(after: MessageFields.indexKey, in: $0) == nil)
            #expect(MessageFields.find(MessageFields.errorMarker, in: $0) == 1)
        }
    }
}

@Suite struct ReportTests {
    func sample() -> Report {
        var report = Report(scenario: .fanout, connectionsTarget: 1_000)
        report.connectionsReached = 1_000
        report.connectedTotal = 1_000
        report.rampSeconds = 0.5
        report.rings = 1
        report.threads = 1
        report.errors = [("connect", 0), ("closed_by_server", 0)]
        report.messagesPublished = 10
        report.deliveries = 9_990
        report.deliveriesExpected = 10_000
        report.deliverySeconds = 2
        var histogram = Histogram<UInt64>(highestTrackableValue: 120_000_000_000, numberOfSignificantValueDigits: .three)
        _ = histogram.record(2_000_000)
        report.latency = LatencySummary(histogram)
        report.serverPID = 7
        report.serverStart = ProcessSample(rssBytes: 10_000_000, userSeconds: 1, systemSeconds: 2)
        report.serverPeak = ProcessSample(rssBytes: 12_000_000, userSeconds: 2, systemSeconds: 3)
        report.kernelStart = KernelSample(slabBytes: 100_000_000, slabUnreclaimableBytes: 50_000_000, tcpMemoryPages: 10, tcpInUse: 5)
        report.kernelPeak = KernelSample(slabBytes: 108_000_000, slabUnreclaimableBytes: 54_000_000, tcpMemoryPages: 20, tcpInUse: 2_005)
        return report
    }

    @Test func jsonKeysAndValues() throws {
        let report = sample()
        let object = try #require(try JSONSerialization.jsonObject(with: Data(report.json.utf8)) as? [String: Any])
        for key in ["scenario", "connections_target", "connections_reached", "connect_rate_per_second", "errors",
                    "latency", "deliveries_per_second", "deliveries_missing", "server", "kernel", "last_subscriber_latency"] {
            #expect(object[key] != nil, "\(key) missing")
        }
        #expect(object["connect_rate_per_second"] as? Double == 2_000)
        #expect(object["deliveries_missing"] as? Int == 10)
        #expect(object["deliveries_per_second"] as? Double == 4_995)
        #expect(object["succeeded"] as? Bool == false)
        let latency = try #require(object["latency"] as? [String: Any])
        #expect(abs((latency["p99_us"] as? Double ?? 0) - 2_000) <= 2)
        let server = try #require(object["server"] as? [String: Any])
        #expect(server["rss_bytes_per_connection"] as? Int == 2_000)
        #expect(server["cpu_user_seconds"] as? Double == 1)
        let kernel = try #require(object["kernel"] as? [String: Any])
        #expect(kernel["tcp_mem_delta_bytes"] as? Int == 40_960)
        #expect(kernel["bytes_per_connection_both_ends"] as? Int == (8_000_000 + 40_960) / 1_000)
    }

    @Test func succeedsOnlyWhenNothingIsMissing() {
        var report = sample()
        #expect(!report.succeeded)
        report.deliveries = 10_000
        #expect(report.succeeded)
        report.connectedTotal = 999
        #expect(!report.succeeded)
    }

    @Test func recoverySucceedsOnlyWhenEveryDroppedClientCaughtUp() throws {
        var report = sample()
        report.deliveries = 10_000
        var recovery = RecoveryReport(after: 5, dropped: 1_000, rejoined: 1_000, recovered: 1_000, refused: 0,
                                      replayed: 4_000, allRecoveredSeconds: 0.5,
                                      perClient: LatencySummary(Histogram<UInt64>(highestTrackableValue: 1_000_000,
                                                                                  numberOfSignificantValueDigits: .three)),
                                      serverStart: ProcessSample(rssBytes: 1, userSeconds: 1, systemSeconds: 1),
                                      serverEnd: ProcessSample(rssBytes: 1, userSeconds: 1.5, systemSeconds: 1.5))
        report.recovery = recovery
        #expect(report.succeeded)
        #expect(recovery.serverCPUSeconds == 1)
        #expect(recovery.serverCPUMicrosecondsPerReplayed == 250)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(report.json.utf8)) as? [String: Any])
        let json = try #require(object["recovery"] as? [String: Any])
        #expect(json["replayed"] as? Int == 4_000)
        #expect(json["server_cpu_us_per_replayed"] as? Double == 250)
        recovery.refused = 1
        recovery.recovered = 999
        report.recovery = recovery
        #expect(!report.succeeded)
        recovery.refused = 0
        recovery.rejoined = 998
        report.recovery = recovery
        #expect(!report.succeeded, "a client that never came back is a failure")
    }

    @Test func publishingFiguresAndServerCPUPerPublish() throws {
        var report = sample()
        report.scenario = .publish
        report.messagesPublished = 10_000
        report.publishServerStart = ProcessSample(rssBytes: 1, userSeconds: 1, systemSeconds: 1)
        report.publishServerEnd = ProcessSample(rssBytes: 1, userSeconds: 1.05, systemSeconds: 1.05)
        report.publishing = PublishingReport(publishers: 4, pipeline: 8, batch: 100, requests: 100, publishSeconds: 0.5,
                                             roundTrip: LatencySummary(Histogram<UInt64>(highestTrackableValue: 1_000_000,
                                                                                         numberOfSignificantValueDigits: .three)))
        #expect(report.serverCPUMicrosecondsPerPublish == 10)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(report.json.utf8)) as? [String: Any])
        let publishing = try #require(object["publishing"] as? [String: Any])
        #expect(publishing["publishes_per_second"] as? Double == 20_000)
        #expect(object["server_cpu_us_per_publish"] as? Double == 10)
    }

    @Test func batchRepliesCountTheirPublishedLines() {
        let body = #"{"results":[{"topic":"t0","seq":1,"epoch":"e"},{"error":"line 2: bad topic name"},"#
            + #"{"results":[{"topic":"a","seq":4,"epoch":"e"}]}]}"#
        let reply = Array("HTTP/1.1 200 OK\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)HTTP/1.1".utf8)
        reply.withUnsafeBytes { bytes in
            let parsed = PublishDriver.reply(bytes)
            #expect(parsed?.status == 200 && parsed?.results == 2 && parsed?.length == bytes.count - 8)
            #expect(PublishDriver.reply(UnsafeRawBufferPointer(rebasing: bytes[0..<(bytes.count - 20)])) == nil,
                    "an incomplete reply is not taken")
        }
    }

    @Test func subscribedReplyFields() {
        let reply = Array(#"{"type":"subscribed","topic":"t0","seq":12,"epoch":"k3x-7","recovered":true}"#.utf8)
        reply.withUnsafeBytes { bytes in
            #expect(MessageFields.find(MessageFields.subscribedMarker, in: bytes) != nil)
            #expect(MessageFields.string(after: MessageFields.epochKey, in: bytes) == Array("k3x-7".utf8))
            #expect(MessageFields.integer(after: MessageFields.seqKey, in: bytes) == 12)
            #expect(MessageFields.find(MessageFields.recoveredTrue, in: bytes) != nil)
        }
        Array(#"{"epoch":"unterminated"#.utf8).withUnsafeBytes { bytes in
            #expect(MessageFields.string(after: MessageFields.epochKey, in: bytes) == nil)
        }
    }

    @Test func procParsing() throws {
        let status = "Name:\therald\nVmRSS:\t   20480 kB\nThreads:\t3\n"
        let stat = "123 (her ald) S 1 123 123 0 -1 4194304 100 0 0 0 250 150 0 0 20 0 3 0 1000 0 0"
        let sample = try #require(ProcessSample.parse(status: status, stat: stat, ticksPerSecond: 100))
        #expect(sample.rssBytes == 20_480 * 1_024)
        #expect(sample.userSeconds == 2.5)
        #expect(sample.systemSeconds == 1.5)
        let kernel = KernelSample.parse(meminfo: "MemTotal: 1 kB\nSlab:   2048 kB\nSUnreclaim: 1024 kB\n",
                                        sockstat: "sockets: used 5\nTCP: inuse 7 orphan 0 tw 1 alloc 9 mem 33\nUDP: inuse 0 mem 2\n")
        #expect(kernel == KernelSample(slabBytes: 2_097_152, slabUnreclaimableBytes: 1_048_576, tcpMemoryPages: 33, tcpInUse: 7))
    }
}
