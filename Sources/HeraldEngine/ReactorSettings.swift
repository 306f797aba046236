import HeraldCore
import HeraldProtocol
import HeraldTLS

/// The per-ring view of `Config`, converted once into the units the loop
/// uses (milliseconds, wheel ticks, bytes).
struct ReactorSettings {
    /// Wheel resolution. 50 ms keeps timers well inside the contract's
    /// second-scale timeouts while a 1,024-bucket wheel spans 51 s, more than
    /// the default ping interval, so most timers fire on their first pass.
    static let tickMilliseconds: UInt64 = 50
    static let wheelBuckets = 1024
    /// Accepts kept armed per ring, each with its slot reserved up front.
    /// 16 absorbs a connect burst between two loop turns.
    static let acceptsInFlightMax = 16
    /// Pause after an accept error that would repeat at once (ENOMEM,
    /// ENFILE): long enough not to spin, short enough to be invisible.
    static let acceptBackoffMilliseconds: UInt64 = 100
    /// Accepts completed in one loop turn from which connections are taken
    /// to be queueing: the next accepts try at once instead of waiting for
    /// a connection (`acceptsPollFirst`).
    static let acceptsQueueingPerTurn = 4

    /// Whether new accepts wait for a connection before trying
    /// (IORING_ACCEPT_POLL_FIRST), given how many completed this turn.
    /// Connections arriving apart (fewer than `acceptsQueueingPerTurn` per
    /// turn) find the queue empty, where an immediate try costs the kernel
    /// a socket file built and freed; connections queueing in a storm are
    /// there at once, where waiting would cost a poll per connection.
    static func acceptsPollFirst(completedThisTurn: Int) -> Bool {
        completedThisTurn < acceptsQueueingPerTurn
    }
    /// Heartbeat deadlines of connections opened together are spread over
    /// 20 % of the ping interval after it, so a burst of a million accepts
    /// becomes a ramp of pings rather than one tick's storm.
    static let pingJitterFraction = 0.2
    /// sendmsg SQEs one ring issues per loop turn. Sends to sockets with
    /// buffer space complete inline at submit, so a turn that issued more
    /// than the CQ holds (16,384) would overflow it into the kernel's slow
    /// overflow list; the rest of a broadcast goes out next turn, after the
    /// completions have been reaped.
    static let sendsPerTurnMax = 8192
    /// Completions copied out of the CQ per reap.
    static let reapBatch = 256
    /// sendmsg batches per ring (each one in-flight send): 1024 × 312 B
    /// = 312 KiB a ring. Sends are non-blocking (MSG_DONTWAIT), so a batch
    /// is held from one submit to its completion — within a loop turn — and
    /// a socket that refuses bytes holds none while it waits for room. More
    /// connections with data in one turn wait for the next (counted in
    /// send_batches_exhausted_total).
    static let sendBatches = 1024

    let handshakeTimeoutMilliseconds: UInt64
    let pingIntervalMilliseconds: UInt64
    let pongTimeoutMilliseconds: UInt64
    let closeTimeoutMilliseconds: UInt64
    let messageBytesMax: Int
    let requestHeadBytesMax: Int
    let enableEcho: Bool
    let recvBufferCount: Int
    let recvBufferBytes: Int
    let topicsPerConnectionMax: Int
    let subscribesPerSecond: UInt8
    let subscribeBurst: UInt8
    let sendQueueBytesMax: Int
    let sendTimeoutMilliseconds: UInt64
    let slowConsumerPolicy: SlowConsumerPolicy
    /// HS256 key for connection tokens; nil when connection auth is off.
    let jwtSecret: [UInt8]?
    /// What `PublicRequestRouting.decide` needs of the above.
    var routing: PublicRoutingPolicy
    /// The pages' responses, shared by every shard; nil: `--disable-demo`.
    var pages: PublicPageResponses? {
        didSet { routing.serveZstdDecoder = pages?.servesZstdDecoder ?? false }
    }
    /// The liveness rules in wheel ticks (`Liveness.decide`).
    let liveness: Liveness.Timing
    /// TLS on the public listener (`--tls-cert`, `--tls-key`); nil: plain.
    var tls: TLSCertificates?
    /// `--connect-rate-per-source`, shared by every ring; nil: no limit.
    var connectLimit: ConnectRateLimit?
    /// `--tls-record-layer herald`: TLS 1.3 connections hand over to herald's record layer.
    let tlsOwnRecordLayer: Bool

    init(_ config: Config) {
        handshakeTimeoutMilliseconds = UInt64(config.handshakeTimeoutSeconds * 1000)
        pingIntervalMilliseconds = UInt64(config.pingIntervalSeconds * 1000)
        pongTimeoutMilliseconds = UInt64(config.pongTimeoutSeconds * 1000)
        closeTimeoutMilliseconds = UInt64(config.closeTimeoutSeconds * 1000)
        messageBytesMax = config.messageBytesMax
        requestHeadBytesMax = config.requestHeadBytesMax
        enableEcho = config.enableEcho
        // The kernel needs a power-of-two buffer ring.
        var count = 16
        while count < config.recvBufferCount { count <<= 1 }
        recvBufferCount = min(count, 32_768)
        recvBufferBytes = config.recvBufferBytes
        topicsPerConnectionMax = config.topicsPerConnectionMax
        subscribesPerSecond = UInt8(clamping: config.subscribesPerSecond)
        subscribeBurst = UInt8(clamping: config.subscribeBurst)
        sendQueueBytesMax = config.sendQueueBytesMax
        sendTimeoutMilliseconds = UInt64(config.sendTimeoutSeconds * 1000)
        slowConsumerPolicy = config.slowConsumerPolicy
        jwtSecret = config.jwtSecret.map { Array($0.utf8) }
        tlsOwnRecordLayer = config.tlsOwnRecordLayer
        let tick = ReactorSettings.tickMilliseconds
        func ticks(_ milliseconds: UInt64) -> UInt32 { UInt32(clamping: (milliseconds + tick - 1) / tick) }
        liveness = Liveness.Timing(pingIntervalTicks: ticks(pingIntervalMilliseconds),
                                   pongTimeoutTicks: ticks(pongTimeoutMilliseconds),
                                   sendTimeoutTicks: ticks(sendTimeoutMilliseconds), policy: slowConsumerPolicy)
        routing = PublicRoutingPolicy(enableEcho: enableEcho, topicsPerConnectionMax: topicsPerConnectionMax,
                                      jwtSecret: jwtSecret, servePages: !config.disableDemo,
                                      allowedOrigins: config.allowedOrigins.flatMap(OriginPolicy.init))
    }
}

/// What a `user_data` names; one handler per kind in `Reactor.dispatch`.
enum OperationKind: UInt8 {
    case accept = 1
    case receive = 2
    case send = 3
    case cancel = 4
    case close = 5
    case shutdownWrite = 6
    /// The shard's wake eventfd (multishot poll on the primary ring).
    case wake = 7
    /// Cancelling the listener's accepts at shutdown.
    case acceptCancel = 8
    /// A one-shot POLLOUT on a connection whose socket refused bytes.
    case writable = 9
}
