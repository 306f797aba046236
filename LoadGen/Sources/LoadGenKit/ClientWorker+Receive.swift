import Glibc
import HeraldCompression
import HeraldIO
import HeraldProtocol

extension ClientWorker {
    /// POLLRDHUP (asm-generic/poll.h 0x2000) is only declared under _GNU_SOURCE,
    /// which Swift's Glibc module does not define.
    static let pollReadHangUp: UInt32 = 0x2000

    func received(_ completion: Completion, ring: Int) {
        let file = completion.userData.index
        let generation = completion.userData.generation
        let slot = slots[ring][Int(file)]
        let live = slot.generation == generation && (slot.state == .handshaking || slot.state == .open)
        if let buffer = completion.bufferID {
            defer { bufferRings[ring].recycle(buffer) }
            if live, completion.result > 0 {
                let bytes = UnsafeRawBufferPointer(rebasing: bufferRings[ring].buffer(buffer)[0..<Int(completion.result)])
                consume(bytes, ring: ring, file: file)
            }
        }
        guard live, slots[ring][Int(file)].state == .handshaking || slots[ring][Int(file)].state == .open else { return }
        if completion.result == 0 {
            // EOF: the server closed the connection.
            counters.count(.closedByServer)
            closeConnection(ring: ring, file: file, wasOpen: slots[ring][Int(file)].state == .open)
            return
        }
        if completion.result < 0 {
            if completion.result == -ENOBUFS {
                counters.receiveBufferStarved.add(1, ordering: .relaxed)
                starved.append((ring, file, generation))
                return
            }
            if completion.result == -ECANCELED { return }
            counters.count(.receive)
            closeConnection(ring: ring, file: file, wasOpen: slots[ring][Int(file)].state == .open)
            return
        }
        if !completion.hasMore { armReceive(ring: ring, file: file) }
    }

    /// Feeds received bytes through the upgrade check and the frame parser,
    /// keeping an incomplete tail in `partial` (rare: frames are small).
    func consume(_ bytes: UnsafeRawBufferPointer, ring: Int, file: UInt32) {
        if tlsContext != nil {
            guard let session = tlsSessions[ring][Int(file)] else { return }
            receiveTLS(bytes, session: session, ring: ring, file: file)
            return
        }
        consumePlaintext(bytes, ring: ring, file: file)
    }

    /// Plaintext bytes (decrypted first for wss://).
    func consumePlaintext(_ bytes: UnsafeRawBufferPointer, ring: Int, file: UInt32) {
        if var stash = partial[ring].removeValue(forKey: file) {
            stash.append(contentsOf: bytes)
            stash.withUnsafeBytes { process($0, ring: ring, file: file) }
        } else {
            process(bytes, ring: ring, file: file)
        }
    }

    func process(_ bytes: UnsafeRawBufferPointer, ring: Int, file: UInt32) {
        var offset = 0
        if slots[ring][Int(file)].state == .handshaking {
            let id = connection(ring: ring, file: file)
            let generation = slots[ring][Int(file)].generation
            switch HandshakeResponse.check(bytes, expectedAccept:
                    HandshakeResponse.expectedAccept(for: UInt64(id) << 24 | UInt64(generation)), codec: options.codec) {
            case .needMore:
                partial[ring][file] = Array(bytes)
                return
            case .rejected:
                fail(ring: ring, file: file, kind: .handshakeRejected, installed: true)
                return
            case .accepted(let headLength):
                offset = headLength
                upgraded(ring: ring, file: file, id: id)
                guard slots[ring][Int(file)].state == .open else { return }
            }
        }
        // Bounded: every step consumes a whole frame or stops.
        while offset < bytes.count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            switch ServerFrameParser.parse(rest, deflate: inflater != nil) {
            case .needMore:
                partial[ring][file] = Array(rest)
                return
            case .invalid:
                counters.count(.protocolViolation)
                closeConnection(ring: ring, file: file, wasOpen: true)
                return
            case .frame(let opcode, _, let payloadStart, let payloadLength, let frameLength, let compressed):
                let payload = UnsafeRawBufferPointer(rebasing: rest[payloadStart..<(payloadStart + payloadLength)])
                frame(opcode: opcode, payload: payload, compressed: compressed, ring: ring, file: file)
                offset += frameLength
                guard slots[ring][Int(file)].state == .open else { return }
            }
        }
    }

    func upgraded(ring: Int, file: UInt32, id: Int) {
        slots[ring][Int(file)].state = .open
        counters.connected.add(1, ordering: .relaxed)
        counters.open.add(1, ordering: .relaxed)
        if slots[ring][Int(file)].flags & ClientSlot.rejoin != 0 {
            rejoined(ring: ring, file: file, topic: id % options.topics)
            return
        }
        if !subscribeMessages[id % options.topics].isEmpty {
            subscribeMessages[id % options.topics].withUnsafeBytes {
                sendFrame(ring: ring, file: file, opcode: .text, payload: $0)
            }
        }
        if plan.isSlow(id) {
            // Stop reading: cancel the multishot receive, keep the socket, and
            // watch only for the server closing it (POLLRDHUP does not consume data).
            slots[ring][Int(file)].state = .slow
            rings[ring].prepareCancel(target: userData(.receive, ring: ring, file: file),
                                      userData: userData(.cancel, ring: ring, file: file))
            rings[ring].preparePoll(fixedFile: file, events: Self.pollReadHangUp | UInt32(POLLHUP) | UInt32(POLLERR),
                                    userData: userData(.poll, ring: ring, file: file))
        } else {
            readersPerTopic[id % options.topics] += 1
            readersEverPerTopic[id % options.topics] += 1
        }
    }

    func frame(opcode: UInt8, payload: UnsafeRawBufferPointer, compressed: Bool, ring: Int, file: UInt32) {
        switch opcode {
        case Opcode.text.rawValue, Opcode.binary.rawValue, Opcode.continuation.rawValue:
            if compressed, let inflater {
                counters.payloadBytesReceived.add(payload.count, ordering: .relaxed)
                switch inflater.decompress(payload, bytesMax: ServerFrameParser.payloadBytesMax) {
                case .success(let plain): decoded(plain, ring: ring, file: file)
                case .failure: undecodable(ring: ring, file: file)
                }
            } else if opcode == Opcode.binary.rawValue, let zstdFrames, payload.first == ZstdEnvelope.magic {
                zstdFrame(payload, zstdFrames, ring: ring, file: file)
            } else {
                counters.payloadBytesReceived.add(payload.count, ordering: .relaxed)
                decoded(payload, ring: ring, file: file)
            }
        case Opcode.ping.rawValue:
            // RFC 6455 §5.5.3: a pong echoes the ping's application data.
            counters.pingsAnswered.add(1, ordering: .relaxed)
            sendFrame(ring: ring, file: file, opcode: .pong, payload: payload)
        case Opcode.close.rawValue:
            // §5.5.1: answer the close, then the TCP close follows.
            sendFrame(ring: ring, file: file, opcode: .close, payload: UnsafeRawBufferPointer(rebasing: payload.prefix(2)))
            counters.count(.closedByServer)
            closeConnection(ring: ring, file: file, wasOpen: true)
        default:
            break
        }
    }

    func decoded(_ payload: UnsafeRawBufferPointer, ring: Int, file: UInt32) {
        counters.payloadBytesDecoded.add(payload.count, ordering: .relaxed)
        delivered(payload, ring: ring, file: file)
    }

    /// A message this connection cannot read is an error, and the
    /// connection ends (what it would deliver next would be checked
    /// against a seq it never saw).
    func undecodable(ring: Int, file: UInt32) {
        counters.count(.undecodable)
        closeConnection(ring: ring, file: file, wasOpen: true)
    }

    /// `herald.zstd.v1` (Docs/PROTOCOL.md): a dictionary (kept by id for
    /// the worker, remembered as this connection's), or a message made with
    /// none or with the one this connection was sent.
    func zstdFrame(_ payload: UnsafeRawBufferPointer, _ decoder: ZstdFrameDecoder, ring: Int, file: UInt32) {
        guard let header = ZstdEnvelope.parse(payload) else { return undecodable(ring: ring, file: file) }
        let slot = slots[ring] + Int(file)
        switch header {
        case .dictionary(let id, _, let bytes):
            guard decoder.addDictionary(id: id, bytes) else { return undecodable(ring: ring, file: file) }
            slot.pointee.zstdDictionary = id
            counters.zstdDictionaries.add(1, ordering: .relaxed)
            counters.zstdDictionaryBytes.add(payload.count, ordering: .relaxed)
        case .message(_, let id, let frame):
            counters.payloadBytesReceived.add(payload.count, ordering: .relaxed)
            guard id == 0 || id == slot.pointee.zstdDictionary,
                  let plain = decoder.decompress(frame, dictionary: id, bytesMax: ServerFrameParser.payloadBytesMax)
            else { return undecodable(ring: ring, file: file) }
            decoded(plain, ring: ring, file: file)
        }
    }

    /// One delivered data message: latency from the publisher's timestamp,
    /// and its seq checked against what this connection saw before.
    func delivered(_ payload: UnsafeRawBufferPointer, ring: Int, file: UInt32) {
        guard let index = MessageFields.integer(after: MessageFields.indexKey, in: payload),
              let sent = MessageFields.integer(after: MessageFields.timeKey, in: payload) else {
            if MessageFields.find(MessageFields.gapMarker, in: payload) != nil {
                gapAnnounced(payload, ring: ring, file: file)
            } else if MessageFields.find(MessageFields.subscribedMarker, in: payload) != nil {
                subscribedReply(payload, ring: ring, file: file)
            } else if MessageFields.find(MessageFields.errorMarker, in: payload) != nil {
                counters.count(.serverErrorMessage)
            }
            return
        }
        let now = Clock.nanoseconds()
        let latency = now > sent ? now - sent : 0
        _ = self.latency.record(min(latency, self.latency.highestTrackableValue))
        counters.deliveries.add(1, ordering: .relaxed)
        if index < UInt64(messageDeliveries.count) {
            messageDeliveries[Int(index)] &+= 1
            messageLastLatency[Int(index)] = max(messageLastLatency[Int(index)], latency)
        }
        if let seq = MessageFields.integer(after: MessageFields.seqKey, in: payload) {
            checkSeq(UInt32(truncatingIfNeeded: seq), ordinal: Int64(index) / Int64(max(1, options.topics)),
                     ring: ring, file: file)
            let slot = slots[ring] + Int(file)
            if slot.pointee.recoverTarget != 0 {
                if seq <= UInt64(slot.pointee.recoverTarget) { counters.replayed.add(1, ordering: .relaxed) }
                if slot.pointee.lastSeq >= slot.pointee.recoverTarget { caughtUp(slot, now: now) }
            }
        }
    }

    /// `--recover`: a dropped subscriber is upgraded again; it subscribes
    /// with the position it had (its last seq, the topic's epoch).
    func rejoined(ring: Int, file: UInt32, topic: Int) {
        let slot = slots[ring] + Int(file)
        slot.pointee.flags = ClientSlot.awaitingRecovery
        counters.rejoined.add(1, ordering: .relaxed)
        readersPerTopic[topic] += 1  // the same reader again: readersEver is unchanged
        let epoch = String(decoding: topicEpochs[topic], as: UTF8.self)
        let message = #"{"type":"subscribe","topic":"\#(plan.topicNames[topic])","since":{"seq":"#
            + #"\#(slot.pointee.lastSeq),"epoch":"\#(epoch)"}}"#
        Array(message.utf8).withUnsafeBytes { sendFrame(ring: ring, file: file, opcode: .text, payload: $0) }
    }

    /// `{"type":"subscribed","topic":T,"seq":N,"epoch":E[,"recovered":B]}`:
    /// learns the topic's epoch (and checks it never changes during the
    /// run); after a rejoin, `recovered: true` names the seam this
    /// connection must reach, `false` is an error (what it missed is lost,
    /// announced: it goes on from N).
    func subscribedReply(_ payload: UnsafeRawBufferPointer, ring: Int, file: UInt32) {
        let topic = connection(ring: ring, file: file) % options.topics
        if let epoch = MessageFields.string(after: MessageFields.epochKey, in: payload) {
            if topicEpochs[topic].isEmpty {
                topicEpochs[topic] = epoch
            } else if topicEpochs[topic] != epoch {
                counters.count(.epochChanged)
            }
        }
        let slot = slots[ring] + Int(file)
        guard slot.pointee.flags & ClientSlot.awaitingRecovery != 0 else { return }
        slot.pointee.flags = 0
        let seam = UInt32(truncatingIfNeeded: MessageFields.integer(after: MessageFields.seqKey, in: payload) ?? 0)
        if MessageFields.find(MessageFields.recoveredTrue, in: payload) != nil {
            if slot.pointee.lastSeq >= seam {
                caughtUp(slot, now: Clock.nanoseconds())
            } else {
                slot.pointee.recoverTarget = seam
            }
        } else {
            counters.count(.recoveryRefused)
            slot.pointee.lastSeq = max(slot.pointee.lastSeq, seam)
        }
    }

    func caughtUp(_ slot: UnsafeMutablePointer<ClientSlot>, now: UInt64) {
        slot.pointee.recoverTarget = 0
        counters.recovered.add(1, ordering: .relaxed)
        let dropped = plan.control.recoverDrop.load(ordering: .relaxed)
        let elapsed = now > dropped ? now - dropped : 0
        _ = recoveryTime.record(min(elapsed, recoveryTime.highestTrackableValue))
        lastRecoveredNanoseconds = max(lastRecoveredNanoseconds, now)
    }

    /// Every connection must see its topic's seqs in order, each once, with
    /// any skip announced by a `gap` (CONTRACT). The publisher sends message
    /// i to topic i mod K, so message i is the (i / K)-th of its topic and
    /// seq − ordinal is the same for all of them: the first message fixes it
    /// (and one whose ordinal is not 0 means earlier ones never came).
    func checkSeq(_ seq: UInt32, ordinal: Int64, ring: Int, file: UInt32) {
        let slot = slots[ring] + Int(file)
        let last = slot.pointee.lastSeq
        if slot.pointee.seqOffset == ClientSlot.offsetUnset {
            let offset = Int64(seq) - ordinal
            slot.pointee.seqOffset = Int32(clamping: offset)
            if last == 0 && ordinal > 0 {
                // Messages 0..<ordinal of this topic never arrived, unannounced.
                counters.count(.seqGap, Int(ordinal))
            }
        } else if Int64(seq) - ordinal != Int64(slot.pointee.seqOffset) {
            counters.count(.seqMismatch)
        }
        if last != 0 {
            if seq == last {
                counters.count(.seqDuplicate)
                return
            }
            if seq < last {
                counters.count(.seqReordered)
                return
            }
            if seq > last &+ 1 { counters.count(.seqGap, Int(seq - last - 1)) }
        }
        slot.pointee.lastSeq = seq
    }

    /// `{"type":"gap","topic":T,"from":A,"to":B}`: A…B were dropped for
    /// this connection (policy `drop`) and it is told so; A must follow the
    /// last seq it saw.
    func gapAnnounced(_ payload: UnsafeRawBufferPointer, ring: Int, file: UInt32) {
        guard let from = MessageFields.integer(after: MessageFields.fromKey, in: payload),
              let to = MessageFields.integer(after: MessageFields.toKey, in: payload), from <= to else {
            counters.count(.protocolViolation)
            return
        }
        counters.gapsAnnounced.add(1, ordering: .relaxed)
        let slot = slots[ring] + Int(file)
        let last = UInt64(slot.pointee.lastSeq)
        if last != 0 && from != last + 1 {
            if from <= last { counters.count(.seqDuplicate) } else { counters.count(.seqGap, Int(from - last - 1)) }
        }
        slot.pointee.lastSeq = UInt32(truncatingIfNeeded: max(last, to))
    }
}
