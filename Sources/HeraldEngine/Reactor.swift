import HeraldCompression
import HeraldCore
import HeraldIO
import HeraldProtocol

/// One io_uring ring and the connections accepted into its file table:
/// slab slots, provided receive buffers, send queues and a timing wheel.
///
/// A shard thread drives one or more reactors (more when the fd limit caps a
/// file table below the shard's share of `--connections-max`). Everything
/// here runs on that thread only.
///
/// A loop turn (`turn(now:)`): reap completions in batches and handle them;
/// advance the wheel; re-arm parked receives; gather every connection's
/// queued frames into one sendmsg each; top up accepts; publish recycled
/// buffers; submit the whole batch with one `io_uring_enter`.
final class Reactor {
    let shardIndex: Int
    let ringIndex: Int
    let ring: Ring
    let buffers: BufferRing
    let slab: Slab<ConnectionSlot>
    let wheel: TimingWheel
    let settings: ReactorSettings
    let counters: ShardCounters
    let listener: Int32
    /// The shard's subscriptions (shared by its reactors, same thread).
    unowned let router: ShardRouter
    let budget: ConnectionBudget
    /// Topic grants of authenticated connections (connection auth on).
    var grants = GrantTable()
    var nodes: SendNodePool
    var batches: SendBatchPool
    /// Connections with queued frames and no send in flight.
    var flushList: [UInt32] = []
    /// Connections whose multishot receive ended for want of buffers.
    var rearmList: [UInt32] = []
    /// Control frames split across receives, by slot (≤ 125 bytes each, one
    /// per connection at most; rare, so kept out of the slot).
    var partialControls: [UInt32: UnsafeMutableRawPointer] = [:]
    /// Payloads of pending pongs that are not empty, by slot (≤ 125 bytes,
    /// one per connection at most: a newer ping replaces it, §5.5.3).
    var pendingPongs: [UInt32: [UInt8]] = [:]
    /// `zstd_dicts=`: the dictionary ids a connection said it holds (≤ 16
    /// each), only for connections that sent some (`.heldDictionaries`).
    var heldDictionaries: [UInt32: [UInt32]] = [:]
    /// Subscribes with `since` that arrived while their connection's queue
    /// was over `--send-queue-bytes-max`, in arrival order, by slot: the
    /// replay waits until the queue is back under it. At most one per topic
    /// and `--topics-per-connection-max` per connection; only over-limit
    /// connections have an entry.
    var deferredRecoveries: [UInt32: [(topic: String, since: Recovery.Position)]] = [:]
    var acceptsInFlight = 0
    /// Accepts completed in this turn (`ReactorSettings.acceptsPollFirst`).
    var acceptsCompletedThisTurn = 0
    /// Whether the kernel takes IORING_ACCEPT_POLL_FIRST (Linux 6.10+):
    /// off for good at the first EINVAL from an accept armed with it.
    var kernelTakesAcceptPollFirst = true
    /// Accepts stay unarmed until then after an unexpected accept error.
    var acceptBackoffUntilMilliseconds: UInt64 = 0
    var accepting = true
    /// Whether the shard wants this ring to arm accepts now (`Shard`
    /// arms them on one ring at a time: see `Shard.chooseAcceptingRing`).
    var acceptsWanted = true
    /// Room for another connection in this ring's file table (its armed
    /// accepts hold theirs already).
    var hasFreeSlot: Bool { !slab.isFull }
    var shuttingDown = false
    /// WebSocket connections open on this ring (a gauge for stats).
    var openConnections = 0
    /// Bytes queued on this ring's connections (their `queuedBytes`
    /// summed, kept as they change), and connections over the limit.
    var queuedBytesTotal = 0
    var overLimitConnections = 0
    var nowMilliseconds: UInt64
    let completions: UnsafeMutableBufferPointer<Completion>
    /// The one ping frame every heartbeat shares (RFC 6455 §5.5.2, empty payload).
    let pingFrame: OutboundFrame
    /// The one pong frame every empty ping is answered with.
    let emptyPongFrame: OutboundFrame
    /// Inflates permessage-deflate client messages; made on first use (most
    /// rings never see a compressed client message).
    lazy var inflater = MessageInflater()
    /// Set when this reactor polls the shard's wake eventfd (the primary ring).
    let wakeDescriptor: Int32?
    /// The admin server this ring carries (`--admin-threads 0`: the shard's
    /// primary ring only); its completions go to it.
    var hostedAdmin: AdminServer?
    /// TLS sessions by slot and the ring's plaintext scratch; nil without TLS.
    let tls: ReactorTLS?
    /// With `--connect-rate-per-source`: one address buffer per armed
    /// accept (free ones, and the one each accepting slot holds).
    var acceptAddresses: [PeerAddress] = []
    var acceptAddressFree: [Int] = []
    var acceptAddressOfSlot: [UInt32: Int] = [:]

    init(shardIndex: Int, ringIndex: Int, capacity: Int, listener: Int32, wakeDescriptor: Int32,
         isPrimary: Bool, settings: ReactorSettings, counters: ShardCounters, router: ShardRouter,
         budget: ConnectionBudget, nowMilliseconds: UInt64) throws {
        self.router = router
        self.budget = budget
        self.shardIndex = shardIndex
        self.ringIndex = ringIndex
        self.settings = settings
        self.counters = counters
        self.listener = listener
        self.nowMilliseconds = nowMilliseconds
        // SQ: room for one turn's sends to a few thousand connections; a
        // fuller turn submits early (counted), it does not fail.
        ring = try Ring(entries: 4096, completionEntries: 16_384)
        try ring.registerSparseFiles(count: UInt32(capacity))
        ring.registerRingDescriptor()
        buffers = try BufferRing(ring: ring, group: 0, count: settings.recvBufferCount,
                                 bufferBytes: settings.recvBufferBytes)
        // Lazily touched: resident memory follows the connections held, not
        // --connections-max (Docs/BENCHMARKS.md measures both).
        slab = Slab(capacity: capacity, initial: ConnectionSlot(), lazilyTouched: true)
        wheel = TimingWheel(capacity: capacity, bucketCount: ReactorSettings.wheelBuckets,
                            tickMilliseconds: ReactorSettings.tickMilliseconds, nowMilliseconds: nowMilliseconds,
                            links: slab.baseAddress, stride: MemoryLayout<ConnectionSlot>.stride,
                            linkOffset: MemoryLayout<ConnectionSlot>.offset(of: \.timer)!, resetLinks: false)
        nodes = SendNodePool(initialCapacity: min(capacity, 65_536))
        batches = SendBatchPool(count: min(capacity, ReactorSettings.sendBatches))
        flushList.reserveCapacity(min(capacity, 65_536))
        completions = .allocate(capacity: ReactorSettings.reapBatch)
        pingFrame = OutboundFrame(copying: FrameEncoder.frame(opcode: .ping, payload: [UInt8]()), shared: true)
        emptyPongFrame = OutboundFrame(copying: FrameEncoder.frame(opcode: .pong, payload: [UInt8]()), shared: true)
        tls = settings.tls.map {
            ReactorTLS(certificates: $0, capacity: capacity, handOver: settings.tlsOwnRecordLayer)
        }
        if settings.connectLimit != nil {
            acceptAddresses = (0..<ReactorSettings.acceptsInFlightMax).map { _ in PeerAddress.allocate() }
            acceptAddressFree = Array(acceptAddresses.indices)
        }
        if isPrimary {
            self.wakeDescriptor = wakeDescriptor
            ring.preparePollMultishot(descriptor: wakeDescriptor,
                                      userData: UserData(kind: OperationKind.wake.rawValue, generation: 0, index: 0))
        } else {
            // Secondary rings signal the eventfd the primary ring polls, so
            // the one blocking wait of the shard thread covers every ring.
            self.wakeDescriptor = nil
            try ring.registerCompletionEventDescriptor(wakeDescriptor)
        }
        replenishAccepts()
        ring.submit()
    }

    deinit {
        for address in acceptAddresses { address.deallocate() }
        completions.deallocate()
        for buffer in partialControls.values { buffer.deallocate() }
    }

    /// Seconds of the monotonic clock (token buckets).
    var nowSecond: UInt32 { UInt32(truncatingIfNeeded: nowMilliseconds / 1000) }

    /// Current wheel tick, for cheap "last heard" stamps.
    var nowTick: UInt32 { UInt32(truncatingIfNeeded: nowMilliseconds / ReactorSettings.tickMilliseconds) }

    /// Reads the shard's clock once per wake-up, before anything of it
    /// (deliveries, commands, completions) stamps a tick or sets a timer.
    func setClock(_ now: UInt64) {
        if now > nowMilliseconds { nowMilliseconds = now }
    }

    /// The connection's one timer, due `delay` after this ring's clock.
    /// Counted from `nowMilliseconds`, not from the wheel's own clock: that
    /// one moves at the end of a turn and, after a sleep of up to a second,
    /// lags by that much — a handshake deadline counted from it came due
    /// 79 ms after the accept with `--handshake-timeout 1` (measured).
    @inline(__always)
    func scheduleTimer(_ index: UInt32, afterMilliseconds delay: UInt64) {
        wheel.schedule(index, atMilliseconds: nowMilliseconds + delay)
    }

    /// One loop turn; returns true when it handled any completion.
    /// `afterCompletions` runs once the turn's completions are handled,
    /// before its sends are gathered and submitted (a hosted admin server's
    /// pass, and the deliveries its publishes queued for this shard).
    @discardableResult
    func turn(now: UInt64, afterCompletions: () -> Void = {}) -> Bool {
        setClock(now)
        acceptsCompletedThisTurn = 0
        var handled = 0
        // Bounded so one flooded ring cannot starve the shard's others.
        for _ in 0..<16 {
            let count = ring.reap(into: completions)
            if count == 0 { break }
            for position in 0..<count {
                dispatch(completions[position])
            }
            handled += count
            if count < completions.count { break }
        }
        afterCompletions()
        wheel.advance(toMilliseconds: nowMilliseconds) { index in timerFired(index) }
        rearmParkedReceives()
        flush()
        replenishAccepts()
        buffers.publish()
        if ring.pendingSubmissions > 0 { ring.submit() }
        counters.add(.submissionQueueFull, ring.submissionQueueFullCount &- reportedFullCount)
        reportedFullCount = ring.submissionQueueFullCount
        if ring.submitErrorCount != reportedSubmitErrors {
            counters.add(.submitErrors, ring.submitErrorCount &- reportedSubmitErrors)
            reportedSubmitErrors = ring.submitErrorCount
            // EBUSY/EAGAIN are back-pressure from the kernel and resolve
            // once completions are reaped; anything else is a bug of ours.
            if let error = ring.lastSubmitError, error != .busy, error != .again {
                Log.error("io_uring submit failed (a bug in herald)", ["shard": "\(shardIndex)", "ring": "\(ringIndex)",
                                                                      "error": "\(error)"])
            }
        }
        return handled > 0
    }

    private var reportedFullCount: UInt64 = 0
    private var reportedSubmitErrors: UInt64 = 0

    /// The one switch over completion kinds.
    func dispatch(_ completion: Completion) {
        if completion.userData.kind >= AdminServer.kindBase, let hostedAdmin {
            hostedAdmin.handle(completion)
            return
        }
        guard let kind = OperationKind(rawValue: completion.userData.kind) else {
            preconditionFailure("completion with unknown kind \(completion.userData.kind)")
        }
        switch kind {
        case .accept: acceptCompleted(completion)
        case .receive: receiveCompleted(completion)
        case .send: sendCompleted(completion)
        case .writable: writableCompleted(completion)
        case .cancel, .close, .shutdownWrite: auxiliaryCompleted(completion)
        case .wake: wakeCompleted(completion)
        case .acceptCancel: break
        }
    }

    /// The slot a completion names, or nil when the slot has since been
    /// reused (stale generation) — then the completion is dropped.
    @inline(__always)
    func liveSlot(_ userData: UserData) -> UnsafeMutablePointer<ConnectionSlot>? {
        let handle = SlotHandle(index: userData.index, generation: userData.generation)
        guard slab.isLive(handle) else { return nil }
        return slab.pointer(userData.index)
    }

    @inline(__always)
    func userData(_ kind: OperationKind, _ index: UInt32) -> UserData {
        UserData(kind: kind.rawValue, generation: slab.handle(index).generation, index: index)
    }

    private func wakeCompleted(_ completion: Completion) {
        guard let wakeDescriptor else { return }
        Socket.drainEvent(wakeDescriptor)
        if !completion.hasMore {
            ring.preparePollMultishot(descriptor: wakeDescriptor,
                                      userData: UserData(kind: OperationKind.wake.rawValue, generation: 0, index: 0))
        }
    }

    /// Milliseconds the shard may sleep before this ring's next timer.
    func sleepBudgetMilliseconds() -> UInt64? {
        wheel.millisecondsUntilNextExpiry(nowMilliseconds: nowMilliseconds)
    }

    /// True when every slot is back in the free list.
    var isDrained: Bool { slab.count == 0 }
}
