import Testing
@testable import HeraldCore

/// `Liveness.decide`, every rule with `now` passed in (ticks).
@Suite struct LivenessTests {
    static let timing = Liveness.Timing(pingIntervalTicks: 500, pongTimeoutTicks: 200, sendTimeoutTicks: 100,
                                        policy: .disconnect)

    static func snapshot(now: UInt32, heard: UInt32) -> Liveness.Snapshot {
        Liveness.Snapshot(nowTick: now, lastHeardTick: heard)
    }

    @Test func quietConnectionWaitsUntilTheInterval() {
        let decision = Liveness.decide(Self.snapshot(now: 1_300, heard: 1_000), Self.timing)
        #expect(decision == .init(action: .wait, nextCheckTicks: 200))
    }

    @Test func silenceForTheIntervalSendsAPingThenWaitsForThePong() {
        let decision = Liveness.decide(Self.snapshot(now: 1_500, heard: 1_000), Self.timing)
        #expect(decision == .init(action: .sendPing, nextCheckTicks: 200))
    }

    @Test func pongDeadlineCountsFromThePing() {
        var state = Self.snapshot(now: 1_650, heard: 1_000)
        state.pingOutstanding = true
        state.pingSentTick = 1_550
        #expect(Liveness.decide(state, Self.timing) == .init(action: .wait, nextCheckTicks: 100))
        state.nowTick = 1_750
        #expect(Liveness.decide(state, Self.timing).action == .pongTimedOut)
    }

    @Test func stalledSocketMeetsThePolicyAtTheSendTimeout() {
        var state = Self.snapshot(now: 1_050, heard: 1_000)
        state.stalled = true
        state.stalledSinceTick = 1_000
        #expect(Liveness.decide(state, Self.timing) == .init(action: .wait, nextCheckTicks: 50))
        state.nowTick = 1_100
        #expect(Liveness.decide(state, Self.timing).action == .closeSlowConsumer)
        var drop = Self.timing
        drop.policy = .drop
        let dropping = Liveness.decide(state, drop)
        #expect(dropping.action == .startDropping)
        // Dropping already: no second action; the heartbeat is next.
        state.dropping = true
        #expect(Liveness.decide(state, drop) == .init(action: .wait, nextCheckTicks: 400))
    }

    @Test func queueOverItsLimitPastThePongTimeoutCloses() {
        var state = Self.snapshot(now: 1_150, heard: 1_100)
        state.overLimit = true
        state.overLimitSinceTick = 1_000
        #expect(Liveness.decide(state, Self.timing) == .init(action: .wait, nextCheckTicks: 50))
        state.nowTick = 1_200
        #expect(Liveness.decide(state, Self.timing).action == .closeQueueFull)
    }

    @Test func tokenExpiryComesFirst() {
        var state = Self.snapshot(now: 2_000, heard: 0)
        state.tokenExpired = true
        state.overLimit = true
        #expect(Liveness.decide(state, Self.timing).action == .closeTokenExpired)
    }

    @Test func ticksWrapAround() {
        // lastHeard just before the counter wrapped; now just after.
        let state = Self.snapshot(now: 10, heard: UInt32.max - 89)
        #expect(Liveness.decide(state, Self.timing) == .init(action: .wait, nextCheckTicks: 400))
    }

    @Test func nextCheckIsNeverZero() {
        var state = Self.snapshot(now: 1_000, heard: 1_000)
        state.stalled = true
        state.stalledSinceTick = 1_000
        state.dropping = true
        var drop = Self.timing
        drop.policy = .drop
        #expect(Liveness.decide(state, drop).nextCheckTicks >= 1)
        #expect(Liveness.Timing(pingIntervalTicks: 0, pongTimeoutTicks: 0, sendTimeoutTicks: 0, policy: .drop)
                .pongTimeoutTicks == 1)
    }
}
