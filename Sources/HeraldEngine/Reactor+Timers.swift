import HeraldCore
import HeraldProtocol

/// The wheel's one timer per connection means different things by state:
/// handshake deadline, liveness check (`Liveness.decide`), or close deadline.
extension Reactor {
    func timerFired(_ index: UInt32) {
        switch slab.pointer(index).pointee.life.timerMeaning {
        case .handshakeTimedOut:
            // CONTRACT: a head not complete within the handshake timeout → TCP close.
            counters.add(.handshakeFailedTimeout)
            tearDown(index)
        case .liveness:
            liveness(index)
        case .closeTimedOut:
            // The peer never answered our close (or never read our reply).
            tearDown(index)
        case .none:
            break
        }
    }

    /// Lazy checks: receiving never moves the timer; it only stamps
    /// `lastHeardTick` and clears `pingOutstanding`, and sends stamp their
    /// stalls. When the timer fires, `Liveness.decide` reads the stamps and
    /// says what is due and when to look again; this carries it out.
    private func liveness(_ index: UInt32) {
        let slot = slab.pointer(index)
        var snapshot = livenessSnapshot(index)
        // A token's exp is honoured for the connection's whole life, checked
        // at timer granularity (CONTRACT "Security": `exp` honoured).
        snapshot.tokenExpired = slot.pointee.tokenExpiresAt != 0
            && Clock.wallSeconds() >= Int64(slot.pointee.tokenExpiresAt) + ConnectionToken.leewaySeconds
        let decision = Liveness.decide(snapshot, settings.liveness)
        switch decision.action {
        case .wait:
            break
        case .sendPing:
            counters.add(.pingsSent)
            enqueue(index, pingFrame)
            slot.pointee.flags.insert(.pingOutstanding)
            slot.pointee.pingSentTick = nowTick
        case .pongTimedOut:
            counters.add(.pongTimeouts)
            slot.pointee.closeCode = CloseCode.abnormal.rawValue
            tearDown(index)
            return
        case .closeTokenExpired:
            counters.add(.tokensExpired)
            initiateClose(index, .tokenExpired, reason: "token expired")
            return
        case .closeQueueFull:
            counters.add(.sendQueueFullCloses)
            initiateClose(index, .policyViolation, reason: "send queue full")
            return
        case .closeSlowConsumer:
            counters.add(.sendTimeouts)
            counters.add(.slowConsumerDisconnects)
            initiateClose(index, .policyViolation, reason: "slow consumer")
            return
        case .startDropping:
            counters.add(.sendTimeouts)
            slot.pointee.flags.insert(.dropping)
        }
        scheduleTimer(index, afterMilliseconds: UInt64(decision.nextCheckTicks) * ReactorSettings.tickMilliseconds)
    }

    /// The connection's stamps, as `Liveness` reads them.
    func livenessSnapshot(_ index: UInt32) -> Liveness.Snapshot {
        let slot = slab.pointer(index)
        var snapshot = Liveness.Snapshot(nowTick: nowTick, lastHeardTick: slot.pointee.lastHeardTick)
        let flags = slot.pointee.flags
        snapshot.pingOutstanding = flags.contains(.pingOutstanding)
        snapshot.pingSentTick = slot.pointee.pingSentTick
        snapshot.stalled = flags.contains(.stalled)
        snapshot.stalledSinceTick = slot.pointee.stalledSinceTick
        snapshot.overLimit = flags.contains(.overLimit)
        snapshot.overLimitSinceTick = slot.pointee.overLimitSinceTick
        snapshot.dropping = flags.contains(.dropping)
        return snapshot
    }

    /// A new deadline started (a stall, a queue over its limit): the timer
    /// moves to the nearest deadline of an open connection, never later
    /// than one already due (other states keep their own deadline).
    func rescheduleLiveness(_ index: UInt32) {
        guard slab.pointer(index).pointee.state == .open else { return }
        let ticks = Liveness.nextCheck(livenessSnapshot(index), settings.liveness)
        scheduleTimer(index, afterMilliseconds: UInt64(ticks) * ReactorSettings.tickMilliseconds)
    }
}
