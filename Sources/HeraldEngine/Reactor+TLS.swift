import HeraldIO
import HeraldProtocol
import HeraldTLS

/// A ring's TLS state: per connection slot, OpenSSL's session during the
/// handshake (and for the whole of a TLS 1.2 connection, or with
/// `--tls-record-layer openssl`), then herald's record layer after a TLS
/// 1.3 handshake; one plaintext scratch buffer the ring's OpenSSL
/// decryptions share, and the AEAD contexts its record layers share.
final class ReactorTLS {
    /// Where new sessions get their context (replaced on SIGHUP).
    let certificates: TLSCertificates
    /// Made at the connection's first bytes, freed at the hand-over or with the slot.
    var sessions: [TLSSession?]
    /// Record layers by slot, in place: one fixed-size entry per slot in
    /// one allocation (large, so mapped and touched only where used). Live
    /// from the hand-over until the slot is released (`handedOver`).
    let layers: UnsafeMutablePointer<TLSRecordLayer>
    var handedOver: [Bool]
    /// One TLS record's plaintext at most (RFC 8446 §5.1: 2^14 bytes).
    let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 16_384, alignment: 16)
    let crypto = RecordCrypto()
    /// `--tls-record-layer herald`.
    let handOver: Bool
    /// Plaintext encrypted into one ciphertext node at most: bounds the
    /// node (and the time one flush spends encrypting) while a send of
    /// 64 KiB still fills a socket buffer's worth.
    static let plaintextPerSendMax = 64 * 1024

    init(certificates: TLSCertificates, capacity: Int, handOver: Bool) {
        self.certificates = certificates
        self.handOver = handOver
        sessions = Array(repeating: nil, count: capacity)
        layers = .allocate(capacity: capacity)
        handedOver = Array(repeating: false, count: capacity)
    }

    deinit {
        for index in handedOver.indices where handedOver[index] { forget(UInt32(index)) }
        layers.deallocate()
        scratch.deallocate()
    }

    /// The connection's slot is released: its session or record layer goes.
    func forget(_ index: UInt32) {
        sessions[Int(index)] = nil
        guard handedOver[Int(index)] else { return }
        layers[Int(index)].release()
        (layers + Int(index)).deinitialize(count: 1)
        handedOver[Int(index)] = false
    }

    /// Installs the record layer a hand-over produced.
    func install(_ layer: TLSRecordLayer, at index: UInt32) {
        precondition(!handedOver[Int(index)], "a second hand-over on one slot")
        sessions[Int(index)] = nil  // frees the SSL object
        (layers + Int(index)).initialize(to: layer)
        handedOver[Int(index)] = true
    }
}

/// TLS on the public listener over memory BIOs (issue 10, first step):
/// ciphertext from the ring's provided buffers goes into the connection's
/// `TLSSession`, plaintext comes out into the ring's scratch buffer and
/// takes the plaintext path unchanged (upgrade parsing, frames). On the way
/// out, a connection's queued plaintext frames — shared publishes, replies,
/// the 101 — are encrypted when they reach the head of its queue, into one
/// ciphertext node that is sent alone. No blocking call, no thread.
extension Reactor {
    func tlsReceive(_ index: UInt32, _ ciphertext: UnsafeMutableRawBufferPointer) {
        guard let tls else { return }
        if tls.handedOver[Int(index)] {
            recordLayerReceive(index, ciphertext)
        } else if let session = tls.sessions[Int(index)] {
            sessionReceive(index, session, UnsafeRawBufferPointer(ciphertext))
        } else {
            guard let made = TLSSession(context: tls.certificates.context) else {
                counters.add(.handshakeFailedTLS)
                tearDown(index)
                return
            }
            tls.sessions[Int(index)] = made
            sessionReceive(index, made, UnsafeRawBufferPointer(ciphertext))
        }
    }

    /// Ciphertext for OpenSSL: the handshake, and after it a connection
    /// OpenSSL keeps (TLS 1.2, `--tls-record-layer openssl`).
    private func sessionReceive(_ index: UInt32, _ session: TLSSession, _ ciphertext: UnsafeRawBufferPointer) {
        guard let tls else { return }
        let wasComplete = session.isHandshakeComplete
        let outcome = session.receive(ciphertext, scratch: tls.scratch, handOver: tls.handOver) { plaintext in
            // The connection may close while its plaintext is handled.
            guard slab.pointer(index).pointee.state != .tearingDown else { return }
            consumePlaintext(index, plaintext)
        }
        if !wasComplete && session.isHandshakeComplete {
            counters.add(.tlsHandshakes)
            if session.isResumed { counters.add(.tlsHandshakesResumed) }
        }
        switch outcome {
        case .handedOver(let layer, let remaining):
            // The SSL object goes with the session: from here the
            // connection holds only the record layer's keys.
            tls.install(layer, at: index)
            counters.add(.tlsHandovers)
            if remaining.isEmpty {
                if tls.layers[Int(index)].hasOutput { scheduleFlush(index) }
            } else {
                var bytes = remaining
                bytes.withUnsafeMutableBytes { recordLayerReceive(index, $0) }
            }
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

    /// Ciphertext for herald's record layer (after a TLS 1.3 hand-over):
    /// records are opened in place in the receive buffer.
    private func recordLayerReceive(_ index: UInt32, _ ciphertext: UnsafeMutableRawBufferPointer) {
        guard let tls else { return }
        let updatesBefore = tls.crypto.keyUpdatesReceived
        // In place: the slot's entry lives until the slot is released,
        // which cannot happen during this call (teardown waits for the
        // connection's pending completions).
        let outcome = tls.layers[Int(index)].receive(ciphertext, crypto: tls.crypto) { plaintext in
            consumePlaintext(index, plaintext)
            // The connection may have ended while its plaintext was handled.
            return slab.pointer(index).pointee.state != .tearingDown
        }
        if tls.crypto.keyUpdatesReceived != updatesBefore {
            counters.add(.tlsKeyUpdatesReceived, UInt64(tls.crypto.keyUpdatesReceived - updatesBefore))
        }
        let slot = slab.pointer(index)
        switch outcome {
        case .progress:
            // Tickets left from the handshake, or the answer to a KeyUpdate request.
            if tls.layers[Int(index)].hasOutput { scheduleFlush(index) }
        case .closed:
            counters.add(.tlsErrors)
            peerEnded(index)
        case .peerAlert(let alert):
            counters.add(.tlsErrors)
            if Log.isEnabled(.debug) { Log.debug("tls alert received", ["alert": "\(alert)"]) }
            if slot.pointee.state == .open { slot.pointee.closeCode = CloseCode.abnormal.rawValue }
            tearDown(index)
        case .failed(let alert):
            // RFC 8446 §5.2, §6.2: end the connection with the alert. It is
            // the only thing sealed from now (queued frames are dropped
            // unsent), then FIN, bounded by the close timeout.
            counters.add(.tlsErrors)
            counters.add(.tlsAlertsSent)
            if Log.isEnabled(.debug) { Log.debug("tls record refused", ["alert": "\(alert)"]) }
            guard slot.pointee.state != .tearingDown else { return }
            if slot.pointee.state == .open { slot.pointee.closeCode = CloseCode.abnormal.rawValue }
            slot.pointee.life.transportFailed()
            scheduleTimer(index, afterMilliseconds: settings.closeTimeoutMilliseconds)
            scheduleFlush(index)
        }
    }

    /// The connection is ending and its queue is out: queues the session's
    /// close_notify and schedules its send; false when there is nothing to
    /// send (no TLS, no finished handshake, or already sent) and the
    /// connection may end now.
    func queueCloseNotify(_ index: UInt32) -> Bool {
        guard let tls else { return false }
        if tls.handedOver[Int(index)] {
            guard !tls.layers[Int(index)].closeQueued else { return false }
            tls.layers[Int(index)].close()
            guard tls.layers[Int(index)].hasOutput else { return false }
        } else if let session = tls.sessions[Int(index)] {
            guard session.isHandshakeComplete, !session.closeQueued else { return false }
            session.close()
            guard session.pendingOutput > 0 else { return false }
        } else {
            return false
        }
        scheduleFlush(index)
        return true
    }

    /// Whether the connection's TLS holds ciphertext to send.
    func tlsHasOutput(_ index: UInt32) -> Bool {
        guard let tls else { return false }
        if tls.handedOver[Int(index)] { return tls.layers[Int(index)].hasOutput }
        return (tls.sessions[Int(index)]?.pendingOutput ?? 0) > 0
    }

    /// Makes the queue's head a ciphertext node (unless it is one): the
    /// queued plaintext frames up to `plaintextPerSendMax` are encrypted
    /// and released, and everything the connection's TLS has to send —
    /// their records, handshake messages, tickets, KeyUpdates, alerts —
    /// becomes one owned node at the head. The queue's byte count follows
    /// (plaintext out, ciphertext in). False when the queue cannot be
    /// encrypted (no session yet, or OpenSSL refused): the caller ends the
    /// connection — plaintext never goes out on a TLS listener.
    func prepareCiphertext(_ index: UInt32) -> Bool {
        guard let tls else { return true }
        let slot = slab.pointer(index)
        guard !slot.pointee.flags.contains(.cipherHead) else { return true }
        if tls.handedOver[Int(index)] {
            if let ciphertext = sealWithRecordLayer(index) { pushCiphertext(index, ciphertext) }
        } else if let session = tls.sessions[Int(index)] {
            guard let ciphertext = sealWithOpenSSL(index, session) else { return false }
            if let ciphertext { pushCiphertext(index, ciphertext) }
            session.trim()
        } else {
            return false
        }
        return true
    }

    /// OpenSSL encrypts the queued plaintext into its output BIO; the
    /// BIO's content becomes one node. Nil on a failure; `.some(nil)` when
    /// there is nothing to send.
    private func sealWithOpenSSL(_ index: UInt32, _ session: TLSSession) -> OutboundFrame?? {
        let slot = slab.pointer(index)
        var encrypted = 0
        while slot.pointee.sendHead != SendNodePool.none && encrypted < ReactorTLS.plaintextPerSendMax {
            let bytes = nodes.frame(slot.pointee.sendHead)
            // Safe: plaintext nodes are never sent partly (sendOffset is 0).
            guard session.write(UnsafeRawBufferPointer(bytes)) else {
                counters.add(.tlsErrors)
                return nil
            }
            encrypted += bytes.count
            releasePlaintextHead(index)
        }
        let pending = session.pendingOutput
        guard pending > 0 else { return .some(nil) }
        return OutboundFrame(count: pending) { buffer in
            var taken = 0
            while taken < buffer.count {
                let got = session.takeOutput(into: UnsafeMutableRawBufferPointer(rebasing: buffer[taken...]))
                guard got > 0 else { break }
                taken += got
            }
        }
    }

    /// Herald's record layer seals the queued plaintext frames straight
    /// into one node, in records of up to 2^14 bytes (several frames per
    /// record), behind whatever it has pending (tickets, a KeyUpdate) and
    /// before a close_notify or alert. After a fatal alert or close_notify
    /// queued frames are dropped unsent. Nil when there is nothing to send.
    private func sealWithRecordLayer(_ index: UInt32) -> OutboundFrame? {
        guard let tls else { return nil }
        let layer = tls.layers + Int(index)
        let slot = slab.pointer(index)
        var frames = 0
        var plaintextBytes = 0
        var node = slot.pointee.sendHead
        while node != SendNodePool.none && plaintextBytes < ReactorTLS.plaintextPerSendMax {
            plaintextBytes += nodes.frame(node).count
            frames += 1
            node = nodes.following(node)
        }
        let sealed = layer.pointee.sealsData ? plaintextBytes : 0
        let size = layer.pointee.sealedBytes(plaintextBytes: sealed, crypto: tls.crypto)
        let updatesBefore = tls.crypto.keyUpdatesSent
        let ciphertext = size == 0 ? nil : OutboundFrame(count: size) { buffer in
            layer.pointee.seal(plaintextBytes: sealed, into: buffer, crypto: tls.crypto) { append in
                guard sealed > 0 else { return }
                var node = slot.pointee.sendHead
                for _ in 0..<frames {
                    append(UnsafeRawBufferPointer(nodes.frame(node)))
                    node = nodes.following(node)
                }
            }
        }
        if tls.crypto.keyUpdatesSent != updatesBefore {
            counters.add(.tlsKeyUpdatesSent, UInt64(tls.crypto.keyUpdatesSent - updatesBefore))
        }
        for _ in 0..<frames { releasePlaintextHead(index) }
        return ciphertext
    }

    /// Releases the queue's head (a plaintext frame now encrypted or dropped).
    private func releasePlaintextHead(_ index: UInt32) {
        let slot = slab.pointer(index)
        let head = slot.pointee.sendHead
        let cost = nodes.frame(head).count + nodes.overhead(head)
        slot.pointee.queuedBytes -= UInt32(truncatingIfNeeded: min(cost, Int(slot.pointee.queuedBytes)))
        queuedBytesTotal -= cost
        slot.pointee.sendHead = nodes.release(head)
        if slot.pointee.sendHead == SendNodePool.none { slot.pointee.sendTail = SendNodePool.none }
    }

    /// Puts `ciphertext` at the head of the queue, marked as sent as is.
    private func pushCiphertext(_ index: UInt32, _ ciphertext: OutboundFrame) {
        let slot = slab.pointer(index)
        let node = nodes.make(Unmanaged.passRetained(ciphertext))
        nodes.link(node, to: slot.pointee.sendHead)
        slot.pointee.sendHead = node
        if slot.pointee.sendTail == SendNodePool.none { slot.pointee.sendTail = node }
        slot.pointee.sendOffset = 0
        slot.pointee.flags.insert(.cipherHead)
        slot.pointee.queuedBytes &+= UInt32(truncatingIfNeeded: ciphertext.queueCost)
        queuedBytesTotal += ciphertext.queueCost
    }
}
