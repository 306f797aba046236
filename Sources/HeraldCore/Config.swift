/// Every limit and setting of a `herald` process, in one place (STYLE habit 5).
///
/// Each field carries its unit in its name and a line on why its default is
/// what it is. `ConfigLoader` fills it from flags, `HERALD_*` environment
/// variables and a config file; `ConfigOption.all` is the one table that maps
/// names to fields, so `--help`, the environment and the file can never drift.
public struct Config: Sendable, Equatable {
    /// Public WebSocket listener. 8080 is the contract's default.
    public var listen = HostPort(host: "0.0.0.0", port: 8080)
    /// Admin HTTP listener; loopback by default so an unconfigured gateway
    /// never exposes publishing to the network.
    public var adminListen = HostPort(host: "127.0.0.1", port: 8081)
    /// Event-loop threads; nil means one per online core (decided at start).
    public var shards: Int?
    /// Open WebSocket connections the process will hold, split over shards.
    /// 100,000 connections (112,500 slots with headroom, 128 B each) cost
    /// ~13.7 MiB of slab and fit any host; raise it for
    /// bigger machines (the ring count follows from it and the fd limit).
    public var connectionsMax = 100_000
    /// Seconds a client may take to send its upgrade request head (slowloris
    /// guard). 10 s is the contract's default.
    public var handshakeTimeoutSeconds = 10.0
    /// `--defer-accept`: TCP_DEFER_ACCEPT on the public listener — the
    /// kernel hands a connection to herald when its first bytes arrive (or
    /// after this many seconds of silence); 0: at once.
    public var deferAcceptSeconds = 1
    /// Silence after which the server pings. 25 s stays under the 30 s idle
    /// timeouts common in load balancers and NAT tables.
    public var pingIntervalSeconds = 25.0
    /// Time a pinged client has to say anything before it is dropped.
    public var pongTimeoutSeconds = 10.0
    /// Largest inbound message (sum of fragments). Clients only send small
    /// JSON commands; 64 KiB bounds the per-connection assembly buffer.
    public var messageBytesMax = 64 * 1024
    /// Largest upgrade request head; the contract answers 431 above it.
    public var requestHeadBytesMax = 8 * 1024
    /// Serve the `/echo` diagnostics route (conformance suites, latency probes).
    public var enableEcho = false
    /// Do not serve the demo page (`/`) and the JavaScript client
    /// (`/herald.js`, `/herald.global.js`) on the public listener.
    public var disableDemo = false
    /// Seconds SIGTERM waits for close handshakes before exiting anyway.
    public var shutdownTimeoutSeconds = 10.0
    /// Seconds a closing connection waits for the peer's close frame or FIN
    /// before the server drops it; long enough for a busy client on a slow
    /// link, short enough that dead peers don't pin slots.
    public var closeTimeoutSeconds = 3.0
    /// Bearer token the admin listener requires; nil = none (loopback only).
    public var adminToken: String?
    /// HS256 secret for connection tokens (`token=` on /ws); nil = no
    /// connection auth (CONTRACT "Security").
    public var jwtSecret: String?
    /// Topics the process holds at once. A record is ~200 B: a million
    /// topics is ~200 MiB, and the bound stops clients or publishers
    /// inventing names from growing memory without end (idle ones are
    /// collected, see `topicIdleSeconds`).
    public var topicsMax = 1_000_000
    /// Seconds a topic with no subscribers and no publish is kept before
    /// its record is freed (its next use starts a new epoch). 60 s lets a
    /// client that reconnects within a minute find its topic's seq running
    /// on; one anonymous connection cycling names then holds at most
    /// 60 s × its subscribe rate of them.
    public var topicIdleSeconds = 60.0
    /// Messages kept per topic for recovery (`subscribe` with `since`), as
    /// the frames already built; 0 keeps none. 16 covers a phone that
    /// changes cell or a laptop that sleeps through a burst, while
    /// `historyBytesMax` bounds the total.
    public var historySize = 16
    /// Seconds a kept message stays recoverable: past it, a client recovers
    /// from the application instead. 300 s matches the idempotency window.
    public var historyTTLSeconds = 300.0
    /// Bytes all kept messages may take together (frames plus ~96 B each);
    /// past it the oldest message of any topic goes first (counted). 256 MiB
    /// on a 1M-connection node: 100,000 topics × 16 messages of ~300 B would
    /// want ~600 MiB, so the bound keeps the newest ~40 % of them — about as
    /// much as the node's million connection slots take.
    public var historyBytesMax = 256 * 1024 * 1024
    /// In-band subscribes and unsubscribes one connection may send per
    /// second, after a burst of `subscribeBurst`: a client cycling names to
    /// churn the topic table is slowed to this, and gets `rate_limited`.
    /// 20/s is far above what an app does after connecting.
    public var subscribesPerSecond = 20
    /// The burst a connection may subscribe with before the rate applies:
    /// room for a full topic set at once (`topicsPerConnectionMax` is 64).
    public var subscribeBurst = 128
    /// Topics one connection may hold (contract default 64).
    public var topicsPerConnectionMax = 64
    /// Threads serving the admin API, each with its own ring, connections
    /// and `SO_REUSEPORT` listener on the admin port. 0: the shard threads
    /// serve it, each on its primary ring (not with `--redis`).
    public var adminThreads = 1
    /// Largest publish body the admin API accepts (413 above).
    public var publishBytesMax = 1024 * 1024
    /// Largest `POST /v1/publish/batch` body (413 above); each message in
    /// it is still bounded by `publishBytesMax`.
    public var batchBytesMax = 16 * 1024 * 1024
    /// Bytes queued for one connection before the slow-consumer policy acts.
    public var sendQueueBytesMax = 1024 * 1024
    /// Seconds a connection's socket may refuse bytes (its kernel buffer
    /// full while we hold queued frames) before the slow-consumer policy
    /// acts, however short its queue. 5 s rides out a stalled mobile link or
    /// a GC pause; a reader that stopped is found long before its queue fills.
    public var sendTimeoutSeconds = 5.0
    /// Published bytes (frames plus a per-delivery overhead) waiting in one
    /// shard's delivery queue before a publish that would add to it gets 503
    /// with Retry-After. 64 MiB is ~300,000 small messages: far more than a
    /// shard falls behind by when it keeps up, and a bound on what a
    /// publisher outrunning the shards can make the process hold.
    public var deliveryBacklogBytesMax = 64 * 1024 * 1024
    /// Seconds a publish's `Idempotency-Key` and its result are remembered:
    /// a retry within it gets the first result and publishes nothing.
    /// 300 s covers a client's retries with backoff across a restart of
    /// its own; entries are bounded by `idempotencyKeysMax`.
    public var idempotencyWindowSeconds = 300.0
    /// Idempotency keys remembered at once; past it the oldest is forgotten.
    /// 100,000 keys × ~400 B ≈ 40 MiB at worst: 300 s of publishing at
    /// 333/s with a key on each, far above what backends send with keys.
    public var idempotencyKeysMax = 100_000
    /// What happens to a connection whose send queue is full or whose
    /// socket stays stalled past `sendTimeoutSeconds`.
    public var slowConsumerPolicy = SlowConsumerPolicy.disconnect
    /// Provided receive buffers per ring. Idle connections hold none, but the
    /// kernel cycles through the whole ring (FIFO), so every buffer ends up
    /// resident: 512 × 2 KiB = 1 MiB a ring, ~54 B per connection at a full
    /// 19,488-slot ring. Bursts beyond it park receives (ENOBUFS, counted)
    /// and re-arm them next turn; raise it for chatty clients.
    public var recvBufferCount = 512
    /// Size of one provided receive buffer: clients send small JSON commands
    /// and upgrade heads of a few hundred bytes; larger input spans buffers.
    public var recvBufferBytes = 2048
    /// Kernel send buffer of each connection (SO_SNDBUF, set on the listener
    /// and inherited by accepted sockets); 0 keeps the kernel's autotuning,
    /// which lets one stuck reader pin up to tcp_wmem's max (4 MiB) of
    /// kernel memory before the slow-consumer policy even sees a backlog.
    public var socketSendBufferBytes = 0
    /// Descriptors kept free of the fd limit for listeners, rings, eventfds,
    /// the admin listener and logs; the rest goes to registered file tables.
    public var fdReserve = 512
    /// Minimum level of log lines written to stderr.
    public var logLevel = LogLevel.info

    /// Redis instances shared by a cluster of herald nodes (`--redis`,
    /// repeatable); empty runs a single node, exactly as without the flag.
    /// Topics are spread over them by `JumpHash` of their names.
    public var redis: [RedisEndpoint] = []
    /// This node's name in logs, metrics and epochs; nil picks host name
    /// and process id at start.
    public var nodeID: String?
    /// Seconds one Redis call (connect, command, reply) may take before
    /// the node treats that Redis as unreachable: a publish then gets 503
    /// and the broker reconnects. 1 s is ~1,000 round trips on a LAN, so
    /// only a Redis that is down, stuck or partitioned reaches it.
    public var redisTimeoutSeconds = 1.0
    /// Seconds a topic's seq and epoch live in Redis after its last
    /// publish; past them its next publish starts a new epoch. A day: the
    /// key is ~100 B, and a subscriber that waits out a quiet night still
    /// recovers without a reset.
    public var redisTopicTTLSeconds = 86_400.0
    /// TLS on the public listener (`wss://`): a PEM certificate chain (leaf
    /// first) and its private key; both or neither.
    /// New connections one source address (an IPv6 /64) may open per
    /// second, with a burst of as many; past it a connection is closed at
    /// accept, before any handshake work. 0: no limit (the default: many
    /// clients may share one address behind a NAT or a proxy).
    public var connectRatePerSource = 0
    /// `--allowed-origins`: browser origins allowed to open a WebSocket
    /// (`OriginPolicy` patterns, comma separated); nil allows every one.
    public var allowedOrigins: String?
    public var tlsCertificateFile: String?
    public var tlsKeyFile: String?
    /// `herald.zstd.v1`: topics that may hold a trained dictionary at once.
    /// A dictionary and its prepared compression tables take ~100–300 KB
    /// (at the default size and level): 1,000 bounds them near 300 MB.
    /// Past it `POST /v1/topics/T/dictionary` answers 409.
    public var zstdDictionariesMax = 1_000
    /// The size a trained dictionary may reach: 16 KiB learns the shape of
    /// small JSON messages (field names, common values) and costs a client
    /// 16 KiB per topic it follows.
    public var zstdDictionaryBytes = 16_384
    /// `--zstd-train-after N`: a topic's dictionary is trained by itself
    /// when its Nth message is published (from its kept messages, so at
    /// most `--history-size` of them). 0: only on request.
    public var zstdTrainAfter = 0
    /// zstd's level for messages (1–19): 3 is its default; paid once per publish.
    public var zstdLevel = 3
    /// `--compress-min-bytes`: shorter messages go out uncompressed with
    /// permessage-deflate and with zstd without a dictionary (both rarely
    /// win on a few dozen bytes); a topic's dictionary is tried at any size.
    public var compressMinBytes = 128
    /// `--deflate-level`: zlib's level for permessage-deflate, paid once per publish.
    public var deflateLevel = 6
    /// `--tls-ticket-key-file`: session ticket keys (80 bytes each, the
    /// first seals), shared by the nodes behind one name so each resumes
    /// the others' clients; re-read on SIGHUP. Nil: random keys in memory,
    /// rotated hourly.
    public var tlsTicketKeyFile: String?
    /// `--zstd-decoder`: the browser client's zstd decoder (herald-zstd.wasm)
    /// served at `/herald-zstd.wasm`; nil: the one next to the executable, if any.
    public var zstdDecoderFile: String?
    /// `--tls-record-layer herald`: after a TLS 1.3 handshake herald keeps
    /// only the traffic keys (~300 B) and runs the record layer itself, the
    /// `SSL` object (~15 KB) freed; `openssl` keeps OpenSSL's for the whole
    /// connection (to compare, or to rule herald's record code out). TLS 1.2
    /// connections always keep OpenSSL's.
    public var tlsOwnRecordLayer = true

    public init() {}
}

public struct HostPort: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT` or `[V6]:PORT`; nil when malformed.
    public static func parse(_ text: String) -> HostPort? {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, let port = UInt16(portText) else { return nil }
        return HostPort(host: String(host), port: port)
    }

    /// True for a numeric 127.0.0.0/8 address, ::1 or "localhost" — where an
    /// admin listener needs no token. Only literals count: a DNS name that
    /// merely starts with "127." (127.0.0.1.nip.io) may resolve anywhere.
    public var isLoopback: Bool {
        if host == "localhost" || host == "::1" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "127" else { return false }
        return parts.allSatisfy { part in
            !part.isEmpty && part.count <= 3 && part.allSatisfy(\.isASCII) && part.allSatisfy(\.isNumber)
                && (Int(part) ?? 256) <= 255
        }
    }

    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

public enum SlowConsumerPolicy: String, Sendable, Equatable, CaseIterable {
    case disconnect
    case drop
}

public enum LogLevel: Int, Sendable, Comparable, CaseIterable {
    case debug, info, warning, error

    public var name: String {
        switch self {
        case .debug: "debug"
        case .info: "info"
        case .warning: "warning"
        case .error: "error"
        }
    }

    public static func named(_ name: String) -> LogLevel? {
        allCases.first { $0.name == name || (name == "warn" && $0 == .warning) }
    }

    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }
}
