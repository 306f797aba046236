import HeraldIO
import HeraldProtocol
import HeraldTLS

/// `wss://`: each client's TLS is an OpenSSL client session over memory
/// BIOs (HeraldTLS), driven by the same io_uring completions as the
/// plaintext path. After connect the ClientHello goes out; received
/// ciphertext goes into the session, plaintext comes out into the plain
/// path unchanged (upgrade check, frame parser, seq checks); everything a
/// client writes (the upgrade request, subscribes, pongs, closes) is
/// encrypted into the session and sent from it. One send per connection is
/// in flight at a time: two sends of one socket may complete out of order
/// once the socket is full, and TLS records must arrive in order.
extension ClientWorker {
    /// Connected: the session is made, the receive armed, the ClientHello sent.
    func startTLS(ring: Int, file: UInt32) {
        guard let context = tlsContext, let session = TLSSession(context: context, client: true) else {
            fail(ring: ring, file: file, kind: .tls, installed: true)
            return
        }
        tlsSessions[ring][Int(file)] = session
        tlsSending[ring][Int(file)] = false
        slots[ring][Int(file)].state = .handshaking
        armReceive(ring: ring, file: file)
        // No input yet: this writes the ClientHello.
        _ = session.receive(UnsafeRawBufferPointer(start: nil, count: 0), scratch: tlsScratch) { _ in }
        flushTLS(ring: ring, file: file)
    }

    /// Ciphertext from the server.
    func receiveTLS(_ bytes: UnsafeRawBufferPointer, session: TLSSession, ring: Int, file: UInt32) {
        let generation = slots[ring][Int(file)].generation
        let wasComplete = session.isHandshakeComplete
        let outcome = session.receive(bytes, scratch: tlsScratch) { plaintext in
            // The connection may have closed on an earlier piece.
            guard slots[ring][Int(file)].generation == generation,
                  slots[ring][Int(file)].state == .handshaking || slots[ring][Int(file)].state == .open else { return }
            consumePlaintext(UnsafeRawBufferPointer(plaintext), ring: ring, file: file)
        }
        guard slots[ring][Int(file)].generation == generation, tlsSessions[ring][Int(file)] === session else { return }
        switch outcome {
        case .progress:
            if !wasComplete && session.isHandshakeComplete {
                let id = connection(ring: ring, file: file)
                let length = writeUpgradeRequest(id: id, generation: generation, into: tlsPlaintextScratch)
                guard session.write(UnsafeRawBufferPointer(rebasing: tlsPlaintextScratch[0..<length])) else {
                    fail(ring: ring, file: file, kind: .tls, installed: true)
                    return
                }
            }
            flushTLS(ring: ring, file: file)
        case .closed:
            counters.count(.closedByServer)
            closeConnection(ring: ring, file: file, wasOpen: slots[ring][Int(file)].state == .open)
        case .failed, .handedOver:
            // handedOver: only servers hand over; a client never asks to.
            if slots[ring][Int(file)].state == .open {
                counters.count(.tls)
                closeConnection(ring: ring, file: file, wasOpen: true)
            } else {
                fail(ring: ring, file: file, kind: .tls, installed: true)
            }
        }
    }

    /// A client frame (pong, subscribe, close) over TLS: encrypted into the
    /// session, sent from it.
    func sendFrameTLS(ring: Int, file: UInt32, frame: UnsafeRawBufferPointer) {
        guard let session = tlsSessions[ring][Int(file)], session.write(frame) else { return }
        flushTLS(ring: ring, file: file)
    }

    /// Sends what the session holds (up to one send-pool entry) unless a
    /// send of this connection is in flight; its completion sends the rest.
    func flushTLS(ring: Int, file: UInt32) {
        guard !tlsSending[ring][Int(file)], let session = tlsSessions[ring][Int(file)],
              session.pendingOutput > 0 else { return }
        let generation = slots[ring][Int(file)].generation
        guard let entry = sendPools[ring].take(file: file, generation: generation, handshake: false) else {
            // The bytes stay in the session; the next flush sends them.
            counters.count(.sendPoolExhausted)
            return
        }
        let count = session.takeOutput(into: sendPools[ring].buffer(entry))
        tlsSending[ring][Int(file)] = true
        tlsSendBytes[ring][Int(file)] = Int32(count)
        rings[ring].prepareSend(fixedFile: file,
                                bytes: UnsafeRawBufferPointer(rebasing: sendPools[ring].buffer(entry)[0..<count]),
                                linked: false,
                                userData: UserData(kind: OperationKind.send.rawValue, generation: generation, index: entry))
    }

    /// A TLS connection's send completed: the next piece goes.
    func tlsSendCompleted(_ completion: Completion, ring: Int, file: UInt32, generation: UInt32) {
        guard slots[ring][Int(file)].generation == generation, tlsSessions[ring][Int(file)] != nil else { return }
        tlsSending[ring][Int(file)] = false
        // A short send would cut a record (the rest was not kept): counted
        // as a TLS failure, never hidden. Sends here are ≤ 1 KiB, so the
        // socket takes them whole unless it is out of room.
        guard completion.result == tlsSendBytes[ring][Int(file)] else {
            switch slots[ring][Int(file)].state {
            case .open:
                counters.count(completion.result < 0 ? .receive : .tls)
                closeConnection(ring: ring, file: file, wasOpen: true)
            case .handshaking:
                fail(ring: ring, file: file, kind: completion.result < 0 ? .handshakeSend : .tls, installed: true)
            default:
                break
            }
            return
        }
        flushTLS(ring: ring, file: file)
    }
}
