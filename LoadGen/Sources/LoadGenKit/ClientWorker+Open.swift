import Glibc
import HeraldIO
import HeraldProtocol

extension ClientWorker {
    /// Opens as many connections as the rate allows by now (token bucket from
    /// the ramp's start), at most `openBatchMax` per turn so completions keep flowing.
    static let openBatchMax = 512

    func openConnections(now: UInt64) {
        guard now >= plan.startNanoseconds else { return }
        let elapsed = Double(now - plan.startNanoseconds) / 1e9
        let share = Double(localTotal) / Double(max(1, plan.totalConnections))
        let allowed = Int(elapsed * Double(options.connectRatePerSecond) * share) + 1
        var budget = min(Self.openBatchMax, allowed - Int(counters.attempted.load(ordering: .relaxed)))
        while budget > 0 {
            if let entry = reopen.first {
                // Churn: a closed slot reopens (rate-limited like the ramp).
                reopen.removeFirst()
                open(ring: entry.ring, file: entry.file, now: now)
            } else if nextLocal < localTotal {
                let ring = nextLocal % rings.count
                let file = UInt32(nextLocal / rings.count)
                nextLocal += 1
                guard connection(ring: ring, file: file) < plan.totalConnections else { continue }
                open(ring: ring, file: file, now: now)
            } else {
                return
            }
            budget -= 1
        }
    }

    /// socket → connect → send(upgrade request), linked: one submission per client.
    func open(ring: Int, file: UInt32, now: UInt64) {
        let id = connection(ring: ring, file: file)
        guard var entry = sendPools[ring].free.last else {
            counters.count(.sendPoolExhausted)
            reopen.append((ring, file))
            return
        }
        slots[ring][Int(file)].generation = (slots[ring][Int(file)].generation &+ 1) & 0xFF_FFFF
        if slots[ring][Int(file)].flags & ClientSlot.rejoin == 0 {
            // A new subscriber; one rejoining for --recover keeps its place.
            slots[ring][Int(file)].lastSeq = 0
            slots[ring][Int(file)].seqOffset = ClientSlot.offsetUnset
        }
        // Dictionaries come once per subscription: a new connection's own.
        slots[ring][Int(file)].zstdDictionary = 0
        slots[ring][Int(file)].state = .connecting
        let generation = slots[ring][Int(file)].generation
        let target = id % options.targets.count
        let address = UnsafeRawPointer(addresses + target).assumingMemoryBound(to: sockaddr.self)
        let deadline = now + UInt64(options.handshakeTimeoutSeconds * 1e9)
        if tlsContext != nil {
            // wss://: socket → connect; the TLS handshake starts at connect's completion.
            counters.attempted.add(1, ordering: .relaxed)
            rings[ring].prepareSocketDirect(fileIndex: file, linked: true, userData: userData(.socket, ring: ring, file: file))
            rings[ring].prepareConnect(fixedFile: file, address: address, length: socklen_t(MemoryLayout<sockaddr_in>.size),
                                       linked: false, userData: userData(.connect, ring: ring, file: file))
            pendingHandshakes.append((ring, file, generation, deadline))
            return
        }
        entry = sendPools[ring].take(file: file, generation: generation, handshake: true)!
        let length = writeUpgradeRequest(id: id, generation: generation, into: sendPools[ring].buffer(entry))
        counters.attempted.add(1, ordering: .relaxed)
        rings[ring].prepareSocketDirect(fileIndex: file, linked: true, userData: userData(.socket, ring: ring, file: file))
        rings[ring].prepareConnect(fixedFile: file, address: address, length: socklen_t(MemoryLayout<sockaddr_in>.size),
                                   linked: true, userData: userData(.connect, ring: ring, file: file))
        rings[ring].prepareSend(fixedFile: file,
                                bytes: UnsafeRawBufferPointer(rebasing: sendPools[ring].buffer(entry)[0..<length]),
                                linked: false,
                                userData: UserData(kind: OperationKind.send.rawValue, generation: generation, index: entry))
        pendingHandshakes.append((ring, file, generation, deadline))
    }

    /// The upgrade request (RFC 6455 §4.1), with a key derived from the
    /// client's id and life so the expected accept can be recomputed.
    func writeUpgradeRequest(id: Int, generation: UInt32, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let key = HandshakeResponse.key(for: UInt64(id) << 24 | UInt64(generation))
        var length = 0
        func append(_ bytes: some Collection<UInt8>) {
            for byte in bytes where length < buffer.count {
                buffer[length] = byte
                length += 1
            }
        }
        append("GET ".utf8)
        append(topicPaths[id % options.topics])
        append(" HTTP/1.1\r\nHost: ".utf8)
        append(hostHeaders[id % options.targets.count])
        append("\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ".utf8)
        append(key.utf8)
        append("\r\nSec-WebSocket-Version: 13".utf8)
        append(options.codec.requestHeader.utf8)
        append("\r\n\r\n".utf8)
        precondition(length < buffer.count, "upgrade request longer than a send-pool entry (URL too long)")
        return length
    }

    func sendCompleted(_ completion: Completion, ring: Int) {
        let entry = completion.userData.index
        let file = sendPools[ring].ownerFile[Int(entry)]
        let generation = sendPools[ring].ownerGeneration[Int(entry)]
        let handshake = sendPools[ring].isHandshake[Int(entry)]
        sendPools[ring].give(entry)
        if tlsContext != nil {
            tlsSendCompleted(completion, ring: ring, file: file, generation: generation)
            return
        }
        guard handshake else { return }
        guard current(ring, file, generation, .connecting) else { return }
        if completion.result < 0 {
            // ECANCELED: socket or connect failed first and was counted there.
            if completion.result != -ECANCELED { fail(ring: ring, file: file, kind: .handshakeSend, installed: true) }
            return
        }
        slots[ring][Int(file)].state = .handshaking
        armReceive(ring: ring, file: file)
    }

    /// Sends one masked client frame (RFC 6455 §5.3: every client frame is
    /// masked) from a send-pool entry. Dropped and counted when the pool is dry.
    func sendFrame(ring: Int, file: UInt32, opcode: Opcode, payload: UnsafeRawBufferPointer) {
        let generation = slots[ring][Int(file)].generation
        if tlsContext != nil {
            guard payload.count + FrameEncoder.headerBytesMax <= tlsPlaintextScratch.count else {
                counters.count(.sendPoolExhausted)
                return
            }
            let length = writeMaskedFrame(opcode: opcode, payload: payload, into: tlsPlaintextScratch)
            sendFrameTLS(ring: ring, file: file, frame: UnsafeRawBufferPointer(rebasing: tlsPlaintextScratch[0..<length]))
            return
        }
        guard payload.count + FrameEncoder.headerBytesMax <= SendPool.entryBytes,
              let entry = sendPools[ring].take(file: file, generation: generation, handshake: false) else {
            counters.count(.sendPoolExhausted)
            return
        }
        let buffer = sendPools[ring].buffer(entry)
        let length = writeMaskedFrame(opcode: opcode, payload: payload, into: buffer)
        rings[ring].prepareSend(fixedFile: file,
                                bytes: UnsafeRawBufferPointer(rebasing: buffer[0..<length]),
                                linked: false,
                                userData: UserData(kind: OperationKind.send.rawValue, generation: generation, index: entry))
    }

    /// Writes one masked frame into `buffer` (room checked by the caller); returns its length.
    func writeMaskedFrame(opcode: Opcode, payload: UnsafeRawBufferPointer, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let maskKey = UInt32(truncatingIfNeeded: Clock.nanoseconds() &* 0x9E37_79B9)
        let header = FrameEncoder.writeMaskedHeader(opcode: opcode, fin: true, payloadLength: payload.count,
                                                    maskKey: maskKey, to: buffer.baseAddress!)
        if payload.count > 0 {
            let body = UnsafeMutableRawBufferPointer(rebasing: buffer[header..<(header + payload.count)])
            body.copyMemory(from: payload)
            FrameEncoder.mask(body, key: maskKey, offset: 0)
        }
        return header + payload.count
    }

    /// `--recover`: once the runner says so, every open subscriber of this
    /// worker drops its connection (no close frame: a network cut) and is
    /// queued to reopen as soon as its descriptor is closed.
    func dropForRecovery() {
        guard options.recoverAfter != nil, !droppedForRecovery,
              plan.control.recoverDrop.load(ordering: .relaxed) != 0 else { return }
        droppedForRecovery = true
        for ring in rings.indices {
            for file in 0..<plan.connections(onRing: ringIndices[ring]) where slots[ring][file].state == .open {
                slots[ring][file].flags |= ClientSlot.rejoin
                counters.recoverDropped.add(1, ordering: .relaxed)
                closeConnection(ring: ring, file: UInt32(file), wasOpen: true)
            }
        }
    }

    /// Churn: closes `--churn-rate` open connections per second (round-robin
    /// over this worker's clients); their slots reopen through `reopen`.
    func churn(now: UInt64) {
        guard options.scenario == .churn, let churnStart = plan.control.churnStartNanoseconds, now >= churnStart else {
            return
        }
        let share = Double(localTotal) / Double(max(1, plan.totalConnections))
        let due = Int(Double(now - churnStart) / 1e9 * Double(options.churnRatePerSecond) * share)
        var budget = min(Self.openBatchMax, due - churnClosedCount)
        var scanned = 0
        while budget > 0, scanned < localTotal {
            let local = churnCursor % max(1, localTotal)
            churnCursor += 1
            scanned += 1
            let ring = local % rings.count
            let file = UInt32(local / rings.count)
            guard slots[ring][Int(file)].state == .open else { continue }
            closeConnection(ring: ring, file: file, wasOpen: true)
            churnClosedCount += 1
            counters.churnClosed.add(1, ordering: .relaxed)
            budget -= 1
        }
    }
}
