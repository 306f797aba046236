import HeraldCore
import HeraldProtocol
import HeraldIO
import HeraldTLS

/// Starts and stops the whole gateway: listeners, shard threads, the admin
/// thread; waits for SIGTERM/SIGINT.
public final class Engine {
    private let config: Config
    private var shards: [Shard] = []
    private var admins: [AdminServer] = []
    /// Multi-node: the Redis broker thread (nil on a single node).
    private var broker: ClusterBroker?
    /// The publisher the admin servers share, and the thread that trains
    /// the dictionaries `--zstd-train-after` and `POST
    /// /v1/topics/T/dictionary` queue.
    private var publisher: Publisher?
    private var trainer: SystemThread?
    /// TLS certificates (reloaded on SIGHUP); nil without TLS.
    private var tls: TLSCertificates?
    private var listeners: [Int32] = []
    public private(set) var plan: RingPlan
    /// The process-wide `--connections-max` count shared by every shard.
    let budget: ConnectionBudget
    public private(set) var listenPort: UInt16 = 0
    public private(set) var adminPort: UInt16 = 0

    public struct StartError: Error, CustomStringConvertible {
        public let description: String
    }

    public init(config: Config) {
        self.config = config
        Socket.raiseOpenFilesLimit()
        let shardCount = config.shards ?? Socket.onlineCores()
        plan = RingPlan(connectionsMax: RingPlan.slotsWithHeadroom(connectionsMax: config.connectionsMax,
                                                                   shards: shardCount),
                        shards: shardCount, openFilesLimit: Socket.openFilesLimit(), fdReserve: config.fdReserve)
        budget = ConnectionBudget(limit: config.connectionsMax)
    }

    /// Binds, starts every thread, logs the ready line. Throws (and the
    /// process exits non-zero) when io_uring or a feature is missing.
    public func start() throws {
        Log.configure(level: config.logLevel)
        let fdLimit = Socket.openFilesLimit()
        // Each shard listens on its own SO_REUSEPORT socket; with port 0 the
        // first picks the port and the others join it.
        var port = config.listen.port
        for _ in 0..<plan.shards {
            let fd = try Socket.listen(host: config.listen.host, port: port, backlog: 4096, reusePort: true,
                                       sendBufferBytes: config.socketSendBufferBytes,
                                       deferAcceptSeconds: config.deferAcceptSeconds)
            listeners.append(fd)
            port = Socket.boundPort(fd)
        }
        listenPort = port
        // One admin listener per admin thread on the same port
        // (SO_REUSEPORT): the kernel spreads connections over them by
        // their addresses, where one shared listener would hand most of
        // them to whichever ring armed its accepts first.
        // With --admin-threads 0, one per shard: each shard serves the admin
        // connections its listener takes.
        let hosted = config.adminThreads == 0
        let clustered = !config.redis.isEmpty
        if hosted && clustered {
            throw StartError(description: "--admin-threads 0 cannot be used with --redis: a publish in a cluster waits for Redis, and a shard thread must not wait")
        }
        let adminServers = hosted ? plan.shards : config.adminThreads
        var adminListeners: [Int32] = []
        var adminPortToBind = config.adminListen.port
        for _ in 0..<adminServers {
            let fd = try Socket.listen(host: config.adminListen.host, port: adminPortToBind, backlog: 128,
                                       reusePort: adminServers > 1)
            adminListeners.append(fd)
            adminPortToBind = Socket.boundPort(fd)
        }
        listeners += adminListeners
        adminPort = adminPortToBind
        var wakeDescriptors: [Int32] = []
        for _ in 0..<plan.shards { wakeDescriptors.append(try Socket.eventDescriptor()) }
        let follows = clustered ? FollowRequests(wakeDescriptor: try Socket.eventDescriptor()) : nil
        let registry = TopicRegistry(wakeDescriptors: wakeDescriptors, topicsMax: config.topicsMax,
                                     deliveryBacklogBytesMax: config.deliveryBacklogBytesMax,
                                     topicIdleMilliseconds: UInt64(config.topicIdleSeconds * 1000),
                                     historySize: config.historySize,
                                     historyTTLMilliseconds: UInt64(config.historyTTLSeconds * 1000),
                                     historyBytesMax: config.historyBytesMax, follows: follows)
        let nodeID = config.nodeID ?? "\(ProcessEnvironment.hostName())-\(ProcessEnvironment.processID())"
        let clusterSettings = ClusterSettings(config)
        let clusterStatus = clustered ? ClusterStatus(endpoints: config.redis, nodeID: nodeID) : nil
        if let follows, let clusterStatus {
            // Before the shards: a subscriber's first topic finds it running.
            let broker = ClusterBroker(settings: clusterSettings, registry: registry, requests: follows,
                                       status: clusterStatus)
            broker.start()
            self.broker = broker
        }
        let control = ShardControl(wakeDescriptors: wakeDescriptors)
        if let origins = config.allowedOrigins, OriginPolicy(origins) == nil {
            throw StartError(description: "bad --allowed-origins '\(origins)': comma-separated origins like https://app.example.com or https://*.example.com")
        }
        var tls: TLSCertificates?
        if (config.tlsCertificateFile == nil) != (config.tlsKeyFile == nil) {
            throw StartError(description: "--tls-cert and --tls-key go together")
        }
        if let certificate = config.tlsCertificateFile, let key = config.tlsKeyFile {
            do {
                tls = try TLSCertificates(certificateFile: certificate, keyFile: key,
                                          ticketKeyFile: config.tlsTicketKeyFile)
            } catch {
                throw StartError(description: "cannot load TLS: \(error)")
            }
        }
        self.tls = tls
        let connectLimit = config.connectRatePerSource > 0 ? ConnectRateLimit(perSecond: config.connectRatePerSource) : nil
        let pages = config.disableDemo ? nil
            : PublicPageResponses(zstdDecoder: try ZstdDecoderFile.load(configured: config.zstdDecoderFile))
        // The admin servers (threads, or hosted by the shards) each have
        // a router; they share the registry, the publisher (its compressor
        // runs under the registry's lock) and the idempotency cache (its
        // own lock).
        let serverCounters = (0..<adminServers).map { _ in ShardCounters(rings: 1) }
        let cacheCounters = ShardCounters(rings: 1)
        let shardCounters = (0..<plan.shards).map { _ in ShardCounters(rings: plan.ringsPerShard) }
        var report = StatsReport(shards: shardCounters, admin: serverCounters + [cacheCounters],
                                 registry: registry, startedMilliseconds: Clock.monotonicMilliseconds())
        report.cluster = clusterStatus
        report.tls = tls
        let dictionaries = Publisher.DictionarySettings(bytes: config.zstdDictionaryBytes,
                                                        topicsMax: config.zstdDictionariesMax,
                                                        trainAfter: config.zstdTrainAfter)
        let publisher = Publisher(registry: registry, compression: Publisher.Compression(config),
                                  dictionaries: dictionaries)
        self.publisher = publisher
        report.training = publisher.training
        let idempotency = IdempotencyCache(windowMilliseconds: UInt64(config.idempotencyWindowSeconds * 1000),
                                           keysMax: config.idempotencyKeysMax, counters: cacheCounters)
        var servers: [AdminServer] = []
        for (position, (counters, listener)) in zip(serverCounters, adminListeners).enumerated() {
            let threadRouter = AdminRouter(token: config.adminToken, stats: report, publisher: publisher,
                                           control: control, idempotency: idempotency,
                                           publishBytesMax: config.publishBytesMax)
            threadRouter.wakes = ShardWakes(descriptors: registry.wakeDescriptors, ownShard: hosted ? position : nil)
            if let clusterStatus {
                // Each admin thread publishes on its own Redis connections.
                threadRouter.cluster = ClusterPublisher(settings: clusterSettings, status: clusterStatus)
                threadRouter.clusterStatus = clusterStatus
            }
            servers.append(try AdminServer(listener: listener, router: threadRouter, config: config, counters: counters,
                                           hostWakeDescriptor: hosted ? wakeDescriptors[position] : nil))
        }
        for index in 0..<plan.shards {
            shards.append(Shard(index: index, plan: plan, config: config, listener: listeners[index],
                                wakeDescriptor: wakeDescriptors[index], registry: registry, budget: budget,
                                control: control, counters: shardCounters[index], tls: tls,
                                connectLimit: connectLimit, pages: pages, admin: hosted ? servers[index] : nil))
        }
        let failures = StartBarrier(count: plan.shards)
        for shard in shards {
            shard.start { error in failures.arrive(error) }
        }
        if let error = failures.wait() {
            for shard in shards { shard.requestStop() }
            throw StartError(description: "cannot start shard: \(error)")
        }
        if hosted {
            admins = servers  // started by their shards
        } else {
            for server in servers {
                do {
                    try server.start()
                } catch {
                    for started in admins { started.stop() }
                    for started in admins { started.join() }
                    admins = []
                    throw error
                }
                admins.append(server)
            }
        }
        // Trainings run here, one at a time: those --zstd-train-after
        // queues and those POST /v1/topics/T/dictionary asks for.
        publisher.training.hasWorker.store(true, ordering: .relaxed)
        trainer = SystemThread.start(name: "herald-train") { publisher.trainQueued() }
        Log.info("ready", [
            "listen": HostPort(host: config.listen.host, port: listenPort).description,
            "admin": HostPort(host: config.adminListen.host, port: adminPort).description,
            "shards": "\(plan.shards)",
            "admin-threads": "\(config.adminThreads)",
            "rings": "\(plan.ringCount)",
            "connections-max": "\(config.connectionsMax)",
            "slots-per-ring": "\(plan.connectionsPerRing)",
            "fd-limit": "\(fdLimit)",
            "echo": config.enableEcho ? "on" : "off",
            "tls": tls == nil ? "off" : "on",
            "redis": clustered ? config.redis.map(\.description).joined(separator: ",") : "off",
            "node": nodeID,
        ])
    }

    /// Blocks until SIGTERM or SIGINT, then shuts down: stop accepting,
    /// close connections with 1001, exit within the shutdown timeout.
    /// A second signal exits at once.
    public func runUntilSignalled() {
        var received = Signals.waitForSignal()
        while received == .hangup {
            // SIGHUP: new TLS handshakes use the certificate files as they
            // are now; nothing else changes and no connection drops.
            if let tls { tls.reload() } else { Log.info("SIGHUP ignored: no --tls-cert to reload") }
            received = Signals.waitForSignal()
        }
        Log.info("shutting down", ["signal": received.name,
                                   "timeout-seconds": "\(config.shutdownTimeoutSeconds)"])
        Engine.exitOnSecondSignal()
        for shard in shards { shard.requestStop() }
        for shard in shards { shard.join() }
        for server in admins { server.stop() }
        for server in admins { server.join() }
        // A training under way finishes (tens of milliseconds); queued ones
        // are dropped with the process.
        publisher?.training.queue.close()
        trainer?.join()
        broker?.stop()
        for fd in listeners { Socket.close(fd) }
        Log.info("stopped")
    }

    /// An operator who signals twice wants out now: a thread waits for the
    /// second signal and exits without the graceful close.
    private static func exitOnSecondSignal() {
        SystemThread.detach(name: "herald-signals") {
            _ = Signals.waitForTermination()
            Log.warning("second signal: exiting without waiting for closes")
            Signals.exitNow(1)
        }
    }

    /// Blocks SIGTERM/SIGINT/SIGPIPE in the calling thread (and so in every
    /// thread it spawns) before anything starts: signals are then taken
    /// only by `sigwait` in `runUntilSignalled`.
    public static func blockSignals() {
        Signals.blockTermination()
    }
}
