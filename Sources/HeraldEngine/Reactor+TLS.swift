import HeraldIO
import HeraldProtocol
import HeraldTLS

/// A ring's TLS state: one session per connection slot (made at the
/// connection's first bytes, freed with the slot) and one plaintext
/// scratch buffer the ring's decryptions share.
final class ReactorTLS {
    /// Where new sessions get their context (replaced on SIGHUP).
    let certificates: TLSCertificates
    var sessions: [TLSSession?]
    /// One TLS record's plaintext at most (RFC 8446 §5.1: 2^14 bytes).
    let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 16_384, alignment: 16)
    /// Plaintext encrypted into one ciphertext node at most: bounds the
    /// node (and the time one flush spends encrypting) while a send of
    /// 64 KiB still fills a socket buffer's worth.
    static let plaintextPerSendMax = 64 * 1024

    init(certificates: TLSCertificates, capacity: Int) {
        self.certificates = certificates
        sessions = Array(repeating: nil, count: capacity)
    }

    deinit { scratch.deallocate() }
}

/// TLS on the public listener over memory BIOs (issue 10, first step):
/// ciphertext from the ring's provided buffers goes into the connection's
/// `TLSSession`, plaintext comes out into the ring's scratch buffer and
/// takes the plaintext path unchanged (upgrade parsing, frames). On the way
/// out, a connection's queued plaintext frames — shared publishes, replies,
/// the 101 — are encrypted when they reach the head of its queue, into one
/// ciphertext node that is sent alone. No blocking call, no thread.
extension Reactor {
    func tlsReceive(_ index: UInt32, _ ciphertext: UnsafeRawBufferPointer) {
        guard let tls else { return }
        let session: TLSSession
        if let existing = tls.sessions[Int(index)] {
            session = existing
        } else {
            guard let made = TLSSession(context: tls.certificates.context) else {
                counters.add(.handshakeFailedTLS)
                tearDown(index)
                return
            }
            tls.sessions[Int(index)] = made
            session = made
        }
        let wasComplete = session.isHandshakeComplete
        let outcome = session.receive(ciphertext, scratch: tls.scratch) { plaintext in
            // The connection may close while its plaintext is handled.
            guard slab.pointer(index).pointee.state != .tearingDown else { return }
            consumePlaintext(index, plaintext)
        }
        if !wasComplete && session.isHandshakeComplete { counters.add(.tlsHandshakes) }
        switch outcome {
        case .progress:
            if session.pendingOutput > 0 { scheduleFlush(index) } else { session.trim() }
        case .closed:
            // close_notify: the peer sends nothing more.
            counters.add(.tlsErrors)
            peerEnded(index)
        case .failed(let reason):
            let slot = slab.pointer(index)
            if slot.pointee.state == .handshaking {
                counters.add(.handshakeFailedTLS)
                // A flood of bad handshakes must not build log fields for nothing.
                if Log.isEnabled(.debug) { Log.debug("tls handshake failed", ["reason": reason]) }
            } else {
                counters.add(.tlsErrors)
                if slot.pointee.state == .open { slot.pointee.closeCode = CloseCode.abnormal.rawValue }
            }
            // An alert OpenSSL wrote goes unsent: the connection ends now.
            tearDown(index)
        }
    }

    /// The connection is ending and its queue is out: queues the session's
    /// close_notify and schedules its send; false when there is nothing to
    /// send (no TLS, no finished handshake, or already sent) and the
    /// connection may end now.
    func queueCloseNotify(_ index: UInt32) -> Bool {
        guard let session = tls?.sessions[Int(index)], session.isHandshakeComplete, !session.closeQueued else {
            return false
        }
        session.close()
        guard session.pendingOutput > 0 else { return false }
        scheduleFlush(index)
        return true
    }

    /// Whether the connection's session holds ciphertext to send.
    func tlsHasOutput(_ index: UInt32) -> Bool {
        guard let session = tls?.sessions[Int(index)] else { return false }
        return session.pendingOutput > 0
    }

    /// Makes the queue's head a ciphertext node (unless it is one): the
    /// queued plaintext frames up to `plaintextPerSendMax` are encrypted
    /// and released, and everything the session has to send — their
    /// records, handshake messages, tickets, alerts — becomes one owned
    /// node at the head. The queue's byte count follows (plaintext out,
    /// ciphertext in). False when the queue cannot be encrypted (no session
    /// yet, or OpenSSL refused): the caller ends the connection — plaintext
    /// never goes out on a TLS listener.
    func prepareCiphertext(_ index: UInt32) -> Bool {
        guard let tls else { return true }
        guard let session = tls.sessions[Int(index)] else { return false }
        let slot = slab.pointer(index)
        guard !slot.pointee.flags.contains(.cipherHead) else { return true }
        var encrypted = 0
        while slot.pointee.sendHead != SendNodePool.none && encrypted < ReactorTLS.plaintextPerSendMax {
            let head = slot.pointee.sendHead
            let bytes = nodes.frame(head)
            // Safe: plaintext nodes are never sent partly (sendOffset is 0).
            guard session.write(UnsafeRawBufferPointer(bytes)) else {
                counters.add(.tlsErrors)
                return false
            }
            encrypted += bytes.count
            let cost = bytes.count + nodes.overhead(head)
            slot.pointee.queuedBytes -= UInt32(truncatingIfNeeded: min(cost, Int(slot.pointee.queuedBytes)))
            queuedBytesTotal -= cost
            slot.pointee.sendHead = nodes.release(head)
        }
        if slot.pointee.sendHead == SendNodePool.none { slot.pointee.sendTail = SendNodePool.none }
        let pending = session.pendingOutput
        guard pending > 0 else { return true }
        let ciphertext = OutboundFrame(count: pending) { buffer in
            var taken = 0
            while taken < buffer.count {
                let got = session.takeOutput(into: UnsafeMutableRawBufferPointer(rebasing: buffer[taken...]))
                guard got > 0 else { break }
                taken += got
            }
        }
        let node = nodes.make(Unmanaged.passRetained(ciphertext))
        nodes.link(node, to: slot.pointee.sendHead)
        slot.pointee.sendHead = node
        if slot.pointee.sendTail == SendNodePool.none { slot.pointee.sendTail = node }
        slot.pointee.sendOffset = 0
        slot.pointee.flags.insert(.cipherHead)
        slot.pointee.queuedBytes &+= UInt32(truncatingIfNeeded: ciphertext.queueCost)
        queuedBytesTotal += ciphertext.queueCost
        session.trim()
        return true
    }
}
