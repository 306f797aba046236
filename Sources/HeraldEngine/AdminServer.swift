import HeraldCore
import HeraldIO
import HeraldProtocol
import Synchronization

/// The admin HTTP/1.1 listener. Few connections, so plain descriptors and
/// one receive buffer per connection; keep-alive and pipelining supported.
///
/// It runs one of two ways:
/// - on its own thread and io_uring ring (`start`), off the shards' data
///   path: `--admin-threads N`;
/// - hosted by a shard (`host(on:)`), on the shard's primary ring and
///   thread: `--admin-threads 0`. The shard hands it the completions whose
///   kind is an admin kind (`kindBase` and above) and calls `pass` once a
///   turn, before the turn's submissions go out. A publish to a topic whose
///   subscribers are on that shard is then delivered in the same turn, with
///   no eventfd write and no wake of another thread.
final class AdminServer: @unchecked Sendable {
    // @unchecked: after `start` (or `host`), only the serving thread
    // touches its state; `stopRequested` and `wakeDescriptor` are the
    // cross-thread parts.
    private let listener: Int32
    private let router: AdminRouter
    private let config: Config
    /// Rung by the shards' replies to an awaited answer and, on its own
    /// thread, by `stop`. A hosted server uses its shard's (not its own).
    private let wakeDescriptor: Int32
    private let ownsWakeDescriptor: Bool
    /// Served by a shard (`host(on:)`) rather than by its own thread.
    private(set) var isHosted = false
    private let stopRequested = Atomic(false)
    private var ring: Ring?
    private var connections: [UInt32: AdminConnection] = [:]
    /// Connections whose request awaits its answer (`AdminRouter.AwaitedAnswer`):
    /// at most one per connection, so at most `connectionsMax`.
    private var awaiting: [AdminConnection] = []
    private var nextConnectionID: UInt32 = 1
    private var thread: SystemThread?

    /// Admin connections held at once. Admin clients are a few backends, so
    /// 1,024 places are far more than they need; the rest is defence: idle
    /// sockets are evicted (unproven ones first) before a place runs out.
    static let connectionsMax = 1024
    /// Receive size per read.
    static let readBytes = 16 * 1024
    /// A connection that has served an authorized request may idle this
    /// long between requests: keep-alive clients reconnect cheaply after.
    static let idleTimeoutMilliseconds: UInt64 = 60_000
    /// A connection that never completed an authorized request gets this
    /// long to idle: an unauthenticated socket must not hold a place.
    static let unprovenIdleTimeoutMilliseconds: UInt64 = 10_000
    /// From a request's first byte to its complete head: a legitimate client
    /// sends a few hundred bytes at once; a slowloris trickles (one byte
    /// every 40 s defeats an idle timeout, not this).
    static let headTimeoutMilliseconds: UInt64 = 5_000
    /// From a request's first byte to the end of its body: a 1 MiB publish
    /// at 35 KB/s still fits, a body that trickles forever does not.
    static let requestTimeoutMilliseconds: UInt64 = 30_000
    /// How often deadlines and idle topics are looked at: far below every
    /// deadline above (seconds) and `--topic-idle-seconds`.
    static let maintenanceIntervalMilliseconds: UInt64 = 100
    private var lastMaintenanceMilliseconds: UInt64 = 0
    /// Counters of the admin listener (written by the admin thread only).
    let counters: ShardCounters

    /// Admin completion kinds sit above the shards' (`OperationKind`), so a
    /// shard's ring can carry both.
    static let kindBase: UInt8 = 0x80
    private enum Kind: UInt8 { case accept = 0x81, receive, send, close, wake, acceptRetry }

    /// Pause before re-arming accept after an error that would repeat at
    /// once (EMFILE, ENOMEM): no spin, no log flood.
    static let acceptBackoffMilliseconds: UInt64 = 100

    /// `hostWakeDescriptor`: the eventfd of the shard that will host this
    /// server (`host(on:)`); nil for a server on its own thread.
    init(listener: Int32, router: AdminRouter, config: Config, counters: ShardCounters,
         hostWakeDescriptor: Int32? = nil) throws {
        self.counters = counters
        self.listener = listener
        self.router = router
        self.config = config
        if let hostWakeDescriptor {
            wakeDescriptor = hostWakeDescriptor
            ownsWakeDescriptor = false
        } else {
            wakeDescriptor = try Socket.eventDescriptor()
            ownsWakeDescriptor = true
        }
        // The shards' replies to an awaited answer ring the same eventfd.
        router.awaitedAnswerDescriptor = wakeDescriptor
    }

    deinit {
        if ownsWakeDescriptor { Socket.close(wakeDescriptor) }
    }

    /// Starts the admin thread and returns once its ring exists, so the
    /// ready line is only logged when the admin API really serves; throws
    /// the ring's set-up error otherwise.
    func start() throws {
        let barrier = StartBarrier(count: 1)
        thread = SystemThread.start(name: "herald-admin") { [self] in run(ready: barrier) }
        if let error = barrier.wait() { throw error }
    }

    func stop() {
        guard !isHosted else { return }
        stopRequested.store(true, ordering: .releasing)
        Socket.signalEvent(wakeDescriptor)
    }

    /// Serves on a shard's ring, from the shard's thread (which must be the
    /// ring's issuer): arms the first accept. The shard's own wake poll
    /// covers `wakeDescriptor`.
    func host(on ring: Ring) {
        isHosted = true
        self.ring = ring
        ring.prepareAccept(listener: listener, userData: UserData(kind: Kind.accept.rawValue, generation: 0, index: 0))
    }

    /// A hosting shard's once-a-turn call, after its completions were
    /// handled and before its submissions go out: the shards this turn's
    /// publishes queued for are woken, awaited answers that became ready
    /// are written, and deadlines are looked at when due.
    func pass(now: UInt64) {
        if !awaiting.isEmpty { answerAwaited() }
        router.wakes?.flush()
        maintainIfDue(now: now)
    }

    /// The serving thread's last call: closes every admin connection. The
    /// connections (their buffers) are kept: a receive still armed in the
    /// ring may complete into them while the ring is torn down.
    func closeAll() {
        for connection in connections.values where !connection.retired {
            connection.retired = true
            Socket.close(connection.descriptor)
        }
        awaiting.removeAll()
        ring = nil
    }

    func join() { thread?.join() }

    private func run(ready: StartBarrier) {
        let ring: Ring
        do {
            ring = try Ring(entries: 256, completionEntries: 1024)
        } catch {
            ready.arrive(error)
            return
        }
        self.ring = ring
        ready.arrive(nil)
        ring.prepareAccept(listener: listener, userData: UserData(kind: Kind.accept.rawValue, generation: 0, index: 0))
        ring.preparePollMultishot(descriptor: wakeDescriptor,
                                  userData: UserData(kind: Kind.wake.rawValue, generation: 0, index: 0))
        let batch = UnsafeMutableBufferPointer<Completion>.allocate(capacity: 64)
        defer { batch.deallocate() }
        while !stopRequested.load(ordering: .acquiring) {
            ring.submitAndWait(timeoutNanoseconds: 1_000_000_000)
            while true {
                let count = ring.reap(into: batch)
                if count == 0 { break }
                for position in 0..<count { handle(batch[position]) }
                // One wake per shard for every publish these completions
                // carried (several connections' bursts), before their
                // answers are submitted.
                router.wakes?.flush()
            }
            if !awaiting.isEmpty {
                answerAwaited()
                router.wakes?.flush()
            }
            // The admin thread wakes at least once a second (a hosting
            // shard too): deadlines are checked then.
            maintainIfDue(now: Clock.monotonicMilliseconds())
        }
        closeAll()
    }

    /// Checks the connections' deadlines and frees idle topics (a bounded
    /// batch per pass) — every `maintenanceIntervalMilliseconds`, not at
    /// every wake: under load the thread wakes tens of thousands of times a
    /// second, and each pass walked every connection and took the
    /// registry's lock.
    private func maintainIfDue(now: UInt64) {
        guard now &- lastMaintenanceMilliseconds >= AdminServer.maintenanceIntervalMilliseconds else { return }
        lastMaintenanceMilliseconds = now
        closeIdleConnections()
        router.publisher.registry.collectIdle()
    }

    /// One completion of an admin operation (kind `kindBase` and above).
    func handle(_ completion: Completion) {
        guard let ring, let kind = Kind(rawValue: completion.userData.kind) else { return }
        switch kind {
        case .wake:
            Socket.drainEvent(wakeDescriptor)
            if !completion.hasMore {
                ring.preparePollMultishot(descriptor: wakeDescriptor,
                                          userData: UserData(kind: Kind.wake.rawValue, generation: 0, index: 0))
            }
        case .accept:
            if completion.result >= 0 {
                accepted(completion.result)
            } else if let error = completion.error, error != .canceled, error != .connectionAborted {
                Log.warning("admin accept failed; retrying shortly",
                            ["error": "\(error)", "pause-ms": "\(AdminServer.acceptBackoffMilliseconds)"])
                ring.prepareTimeout(milliseconds: AdminServer.acceptBackoffMilliseconds,
                                    userData: UserData(kind: Kind.acceptRetry.rawValue, generation: 0, index: 0))
                return
            }
            ring.prepareAccept(listener: listener, userData: UserData(kind: Kind.accept.rawValue, generation: 0, index: 0))
        case .acceptRetry:
            ring.prepareAccept(listener: listener, userData: UserData(kind: Kind.accept.rawValue, generation: 0, index: 0))
        case .receive:
            guard let connection = connections[completion.userData.index] else { return }
            connection.receiving = false
            if connection.closed {
                retireIfIdle(connection)
            } else if completion.result <= 0 {
                close(connection)
            } else {
                let now = Clock.monotonicMilliseconds()
                if connection.requestStartedMilliseconds == nil { connection.requestStartedMilliseconds = now }
                connection.received(count: Int(completion.result))
                connection.lastActivityMilliseconds = now
                process(connection)
            }
        case .send:
            guard let connection = connections[completion.userData.index] else { return }
            connection.sending = false
            if connection.closed {
                retireIfIdle(connection)
                return
            }
            if completion.result < 0 {
                close(connection)
                return
            }
            connection.output.removeFirst(Int(completion.result))
            if !connection.output.isEmpty {
                send(connection)
            } else if connection.closeAfterSend {
                close(connection)
            } else {
                process(connection)
            }
        case .close:
            break
        }
    }

    /// Writes the awaited answers that are ready (every shard replied, or
    /// the deadline passed) and reads on from each such connection.
    private func answerAwaited() {
        let now = Clock.monotonicMilliseconds()
        var ready: [(AdminConnection, AdminRouter.Response)] = []
        awaiting.removeAll { connection in
            // A connection closed meanwhile: its answer is dropped (the
            // shards' countdown ends on its own).
            guard !connection.closed, let awaited = connection.awaited else { return true }
            guard let answer = awaited.answer.answer(nowMilliseconds: now) else { return false }
            ready.append((connection, answer))
            return true
        }
        for (connection, answer) in ready {
            let close = connection.awaited?.close ?? false
            connection.awaited = nil
            connection.proven = true
            // A request pipelined behind it is timed from now, not from
            // before the wait.
            connection.requestStartedMilliseconds = connection.inputCount > 0 ? now : nil
            respond(connection, answer, close: close, omitBody: false)
            process(connection)
        }
    }

    /// Deadlines, checked at least once a second: a request whose head (or
    /// whole body) is late gets 408 and a close; an idle connection is
    /// closed, sooner when it never proved it holds the token.
    private func closeIdleConnections() {
        let now = Clock.monotonicMilliseconds()
        // A connection awaiting an answer is bounded by that answer's deadline.
        for connection in connections.values where !connection.closed && !connection.closeAfterSend
                && connection.awaited == nil {
            if let started = connection.requestStartedMilliseconds {
                let limit = connection.reader.isInBody ? AdminServer.requestTimeoutMilliseconds
                    : AdminServer.headTimeoutMilliseconds
                if now &- started > limit {
                    counters.add(.adminRequestTimeouts)
                    refuse(connection, .requestTimeout, connection.reader.isInBody ? "request body too slow"
                           : "request head too slow")
                }
            } else if !connection.sending && connection.output.isEmpty && now &- connection.lastActivityMilliseconds
                        > (connection.proven ? AdminServer.idleTimeoutMilliseconds
                           : AdminServer.unprovenIdleTimeoutMilliseconds) {
                close(connection)
            }
        }
    }

    /// Makes a place for a new connection when every one is taken: the
    /// connection that never served an authorized request and has been
    /// quiet longest goes first. False when every place is held by a proven
    /// client (the newcomer is then refused).
    private func evictForNewConnection() -> Bool {
        let candidate = connections.values
            .filter { !$0.closed && !$0.proven }
            .min { $0.lastActivityMilliseconds < $1.lastActivityMilliseconds }
        guard let candidate else { return false }
        counters.add(.adminConnectionsEvicted)
        close(candidate)
        return true
    }

    private func accepted(_ descriptor: Int32) {
        if connections.count >= AdminServer.connectionsMax && !evictForNewConnection() {
            counters.add(.adminConnectionsRefused)
            Log.warning("admin connection refused: every place is held by an authorized client",
                        ["limit": "\(AdminServer.connectionsMax)"])
            Socket.close(descriptor)
            return
        }
        let connection = AdminConnection(id: nextConnectionID, descriptor: descriptor)
        nextConnectionID &+= 1
        if nextConnectionID == 0 { nextConnectionID = 1 }
        connections[connection.id] = connection
        receive(connection)
    }

    private func receive(_ connection: AdminConnection) {
        guard let ring else { return }
        connection.reserve(AdminServer.readBytes)
        ring.prepareReceive(descriptor: connection.descriptor, into: connection.freeSpace,
                            userData: UserData(kind: Kind.receive.rawValue, generation: 0, index: connection.id))
        connection.receiving = true
    }

    /// Responses gathered before one send: a pipelined burst is answered
    /// with one send (and one completion) instead of one per request, and
    /// its publishes reach the shards together (one wake-up per burst). A
    /// client that pipelines without reading stops being read here, as
    /// before: nothing more is parsed until this much is sent.
    static let outputBatchBytes = 64 * 1024
    /// Requests answered together at most (a publish's answer is ~150 B:
    /// 256 of them stay within the output batch), and what each is assumed
    /// to add to it until answered.
    static let burstRequestsMax = 256
    static let answerBytesEstimate = 160

    /// Answers every complete request in the buffer, in order, then sends
    /// the answers at once.
    private func process(_ connection: AdminConnection) {
        // Complete requests not yet answered (answered together: see
        // `AdminRouter.respond(all:)`), with whether each closes.
        // Two arrays side by side: the requests go to the router as they
        // are. (A list of (request, close) pairs mapped through `\.request`
        // copied every request through the runtime's generic tuple
        // witnesses: ~7 % of the admin thread per single publish; issue 12.)
        var burst: [AdminRequest] = []
        var closes: [Bool] = []
        var burstBytes = 0
        func answerBurst() {
            guard !burst.isEmpty else { return }
            let responses = router.respond(all: burst)
            for index in burst.indices {
                if responses[index].status != .unauthorized { connection.proven = true }
                respond(connection, responses[index], close: closes[index],
                        omitBody: burst[index].head.method == "HEAD")
            }
            burst.removeAll(keepingCapacity: true)
            closes.removeAll(keepingCapacity: true)
            burstBytes = 0
        }
        // Parsing stops while a send is in flight: `output` must not move
        // while the kernel reads it. The send completion calls back here.
        // Nothing more is read while an answer is awaited: pipelined answers
        // stay in order.
        reading: while connection.awaited == nil && !connection.closeAfterSend && !connection.sending
            && connection.output.count + burstBytes < Self.outputBatchBytes {
            let (consumed, event) = connection.reader.read(connection.pending, headBytesMax: config.requestHeadBytesMax,
                                                           bodyBytesMax: config.publishBytesMax,
                                                           batchBodyBytesMax: max(config.batchBytesMax,
                                                                                  config.publishBytesMax))
            connection.consume(consumed)
            switch event {
            case .needMore:
                if consumed > 0 && connection.inputCount > 0 { continue }
                if !connection.receiving { receive(connection) }
                break reading
            case .expectsContinue(let head):
                answerBurst()
                // RFC 9110 §10.1.1: answer 100 before the body is sent — unless
                // the request will be refused anyway; then the final status
                // now, and the unread body is never read (the connection closes).
                if let refusal = router.refusal(for: head) {
                    respond(connection, refusal, close: true, omitBody: false)
                } else {
                    connection.output += HTTPResponse.interim(.continue)
                }
            case .failure(let status, let message):
                answerBurst()
                counters.add(.adminRequestsRefused)
                respond(connection, AdminRouter.error(status, message), close: true, omitBody: false)
            case .request(let request):
                connection.requestStartedMilliseconds = connection.inputCount > 0 ? Clock.monotonicMilliseconds() : nil
                let close = request.closeAfter || request.head.headerContainsToken("Connection", "close")
                    || request.head.versionMinor == 0
                if router.mayAnswerLater(request) {
                    // The requests before it are answered first; its own
                    // answer may come later, and none after it is read
                    // until then.
                    answerBurst()
                    let response = router.respond(request)
                    if let awaited = response.awaited {
                        connection.awaited = (awaited, close)
                        awaiting.append(connection)
                        break reading
                    }
                    if response.status != .unauthorized { connection.proven = true }
                    respond(connection, response, close: close, omitBody: false)
                    continue
                }
                burst.append(request)
                closes.append(close)
                // A small answer each: the burst stops where its answers
                // would pass the output batch (as answering each did).
                burstBytes += Self.answerBytesEstimate
                if close || burst.count >= Self.burstRequestsMax { answerBurst() }
            }
        }
        answerBurst()
        if !connection.sending { send(connection) }
    }

    /// Queues a response; `close` ends the connection once it is sent.
    private func respond(_ connection: AdminConnection, _ response: AdminRouter.Response, close: Bool, omitBody: Bool) {
        HTTPResponse.append(status: response.status, contentType: response.contentType, body: response.body,
                            headers: response.headers, close: close, omitBody: omitBody, to: &connection.output)
        if close { connection.closeAfterSend = true }
    }

    /// Answers an error outside the request flow (a deadline) and closes.
    private func refuse(_ connection: AdminConnection, _ status: HTTPStatus, _ message: String) {
        respond(connection, AdminRouter.error(status, message), close: true, omitBody: false)
        if !connection.sending { send(connection) }
    }

    private func send(_ connection: AdminConnection) {
        guard let ring, !connection.output.isEmpty else { return }
        connection.sending = true
        connection.output.withUnsafeBytes { bytes in
            // The array is not mutated until this send completes
            // (`sending`), so its storage stays valid for the kernel.
            ring.prepareSend(descriptor: connection.descriptor, bytes: bytes,
                             userData: UserData(kind: Kind.send.rawValue, generation: 0, index: connection.id))
        }
    }

    /// Shuts the socket down (which ends an armed receive with 0 bytes) and
    /// frees the connection once no operation still points into its buffers.
    private func close(_ connection: AdminConnection) {
        guard !connection.closed else { return }
        connection.closed = true
        Socket.shutdown(connection.descriptor)
        retireIfIdle(connection)
    }

    private func retireIfIdle(_ connection: AdminConnection) {
        guard connection.closed, !connection.receiving, !connection.sending else { return }
        connections[connection.id] = nil
        Socket.close(connection.descriptor)
    }
}

/// One admin client's buffers. The input buffer is raw memory so the
/// kernel may fill it while Swift code runs elsewhere; it is freed only once
/// no receive is in flight.
final class AdminConnection {
    let id: UInt32
    let descriptor: Int32
    private(set) var input: UnsafeMutableRawBufferPointer
    private(set) var inputCount = 0
    /// Bytes being sent or waiting; not mutated while `sending`, except by
    /// appending — which may move the storage, so a send always passes a
    /// fresh pointer and only the prefix it named is removed afterwards.
    var output: [UInt8] = []
    var sending = false
    var receiving = false
    var closeAfterSend = false
    var closed = false
    /// Its descriptor was closed at shutdown (`AdminServer.closeAll`).
    var retired = false
    var lastActivityMilliseconds = Clock.monotonicMilliseconds()
    /// When the first byte of the request being read arrived; nil between requests.
    var requestStartedMilliseconds: UInt64?
    /// Served a request that passed the token check: keeps its place.
    var proven = false
    /// The request whose answer is awaited (`AdminRouter.AwaitedAnswer`),
    /// and whether the connection closes after it.
    var awaited: (answer: AdminRouter.AwaitedAnswer, close: Bool)?
    var reader = AdminRequestReader()

    init(id: UInt32, descriptor: Int32) {
        self.id = id
        self.descriptor = descriptor
        input = .allocate(byteCount: AdminServer.readBytes, alignment: 16)
    }

    deinit { input.deallocate() }

    /// Makes room for at least `bytes` more input (bounded by the caller's
    /// request limits: the framer rejects heads and bodies past them).
    func reserve(_ bytes: Int) {
        guard input.count - inputCount < bytes else { return }
        let grown = UnsafeMutableRawBufferPointer.allocate(byteCount: max(input.count * 2, inputCount + bytes), alignment: 16)
        grown.copyMemory(from: UnsafeRawBufferPointer(rebasing: input[0..<inputCount]))
        input.deallocate()
        input = grown
    }

    var freeSpace: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(rebasing: input[inputCount...]) }

    var pending: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: input[0..<inputCount]) }

    func received(count: Int) { inputCount += count }

    func consume(_ count: Int) {
        let rest = inputCount - count
        if rest > 0 { input.baseAddress!.copyMemory(from: input.baseAddress! + count, byteCount: rest) }
        inputCount = rest
    }
}
