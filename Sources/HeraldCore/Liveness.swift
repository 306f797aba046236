/// The timing rules of one open connection, as a pure decision: what its
/// one wheel timer does when it fires, and when it should fire next.
/// Heartbeats (CONTRACT: ping after `--ping-interval` of silence, drop when
/// nothing arrives within `--pong-timeout`), backpressure (a queue over
/// its limit past `--pong-timeout` closes 1008) and slow consumers (a
/// socket that refuses bytes past `--send-timeout` meets the policy).
///
/// Time is data: ticks of the reactor's wheel, passed in, compared with
/// wrapping arithmetic (a tick counter wraps after 6.8 years at 50 ms).
public enum Liveness {
    /// The rules, in wheel ticks.
    public struct Timing: Sendable, Equatable {
        public var pingIntervalTicks: UInt32
        public var pongTimeoutTicks: UInt32
        public var sendTimeoutTicks: UInt32
        public var policy: SlowConsumerPolicy

        public init(pingIntervalTicks: UInt32, pongTimeoutTicks: UInt32, sendTimeoutTicks: UInt32,
                    policy: SlowConsumerPolicy) {
            self.pingIntervalTicks = max(1, pingIntervalTicks)
            self.pongTimeoutTicks = max(1, pongTimeoutTicks)
            self.sendTimeoutTicks = max(1, sendTimeoutTicks)
            self.policy = policy
        }
    }

    /// What the connection's stamps say when its timer fires.
    public struct Snapshot: Sendable, Equatable {
        public var nowTick: UInt32
        public var lastHeardTick: UInt32
        /// A heartbeat ping is out, queued at `pingSentTick`.
        public var pingOutstanding = false
        public var pingSentTick: UInt32 = 0
        /// The socket refused bytes at `stalledSinceTick` and has not taken
        /// a whole send since.
        public var stalled = false
        public var stalledSinceTick: UInt32 = 0
        /// The queue has been over its limit since `overLimitSinceTick`.
        public var overLimit = false
        public var overLimitSinceTick: UInt32 = 0
        /// Policy `drop` already acts on this stall.
        public var dropping = false
        /// The connection token's `exp` has passed.
        public var tokenExpired = false

        public init(nowTick: UInt32, lastHeardTick: UInt32) {
            self.nowTick = nowTick
            self.lastHeardTick = lastHeardTick
        }
    }

    public enum Action: Sendable, Equatable {
        /// Nothing due; sleep until `Decision.nextCheckTicks`.
        case wait
        /// Queue the heartbeat ping (the pong is then due in the pong timeout).
        case sendPing
        /// No answer to the ping in time: drop the connection (1006).
        case pongTimedOut
        /// Close 1008 "token expired".
        case closeTokenExpired
        /// Close 1008: the queue stayed over its limit past the pong timeout.
        case closeQueueFull
        /// Policy `disconnect`: close 1008 "slow consumer" (stalled too long).
        case closeSlowConsumer
        /// Policy `drop`: drop publishes (announced as a gap) until the
        /// socket takes a whole send again.
        case startDropping
    }

    public struct Decision: Sendable, Equatable {
        public var action: Action
        /// Ticks until the timer should fire again (≥ 1); meaningless after
        /// an action that ends the connection.
        public var nextCheckTicks: UInt32
    }

    /// The first rule that is due, in order: token expiry, queue over its
    /// limit, a stalled socket, an unanswered ping, silence. Then the
    /// nearest deadline still ahead.
    public static func decide(_ snapshot: Snapshot, _ timing: Timing) -> Decision {
        var state = snapshot
        let now = state.nowTick
        func age(_ tick: UInt32) -> UInt32 { now &- tick }
        var action = Action.wait
        if state.tokenExpired {
            action = .closeTokenExpired
        } else if state.overLimit && age(state.overLimitSinceTick) >= timing.pongTimeoutTicks {
            action = .closeQueueFull
        } else if state.stalled && !state.dropping && age(state.stalledSinceTick) >= timing.sendTimeoutTicks {
            switch timing.policy {
            case .disconnect: action = .closeSlowConsumer
            case .drop:
                action = .startDropping
                state.dropping = true
            }
        } else if state.pingOutstanding && age(state.pingSentTick) >= timing.pongTimeoutTicks {
            action = .pongTimedOut
        } else if !state.pingOutstanding && age(state.lastHeardTick) >= timing.pingIntervalTicks {
            action = .sendPing
            state.pingOutstanding = true
            state.pingSentTick = now
        }
        return Decision(action: action, nextCheckTicks: nextCheck(state, timing))
    }

    /// Ticks until the nearest deadline of `state` (at least 1): where to
    /// put the timer when a new deadline starts (a stall, a queue over its
    /// limit) without pushing back an earlier one.
    public static func nextCheck(_ state: Snapshot, _ timing: Timing) -> UInt32 {
        let now = state.nowTick
        func remaining(_ since: UInt32, _ span: UInt32) -> UInt32 {
            let elapsed = now &- since
            return elapsed >= span ? 1 : span - elapsed
        }
        var next = state.pingOutstanding ? remaining(state.pingSentTick, timing.pongTimeoutTicks)
            : remaining(state.lastHeardTick, timing.pingIntervalTicks)
        if state.stalled && !state.dropping { next = min(next, remaining(state.stalledSinceTick, timing.sendTimeoutTicks)) }
        if state.overLimit { next = min(next, remaining(state.overLimitSinceTick, timing.pongTimeoutTicks)) }
        return max(1, next)
    }
}
