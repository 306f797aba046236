import Glibc
import HeraldCore
import HeraldIO
import HeraldProtocol
import Synchronization

/// The admin HTTP/1.1 listener: its own thread and io_uring ring, off the
/// shards' data path. Few connections, so plain descriptors and one
/// receive buffer per connection; keep-alive and pipelining supported.
final class AdminServer: @unchecked Sendable {
    // @unchecked: after `start`, only the admin thread touches its state;
    // `stopRequested` and `wakeDescriptor` are the cross-thread parts.
    private let listener: Int32
    private let router: AdminRouter
    private let config: Config
    private let wakeDescriptor: Int32
    private let stopRequested = Atomic(false)
    private var ring: Ring?
    private var connections: [UInt32: AdminConnection] = [:]
    private var nextConnectionID: UInt32 = 1
    private var thread = pthread_t()

    /// Admin connections held at once; more wait in the listen backlog.
    static let connectionsMax = 256
    /// Receive size per read.
    static let readBytes = 16 * 1024
    /// An admin connection silent this long is closed: keep-alive clients
    /// reconnect cheaply, and forgotten sockets must not hold one of the
    /// 256 places.
    static let idleTimeoutMilliseconds: UInt64 = 60_000

    private enum Kind: UInt8 { case accept = 1, receive, send, close, wake, acceptRetry }

    /// Pause before re-arming accept after an error that would repeat at
    /// once (EMFILE, ENOMEM): no spin, no log flood.
    static let acceptBackoffMilliseconds: UInt64 = 100

    init(listener: Int32, router: AdminRouter, config: Config) throws {
        self.listener = listener
        self.router = router
        self.config = config
        wakeDescriptor = try Socket.eventDescriptor()
    }

    /// Starts the admin thread and returns once its ring exists, so the
    /// ready line is only logged when the admin API really serves; throws
    /// the ring's set-up error otherwise.
    func start() throws {
        let barrier = StartBarrier(count: 1)
        let context = Unmanaged.passRetained(AdminThreadContext(server: self, barrier: barrier))
        let result = pthread_create(&thread, nil, { argument in
            let context = Unmanaged<AdminThreadContext>.fromOpaque(argument!).takeRetainedValue()
            setCurrentThreadName("herald-admin")
            context.server.run(ready: context.barrier)
            return nil
        }, context.toOpaque())
        precondition(result == 0, "pthread_create failed: \(result)")
        if let error = barrier.wait() { throw error }
    }

    func stop() {
        stopRequested.store(true, ordering: .releasing)
        Socket.signalEvent(wakeDescriptor)
    }

    func join() { pthread_join(thread, nil) }

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
            }
            closeIdleConnections()
        }
        for connection in connections.values { Socket.close(connection.descriptor) }
        connections.removeAll()
        self.ring = nil
    }

    private func handle(_ completion: Completion) {
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
                connection.received(count: Int(completion.result))
                connection.lastActivityMilliseconds = Clock.monotonicMilliseconds()
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

    private func closeIdleConnections() {
        let now = Clock.monotonicMilliseconds()
        for connection in connections.values
        where !connection.closed && !connection.sending
            && now - connection.lastActivityMilliseconds > AdminServer.idleTimeoutMilliseconds {
            close(connection)
        }
    }

    private func accepted(_ descriptor: Int32) {
        guard connections.count < AdminServer.connectionsMax else {
            Log.warning("admin connection refused: too many open", ["limit": "\(AdminServer.connectionsMax)"])
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

    /// Answers every complete request in the buffer, in order.
    private func process(_ connection: AdminConnection) {
        // One response in flight at a time: `output` must not move while the
        // kernel reads it. The send completion calls back here.
        while !connection.closeAfterSend && !connection.sending {
            let result = AdminRequestFramer.next(connection.pending, headBytesMax: config.requestHeadBytesMax,
                                                 bodyBytesMax: config.publishBytesMax)
            switch result {
            case .incomplete:
                // Whatever the framing (chunk extensions, slow trailers), a
                // connection never buffers more than one maximal request.
                if connection.pending.count > config.requestHeadBytesMax + 2 * config.publishBytesMax + 64 * 1024 {
                    let response = AdminRouter.error(.payloadTooLarge, "request too large")
                    connection.output += HTTPResponse.make(status: .payloadTooLarge, contentType: response.contentType,
                                                           body: response.body, close: true)
                    connection.closeAfterSend = true
                    break
                }
                if !connection.receiving { receive(connection) }
                return
            case .failure(let status, let message):
                let response = AdminRouter.error(status, message)
                connection.output += HTTPResponse.make(status: status, contentType: response.contentType,
                                                       body: response.body, headers: response.headers, close: true)
                connection.closeAfterSend = true
            case .request(let request, let consumed):
                connection.consume(consumed)
                let response = router.respond(request)
                let close = request.head.headerContainsToken("Connection", "close") || request.head.versionMinor == 0
                let body = request.head.method == "HEAD" ? [] : response.body
                connection.output += HTTPResponse.make(status: response.status, contentType: response.contentType,
                                                       body: body, headers: response.headers, close: close)
                if close { connection.closeAfterSend = true }
            }
            if !connection.sending { send(connection) }
        }
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
        shutdown(connection.descriptor, Int32(SHUT_RDWR))
        retireIfIdle(connection)
    }

    private func retireIfIdle(_ connection: AdminConnection) {
        guard connection.closed, !connection.receiving, !connection.sending else { return }
        connections[connection.id] = nil
        Socket.close(connection.descriptor)
    }
}

private final class AdminThreadContext {
    let server: AdminServer
    let barrier: StartBarrier

    init(server: AdminServer, barrier: StartBarrier) {
        self.server = server
        self.barrier = barrier
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
    var lastActivityMilliseconds = Clock.monotonicMilliseconds()

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
