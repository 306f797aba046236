import HeraldCore
import HeraldProtocol

/// The wheel's one timer per connection means different things by state:
/// handshake deadline, heartbeat check, or close deadline.
extension Reactor {
    func timerFired(_ index: UInt32) {
        let slot = slab.pointer(index)
        switch slot.pointee.state {
        case .handshaking:
            // CONTRACT: a head not complete within the handshake timeout → TCP close.
            counters.add(.handshakeFailedTimeout)
            tearDown(index)
        case .open:
            heartbeat(index)
        case .closing:
            // The peer never answered our close (or never read our reply).
            tearDown(index)
        case .free, .accepting, .tearingDown:
            break
        }
    }

    /// Lazy heartbeat: receiving never moves the timer; it only stamps
    /// `lastHeardTick` and clears `pingOutstanding`. When the timer fires it
    /// decides: still waiting for an answer → drop; silent for the ping
    /// interval → ping (the shared constant frame); else sleep until the
    /// interval since the last input has passed.
    private func heartbeat(_ index: UInt32) {
        let slot = slab.pointer(index)
        // A token's exp is honoured for the connection's whole life, checked
        // at heartbeat granularity (CONTRACT "Security": `exp` honoured).
        if slot.pointee.tokenExpiresAt != 0
            && Clock.wallSeconds() >= Int64(slot.pointee.tokenExpiresAt) + ConnectionToken.leewaySeconds {
            counters.add(.tokensExpired)
            initiateClose(index, .policyViolation, reason: "token expired")
            return
        }
        if slot.pointee.flags.contains(.pingOutstanding) {
            counters.add(.pongTimeouts)
            slot.pointee.closeCode = CloseCode.abnormal.rawValue
            tearDown(index)
            return
        }
        // Safe: wrapping subtraction of two tick stamps, the later one first.
        let silentMilliseconds = UInt64(nowTick &- slot.pointee.lastHeardTick) * ReactorSettings.tickMilliseconds
        if silentMilliseconds + ReactorSettings.tickMilliseconds >= settings.pingIntervalMilliseconds {
            counters.add(.pingsSent)
            enqueue(index, pingFrame)
            slot.pointee.flags.insert(.pingOutstanding)
            wheel.schedule(index, afterMilliseconds: settings.pongTimeoutMilliseconds)
        } else {
            wheel.schedule(index, afterMilliseconds: settings.pingIntervalMilliseconds - silentMilliseconds)
        }
    }
}
