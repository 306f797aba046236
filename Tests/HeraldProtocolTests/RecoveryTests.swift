import Testing
@testable import HeraldProtocol

@Suite struct RecoveryTests {
    static func since(_ seq: UInt64, _ epoch: String = "e") -> Recovery.Position { .init(seq: seq, epoch: epoch) }

    @Test func nothingMissedIsUpToDate() {
        #expect(Recovery.decide(since: Self.since(7), seam: 7, epoch: "e") == .upToDate)
        #expect(Recovery.decide(since: Self.since(0), seam: 0, epoch: "e") == .upToDate)
    }

    @Test func anotherEpochIsNeverRecovered() {
        #expect(Recovery.decide(since: Self.since(7, "old"), seam: 7, epoch: "e") == .notRecovered)
    }

    @Test func aPositionAheadOfTheTopicIsNotRecovered() {
        #expect(Recovery.decide(since: Self.since(8), seam: 7, epoch: "e") == .notRecovered)
    }

    @Test func missedMessagesNeedHistory() {
        #expect(Recovery.decide(since: Self.since(3), seam: 7, epoch: "e") == .notRecovered, "no history kept")
        #expect(Recovery.decide(since: Self.since(3), seam: 7, epoch: "e", keptFrom: 4) == .replay(from: 4, through: 7))
        #expect(Recovery.decide(since: Self.since(3), seam: 7, epoch: "e", keptFrom: 1) == .replay(from: 4, through: 7))
        #expect(Recovery.decide(since: Self.since(3), seam: 7, epoch: "e", keptFrom: 5) == .notRecovered,
                "seq 4 is no longer kept")
    }
}
