import HeraldCore
import HeraldIO

/// Accepting: every accept targets a slot reserved in advance, and the
/// accepted socket lands in the ring's file table at that slot's index
/// (slot index == file index), never in the process fd table.
extension Reactor {
    /// Keeps up to `acceptsInFlightMax` accepts armed while slots are free
    /// and the shard wants this ring to accept. A full ring arms none: the
    /// shard then chooses another, or the backlog waits until a slot frees.
    ///
    /// An accept tried on an empty queue costs the kernel a whole socket
    /// file, built and freed (Docs/BENCHMARKS.md, "The kernel floor").
    /// Connections arriving apart are waited for (IORING_ACCEPT_POLL_FIRST);
    /// connections queueing are taken at once
    /// (`ReactorSettings.acceptsPollFirst`).
    func replenishAccepts() {
        guard accepting, acceptsWanted, nowMilliseconds >= acceptBackoffUntilMilliseconds else { return }
        let pollFirst = kernelTakesAcceptPollFirst
            && ReactorSettings.acceptsPollFirst(completedThisTurn: acceptsCompletedThisTurn)
        while acceptsInFlight < ReactorSettings.acceptsInFlightMax {
            guard let handle = slab.allocate() else {
                if acceptsInFlight == 0 { counters.add(.acceptPausedFull) }
                return
            }
            let slot = slab.pointer(handle.index)
            slot.pointee.life.reserved()
            slot.pointee.pendingOperations = 1
            if pollFirst { slot.pointee.flags.insert(.acceptPolledFirst) }
            if settings.connectLimit != nil, let buffer = acceptAddressFree.popLast() {
                // Bounded: one buffer per armed accept (acceptsInFlightMax).
                acceptAddressOfSlot[handle.index] = buffer
                ring.prepareAcceptDirect(listener: listener, fileIndex: handle.index, address: acceptAddresses[buffer],
                                         pollFirst: pollFirst, userData: userData(.accept, handle.index))
            } else {
                ring.prepareAcceptDirect(listener: listener, fileIndex: handle.index, pollFirst: pollFirst,
                                         userData: userData(.accept, handle.index))
            }
            acceptsInFlight += 1
        }
    }

    func acceptCompleted(_ completion: Completion) {
        guard let slot = liveSlot(completion.userData) else { return }
        let index = completion.userData.index
        acceptsInFlight -= 1
        acceptsCompletedThisTurn += 1
        slot.pointee.pendingOperations -= 1
        let polledFirst = slot.pointee.flags.contains(.acceptPolledFirst)
        slot.pointee.flags.remove(.acceptPolledFirst)
        var source: UInt64?
        if let buffer = acceptAddressOfSlot.removeValue(forKey: index) {
            source = acceptAddresses[buffer].sourceKey
            acceptAddressFree.append(buffer)
        }
        if let error = completion.error {
            // ECANCELED is shutdown and ECONNABORTED a client that gave up
            // in the backlog: both cost this one attempt only. Anything else
            // (ENOMEM, ENFILE, EINVAL) would fail again at once, so this
            // ring pauses its accepts briefly instead of spinning.
            switch error {
            case .canceled:
                break
            case .invalid where polledFirst:
                // A kernel before 6.10 (every accept armed with the flag
                // fails alike): accepts try at once from now on.
                if kernelTakesAcceptPollFirst {
                    kernelTakesAcceptPollFirst = false
                    Log.info("the kernel does not take IORING_ACCEPT_POLL_FIRST; accepts try at once",
                             ["shard": "\(shardIndex)", "ring": "\(ringIndex)"])
                }
            case .connectionAborted:
                counters.add(.acceptErrors)
            default:
                counters.add(.acceptErrors)
                if acceptBackoffUntilMilliseconds <= nowMilliseconds {
                    Log.warning("accept failed; pausing this ring's accepts",
                                ["shard": "\(shardIndex)", "ring": "\(ringIndex)", "error": "\(error)",
                                 "pause-ms": "\(ReactorSettings.acceptBackoffMilliseconds)"])
                }
                acceptBackoffUntilMilliseconds = nowMilliseconds + ReactorSettings.acceptBackoffMilliseconds
            }
            release(index)
            return
        }
        counters.add(.tcpAccepted)
        if let source, let limit = settings.connectLimit, !limit.admit(source: source, nowMilliseconds: nowMilliseconds) {
            // Over --connect-rate-per-source: closed before any byte is
            // read, so a storm from one address costs no handshakes.
            counters.add(.handshakeFailedRateLimited)
            slot.pointee.life.accepted()
            tearDown(index)
            return
        }
        slot.pointee.flags.insert(budget.acquire() ? .counted : .overCapacity)
        slot.pointee.life.accepted()
        slot.pointee.lastHeardTick = nowTick
        slot.pointee.acceptedAtMicroseconds = UInt32(truncatingIfNeeded: Clock.monotonicMicroseconds())
        armReceive(index)
        scheduleTimer(index, afterMilliseconds: settings.handshakeTimeoutMilliseconds)
    }

    /// Multishot receive from the provided-buffer ring.
    func armReceive(_ index: UInt32) {
        let slot = slab.pointer(index)
        slot.pointee.flags.insert(.receiveArmed)
        slot.pointee.pendingOperations += 1
        ring.prepareReceiveMultishot(fixedFile: index, bufferGroup: buffers.group, userData: userData(.receive, index))
    }

    /// Stops accepting (shutdown): cancels every armed accept on the listener.
    func stopAccepting() {
        accepting = false
        guard acceptsInFlight > 0 else { return }
        for index in 0..<UInt32(slab.capacity) where slab.isAllocated(index) {
            if slab.pointer(index).pointee.state == .accepting {
                ring.prepareCancel(target: userData(.accept, index),
                                   userData: UserData(kind: OperationKind.acceptCancel.rawValue, generation: 0, index: 0))
            }
        }
    }
}
