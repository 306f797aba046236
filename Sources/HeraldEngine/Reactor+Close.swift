import HeraldCore
import Synchronization
import HeraldIO
import HeraldProtocol

/// Ending connections. A slot is reused only after every SQE issued for it
/// has completed (`pendingOperations == 0`): its file index must be closed
/// before another accept may target it, and late completions must find the
/// old generation.
extension Reactor {
    /// Everything queued is out. If the connection was to end then
    /// (`ConnectionLifecycle.drained`): tear down, or half-close our side
    /// (FIN after the queued bytes, so the close frame or HTTP error is
    /// delivered) and keep reading until the peer closes too, or the close
    /// timeout. Closing at once with unread input would send RST, and the
    /// peer could lose our last frame (RFC 6455 §7.1.1, "lingering close").
    func queueDrained(_ index: UInt32) {
        let slot = slab.pointer(index)
        switch slot.pointee.life.drained(receiving: slot.pointee.flags.contains(.receiveArmed)) {
        case .none:
            break
        case .tearDown:
            tearDown(index)
        case .halfClose:
            slot.pointee.pendingOperations += 1
            ring.prepareShutdown(fixedFile: index, how: Socket.shutdownWrite, userData: userData(.shutdownWrite, index))
        }
    }

    /// Cancels the connection's I/O and closes its direct descriptor.
    func tearDown(_ index: UInt32) {
        let slot = slab.pointer(index)
        let teardown = slot.pointee.life.tearDown()
        guard teardown.begin else { return }
        wheel.cancel(index)
        if teardown.wasUpgraded {
            let code = slot.pointee.closeCode == 0 ? CloseCode.abnormal.rawValue : slot.pointee.closeCode
            if Log.isEnabled(.debug) {
                Log.debug("closed", ["shard": "\(shardIndex)", "ring": "\(ringIndex)", "slot": "\(index)",
                                     "code": "\(code)"])
            }
            counters.add(Counter.forClose(code))
            counters.add(.connectionsClosed)
            openConnections -= 1
            if slot.pointee.flags.contains(.deflate) {
                router.registry.deflateConnections.subtract(1, ordering: .relaxed)
            }
            if slot.pointee.flags.contains(.zstd) {
                router.registry.zstdConnections.subtract(1, ordering: .relaxed)
            }
        }
        freeAssembly(index)
        dropPartialControl(index)
        // Cancel first (the multishot receive, a send waiting for room or a
        // writable poll would otherwise hold the socket open), then close the
        // table entry. SQEs of one submission are issued in order, so no link
        // is needed — and a link would turn the close into ECANCELED whenever
        // there is nothing to cancel. Each operation is cancelled by its
        // user_data, which the kernel finds through its cancel hash; a cancel
        // by file (`IORING_ASYNC_CANCEL_FD`) walks every armed request of the
        // ring instead — with 15,000 connections on a ring and 1,800 closes a
        // second, that walk (`io_cancel_req_match`) was 80 % of herald's CPU.
        var cancels: UInt16 = 0
        for (flag, kind) in Reactor.cancelledAtTeardown where slot.pointee.flags.contains(flag) {
            ring.prepareCancel(target: userData(kind, index), userData: userData(.cancel, index))
            cancels += 1
        }
        slot.pointee.pendingOperations += cancels + 1
        ring.prepareCloseDirect(fileIndex: index, userData: userData(.close, index))
    }

    /// The operations a connection may have in flight when it is torn down,
    /// each with the flag that says so (built once, not per close).
    static let cancelledAtTeardown: [(ConnectionFlags, OperationKind)] = [
        (.receiveArmed, .receive), (.sendInFlight, .send), (.writableWait, .writable),
    ]

    /// Cancel, close and shutdown completions. Their expected failures are
    /// part of ending a connection — nothing left to cancel (ENOENT,
    /// EALREADY), a peer already gone (ENOTCONN, ECONNRESET, EPIPE); only an
    /// errno a bug can cause is counted and logged.
    func auxiliaryCompleted(_ completion: Completion) {
        guard let slot = liveSlot(completion.userData) else { return }
        slot.pointee.pendingOperations -= 1
        if let error = completion.error, error.isProgrammerError {
            counters.add(.ioBugErrors)
            let operation = OperationKind(rawValue: completion.userData.kind).map { "\($0)" } ?? "?"
            Log.error("unexpected I/O error (a bug in herald)", ["operation": operation, "error": "\(error)",
                                                                "shard": "\(shardIndex)", "ring": "\(ringIndex)",
                                                                "slot": "\(completion.userData.index)"])
        }
        maybeFinish(completion.userData.index)
    }

    /// Frees the slot once it is torn down and nothing is in flight.
    func maybeFinish(_ index: UInt32) {
        let slot = slab.pointer(index)
        guard slot.pointee.life.canFree(pendingOperations: Int(slot.pointee.pendingOperations)) else { return }
        release(index)
    }

    /// Returns a slot to the slab with every borrowed resource released.
    func release(_ index: UInt32) {
        dropQueue(index)
        freeAssembly(index)
        let slot = slab.pointer(index)
        if slot.pointee.flags.contains(.counted) { budget.release() }
        if slot.pointee.grant != ConnectionSlot.noGrant { grants.release(slot.pointee.grant) }
        dropPartialControl(index)
        pendingPongs.removeValue(forKey: index)
        heldDictionaries.removeValue(forKey: index)
        deferredRecoveries.removeValue(forKey: index)
        tls?.forget(index)
        wheel.cancel(index)
        leaveAllTopics(index)
        slot.pointee.life.freed()
        slab.free(index)
    }

    /// Shutdown: stop accepting, close every WebSocket with 1001 (CONTRACT),
    /// drop connections still in their handshake.
    func beginShutdown() {
        shuttingDown = true
        stopAccepting()
        for index in 0..<UInt32(slab.capacity) where slab.isAllocated(index) {
            let slot = slab.pointer(index)
            switch slot.pointee.state {
            case .open:
                initiateClose(index, .goingAway, reason: "server shutting down")
            case .handshaking:
                tearDown(index)
            default:
                break
            }
        }
    }

    /// `POST /v1/disconnect`: closes every open connection whose token `sub`
    /// is `subject` with 4000 "disconnected by server" (CONTRACT); returns
    /// how many. A scan of the ring's slots: an admin action, not a hot path.
    func disconnect(subject: String) -> Int {
        guard settings.jwtSecret != nil else { return 0 }
        var closed = 0
        for index in 0..<UInt32(slab.capacity) where slab.isAllocated(index) {
            let slot = slab.pointer(index)
            guard slot.pointee.state == .open, slot.pointee.grant != ConnectionSlot.noGrant,
                  !slot.pointee.life.flags.contains(.closeSent),
                  grants.subject(slot.pointee.grant) == subject else { continue }
            counters.add(.disconnectsByAdmin)
            initiateClose(index, .disconnectedByServer, reason: "disconnected by server")
            closed += 1
        }
        return closed
    }

    /// Shutdown deadline passed: drop whatever is still open.
    func forceClose() {
        for index in 0..<UInt32(slab.capacity) where slab.isAllocated(index) {
            switch slab.pointer(index).pointee.state {
            case .open, .closing, .handshaking: tearDown(index)
            default: break
            }
        }
    }
}
