import Glibc
import HeraldCompression
import HeraldIO
import HeraldTLS
import Histogram
import Synchronization

/// A client connection's state: one byte, its generation and its place in
/// its topic's seq: the million-connection slot array is 16 bytes per client.
enum ClientState: UInt8 {
    case idle, connecting, handshaking, open, slow, closing
}

struct ClientSlot {
    var state: ClientState = .idle
    /// Bumped at every open; completions of an older life are ignored.
    var generation: UInt32 = 0
    /// The last seq this connection received or was told it missed (gap);
    /// 0 before the first.
    var lastSeq: UInt32 = 0
    /// seq − message ordinal within the topic, fixed by the first message:
    /// every later message must keep it (a message carrying another's seq
    /// is a mix-up). `ClientSlot.offsetUnset` until then.
    var seqOffset: Int32 = ClientSlot.offsetUnset
    /// `--recover`: the seam of the `recovered: true` reply, until this
    /// connection's lastSeq reaches it; 0 otherwise.
    var recoverTarget: UInt32 = 0
    /// --codec zstd: the dictionary this connection was sent (one topic
    /// per connection, so one at a time); a frame naming another is an error.
    var zstdDictionary: UInt32 = 0
    var flags: UInt8 = 0

    static let offsetUnset = Int32.min
    /// Dropped for `--recover`: reopen, keep lastSeq, subscribe with since.
    static let rejoin: UInt8 = 1
    /// Re-subscribed with since; its `subscribed` reply is pending.
    static let awaitingRecovery: UInt8 = 2
}

public struct SetupFailure: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// `user_data` kinds (HeraldIO's `UserData` layout: kind | generation | index).
enum OperationKind: UInt8 {
    case socket = 1, connect, send, receive, close, shutdown, cancel, poll, wake
}

/// One thread's share of the clients: several rings (each ≤ `ringFilesMax`
/// direct descriptors, NOTES.md), one provided-buffer ring per ring, a slot
/// array per ring. Connection `c` lives on global ring `c % R` at file index
/// `c / R`; this worker owns the rings whose index ≡ its id (mod threads).
public final class ClientWorker: @unchecked Sendable {
    // @unchecked: after `start`, everything but `counters`, `control` and the
    // results read after `join` is touched only by the worker's own thread.
    let options: Options
    let plan: RunPlan
    public let counters = WorkerCounters()
    let ringIndices: [Int]
    var rings: [Ring] = []
    var bufferRings: [BufferRing] = []
    var slots: [UnsafeMutablePointer<ClientSlot>] = []
    var sendPools: [SendPool] = []
    /// Bytes of a frame (or upgrade answer) split across receives, per ring.
    var partial: [[UInt32: [UInt8]]] = []
    /// Connections whose multishot receive ended on ENOBUFS: re-armed next turn
    /// (NOTES.md: re-arming at once floods the CQ).
    var starved: [(ring: Int, file: UInt32, generation: UInt32)] = []
    /// Upgrades in flight, oldest first: (ring, file, generation, deadline).
    var pendingHandshakes: [(ring: Int, file: UInt32, generation: UInt32, deadline: UInt64)] = []
    var pendingHead = 0
    let addresses: UnsafeMutablePointer<sockaddr_in>
    let hostHeaders: [[UInt8]]
    let topicPaths: [[UInt8]]
    let subscribeMessages: [[UInt8]]
    var wakeDescriptor: Int32 = -1

    /// wss:// (`ClientWorker+TLS.swift`): the client configuration, each
    /// client's session and whether a send of it is in flight (and its
    /// size), per ring and file; nil/empty for ws://.
    let tlsContext: TLSContext?
    /// --codec deflate / zstd: every message is decoded before it is
    /// checked (one decoder per worker thread; no per-connection state:
    /// the server takes no context over, and zstd dictionaries are by id).
    let inflater: MessageInflater?
    let zstdFrames: ZstdFrameDecoder?
    var tlsSessions: [[TLSSession?]] = []
    var tlsSending: [[Bool]] = []
    var tlsSendBytes: [[Int32]] = []
    /// One TLS record's plaintext (RFC 8446 §5.1: 2^14 bytes), decrypted.
    let tlsScratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 16_384, alignment: 16)
    /// A client frame or upgrade request before encryption.
    let tlsPlaintextScratch = UnsafeMutableRawBufferPointer.allocate(byteCount: SendPool.entryBytes, alignment: 16)

    // Ramp and churn bookkeeping.
    var nextLocal = 0
    let localTotal: Int
    var reopen: [(ring: Int, file: UInt32)] = []
    var churnCursor = 0
    var churnClosedCount = 0
    /// `--recover`: each topic's epoch, from the first `subscribed` reply.
    var topicEpochs: [[UInt8]]
    var droppedForRecovery = false

    // Results, read after `join`.
    public internal(set) var latency = Histogram<UInt64>(highestTrackableValue: 120_000_000_000,
                                                         numberOfSignificantValueDigits: .three)
    public internal(set) var messageDeliveries: [UInt32]
    public internal(set) var messageLastLatency: [UInt64]
    /// Open, reading (non-slow) subscribers per topic, kept exact.
    public internal(set) var readersPerTopic: [Int]
    /// Reading subscribers per topic that ever upgraded (never decremented):
    /// the bound on deliveries, which a closed reader got some of.
    public internal(set) var readersEverPerTopic: [Int]
    /// `--recover`: per connection, from the drop until it caught up.
    public internal(set) var recoveryTime = Histogram<UInt64>(highestTrackableValue: 120_000_000_000,
                                                              numberOfSignificantValueDigits: .three)
    public internal(set) var lastRecoveredNanoseconds: UInt64 = 0
    var thread: pthread_t?
    /// Set by the worker thread once its rings exist (or failed to).
    let setUpResult = Mutex<Result<Void, SetupFailure>?>(nil)

    static let receiveGroup: UInt16 = 0
    static let sqEntries: UInt32 = 2_048
    static let cqEntries: UInt32 = 32_768

    init(id: Int, options: Options, plan: RunPlan) throws {
        self.options = options
        self.plan = plan
        ringIndices = Array(stride(from: id, to: plan.ringCount, by: options.threads))
        localTotal = ringIndices.reduce(0) { $0 + plan.connections(onRing: $1) }
        messageDeliveries = Array(repeating: 0, count: options.messages)
        messageLastLatency = Array(repeating: 0, count: options.messages)
        readersPerTopic = Array(repeating: 0, count: options.topics)
        readersEverPerTopic = Array(repeating: 0, count: options.topics)
        topicEpochs = Array(repeating: [], count: options.topics)
        tlsContext = options.subscribeURL.secure ? try TLSContext.unverifiedClient() : nil
        inflater = options.codec == .deflate ? MessageInflater() : nil
        zstdFrames = options.codec == .zstd ? ZstdFrameDecoder() : nil
        addresses = .allocate(capacity: options.targets.count)
        for (index, target) in options.targets.enumerated() {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = target.port.bigEndian
            address.sin_addr.s_addr = target.address.bigEndian
            addresses[index] = address
        }
        hostHeaders = options.targets.map { Array(options.subscribeURL.hostHeader(target: $0).utf8) }
        topicPaths = plan.topicNames.map { Array(options.subscribeURL.path(topic: $0).utf8) }
        subscribeMessages = plan.topicNames.map { topic in
            options.subscribeMessage.map { Array($0.replacingPlaceholder("{topic}", with: topic).utf8) } ?? []
        }
    }

    /// Creates the rings on the worker's own thread: they are SINGLE_ISSUER,
    /// and the kernel ties that to the creating task (EEXIST from any other).
    func setUp() throws {
        for global in ringIndices {
            let ring = try Ring(entries: Self.sqEntries, completionEntries: Self.cqEntries)
            let files = plan.connections(onRing: global)
            try ring.registerSparseFiles(count: UInt32(max(files, 1)))
            rings.append(ring)
            bufferRings.append(try BufferRing(ring: ring, group: Self.receiveGroup, count: options.buffersPerRing,
                                              bufferBytes: options.bufferBytes))
            let array = UnsafeMutablePointer<ClientSlot>.allocate(capacity: max(files, 1))
            array.initialize(repeating: ClientSlot(), count: max(files, 1))
            slots.append(array)
            // Sends in flight are bounded by upgrades in flight plus pongs.
            sendPools.append(SendPool(capacity: 4_096))
            partial.append([:])
            if tlsContext != nil {
                tlsSessions.append(Array(repeating: nil, count: max(files, 1)))
                tlsSending.append(Array(repeating: false, count: max(files, 1)))
                tlsSendBytes.append(Array(repeating: 0, count: max(files, 1)))
            }
        }
        if rings.count > 1 {
            // Secondary rings signal an eventfd the primary ring polls, so one
            // thread can block on all of its rings (the engine's pattern).
            wakeDescriptor = try Socket.eventDescriptor()
            for ring in rings.dropFirst() { try ring.registerCompletionEventDescriptor(wakeDescriptor) }
            rings[0].preparePollMultishot(descriptor: wakeDescriptor,
                                          userData: UserData(kind: OperationKind.wake.rawValue, generation: 0, index: 0))
        }
    }

    deinit {
        for array in slots { array.deallocate() }
        for pool in sendPools { pool.memory.deallocate() }
        addresses.deallocate()
        tlsScratch.deallocate()
        tlsPlaintextScratch.deallocate()
        if wakeDescriptor >= 0 { Socket.close(wakeDescriptor) }
    }

    /// Global connection number of (local ring, file index).
    @inline(__always) func connection(ring: Int, file: UInt32) -> Int {
        Int(file) * plan.ringCount + ringIndices[ring]
    }

    // MARK: Thread

    func start() {
        let box = Unmanaged.passRetained(self)
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { argument in
            let worker = Unmanaged<ClientWorker>.fromOpaque(argument!).takeRetainedValue()
            do {
                try worker.setUp()
                worker.setUpResult.withLock { $0 = .success(()) }
            } catch {
                let failure = SetupFailure(description: "\(error)")
                worker.setUpResult.withLock { $0 = .failure(failure) }
                return nil
            }
            worker.runLoop()
            return nil
        }, box.toOpaque())
        precondition(result == 0, "pthread_create failed: \(result)")
        self.thread = thread
    }

    func join() {
        if let thread { pthread_join(thread, nil) }
        thread = nil
    }

    func runLoop() {
        var batch = [Completion](repeating: Completion(userData: UserData(rawValue: 0), result: 0, flags: 0), count: 1_024)
        while !plan.control.stopWorkers.load(ordering: .relaxed) {
            let now = Clock.nanoseconds()
            openConnections(now: now)
            churn(now: now)
            dropForRecovery()
            expireHandshakes(now: now)
            rearmStarved()
            var handled = 0
            for ringIndex in rings.indices {
                rings[ringIndex].submit()
                // Bounded: at most 8 batches per ring per turn, then the others get a turn.
                for _ in 0..<8 {
                    let count = batch.withUnsafeMutableBufferPointer { rings[ringIndex].reap(into: $0) }
                    if count == 0 { break }
                    handled += count
                    for index in 0..<count { handle(batch[index], ring: ringIndex) }
                }
                bufferRings[ringIndex].publish()
            }
            if handled == 0 && !rings.contains(where: { $0.hasPendingTaskWork }) {
                for ring in rings.dropFirst() { ring.submit() }
                let busy = nextLocal < localTotal || !reopen.isEmpty || options.scenario == .churn
                    || (options.recoverAfter != nil && !droppedForRecovery)
                rings[0].submitAndWait(timeoutNanoseconds: busy ? 1_000_000 : 50_000_000)
            }
        }
    }

    // MARK: Completions

    func handle(_ completion: Completion, ring: Int) {
        guard let kind = OperationKind(rawValue: completion.userData.kind) else { return }
        let file = completion.userData.index
        let generation = completion.userData.generation
        switch kind {
        case .wake:
            Socket.drainEvent(wakeDescriptor)
            if !completion.hasMore {
                rings[0].preparePollMultishot(descriptor: wakeDescriptor, userData: completion.userData)
            }
        case .socket:
            guard current(ring, file, generation, .connecting) else { return }
            if completion.result < 0 { fail(ring: ring, file: file, kind: .socket, installed: false) }
        case .connect:
            guard current(ring, file, generation, .connecting) else { return }
            if completion.result < 0 {
                // ECANCELED: the socket before it failed and was counted.
                if completion.result != -ECANCELED { fail(ring: ring, file: file, kind: .connect, installed: true) }
            } else if tlsContext != nil {
                startTLS(ring: ring, file: file)
            }
        case .send:
            sendCompleted(completion, ring: ring)
        case .receive:
            received(completion, ring: ring)
        case .close:
            guard slots[ring][Int(file)].generation & 0xFF_FFFF == generation else { return }
            slots[ring][Int(file)].state = .idle
            if options.scenario == .churn || slots[ring][Int(file)].flags & ClientSlot.rejoin != 0 {
                reopen.append((ring, file))
            }
        case .poll:
            guard current(ring, file, generation, .slow), completion.result >= 0 else { return }
            counters.slowClosedByServer.add(1, ordering: .relaxed)
            closeConnection(ring: ring, file: file, wasOpen: true)
        case .shutdown, .cancel:
            break
        }
    }

    @inline(__always)
    func current(_ ring: Int, _ file: UInt32, _ generation: UInt32, _ state: ClientState) -> Bool {
        let slot = slots[ring][Int(file)]
        return slot.generation & 0xFF_FFFF == generation && slot.state == state
    }

    @inline(__always)
    func userData(_ kind: OperationKind, ring: Int, file: UInt32) -> UserData {
        UserData(kind: kind.rawValue, generation: slots[ring][Int(file)].generation, index: file)
    }

    /// Counts the error and releases the slot. `installed`: the direct
    /// descriptor exists and must be closed.
    func fail(ring: Int, file: UInt32, kind: ErrorKind, installed: Bool) {
        counters.count(kind)
        partial[ring][file] = nil
        if tlsContext != nil { tlsSessions[ring][Int(file)] = nil }
        if installed {
            slots[ring][Int(file)].state = .closing
            rings[ring].prepareCancelFixedFile(file, userData: userData(.cancel, ring: ring, file: file))
            rings[ring].prepareCloseDirect(fileIndex: file, userData: userData(.close, ring: ring, file: file))
        } else {
            slots[ring][Int(file)].state = .idle
        }
    }

    /// Closes an upgraded connection: cancel its receive, close the descriptor.
    func closeConnection(ring: Int, file: UInt32, wasOpen: Bool) {
        if wasOpen {
            counters.open.add(-1, ordering: .relaxed)
            if slots[ring][Int(file)].state == .open {
                readersPerTopic[connection(ring: ring, file: file) % options.topics] -= 1
            }
        }
        partial[ring][file] = nil
        if tlsContext != nil { tlsSessions[ring][Int(file)] = nil }
        slots[ring][Int(file)].state = .closing
        rings[ring].prepareCancelFixedFile(file, userData: userData(.cancel, ring: ring, file: file))
        rings[ring].prepareCloseDirect(fileIndex: file, userData: userData(.close, ring: ring, file: file))
    }

    func expireHandshakes(now: UInt64) {
        while pendingHead < pendingHandshakes.count, pendingHandshakes[pendingHead].deadline <= now {
            let entry = pendingHandshakes[pendingHead]
            pendingHead += 1
            let slot = slots[entry.ring][Int(entry.file)]
            guard slot.generation & 0xFF_FFFF == entry.generation & 0xFF_FFFF,
                  slot.state == .connecting || slot.state == .handshaking else { continue }
            fail(ring: entry.ring, file: entry.file, kind: .handshakeTimeout, installed: true)
        }
        // Compact now and then so the queue does not grow with the run.
        if pendingHead > 65_536 {
            pendingHandshakes.removeFirst(pendingHead)
            pendingHead = 0
        }
    }

    func rearmStarved() {
        guard !starved.isEmpty else { return }
        let list = starved
        starved.removeAll(keepingCapacity: true)
        for entry in list where current(entry.ring, entry.file, entry.generation, .open)
            || current(entry.ring, entry.file, entry.generation, .handshaking) {
            armReceive(ring: entry.ring, file: entry.file)
        }
    }

    func armReceive(ring: Int, file: UInt32) {
        rings[ring].prepareReceiveMultishot(fixedFile: file, bufferGroup: Self.receiveGroup,
                                            userData: userData(.receive, ring: ring, file: file))
    }
}
