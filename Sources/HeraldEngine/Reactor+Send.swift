import Glibc
import HeraldIO

/// Sending: frames queue on their connection as node references; once per
/// loop turn each connection with queued frames gets one `sendmsg` gathering
/// up to 16 of them. One send per connection is in flight at a time — the
/// kernel may complete two sends to one socket out of order relative to
/// partial writes, so sends to a socket are serialized (liburing proxy.c).
extension Reactor {
    /// Queues `frame` on the connection (one retain, released when sent).
    func enqueue(_ index: UInt32, _ frame: OutboundFrame) {
        enqueueShared(index, Unmanaged.passUnretained(frame), bytes: frame.count)
    }

    /// Queues a frame that may be shared by many connections: one retain
    /// here, one release when its send completes; no copy, no allocation
    /// beyond a pooled queue node.
    func enqueueShared(_ index: UInt32, _ frame: Unmanaged<OutboundFrame>, bytes: Int) {
        let slot = slab.pointer(index)
        let node = nodes.make(frame.retain())
        if slot.pointee.sendTail == SendNodePool.none {
            slot.pointee.sendHead = node
        } else {
            nodes.link(slot.pointee.sendTail, to: node)
        }
        slot.pointee.sendTail = node
        slot.pointee.queuedBytes &+= UInt32(truncatingIfNeeded: bytes)
        scheduleFlush(index)
    }

    func scheduleFlush(_ index: UInt32) {
        let slot = slab.pointer(index)
        guard !slot.pointee.flags.contains(.flushQueued), !slot.pointee.flags.contains(.sendInFlight) else { return }
        slot.pointee.flags.insert(.flushQueued)
        flushList.append(index)
    }

    /// Turns every pending queue into one sendmsg SQE, up to the turn's
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
                  !slot.pointee.flags.contains(.sendInFlight),
                  slot.pointee.sendHead != SendNodePool.none else { continue }
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

    private func submitSend(_ index: UInt32, batch: UInt32) {
        let slot = slab.pointer(index)
        let vectors = batches.vectors(batch)
        var node = slot.pointee.sendHead
        var count = 0
        var skip = Int(slot.pointee.sendOffset)
        while node != SendNodePool.none && count < SendBatchPool.iovecsMax {
            let bytes = nodes.frame(node)
            // Safe: skip < bytes.count (sendOffset only covers part of the head).
            vectors[count] = iovec(iov_base: bytes.baseAddress! + skip, iov_len: bytes.count - skip)
            skip = 0
            count += 1
            node = nodes.following(node)
        }
        slot.pointee.sendBatch = batch
        slot.pointee.flags.insert(.sendInFlight)
        slot.pointee.pendingOperations += 1
        if count == 1 {
            // The common broadcast case: one frame. IORING_OP_SEND skips the
            // msghdr and iovec import that sendmsg pays per call.
            ring.prepareSend(fixedFile: index,
                             bytes: UnsafeRawBufferPointer(start: vectors[0].iov_base, count: vectors[0].iov_len),
                             linked: false, userData: userData(.send, index))
            return
        }
        let message = batches.message(batch)
        message.pointee = msghdr()
        message.pointee.msg_iov = vectors
        message.pointee.msg_iovlen = count
        ring.prepareSendMessage(fixedFile: index, message: message, userData: userData(.send, index))
    }

    func sendCompleted(_ completion: Completion) {
        // Sends are never orphaned: the slot stays allocated until this
        // completion arrives (pendingOperations), so the generation matches.
        guard let slot = liveSlot(completion.userData) else { return }
        let index = completion.userData.index
        batches.give(slot.pointee.sendBatch)
        slot.pointee.sendBatch = ConnectionSlot.noBatch
        slot.pointee.flags.remove(.sendInFlight)
        slot.pointee.pendingOperations -= 1
        if slot.pointee.state == .tearingDown {
            maybeFinish(index)
            return
        }
        guard completion.result >= 0 else {
            // EPIPE / ECONNRESET: the peer is gone; nothing more to send.
            counters.add(.sendErrors)
            if slot.pointee.state == .open { slot.pointee.closeCode = CloseCode.abnormalRawValue }
            tearDown(index)
            return
        }
        var sent = Int(completion.result)
        counters.add(.bytesSent, UInt64(sent))
        var queuedBefore = Int(slot.pointee.queuedBytes)
        while sent > 0 && slot.pointee.sendHead != SendNodePool.none {
            let head = slot.pointee.sendHead
            let remaining = nodes.frame(head).count - Int(slot.pointee.sendOffset)
            if sent >= remaining {
                sent -= remaining
                queuedBefore -= remaining
                slot.pointee.sendOffset = 0
                slot.pointee.sendHead = nodes.release(head)
            } else {
                slot.pointee.sendOffset += UInt32(sent)
                queuedBefore -= sent
                sent = 0
                counters.add(.sendPartial)
            }
        }
        slot.pointee.queuedBytes = UInt32(max(0, queuedBefore))
        if slot.pointee.sendHead == SendNodePool.none {
            slot.pointee.sendTail = SendNodePool.none
            if slot.pointee.flags.contains(.endAfterSend) {
                finishAfterSend(index)
            } else if slot.pointee.state == .open && slot.pointee.subscriptions != ShardRouter.none {
                sendPendingGaps(index)
            }
        } else {
            scheduleFlush(index)
        }
    }

    /// Releases every queued frame (teardown).
    func dropQueue(_ index: UInt32) {
        let slot = slab.pointer(index)
        var node = slot.pointee.sendHead
        while node != SendNodePool.none { node = nodes.release(node) }
        slot.pointee.sendHead = SendNodePool.none
        slot.pointee.sendTail = SendNodePool.none
        slot.pointee.sendOffset = 0
        slot.pointee.queuedBytes = 0
    }
}

import HeraldProtocol

extension CloseCode {
    static let abnormalRawValue = CloseCode.abnormal.rawValue
}
