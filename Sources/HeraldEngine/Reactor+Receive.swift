import HeraldCore
import Synchronization
import HeraldIO
import HeraldProtocol

/// Receiving: bytes arrive in provided buffers, are parsed in place and the
/// buffer goes straight back to the ring. Only an incomplete request head or
/// frame is copied out ("borrowed"), and only until it completes.
extension Reactor {
    func receiveCompleted(_ completion: Completion) {
        guard let slot = liveSlot(completion.userData) else {
            if let id = completion.bufferID { buffers.recycle(id) }
            return
        }
        let index = completion.userData.index
        if !completion.hasMore {
            slot.pointee.flags.remove(.receiveArmed)
            slot.pointee.pendingOperations -= 1
        }
        if completion.result > 0, let id = completion.bufferID {
            counters.add(.bytesReceived, UInt64(completion.result))
            slot.pointee.lastHeardTick = nowTick
            slot.pointee.flags.remove(.pingOutstanding)
            let bytes = UnsafeMutableRawBufferPointer(rebasing: buffers.buffer(id)[0..<Int(completion.result)])
            consume(index, bytes)
            buffers.recycle(id)
            rearmIfNeeded(index)
        } else if completion.result == 0 {
            peerEnded(index)
        } else if let error = completion.error {
            switch error {
            case .noBuffers:
                // Park and re-arm once buffers have been returned (NOTES.md:
                // re-arming at once floods the CQ with ENOBUFS).
                counters.add(.receiveNoBuffers)
                parkForRearm(index)
            case .canceled:
                // Teardown, or input paused for backpressure (re-armed when
                // the queue drains). A pause lifted before this cancel
                // completed found the receive still armed and left it: it
                // is re-armed here, or the connection would go deaf.
                maybeFinish(index)
                rearmIfNeeded(index)
            case _ where error.isProgrammerError:
                ioBug(index, operation: "receive", error)
            default:
                // ECONNRESET, ETIMEDOUT, EHOSTUNREACH…: the peer is gone.
                counters.add(.receiveErrors)
                peerEnded(index)
            }
        }
    }

    private func consume(_ index: UInt32, _ bytes: UnsafeMutableRawBufferPointer) {
        if tls != nil {
            tlsReceive(index, bytes)
            return
        }
        consumePlaintext(index, bytes)
    }

    /// Bytes of the HTTP upgrade or of WebSocket frames (decrypted first on
    /// a TLS listener).
    func consumePlaintext(_ index: UInt32, _ bytes: UnsafeMutableRawBufferPointer) {
        let slot = slab.pointer(index)
        switch slot.pointee.state {
        case .handshaking: handshakeBytes(index, bytes)
        case .open, .closing: frameBytes(index, bytes)
        case .free, .accepting, .tearingDown: break
        }
    }

    /// The peer closed or reset its side.
    func peerEnded(_ index: UInt32) {
        let slot = slab.pointer(index)
        switch slot.pointee.life.peerEnded() {
        case .tearDownHandshake:
            counters.add(.handshakeFailedPeerClosed)
            tearDown(index)
        case .tearDownAbnormal:
            // No close frame: RFC 6455 §7.1.5 calls this 1006.
            slot.pointee.closeCode = CloseCode.abnormal.rawValue
            tearDown(index)
        case .tearDown:
            tearDown(index)
        case .finishIfIdle:
            maybeFinish(index)
        }
    }

    /// A multishot receive that ended while the connection still needs input.
    private func rearmIfNeeded(_ index: UInt32) {
        let slot = slab.pointer(index)
        guard !slot.pointee.flags.contains(.receiveArmed), !slot.pointee.flags.contains(.readPaused) else { return }
        switch slot.pointee.state {
        case .handshaking, .open, .closing: armReceive(index)
        default: break
        }
    }

    private func parkForRearm(_ index: UInt32) {
        let slot = slab.pointer(index)
        guard !slot.pointee.flags.contains(.rearmQueued) else { return }
        slot.pointee.flags.insert(.rearmQueued)
        rearmList.append(index)
    }

    func rearmParkedReceives() {
        guard !rearmList.isEmpty else { return }
        let parked = rearmList
        rearmList.removeAll(keepingCapacity: true)
        for index in parked {
            let slot = slab.pointer(index)
            slot.pointee.flags.remove(.rearmQueued)
            rearmIfNeeded(index)
        }
    }

    // MARK: Upgrade request

    private func handshakeBytes(_ index: UInt32, _ bytes: UnsafeMutableRawBufferPointer) {
        let slot = slab.pointer(index)
        let limit = settings.requestHeadBytesMax
        if slot.pointee.assembly == nil {
            // Common case: the whole head arrived in one receive — parse it
            // in the provided buffer, no copy.
            let result = HTTPRequestHeadParser.parse(UnsafeRawBufferPointer(bytes), maxHeadBytes: limit)
            if case .incomplete = result {
                appendAssembly(index, UnsafeRawBufferPointer(bytes), limit: limit)
                return
            }
            handshakeParsed(index, result, bytes)
            return
        }
        // The head spans receives. Only head bytes are gathered (at most
        // `limit`); the rest of this receive stays where it is, so whatever
        // the client sent behind its head reaches the frame parser whole.
        let before = Int(slot.pointee.assemblyLength)
        appendAssembly(index, UnsafeRawBufferPointer(bytes), limit: limit)
        let gathered = UnsafeMutableRawBufferPointer(start: slot.pointee.assembly,
                                                     count: Int(slot.pointee.assemblyLength))
        let result = HTTPRequestHeadParser.parse(UnsafeRawBufferPointer(gathered), maxHeadBytes: limit)
        switch result {
        case .incomplete:
            // Every byte fit under the limit (else the parser says tooLarge).
            return
        case .complete(let head, let headLength):
            // Bytes of this receive behind the head: from offset
            // headLength - before. The head assembly is freed first; the
            // frame parser may take the assembly buffer for a message.
            let restStart = headLength - before
            freeAssembly(index)
            if upgrade(index, head) && restStart < bytes.count {
                frameBytes(index, UnsafeMutableRawBufferPointer(rebasing: bytes[restStart...]))
            }
        case .tooLarge, .malformed:
            freeAssembly(index)
            handshakeParsed(index, result, bytes)
        }
    }

    private func handshakeParsed(_ index: UInt32, _ result: HTTPHeadParseResult, _ bytes: UnsafeMutableRawBufferPointer) {
        switch result {
        case .incomplete:
            return
        case .tooLarge:
            reject(index, .requestHeaderFieldsTooLarge, counter: .handshakeFailedTooLarge)
        case .malformed:
            reject(index, .badRequest, counter: .handshakeFailedBadRequest)
        case .complete(let head, let headLength):
            // Frames a client sent right behind its request head, parsed in
            // place in this receive's buffer.
            if upgrade(index, head) && headLength < bytes.count {
                frameBytes(index, UnsafeMutableRawBufferPointer(rebasing: bytes[headLength...]))
            }
        }
    }

    /// Carries out the routing decision for a complete request head;
    /// returns true when the connection upgraded.
    private func upgrade(_ index: UInt32, _ head: HTTPRequestHead) -> Bool {
        let slot = slab.pointer(index)
        let decision = PublicRequestRouting.decide(head, overCapacity: slot.pointee.flags.contains(.overCapacity),
                                                   policy: settings.routing, nowSeconds: Clock.wallSeconds())
        switch decision {
        case .refuse(let status, let refusal):
            reject(index, status, counter: Counter.forRefusal(refusal))
            return false
        case .health(let headOnly):
            counters.add(.publicHTTPRequests)
            respond(index, HTTPResponse.make(status: .ok, body: Array("ok".utf8), close: true, omitBody: headOnly))
            return false
        case .page(let page, let headOnly):
            // Routed only when served: `pages` exists and has this page.
            guard let response = settings.pages?.response(page, headOnly: headOnly) else {
                reject(index, .notFound, counter: Counter.forRefusal(.notFound))
                return false
            }
            counters.add(.publicHTTPRequests)
            respond(index, response)
            return false
        case .methodNotAllowed:
            counters.add(.publicHTTPRequests)
            respond(index, HTTPResponse.make(status: .methodNotAllowed, body: [], headers: [("Allow", "GET, HEAD")],
                                             close: true))
            return false
        case .upgrade(let upgrade):
            opened(index, upgrade)
            return true
        }
    }

    /// The 101 is queued and the connection is open: deflate, token grant,
    /// the first heartbeat deadline, and the URL's topics.
    private func opened(_ index: UInt32, _ upgrade: PublicUpgrade) {
        let slot = slab.pointer(index)
        if let token = upgrade.token {
            slot.pointee.grant = grants.retain(token.grant, subject: token.subject)
            slot.pointee.tokenExpiresAt = token.expiresAt.map { UInt32(clamping: max($0, 1)) } ?? 0
        }
        enqueue(index, OutboundFrame(copying: WebSocketHandshake.switchingProtocolsResponse(
            accept: upgrade.accept, extensions: upgrade.deflate.map(Reactor.deflateResponse(for:)),
            subprotocol: upgrade.zstd ? ZstdEnvelope.subprotocol : nil)))
        if upgrade.zstd {
            slot.pointee.flags.insert(.zstd)
            router.registry.zstdConnections.add(1, ordering: .relaxed)
            if !upgrade.heldDictionaries.isEmpty {
                slot.pointee.flags.insert(.heldDictionaries)
                heldDictionaries[index] = upgrade.heldDictionaries
            }
        }
        if let offer = upgrade.deflate {
            slot.pointee.flags.insert(.deflate)
            if let bits = offer.serverMaxWindowBits, bits < 15 { slot.pointee.deflateWindowBits = UInt8(bits) }
            router.registry.deflateConnections.add(1, ordering: .relaxed)
        }
        slot.pointee.route = upgrade.route == .echo ? .echo : .webSocket
        // Accept → 101 queued (wrapping arithmetic: the stamp is 32 bits of µs).
        counters.handshake.record(microseconds: UInt64(
            UInt32(truncatingIfNeeded: Clock.monotonicMicroseconds()) &- slot.pointee.acceptedAtMicroseconds))
        slot.pointee.acceptedAtMicroseconds = 0
        slot.pointee.life.upgraded()
        slot.pointee.subscribeBudget = TokenBucket(capacity: settings.subscribeBurst, nowSecond: nowSecond)
        counters.add(.connectionsUpgraded)
        openConnections += 1
        // The first check lands in [interval, interval × 1.2]: never
        // before the interval (CONTRACT), spread after it. Later checks
        // count from each connection's own last input, so the spread
        // persists.
        let fraction = ReactorSettings.pingJitterFraction
        let spreadMilliseconds = UInt64(Double(settings.pingIntervalMilliseconds) * (1 + fraction))
        let delay = TimingWheel.jittered(spreadMilliseconds, index: index,
                                         salt: UInt32(truncatingIfNeeded: ringIndex &* 7919 &+ shardIndex),
                                         fraction: fraction / (1 + fraction))
        scheduleTimer(index, afterMilliseconds: delay)
        if let code = upgrade.authFailure {
            // CONTRACT "Security": the browser reads why from the close code.
            counters.add(.handshakeFailedUnauthorized)
            initiateClose(index, code, reason: code == .tokenExpired ? "token expired" : "unauthorized")
            return
        }
        for topic in upgrade.topics { subscribe(index, topic: topic, reply: false) }
        if Log.isEnabled(.debug) {
            Log.debug("upgraded", ["shard": "\(shardIndex)", "ring": "\(ringIndex)", "slot": "\(index)",
                                   "route": "\(upgrade.route)", "topics": "\(upgrade.topics.count)",
                                   "deflate": upgrade.deflate == nil ? "off" : "on"])
        }
    }

    /// permessage-deflate (RFC 7692) is accepted from every offer the parser
    /// accepts: always `server_no_context_takeover` (every message
    /// compressed alone, so one shared frame serves every subscriber), and
    /// `client_no_context_takeover` (§7.1.1.2 lets the server ask for it even
    /// unoffered) so one inflater per ring serves every connection.
    ///
    /// A client limiting the server's window (`server_max_window_bits=N`,
    /// §7.1.2.1) is answered with the same N. Shared frames are compressed
    /// with a 15-bit window, but with no context takeover a back-reference
    /// never reaches further than the message's own start: messages of at
    /// most 2^N bytes are sent compressed to it, longer ones uncompressed
    /// (a per-message choice the extension allows, §6).
    static func deflateResponse(for offer: DeflateOffer) -> String {
        var value = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
        if let bits = offer.serverMaxWindowBits { value += "; server_max_window_bits=\(bits)" }
        return value
    }

    /// Answers a plain HTTP error and closes once it is sent (CONTRACT
    /// "Handshake failures answer plain HTTP and close").
    func reject(_ index: UInt32, _ status: HTTPStatus, counter: Counter) {
        counters.add(counter)
        if Log.isEnabled(.debug) {
            Log.debug("handshake refused", ["shard": "\(shardIndex)", "ring": "\(ringIndex)", "slot": "\(index)",
                                            "status": "\(status.code)", "reason": counter.metric.value ?? ""])
        }
        respond(index, WebSocketHandshake.rejectResponse(status))
    }

    private func respond(_ index: UInt32, _ response: [UInt8]) {
        respond(index, OutboundFrame(copying: response))
    }

    /// A whole response (a page's is shared), then the connection closes.
    private func respond(_ index: UInt32, _ response: OutboundFrame) {
        let slot = slab.pointer(index)
        enqueue(index, response)
        slot.pointee.life.answeredHTTP()
        scheduleTimer(index, afterMilliseconds: settings.closeTimeoutMilliseconds)
    }

    // MARK: Borrowed buffers

    /// Appends to the connection's assembly buffer, growing it (bounded by
    /// `limit`; bytes past it are dropped — the caller rejects before that matters).
    func appendAssembly(_ index: UInt32, _ bytes: UnsafeRawBufferPointer, limit: Int) {
        let slot = slab.pointer(index)
        let length = Int(slot.pointee.assemblyLength)
        let take = min(bytes.count, max(0, limit - length))
        guard take > 0 else { return }
        let needed = length + take
        if needed > Int(slot.pointee.assemblyCapacity) {
            // Grow geometrically from one receive buffer, capped at the limit.
            var capacity = max(Int(slot.pointee.assemblyCapacity), settings.recvBufferBytes)
            while capacity < needed { capacity *= 2 }
            capacity = min(capacity, max(limit, needed))
            let grown = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
            if let old = slot.pointee.assembly {
                grown.copyMemory(from: old, byteCount: length)
                old.deallocate()
            }
            slot.pointee.assembly = grown
            slot.pointee.assemblyCapacity = UInt32(capacity)
        }
        // Safe: needed ≤ capacity was just ensured.
        (slot.pointee.assembly! + length).copyMemory(from: bytes.baseAddress!, byteCount: take)
        slot.pointee.assemblyLength = UInt32(needed)
    }

    func freeAssembly(_ index: UInt32) {
        let slot = slab.pointer(index)
        slot.pointee.assembly?.deallocate()
        slot.pointee.assembly = nil
        slot.pointee.assemblyLength = 0
        slot.pointee.assemblyCapacity = 0
    }
}
