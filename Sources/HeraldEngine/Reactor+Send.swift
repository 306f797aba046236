import HeraldCore
import HeraldIO
import HeraldProtocol

/// Sending: frames queue on their connection as node references; once per
/// loop turn each connection with queued frames gets one send gathering up
/// to 16 of them. One send per connection is in flight at a time — the
/// kernel may complete two sends to one socket out of order relative to
/// partial writes, so sends to a socket are serialized (liburing proxy.c).
///
/// Sends never wait in the kernel (MSG_DONTWAIT): a socket without room
/// answers EAGAIN or a short count at once, and the connection then waits
/// for POLLOUT holding no iovec batch. A peer that stops reading therefore
/// holds nothing shared; it only stalls itself, and `--send-timeout` and
/// `--send-queue-bytes-max` decide what becomes of it.
extension Reactor {
    /// Queues `frame` on the connection (one retain, released when sent).
    func enqueue(_ index: UInt32, _ frame: OutboundFrame, scheduling: Bool = true) {
        enqueueShared(index, Unmanaged.passUnretained(frame), cost: frame.queueCost, scheduling: scheduling)
    }

    /// The one place bytes are queued for a connection — publishes, pongs,
    /// replies, errors, gaps, close frames, HTTP answers: each costs its
    /// `queueCost` (bytes plus overhead) against `--send-queue-bytes-max`.
    /// Publishes are admitted by the slow-consumer policy first (`deliver`);
    /// anything else is queued, and a queue pushed over the limit stops the
    /// connection's input (backpressure) until it drains to half.
    ///
    /// One retain per enqueue, one release when its send completes; no
    /// copy, no allocation beyond a pooled queue node.
    /// `scheduling` is false only inside `flush`, which sends the queue at once.
    func enqueueShared(_ index: UInt32, _ frame: Unmanaged<OutboundFrame>, cost: Int, scheduling: Bool = true) {
        let slot = slab.pointer(index)
        let node = nodes.make(frame.retain())
        if slot.pointee.sendTail == SendNodePool.none {
            slot.pointee.sendHead = node
        } else {
            nodes.link(slot.pointee.sendTail, to: node)
        }
        slot.pointee.sendTail = node
        // Safe: bytes ≤ --publish-bytes-max or --message-bytes-max (≤ 64 MiB)
        // and the queue is bounded near --send-queue-bytes-max (≤ 1 GiB).
        slot.pointee.queuedBytes &+= UInt32(truncatingIfNeeded: cost)
        queuedBytesTotal += cost
        if SendQueueLimit.wentOverLimit(queued: Int(slot.pointee.queuedBytes), limit: settings.sendQueueBytesMax,
                                        wasOverLimit: slot.pointee.flags.contains(.overLimit)) {
            slot.pointee.flags.insert(.overLimit)
            overLimitConnections += 1
            slot.pointee.overLimitSinceTick = nowTick
            counters.add(.sendQueueOverLimit)
            pauseReading(index)
            rescheduleLiveness(index)
        }
        if scheduling { scheduleFlush(index) }
    }

    func scheduleFlush(_ index: UInt32) {
        let slot = slab.pointer(index)
        guard !slot.pointee.flags.contains(.flushQueued), !slot.pointee.flags.contains(.sendInFlight),
              !slot.pointee.flags.contains(.writableWait) else { return }
        slot.pointee.flags.insert(.flushQueued)
        flushList.append(index)
    }

    /// Turns every pending queue into one send SQE, up to the turn's
    /// budget; connections left over (budget or batches exhausted) keep
    /// their place at the front of the list. Compacts in place: no
    /// allocation per turn.
    func flush() {
        guard !flushList.isEmpty else { return }
        var budget = ReactorSettings.sendsPerTurnMax
        var kept = 0
        for position in 0..<flushList.count {
            let index = flushList[position]
            let slot = slab.pointer(index)
            guard budget > 0 else {
                flushList[kept] = index
                kept += 1
                continue
            }
            slot.pointee.flags.remove(.flushQueued)
            guard slot.pointee.state != .tearingDown, slot.pointee.state != .free,
                  !slot.pointee.flags.contains(.sendInFlight), !slot.pointee.flags.contains(.writableWait) else { continue }
            if slot.pointee.flags.contains(.pongPending) { queuePong(index) }
            guard slot.pointee.sendHead != SendNodePool.none || tlsHasOutput(index) else { continue }
            guard let batch = batches.take() else {
                counters.add(.sendBatchesExhausted)
                slot.pointee.flags.insert(.flushQueued)
                flushList[kept] = index
                kept += 1
                budget = 0
                continue
            }
            submitSend(index, batch: batch)
            budget -= 1
        }
        flushList.removeSubrange(kept...)
    }

    /// The pending pong, for the latest ping, joins the queue as the
    /// connection is about to send (after POLLOUT): pings that arrived while
    /// its socket refused bytes cost one pong in all.
    private func queuePong(_ index: UInt32) {
        let slot = slab.pointer(index)
        slot.pointee.flags.remove(.pongPending)
        let payload = pendingPongs.removeValue(forKey: index)
        guard !slot.pointee.life.flags.contains(.closeSent) else { return }
        // Not scheduled: `flush` is sending this connection's queue now
        // (scheduling here would append to the list being walked).
        enqueuePong(index, payload, scheduling: false)
    }

    /// Queues a pong (the shared empty one when `payload` is nil).
    func enqueuePong(_ index: UInt32, _ payload: [UInt8]?, scheduling: Bool = true) {
        if let payload {
            enqueue(index, OutboundFrame(copying: FrameEncoder.frame(opcode: .pong, payload: payload)), scheduling: scheduling)
        } else {
            enqueue(index, emptyPongFrame, scheduling: scheduling)
        }
    }

    private func submitSend(_ index: UInt32, batch: UInt32) {
        let slot = slab.pointer(index)
        // TLS: the head becomes one ciphertext node, sent alone.
        let vectorsMax = tls == nil ? SendBatchPool.iovecsMax : 1
        if tls != nil {
            guard prepareCiphertext(index) else {
                batches.give(batch)
                tearDown(index)
                return
            }
            guard slot.pointee.sendHead != SendNodePool.none else {
                batches.give(batch)
                return
            }
        }
        var node = slot.pointee.sendHead
        var count = 0
        var skip = Int(slot.pointee.sendOffset)
        while node != SendNodePool.none && count < vectorsMax {
            let bytes = nodes.frame(node)
            // Safe: skip < bytes.count (sendOffset only covers part of the head).
            batches.set(batch, count, UnsafeRawBufferPointer(rebasing: bytes[skip...]))
            skip = 0
            count += 1
            node = nodes.following(node)
        }
        // Safe: batch < sendBatches (1024), far below UInt16.max.
        slot.pointee.sendBatch = UInt16(truncatingIfNeeded: batch)
        slot.pointee.flags.insert(.sendInFlight)
        slot.pointee.pendingOperations += 1
        batches.prepareSend(on: ring, fixedFile: index, batch: batch, vectorCount: count, userData: userData(.send, index))
    }

    func sendCompleted(_ completion: Completion) {
        // Sends are never orphaned: the slot stays allocated until this
        // completion arrives (pendingOperations), so the generation matches.
        guard let slot = liveSlot(completion.userData) else { return }
        let index = completion.userData.index
        let requested = batches.requestedBytes(UInt32(slot.pointee.sendBatch))
        batches.give(UInt32(slot.pointee.sendBatch))
        slot.pointee.sendBatch = ConnectionSlot.noBatch
        slot.pointee.flags.remove(.sendInFlight)
        slot.pointee.pendingOperations -= 1
        if slot.pointee.state == .tearingDown {
            maybeFinish(index)
            return
        }
        if let error = completion.error {
            switch SendFailure(error) {
            case .wouldBlock:
                stalled(index)
            case .peerGone:
                counters.add(.sendErrors)
                if slot.pointee.state == .open { slot.pointee.closeCode = CloseCode.abnormalRawValue }
                tearDown(index)
            case .ourBug:
                ioBug(index, operation: "send", error)
            }
            return
        }
        var sent = Int(completion.result)
        counters.add(.bytesSent, UInt64(sent))
        let short = sent < requested
        var queued = Int(slot.pointee.queuedBytes)
        while sent > 0 && slot.pointee.sendHead != SendNodePool.none {
            let head = slot.pointee.sendHead
            let remaining = nodes.frame(head).count - Int(slot.pointee.sendOffset)
            if sent >= remaining {
                sent -= remaining
                queued -= remaining + nodes.overhead(head)
                slot.pointee.sendOffset = 0
                slot.pointee.sendHead = nodes.release(head)
                // TLS: the ciphertext head went out whole; what follows is
                // plaintext. Cleared here, not by comparing node indices:
                // the pool hands the released index to the next frame queued.
                slot.pointee.flags.remove(.cipherHead)
            } else {
                // Safe: sent < remaining ≤ the head frame's size.
                slot.pointee.sendOffset += UInt32(sent)
                queued -= sent
                sent = 0
            }
        }
        queuedBytesTotal -= Int(slot.pointee.queuedBytes) - max(0, queued)
        slot.pointee.queuedBytes = UInt32(max(0, queued))
        // An emptied queue has no tail before anything below may queue on
        // it (`drained` can resume a waiting recovery): a tail left pointing
        // at the released node would swallow what is queued next.
        if slot.pointee.sendHead == SendNodePool.none { slot.pointee.sendTail = SendNodePool.none }
        if short {
            counters.add(.sendPartial)
            // Progress: the socket took bytes, so the send-timeout clock
            // restarts. Time finds readers that stopped; readers that are
            // only slower than the publishes are found by the byte limit.
            if completion.result > 0 { slot.pointee.stalledSinceTick = nowTick }
            stalled(index)
        } else {
            // The socket took all it was given: not stalled.
            slot.pointee.flags.remove([.stalled, .dropping])
        }
        drained(index)
        if slot.pointee.sendHead == SendNodePool.none {
            slot.pointee.sendTail = SendNodePool.none
            if slot.pointee.life.flags.contains(.endAfterSend) {
                // TLS: the close_notify goes out after the last frame, then FIN.
                if queueCloseNotify(index) { return }
                queueDrained(index)
                return
            } else if slot.pointee.state == .open && slot.pointee.subscriptions != ShardRouter.none {
                sendPendingGaps(index)
            }
        }
        if !short && (slot.pointee.sendHead != SendNodePool.none || slot.pointee.flags.contains(.pongPending)) {
            scheduleFlush(index)
        }
    }

    /// The socket refused bytes: wait for room with a one-shot POLLOUT (no
    /// batch held), and start the send-timeout clock if it is not running.
    private func stalled(_ index: UInt32) {
        let slot = slab.pointer(index)
        if !slot.pointee.flags.contains(.stalled) {
            slot.pointee.flags.insert(.stalled)
            slot.pointee.stalledSinceTick = nowTick
            rescheduleLiveness(index)
        }
        guard slot.pointee.sendHead != SendNodePool.none, !slot.pointee.flags.contains(.writableWait) else { return }
        counters.add(.sendWaitsForRoom)
        slot.pointee.flags.insert(.writableWait)
        slot.pointee.pendingOperations += 1
        ring.preparePollWritable(fixedFile: index, userData: userData(.writable, index))
    }

    /// POLLOUT (or an error or hang-up, which the next send reports).
    func writableCompleted(_ completion: Completion) {
        guard let slot = liveSlot(completion.userData) else { return }
        let index = completion.userData.index
        slot.pointee.pendingOperations -= 1
        slot.pointee.flags.remove(.writableWait)
        if slot.pointee.state == .tearingDown {
            maybeFinish(index)
            return
        }
        if let error = completion.error, error != .canceled {
            ioBug(index, operation: "poll", error)
            return
        }
        scheduleFlush(index)
    }

    /// Bytes left the queue: below the limit ends `overLimit`; at half of
    /// it, input paused for backpressure resumes.
    private func drained(_ index: UInt32) {
        let slot = slab.pointer(index)
        let rule = SendQueueLimit.afterDrain(queued: Int(slot.pointee.queuedBytes), limit: settings.sendQueueBytesMax,
                                             readPaused: slot.pointee.flags.contains(.readPaused))
        if rule.backUnderLimit && slot.pointee.flags.contains(.overLimit) {
            slot.pointee.flags.remove(.overLimit)
            overLimitConnections -= 1
            resumeDeferredRecoveries(index)
        }
        guard rule.resumeReading else { return }
        slot.pointee.flags.remove(.readPaused)
        counters.add(.readsResumed)
        if !slot.pointee.flags.contains(.receiveArmed) && slot.pointee.life.readsInput { armReceive(index) }
    }

    /// Backpressure: stop reading a connection whose queue is over its
    /// limit. The multishot receive is cancelled; what the kernel already
    /// completed is still handled (never dropped), and the socket's receive
    /// buffer then fills and TCP flow control holds the client back.
    func pauseReading(_ index: UInt32) {
        let slot = slab.pointer(index)
        guard !slot.pointee.flags.contains(.readPaused), slot.pointee.state != .tearingDown,
              slot.pointee.state != .free else { return }
        slot.pointee.flags.insert(.readPaused)
        counters.add(.readsPaused)
        guard slot.pointee.flags.contains(.receiveArmed) else { return }
        slot.pointee.pendingOperations += 1
        ring.prepareCancel(target: userData(.receive, index), userData: userData(.cancel, index))
    }

    /// An errno only a bug of ours can cause (EBADF, EFAULT, EINVAL,
    /// ENOTSOCK, …): logged loudly and counted, never mistaken for a peer
    /// that went away, and the connection is ended so the bug cannot loop.
    func ioBug(_ index: UInt32, operation: String, _ error: IOErrno) {
        counters.add(.ioBugErrors)
        Log.error("unexpected I/O error (a bug in herald)", ["operation": operation, "error": "\(error)",
                                                            "shard": "\(shardIndex)", "ring": "\(ringIndex)",
                                                            "slot": "\(index)"])
        let slot = slab.pointer(index)
        if slot.pointee.state == .open { slot.pointee.closeCode = CloseCode.internalError.rawValue }
        tearDown(index)
    }

    /// Releases every queued frame (teardown).
    func dropQueue(_ index: UInt32) {
        let slot = slab.pointer(index)
        var node = slot.pointee.sendHead
        while node != SendNodePool.none { node = nodes.release(node) }
        slot.pointee.sendHead = SendNodePool.none
        slot.pointee.sendTail = SendNodePool.none
        slot.pointee.sendOffset = 0
        slot.pointee.flags.remove(.cipherHead)
        queuedBytesTotal -= Int(slot.pointee.queuedBytes)
        slot.pointee.queuedBytes = 0
        if slot.pointee.flags.contains(.overLimit) {
            slot.pointee.flags.remove(.overLimit)
            overLimitConnections -= 1
        }
    }
}

/// How a failed send is handled, by errno (send(2), tcp(7)).
enum SendFailure {
    /// EAGAIN: the socket has no room (MSG_DONTWAIT); wait for POLLOUT.
    case wouldBlock
    /// The peer reset or vanished (EPIPE, ECONNRESET, ETIMEDOUT, EHOSTUNREACH,
    /// ENETUNREACH, ENOTCONN, ECONNREFUSED, ENOBUFS/ENOMEM under pressure): end it.
    case peerGone
    /// Only a bug of ours can cause it (EBADF, EFAULT, EINVAL, ENOTSOCK,
    /// EOPNOTSUPP, EMSGSIZE, EDESTADDRREQ, EISCONN).
    case ourBug

    init(_ error: IOErrno) {
        if error == .again {
            self = .wouldBlock
        } else if error.isProgrammerError {
            self = .ourBug
        } else {
            self = .peerGone
        }
    }
}

extension CloseCode {
    static let abnormalRawValue = CloseCode.abnormal.rawValue
}
