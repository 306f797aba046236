import HeraldCore
import HeraldProtocol

/// RFC 6455 frames in, messages out. The pure `FrameDecoder` validates and
/// unmasks in place; this layer streams UTF-8 validation, assembles
/// messages that span frames or receives, and answers control frames.
extension Reactor {
    func frameBytes(_ index: UInt32, _ bytes: UnsafeMutableRawBufferPointer) {
        let slot = slab.pointer(index)
        var offset = 0
        while slot.pointee.life.readsInput {
            let rest = UnsafeMutableRawBufferPointer(rebasing: bytes[offset...])
            // With deflate, 1009 is checked on the inflated size instead; the
            // compressed size is bounded by the same limit (it can only be
            // smaller for any message worth accepting).
            let step = slot.pointee.decoder.next(rest, messageBytesMax: settings.messageBytesMax,
                                                 allowRSV1: slot.pointee.flags.contains(.deflate))
            offset += step.consumed
            switch step.event {
            case .needMore:
                return
            case .frameStart(let header):
                frameStarted(index, header)
            case .payload(let chunk, let frameComplete):
                if slot.pointee.controlOpcode != 0 {
                    controlPayload(index, chunk, complete: frameComplete)
                } else {
                    dataPayload(index, chunk, complete: frameComplete)
                }
            case .failure(let code):
                fail(index, code)
                return
            }
            if offset >= bytes.count, case .needMore = step.event { return }
        }
    }

    private func frameStarted(_ index: UInt32, _ header: FrameHeader) {
        let slot = slab.pointer(index)
        if header.opcode.isControl {
            slot.pointee.controlOpcode = header.opcode.rawValue
            slot.pointee.controlLength = 0
            return
        }
        slot.pointee.controlOpcode = 0
        if header.isFirstFrameOfMessage {
            if header.rsv1 {
                slot.pointee.flags.insert(.compressedMessage)
            } else {
                slot.pointee.flags.remove(.compressedMessage)
            }
            if header.opcode == .text {
                slot.pointee.flags.insert(.textMessage)
                slot.pointee.utf8.reset()
            } else {
                slot.pointee.flags.remove(.textMessage)
            }
        }
        if header.fin {
            slot.pointee.flags.insert(.finalFrame)
        } else {
            slot.pointee.flags.remove(.finalFrame)
        }
    }

    private func dataPayload(_ index: UInt32, _ chunk: UnsafeMutableRawBufferPointer, complete: Bool) {
        let slot = slab.pointer(index)
        let isText = slot.pointee.flags.contains(.textMessage)
        if slot.pointee.flags.contains(.compressedMessage) {
            compressedPayload(index, chunk, complete: complete, isText: isText)
            return
        }
        // Fail fast on invalid UTF-8, mid-message (RFC 6455 §8.1; Autobahn 6.x).
        if isText && !slot.pointee.utf8.validate(UnsafeRawBufferPointer(chunk)) {
            fail(index, .invalidPayload)
            return
        }
        let endsMessage = complete && slot.pointee.flags.contains(.finalFrame)
        if endsMessage && isText && !slot.pointee.utf8.isAtCharacterBoundary {
            fail(index, .invalidPayload)
            return
        }
        let opcode: Opcode = isText ? .text : .binary
        if endsMessage && slot.pointee.assembly == nil {
            // The whole message is in this receive: handle it in place.
            message(index, opcode, UnsafeRawBufferPointer(chunk))
            return
        }
        // Bounded by the decoder's 1009 check on the summed message length.
        appendAssembly(index, UnsafeRawBufferPointer(chunk), limit: settings.messageBytesMax)
        if endsMessage {
            let whole = UnsafeRawBufferPointer(start: slot.pointee.assembly, count: Int(slot.pointee.assemblyLength))
            message(index, opcode, whole)
            freeAssembly(index)
        }
    }

    /// A compressed message is inflated whole once its last frame is in
    /// (RFC 7692 §7.2.2), then validated and handled like any other.
    private func compressedPayload(_ index: UInt32, _ chunk: UnsafeMutableRawBufferPointer, complete: Bool,
                                   isText: Bool) {
        let slot = slab.pointer(index)
        let endsMessage = complete && slot.pointee.flags.contains(.finalFrame)
        let compressed: UnsafeRawBufferPointer
        if endsMessage && slot.pointee.assembly == nil {
            compressed = UnsafeRawBufferPointer(chunk)
        } else {
            appendAssembly(index, UnsafeRawBufferPointer(chunk), limit: settings.messageBytesMax)
            guard endsMessage else { return }
            compressed = UnsafeRawBufferPointer(start: slot.pointee.assembly, count: Int(slot.pointee.assemblyLength))
        }
        switch inflater.decompress(compressed, bytesMax: settings.messageBytesMax) {
        case .failure(.tooLarge):
            fail(index, .messageTooBig)
        case .failure(.corrupt):
            fail(index, .invalidPayload)
        case .success(let message):
            if isText && !UTF8Validator.isValid(message) {
                fail(index, .invalidPayload)
            } else {
                self.message(index, isText ? .text : .binary, message)
            }
        }
        freeAssembly(index)
    }

    private func controlPayload(_ index: UInt32, _ chunk: UnsafeMutableRawBufferPointer, complete: Bool) {
        let slot = slab.pointer(index)
        let opcode = Opcode(rawValue: slot.pointee.controlOpcode) ?? .ping
        let length = Int(slot.pointee.controlLength)
        if complete && length == 0 {
            slot.pointee.controlOpcode = 0
            control(index, opcode, UnsafeRawBufferPointer(chunk))
            return
        }
        // A control frame split across receives: ≤ 125 bytes (the decoder
        // enforces RFC 6455 §5.5), gathered in a small buffer the ring
        // lends (`partialControls`, one per such connection) until it ends.
        let take = min(chunk.count, 125 - length)
        if take > 0 {
            let buffer = partialControls[index] ?? .allocate(byteCount: 125, alignment: 8)
            partialControls[index] = buffer
            // Safe: length + take ≤ 125, the buffer's size.
            (buffer + length).copyMemory(from: chunk.baseAddress!, byteCount: take)
            slot.pointee.controlLength = UInt8(length + take)
        }
        guard complete else { return }
        slot.pointee.controlOpcode = 0
        let buffer = partialControls.removeValue(forKey: index)
        let payload = UnsafeRawBufferPointer(start: buffer, count: Int(slot.pointee.controlLength))
        slot.pointee.controlLength = 0
        control(index, opcode, payload)
        buffer?.deallocate()
    }

    /// Frees a control frame left incomplete (teardown).
    func dropPartialControl(_ index: UInt32) {
        slab.pointer(index).pointee.controlLength = 0
        partialControls.removeValue(forKey: index)?.deallocate()
    }

    private func control(_ index: UInt32, _ opcode: Opcode, _ payload: UnsafeRawBufferPointer) {
        let slot = slab.pointer(index)
        switch opcode {
        case .ping:
            // RFC 6455 §5.5.2: answer with a pong carrying the same payload,
            // unless our close frame is already out. §5.5.3: one pending pong
            // at most, for the latest ping — a ping flood costs one.
            guard !slot.pointee.life.flags.contains(.closeSent) else { return }
            let congested: ConnectionFlags = [.stalled, .overLimit, .pongPending]
            guard !slot.pointee.flags.isDisjoint(with: congested) else {
                // The usual case: answered at once, in order with the
                // replies that follow (Autobahn 5.6: a ping between the
                // fragments of a message is answered before its echo; 2.10:
                // ten pings, ten pongs).
                enqueuePong(index, payload.isEmpty ? nil : Array(payload))
                return
            }
            // The socket is not taking bytes: this ping replaces any pending one.
            if slot.pointee.flags.contains(.pongPending) { counters.add(.pingsCoalesced) }
            slot.pointee.flags.insert(.pongPending)
            if payload.isEmpty {
                pendingPongs.removeValue(forKey: index)
            } else {
                pendingPongs[index] = Array(payload)
            }
        case .pong:
            // Any input already counts as liveness (lastHeardTick).
            break
        case .close:
            closeReceived(index, payload)
        default:
            break
        }
    }

    private func closeReceived(_ index: UInt32, _ payload: UnsafeRawBufferPointer) {
        let slot = slab.pointer(index)
        switch ClosePayload.parse(payload) {
        case .failure(let code):
            fail(index, code)
        case .ok(let code, _):
            switch slot.pointee.life.peerClosed(code: code) {
            case .tearDown:
                // We started the close; the handshake is complete. The server
                // closes TCP first (RFC 6455 §7.1.1).
                tearDown(index)
            case .reply(let code):
                slot.pointee.closeCode = code?.rawValue ?? CloseCode.noStatus.rawValue
                // Echo the code (RFC 6455 §5.5.1), or an empty close for none.
                let reply = code.map { FrameEncoder.closeFrame(code: $0, reason: "") }
                    ?? FrameEncoder.frame(opcode: .close, payload: [UInt8]())
                sendClose(index, frame: reply)
            }
        }
    }

    /// Fails the connection (RFC 6455 §7.1.7): close frame with `code`, no
    /// further input, TCP closed once the frame is out.
    func fail(_ index: UInt32, _ code: CloseCode) {
        let slot = slab.pointer(index)
        freeAssembly(index)
        guard slot.pointee.life.fail() else { return }
        slot.pointee.closeCode = code.rawValue
        sendClose(index, frame: FrameEncoder.closeFrame(code: code, reason: Reactor.reason(for: code)))
    }

    /// Starts a server-side close and waits for the peer's close (shutdown,
    /// policy): the connection ends when it answers or at the close timeout.
    func initiateClose(_ index: UInt32, _ code: CloseCode, reason: String) {
        let slot = slab.pointer(index)
        guard slot.pointee.life.initiateClose() else { return }
        slot.pointee.closeCode = code.rawValue
        sendClose(index, frame: FrameEncoder.closeFrame(code: code, reason: reason))
    }

    /// Queues the close frame the lifecycle decided on and starts the close
    /// timeout.
    private func sendClose(_ index: UInt32, frame: [UInt8]) {
        enqueue(index, OutboundFrame(copying: frame))
        scheduleTimer(index, afterMilliseconds: settings.closeTimeoutMilliseconds)
    }

    static func reason(for code: CloseCode) -> String {
        switch code {
        case .protocolError: "protocol error"
        case .invalidPayload: "invalid UTF-8"
        case .messageTooBig: "message too big"
        case .unsupportedData: "binary messages are not accepted here"
        case .policyViolation: "policy violation"
        default: ""
        }
    }

    // MARK: Messages

    /// A complete data message from a client.
    private func message(_ index: UInt32, _ opcode: Opcode, _ payload: UnsafeRawBufferPointer) {
        let slot = slab.pointer(index)
        counters.add(.messagesReceived)
        guard !slot.pointee.life.flags.contains(.closeSent) else { return }
        switch slot.pointee.route {
        case .echo:
            let count = payload.count
            enqueue(index, OutboundFrame(count: FrameEncoder.headerLength(payloadLength: count, masked: false) + count) { out in
                let header = FrameEncoder.writeHeader(opcode: opcode, fin: true, rsv1: false, payloadLength: count,
                                                      to: out.baseAddress!)
                if count > 0 {
                    // Safe: the buffer was sized header + count.
                    (out.baseAddress! + header).copyMemory(from: payload.baseAddress!, byteCount: count)
                }
            })
        case .webSocket:
            guard opcode == .text else {
                // CONTRACT: clients send JSON text frames; 1003 is RFC 6455's
                // "data it cannot accept".
                fail(index, .unsupportedData)
                return
            }
            command(index, payload)
        }
    }

    private func command(_ index: UInt32, _ payload: UnsafeRawBufferPointer) {
        switch ClientMessage.parse(payload) {
        case .success(.ping):
            sendText(index, ServerMessage.pong())
        case .success(.refresh(let token)):
            refresh(index, token: token)
        case .success(.subscribe(let topic, let since)):
            guard withinSubscribeRate(index, topic: topic) else { return }
            subscribe(index, topic: topic, since: since)
        case .success(.unsubscribe(let topic)):
            guard withinSubscribeRate(index, topic: topic) else { return }
            unsubscribe(index, topic: topic)
        case .failure(let error):
            counters.add(.clientErrorsSent)
            sendText(index, ServerMessage.error(code: error.code, message: error.message))
        }
    }

    /// `--subscribes-per-second` after `--subscribe-burst`: a client that
    /// churns subscriptions (to fill the topic table, or by a bug) gets
    /// `rate_limited` and the command is ignored; the socket stays open.
    private func withinSubscribeRate(_ index: UInt32, topic: String) -> Bool {
        let slot = slab.pointer(index)
        guard slot.pointee.subscribeBudget.take(capacity: settings.subscribeBurst, perSecond: settings.subscribesPerSecond,
                                                nowSecond: nowSecond) else {
            counters.add(.subscribesRateLimited)
            counters.add(.clientErrorsSent)
            sendText(index, ServerMessage.error(code: "rate_limited",
                                                message: "at most \(settings.subscribesPerSecond) subscribes and unsubscribes a second",
                                                topic: topic))
            return false
        }
        return true
    }

    /// `refresh`: a new token for the same `sub` replaces the connection's
    /// grant and expiry (CONTRACT "Messages on the socket"); anything else
    /// is the error `unauthorized` and the connection keeps its old token.
    private func refresh(_ index: UInt32, token: String) {
        let slot = slab.pointer(index)
        guard let secret = settings.jwtSecret, slot.pointee.grant != ConnectionSlot.noGrant else {
            counters.add(.clientErrorsSent)
            sendText(index, ServerMessage.error(code: "unauthorized", message: "connection auth is off"))
            return
        }
        let verified: ConnectionToken
        switch ConnectionToken.verify(token, secret: secret, nowSeconds: Clock.wallSeconds()) {
        case .success(let value): verified = value
        case .failure(let failure):
            counters.add(.refreshesRefused)
            counters.add(.clientErrorsSent)
            sendText(index, ServerMessage.error(code: "unauthorized", message: failure.reason))
            return
        }
        guard verified.subject == grants.subject(slot.pointee.grant) else {
            counters.add(.refreshesRefused)
            counters.add(.clientErrorsSent)
            sendText(index, ServerMessage.error(code: "unauthorized", message: "the new token is for another sub"))
            return
        }
        let old = slot.pointee.grant
        slot.pointee.grant = grants.retain(verified.grant, subject: verified.subject)
        grants.release(old)
        slot.pointee.tokenExpiresAt = verified.expiresAt.map { UInt32(clamping: max($0, 1)) } ?? 0
        counters.add(.refreshes)
        sendText(index, ServerMessage.refreshed(expiresAt: verified.expiresAt))
    }

    /// A server→client text message (control replies; not the publish path).
    func sendText(_ index: UInt32, _ json: [UInt8]) {
        enqueue(index, OutboundFrame(copying: FrameEncoder.frame(opcode: .text, payload: json)))
    }
}
