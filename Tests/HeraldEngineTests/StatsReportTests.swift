import Foundation
import Testing
@testable import HeraldEngine

/// Two shards with known counter values and a registry with two topics.
func makeStatsReport(registry: TopicRegistry = makeRegistry(shards: 2)) -> StatsReport {
    let first = ShardCounters(rings: 2)
    let second = ShardCounters(rings: 3)
    first.openConnections.store(5, ordering: .relaxed)
    second.openConnections.store(7, ordering: .relaxed)
    first.add(.connectionsUpgraded, 10)
    second.add(.connectionsUpgraded, 20)
    first.add(.bytesSent, 1_000)
    second.add(.bytesSent, 234)
    first.add(.messagesDelivered, 3)
    first.add(.close1000, 4)
    second.add(.close1000, 1)
    second.add(.closeOther, 2)
    first.add(.handshakeFailedTimeout, 6)
    return StatsReport(shards: [first, second], admin: [ShardCounters(rings: 1)], registry: registry,
                       startedMilliseconds: Clock.monotonicMilliseconds())
}

@Suite struct StatsReportTests {
    private static func registryWithTopics() -> TopicRegistry {
        let registry = makeRegistry(shards: 2)
        _ = registry.subscribersChanged(shard: 0, topic: "a", delta: 1)
        _ = registry.subscribersChanged(shard: 1, topic: "a", delta: 1)
        _ = registry.subscribersChanged(shard: 1, topic: "b", delta: 1)
        _ = registry.publish(topic: "a", build: plainFrames)
        _ = registry.publish(topic: "c", build: plainFrames)
        for queue in registry.queues { _ = drainDeliveries(queue) }
        return registry
    }

    private static func number(_ value: Any?) -> Int? { (value as? NSNumber)?.intValue }

    @Test func jsonHasTheContractKeysAndValues() throws {
        let report = makeStatsReport(registry: Self.registryWithTopics())
        let object = try #require(try JSONSerialization.jsonObject(with: Data(report.json())) as? [String: Any])
        for key in ["connections", "connections_total", "topics", "subscriptions", "messages_published_total",
                    "messages_delivered_total", "bytes_sent_total", "handshakes_failed", "closes", "shards"] {
            #expect(object[key] != nil, "missing \(key)")
        }
        #expect(Self.number(object["connections"]) == 12)
        #expect(Self.number(object["connections_total"]) == 30)
        #expect(Self.number(object["topics"]) == 3)
        #expect(Self.number(object["subscriptions"]) == 3)
        #expect(Self.number(object["messages_published_total"]) == 2)
        #expect(Self.number(object["messages_delivered_total"]) == 3)
        #expect(Self.number(object["bytes_sent_total"]) == 1_234)
        #expect(Self.number(object["uptime_seconds"]).map { (0..<60).contains($0) } == true)

        let closes = try #require(object["closes"] as? [String: Any])
        #expect(Set(closes.keys) == ["1000", "1001", "1002", "1003", "1006", "1007", "1008", "1009", "1011", "4000", "4001", "4002", "other"])
        #expect(Self.number(closes["1000"]) == 5)
        #expect(Self.number(closes["other"]) == 2)
        #expect(Self.number(closes["1006"]) == 0)

        let handshakes = try #require(object["handshakes_failed"] as? [String: Any])
        #expect(Set(handshakes.keys) == ["bad_request", "version", "too_large", "not_found", "timeout", "peer_closed", "capacity", "unauthorized", "tls", "origin", "rate_limited"])
        #expect(Self.number(handshakes["timeout"]) == 6)

        let shards = try #require(object["shards"] as? [[String: Any]])
        #expect(shards.count == 2)
        #expect(shards.map { Self.number($0["shard"]) } == [0, 1])
        #expect(shards.map { Self.number($0["rings"]) } == [2, 3])
        #expect(shards.map { Self.number($0["connections"]) } == [5, 7])
        #expect(shards.map { Self.number($0["bytes_sent_total"]) } == [1_000, 234])
    }

    @Test func jsonWithNoShardsOrTopics() throws {
        let report = StatsReport(shards: [], admin: [ShardCounters(rings: 1)], registry: makeRegistry(shards: 0),
                                 startedMilliseconds: Clock.monotonicMilliseconds())
        let object = try #require(try JSONSerialization.jsonObject(with: Data(report.json())) as? [String: Any])
        #expect(Self.number(object["connections"]) == 0)
        #expect((object["shards"] as? [Any])?.isEmpty == true)
    }

    @Test func prometheusLinesAreCommentsOrHeraldSamples() throws {
        let text = try #require(String(validating: makeStatsReport().prometheus(), as: UTF8.self))
        #expect(text.hasSuffix("\n"))
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(!lines.isEmpty)
        for line in lines {
            #expect(line.hasPrefix("# HELP herald_") || line.hasPrefix("# TYPE herald_") || line.hasPrefix("herald_"),
                    "\(line)")
        }
    }

    /// Text format 0.0.4: each family has one HELP and one TYPE line before
    /// its samples, and a family's samples are not split by another family.
    @Test func prometheusFamiliesHaveHelpAndTypeAndStayTogether() throws {
        let text = try #require(String(validating: makeStatsReport().prometheus(), as: UTF8.self))
        var help = Set<String>()
        var type: [String: String] = [:]
        var finished = Set<String>()
        var current: String?
        var samples = 0
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if line.hasPrefix("# HELP ") {
                let name = String(fields[2])
                #expect(help.insert(name).inserted, "second HELP for \(name)")
                #expect(fields.count > 3, "HELP for \(name) has no text")
                continue
            }
            if line.hasPrefix("# TYPE ") {
                let name = String(fields[2])
                #expect(type[name] == nil, "second TYPE for \(name)")
                #expect(fields.count == 4 && ["counter", "gauge", "histogram"].contains(String(fields[3])), "\(line)")
                type[name] = fields.count == 4 ? String(fields[3]) : nil
                continue
            }
            samples += 1
            let sampleName = String(line.prefix { $0 != "{" && $0 != " " })
            // A histogram's samples are its family name + _bucket/_sum/_count.
            var name = sampleName
            for suffix in ["_bucket", "_sum", "_count"] where sampleName.hasSuffix(suffix) {
                let family = String(sampleName.dropLast(suffix.count))
                if type[family] == "histogram" { name = family }
            }
            #expect(help.contains(name), "\(name) sampled before its HELP")
            #expect(type[name] != nil, "\(name) sampled before its TYPE")
            let isSum = type[name] == "histogram" && sampleName.hasSuffix("_sum")
            #expect(fields.count == 2 && (isSum ? Double(fields[1]) != nil : UInt64(fields[1]) != nil),
                    "\(line): value is not a number")
            if current != name {
                if let current { finished.insert(current) }
                #expect(!finished.contains(name), "\(name) samples are split")
                current = name
            }
            if type[name] == "counter" { #expect(name.hasSuffix("_total"), "\(name)") }
        }
        #expect(help == Set(type.keys))
        #expect(samples > Counter.allCases.count)
    }

    @Test func prometheusValues() throws {
        let text = try #require(String(validating: makeStatsReport(registry: Self.registryWithTopics()).prometheus(),
                                       as: UTF8.self))
        let lines = Set(text.split(separator: "\n").map(String.init))
        for expected in ["herald_connections 12", #"herald_shard_connections{shard="0"} 5"#,
                         #"herald_shard_connections{shard="1"} 7"#, "herald_topics 3", "herald_subscriptions 3",
                         "herald_messages_published_total 2", "herald_connections_total 30",
                         "herald_bytes_sent_total 1234", #"herald_closes_total{code="1000"} 5"#,
                         #"herald_closes_total{code="other"} 2"#,
                         #"herald_handshakes_failed_total{reason="timeout"} 6"#,
                         "# TYPE herald_connections gauge", "# TYPE herald_closes_total counter"] {
            #expect(lines.contains(expected), "missing \(expected)")
        }
        // Every counter appears exactly once.
        for counter in Counter.allCases {
            let metric = counter.metric
            let prefix = metric.value.map { "herald_\(metric.name){\(metric.label ?? "")=\"\($0)\"} " }
                ?? "herald_\(metric.name) "
            #expect(lines.filter { $0.hasPrefix(prefix) }.count == 1, "\(counter)")
        }
    }
}
