import HeraldCore
import HeraldIO
import HeraldTLS
import Synchronization

/// One event-loop thread and the rings (reactors) it owns.
///
/// The thread is the single issuer of each of its rings. It turns every
/// reactor, then blocks in `io_uring_enter` on the primary ring only. The
/// secondary rings signal the shard's eventfd on each completion (registered
/// with `io_uring_register_eventfd`) and the primary ring polls that eventfd,
/// so one wait covers them all; other threads wake the shard the same way.
final class Shard: @unchecked Sendable {
    // @unchecked: everything but `counters`, `wakeDescriptor` and the
    // engine's stop flag is touched only by the shard thread after `start`.
    let index: Int
    let counters: ShardCounters
    let wakeDescriptor: Int32
    private let plan: RingPlan
    private let config: Config
    private let listener: Int32
    private var reactors: [Reactor] = []
    private let stopRequested: Atomic<Bool>
    private let registry: TopicRegistry
    private var router: ShardRouter!
    private var thread: SystemThread?

    private let budget: ConnectionBudget
    /// When memory was last given back, and the counters then.
    private var lastMemoryRelease: (milliseconds: UInt64, bytesSent: UInt64, closed: UInt64, evicted: UInt64) = (0, 0, 0, 0)
    /// 5 s: a flood's memory is back within seconds of its end, and
    /// malloc_trim (a walk of every arena) never runs more than this often.
    static let memoryReleaseIntervalMilliseconds: UInt64 = 5_000

    /// Commands from the admin thread (disconnect by `sub`).
    private let control: ShardControl
    /// TLS on the public listener (shared by every shard), nil: plain.
    private let tls: TLSCertificates?
    /// `--connect-rate-per-source` (shared by every shard), nil: no limit.
    private let connectLimit: ConnectRateLimit?
    private let pages: PublicPageResponses?
    /// `--admin-threads 0`: the admin server this shard serves on its
    /// primary ring; nil when admin threads serve the API.
    private let admin: AdminServer?

    init(index: Int, plan: RingPlan, config: Config, listener: Int32, wakeDescriptor: Int32,
         registry: TopicRegistry, budget: ConnectionBudget, control: ShardControl, counters: ShardCounters,
         tls: TLSCertificates? = nil, connectLimit: ConnectRateLimit? = nil, pages: PublicPageResponses? = nil,
         admin: AdminServer? = nil) {
        self.admin = admin
        self.control = control
        self.tls = tls
        self.connectLimit = connectLimit
        self.pages = pages
        self.index = index
        self.budget = budget
        self.registry = registry
        self.plan = plan
        self.config = config
        self.listener = listener
        stopRequested = Atomic(false)
        self.counters = counters
        self.wakeDescriptor = wakeDescriptor
    }

    /// Rings are created on the shard thread itself: SINGLE_ISSUER binds a
    /// ring to the first task that submits to it.
    private func setUp() throws {
        var settings = ReactorSettings(config)
        settings.tls = tls
        settings.connectLimit = connectLimit
        settings.pages = pages
        let now = Clock.monotonicMilliseconds()
        let router = ShardRouter(shardIndex: index, registry: registry)
        self.router = router
        for ringIndex in 0..<plan.ringsPerShard {
            reactors.append(try Reactor(shardIndex: index, ringIndex: ringIndex, capacity: plan.connectionsPerRing,
                                        listener: listener, wakeDescriptor: wakeDescriptor,
                                        isPrimary: ringIndex == 0, settings: settings, counters: counters,
                                        router: router, budget: budget, nowMilliseconds: now))
        }
        if let admin {
            reactors[0].hostedAdmin = admin
            admin.host(on: reactors[0].ring)
            reactors[0].ring.submit()
        }
    }

    func requestStop() {
        stopRequested.store(true, ordering: .releasing)
        Socket.signalEvent(wakeDescriptor)
    }

    /// Starts the thread; `ready` is called on it once its rings exist (or
    /// with the error that prevented them).
    func start(ready: @escaping @Sendable (Error?) -> Void) {
        thread = SystemThread.start(name: "herald-shard-\(index)") { [self] in threadMain(ready: ready) }
    }

    func join() { thread?.join() }

    private func threadMain(ready: @Sendable (Error?) -> Void) {
        do {
            try setUp()
        } catch {
            ready(error)
            return
        }
        ready(nil)
        run()
        admin?.closeAll()
        reactors.removeAll()
    }

    private func run() {
        var shutdownDeadline: UInt64?
        let primary = reactors[0].ring
        while true {
            let now = Clock.monotonicMilliseconds()
            if shutdownDeadline == nil && stopRequested.load(ordering: .acquiring) {
                shutdownDeadline = now + UInt64(config.shutdownTimeoutSeconds * 1000)
                for reactor in reactors { reactor.beginShutdown() }
            }
            for reactor in reactors { reactor.setClock(now) }
            chooseAcceptingRing()
            var busy = deliverPublished()
            if control.hasCommands(shard: index) {
                runCommands()
                busy = true
            }
            if let admin {
                // The hosted admin server's publishes for this shard are
                // delivered in the turn that took them, with no wake-up.
                if reactors[0].turn(now: now, afterCompletions: {
                    admin.pass(now: now)
                    if deliverPublished() { busy = true }
                }) { busy = true }
                for reactor in reactors.dropFirst() where reactor.turn(now: now) { busy = true }
            } else {
                for reactor in reactors where reactor.turn(now: now) { busy = true }
            }
            counters.openConnections.store(reactors.reduce(0) { $0 + $1.openConnections }, ordering: .relaxed)
            counters.sendQueueBytes.store(reactors.reduce(0) { $0 + $1.queuedBytesTotal }, ordering: .relaxed)
            counters.connectionsOverLimit.store(reactors.reduce(0) { $0 + $1.overLimitConnections }, ordering: .relaxed)
            if let deadline = shutdownDeadline {
                if reactors.allSatisfy(\.isDrained) { return }
                if now >= deadline {
                    // Past the deadline: drop what remains, give the closes
                    // a last moment to complete, then leave regardless.
                    for reactor in reactors { reactor.forceClose() }
                    for _ in 0..<20 where !reactors.allSatisfy(\.isDrained) {
                        for reactor in reactors { reactor.turn(now: Clock.monotonicMilliseconds()) }
                        primary.submitAndWait(timeoutNanoseconds: 10_000_000)
                    }
                    return
                }
            }
            if busy { continue }
            if reactors.contains(where: { $0.ring.hasCompletions || $0.ring.hasPendingTaskWork }) { continue }
            releaseMemoryIfIdle(now: now)
            // Sleep until the nearest timer; the cap bounds the cost of any
            // missed wake-up and keeps shutdown checks timely.
            var budget: UInt64 = 1000
            for reactor in reactors {
                if let next = reactor.sleepBudgetMilliseconds() { budget = min(budget, next) }
            }
            if let deadline = shutdownDeadline { budget = min(budget, deadline > now ? deadline - now : 0) }
            primary.submitAndWait(timeoutNanoseconds: max(budget, 1) * 1_000_000)
        }
    }
}

extension Shard {
    /// Accepts are armed on one ring at a time: the first whose file table
    /// has room. Armed on every ring, each new connection woke accepts on
    /// all of them (each ring's accepts wait on the same listener) and
    /// landed on any ring, whose completions then also woke the primary
    /// ring through the registered eventfd: a 15,000-connection ramp at
    /// 10,000/s on one shard cost 49–54 µs of CPU per connection with six
    /// rings (the default `--connections-max` 100,000) against 36–40 µs
    /// with one (issue 12). Rings fill in order instead; a ring that
    /// stops being chosen keeps the accepts it armed until they complete.
    private func chooseAcceptingRing() {
        guard reactors.count > 1 else { return }
        let chosen = reactors.firstIndex(where: \.hasFreeSlot) ?? 0
        for (position, reactor) in reactors.enumerated() { reactor.acceptsWanted = position == chosen }
    }

    /// Carries out the admin thread's commands, reporting to each.
    private func runCommands() {
        for command in control.take(shard: index) {
            switch command {
            case .disconnect(let subject, let reply):
                reply.arrive(adding: reactors.reduce(0) { $0 + $1.disconnect(subject: subject) })
            }
        }
    }

    /// Gives freed heap pages back to the kernel once the shard is idle after
    /// real work (≥ 1 MiB sent, a connection closed, a TLS handshake done —
    /// OpenSSL's handshake state is tens of KB, freed at its end — or kept
    /// messages evicted past `--history-bytes-max` since the last time),
    /// at most every `memoryReleaseIntervalMilliseconds`: the resident
    /// memory a flood's queued replies or a TLS reconnect storm took is
    /// returned when it ends
    /// (Docs/OPERATIONS.md "Limits"), and a quiet shard pays nothing.
    private func releaseMemoryIfIdle(now: UInt64) {
        guard now &- lastMemoryRelease.milliseconds >= Shard.memoryReleaseIntervalMilliseconds else { return }
        let sent = counters.value(.bytesSent)
        let closed = counters.value(.connectionsClosed) &+ counters.value(.handshakeFailedTimeout)
            &+ counters.value(.tlsHandshakes)
        let evicted = registry.historyTotals().evicted
        guard sent &- lastMemoryRelease.bytesSent >= 1 << 20 || closed != lastMemoryRelease.closed
            || evicted != lastMemoryRelease.evicted else { return }
        lastMemoryRelease = (now, sent, closed, evicted)
        if Memory.releaseFreePages() { counters.add(.memoryReleases) }
    }

    /// Multi-node news about a followed topic, for its local subscribers.
    private func carryOut(_ control: DeliveryQueue.Control, _ delivery: DeliveryQueue.Delivery) {
        switch control {
        case .resolved(let epoch):
            guard let resolved = router.resolve(globalID: delivery.topicID, seq: delivery.seq, epoch: epoch) else { return }
            for waiter in resolved.waiters {
                reactors[Int(waiter.subscription.ring)].answerHeld(waiter.subscription.slot,
                                                                   generation: waiter.subscription.generation,
                                                                   topic: resolved.name, held: waiter.held,
                                                                   seam: delivery.seq, epoch: epoch)
            }
        case .unavailable:
            guard let failed = router.failHeld(globalID: delivery.topicID) else { return }
            for waiter in failed.waiters {
                reactors[Int(waiter.subscription.ring)].refuseHeld(waiter.subscription.slot,
                                                                   generation: waiter.subscription.generation,
                                                                   topic: failed.name, reply: waiter.held.reply)
            }
        case .gap(let from):
            guard let skipped = router.skip(globalID: delivery.topicID, from: from, to: delivery.seq) else { return }
            for subscription in skipped.subscribers {
                reactors[Int(subscription.ring)].announceGap(subscription.slot, generation: subscription.generation,
                                                             (skipped.name, skipped.epoch, from, delivery.seq))
            }
        case .reset(let epoch):
            guard let reset = router.reset(globalID: delivery.topicID, seq: delivery.seq, epoch: epoch) else { return }
            for subscription in reset.subscribers {
                reactors[Int(subscription.ring)].announceReset(subscription.slot, generation: subscription.generation,
                                                               topic: reset.name, seq: delivery.seq, epoch: epoch)
            }
        }
    }

    /// Fans every publish queued for this shard out to its local
    /// subscribers: one reference per subscriber, no copy. Returns true
    /// when there was anything to deliver.
    private func deliverPublished() -> Bool {
        let queue = registry.queues[index]
        guard !queue.isEmpty else { return false }
        let now = Clock.monotonicMicroseconds()
        queue.drain { delivery in
            if let control = delivery.control {
                carryOut(control, delivery)
                delivery.frame.release()
                return
            }
            if delivery.publishedAtMicroseconds != 0 {
                counters.publishDelivery.record(microseconds: now &- min(now, delivery.publishedAtMicroseconds))
            }
            _ = router.forEachSubscriber(globalID: delivery.topicID, seq: delivery.seq) { node, subscription in
                reactors[Int(subscription.ring)].deliver(subscription.slot, generation: subscription.generation,
                                                         node: node, seq: delivery.seq, delivery: delivery)
            }
            // The shard's own references, taken by the publisher.
            delivery.frame.release()
            delivery.compressed?.release()
            delivery.zstd?.release()
            delivery.zstdDictionary?.release()
        }
        return true
    }
}

