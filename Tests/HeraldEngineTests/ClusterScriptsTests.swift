import HeraldRedis
import Testing
@testable import HeraldEngine

/// The Lua scripts every node runs, against a real redis-server: what one
/// publish leaves in Redis and sends on the channel, and what a sync reads.
@Suite(.serialized) struct ClusterScriptsTests {
    let server: RedisServerFixture
    let redis: RedisConnection
    let publishScript: [UInt8]
    let syncScript: [UInt8]

    init() throws {
        server = try RedisServerFixture()
        redis = try server.connect()
        publishScript = try ClusterSettings.load(ClusterScripts.publish, on: redis)
        syncScript = try ClusterSettings.load(ClusterScripts.sync, on: redis)
    }

    func publish(_ topic: String, _ data: String, epoch: String = "e1", history: Int = 16) throws -> RedisReply {
        try redis.command([Array("EVALSHA".utf8), publishScript, Array("2".utf8), ClusterScripts.metaKey(topic),
                           ClusterScripts.streamKey(topic), ClusterScripts.channel(topic), Array(epoch.utf8),
                           [UInt8(ascii: "j")], Array(data.utf8), Array("\(history)".utf8), Array("60000".utf8),
                           Array("600000".utf8)])
    }

    func sync(_ topic: String, from: UInt64, count: Int, known: FollowPosition? = nil,
              epoch: String = "fresh") throws -> (position: FollowPosition, entries: [ClusterMessage])? {
        let reply = try redis.command([Array("EVALSHA".utf8), syncScript, Array("2".utf8), ClusterScripts.metaKey(topic),
                                       ClusterScripts.streamKey(topic), Array(epoch.utf8), Array("\(from)".utf8),
                                       Array("\(count)".utf8), Array("600000".utf8), Array((known?.epoch ?? "").utf8),
                                       Array("\(known?.seq ?? 0)".utf8)])
        return FollowPlan.parseSync(reply)
    }

    @Test func aPublishTakesTheNextSeqKeepsTheEpochAndAppendsToTheStream() throws {
        #expect(try publish("t", "1", epoch: "e1") == .array([.integer(1), .string(Array("e1".utf8))]))
        // A later publish offers another epoch: the topic keeps its own.
        #expect(try publish("t", "2", epoch: "e2") == .array([.integer(2), .string(Array("e1".utf8))]))
        #expect(try redis.run("XLEN", "herald:s:t") == .integer(2))
        let ttl = try redis.run("PTTL", "herald:t:t").integer ?? -1
        #expect(ttl > 590_000 && ttl <= 600_000)
        let read = try #require(try sync("t", from: 0, count: 16))
        #expect(read.position == FollowPosition(epoch: "e1", seq: 2))
        #expect(read.entries.map(\.seq) == [1, 2])
        #expect(read.entries.map(\.payload) == [.json(Array("1".utf8)), .json(Array("2".utf8))])
    }

    @Test func theChannelCarriesSeqEpochTimeKindAndData() throws {
        let subscriber = try server.connect()
        #expect(try subscriber.run("SUBSCRIBE", "herald:m:c").elements?.count == 3)
        _ = try publish("c", #"{"a":1}"#, epoch: "ep")
        let message = try subscriber.nextReply().elements
        #expect(message?[0].text == "message")
        let parsed = try #require(ClusterMessage.parse(channelMessage: message?[2].bytes ?? []))
        #expect(parsed.seq == 1 && parsed.epoch == "ep" && parsed.payload == .json(Array(#"{"a":1}"#.utf8)))
        #expect(parsed.publishedAtMilliseconds > 1_700_000_000_000)
    }

    @Test func aLostMetaStartsANewEpochAndDropsTheOldStream() throws {
        _ = try publish("l", "1", epoch: "old")
        _ = try publish("l", "2", epoch: "old")
        _ = try redis.run("DEL", "herald:t:l")
        #expect(try publish("l", "3", epoch: "new") == .array([.integer(1), .string(Array("new".utf8))]))
        #expect(try redis.run("XLEN", "herald:s:l") == .integer(1))
    }

    @Test func syncCreatesTheMetaOfAnUnknownTopic() throws {
        let read = try #require(try sync("u", from: 0, count: 16, epoch: "made"))
        #expect(read.position == FollowPosition(epoch: "made", seq: 0) && read.entries.isEmpty)
        // The first publish continues that epoch.
        #expect(try publish("u", "1", epoch: "other") == .array([.integer(1), .string(Array("made".utf8))]))
    }

    @Test func syncReadsAtMostCountEntriesEndingAtTheSeq() throws {
        for value in 1...10 { _ = try publish("r", "\(value)", history: 100) }
        let tail = try #require(try sync("r", from: 0, count: 3))
        #expect(tail.entries.map(\.seq) == [8, 9, 10])
        let after = try #require(try sync("r", from: 4, count: 100, known: FollowPosition(epoch: "e1", seq: 3)))
        #expect(after.entries.map(\.seq) == Array(4...10))
        // Too far behind for count: the newest count entries (the plan
        // announces the rest as a gap).
        let behind = try #require(try sync("r", from: 2, count: 4, known: FollowPosition(epoch: "e1", seq: 1)))
        #expect(behind.entries.map(\.seq) == [7, 8, 9, 10])
        #expect(try #require(try sync("r", from: 11, count: 4)).entries.isEmpty)
    }

    @Test func aSeqThatWentBackStartsANewEpoch() throws {
        for value in 1...3 { _ = try publish("b", "\(value)") }
        // As if Redis came back from a snapshot older than what a node delivered.
        let read = try #require(try sync("b", from: 6, count: 16, known: FollowPosition(epoch: "e1", seq: 5),
                                         epoch: "rebased"))
        #expect(read.position == FollowPosition(epoch: "rebased", seq: 0) && read.entries.isEmpty)
        #expect(try publish("b", "4") == .array([.integer(1), .string(Array("rebased".utf8))]))
    }

    @Test func withoutHistoryNothingIsStreamed() throws {
        _ = try publish("n", "1", history: 0)
        #expect(try redis.run("EXISTS", "herald:s:n") == .integer(0))
    }
}
