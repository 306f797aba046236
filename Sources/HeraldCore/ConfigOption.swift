/// One configurable key: its flag, environment twin, config-file key and how
/// its text becomes a field of `Config`. `ConfigOption.all` is the only list.
public struct ConfigOption: Sendable {
    /// Flag name without dashes; also the config-file key.
    public let name: String
    /// Placeholder shown in `--help`; nil for boolean switches.
    public let valueName: String?
    public let help: String
    /// A flag that may be given several times: its values are joined with
    /// commas and applied once (as the environment and file give a list).
    public var repeatable = false
    let apply: @Sendable (inout Config, String) -> Bool

    init(name: String, valueName: String?, help: String, repeatable: Bool = false,
         apply: @escaping @Sendable (inout Config, String) -> Bool) {
        self.name = name
        self.valueName = valueName
        self.help = help
        self.repeatable = repeatable
        self.apply = apply
    }

    /// `HERALD_` + the name upper-cased with `-` → `_`.
    public var environmentName: String {
        "HERALD_" + String(name.uppercased().map { $0 == "-" ? "_" : $0 })
    }

    public var isSwitch: Bool { valueName == nil }

    public static let all: [ConfigOption] = [
        .init(name: "listen", valueName: "HOST:PORT",
              help: "public WebSocket listener (default 0.0.0.0:8080; port 0 picks one)") { config, text in
            guard let value = HostPort.parse(text) else { return false }
            config.listen = value
            return true
        },
        .init(name: "admin-listen", valueName: "HOST:PORT",
              help: "admin HTTP listener (default 127.0.0.1:8081); non-loopback needs --admin-token") { config, text in
            guard let value = HostPort.parse(text) else { return false }
            config.adminListen = value
            return true
        },
        .init(name: "shards", valueName: "N",
              help: "event-loop threads (default: online cores)") { config, text in
            guard let value = Int(text), (1...256).contains(value) else { return false }
            config.shards = value
            return true
        },
        integer("connections-max", "WebSocket connections held at most (default 100000)", \.connectionsMax,
                range: 1...16_000_000),
        seconds("handshake-timeout", "seconds to receive the upgrade request (default 10)", \.handshakeTimeoutSeconds),
        integer("defer-accept", "the kernel holds a new public connection until its first bytes arrive, or this many seconds (TCP_DEFER_ACCEPT: a silent connection costs herald nothing meanwhile; its handshake timeout starts when it is accepted); 0 = accept at once (default 1)",
                \.deferAcceptSeconds, range: 0...3_600),
        seconds("ping-interval", "silence before the server pings (default 25)", \.pingIntervalSeconds),
        seconds("pong-timeout", "seconds a pinged client has to answer (default 10)", \.pongTimeoutSeconds),
        integer("message-bytes-max", "largest inbound message, else close 1009 (default 65536)", \.messageBytesMax,
                range: 1...(16 * 1024 * 1024)),
        .init(name: "enable-echo", valueName: nil,
              help: "serve the /echo diagnostics route") { config, text in
            guard let value = parseBool(text) else { return false }
            config.enableEcho = value
            return true
        },
        .init(name: "disable-demo", valueName: nil,
              help: "do not serve the demo page (/) and the JS client (/herald.js, /herald.global.js)") { config, text in
            guard let value = parseBool(text) else { return false }
            config.disableDemo = value
            return true
        },
        seconds("shutdown-timeout", "seconds SIGTERM waits for closes (default 10)", \.shutdownTimeoutSeconds),
        seconds("close-timeout", "seconds a closing connection waits for the peer (default 3)", \.closeTimeoutSeconds),
        text("admin-token", "TOKEN", "bearer token required by the admin listener", \.adminToken),
        text("jwt-secret", "SECRET", "HS256 secret: /ws then requires token=JWT (sub, topics, exp)", \.jwtSecret),
        integer("topics-max", "topics the process keeps; new ones past it are refused (default 1000000)",
                \.topicsMax, range: 1...100_000_000),
        seconds("topic-idle-seconds", "seconds a topic with no subscribers and no publish is kept (default 60)",
                \.topicIdleSeconds),
        integer("history-size", "messages kept per topic for recovery, 0 = none (default 16)", \.historySize,
                range: 0...100_000),
        seconds("history-ttl", "seconds a kept message stays recoverable (default 300)", \.historyTTLSeconds),
        integer("history-bytes-max", "bytes all kept messages take together (default 268435456)",
                \.historyBytesMax, range: 0...(1 << 40)),
        integer("subscribes-per-second", "in-band subscribes/unsubscribes per connection per second (default 20)",
                \.subscribesPerSecond, range: 1...255),
        integer("subscribe-burst", "subscribes/unsubscribes a connection may send at once (default 128)",
                \.subscribeBurst, range: 1...255),
        integer("topics-per-connection-max", "topics one connection may hold (default 64)", \.topicsPerConnectionMax,
                range: 1...65_536),
        integer("publish-bytes-max", "largest publish body, else 413 (default 1048576)", \.publishBytesMax,
                range: 1...(64 * 1024 * 1024)),
        integer("admin-threads", "threads serving the admin API; 0 serves it on the shard threads (default 1)",
                \.adminThreads, range: 0...64),
        integer("batch-bytes-max", "largest POST /v1/publish/batch body, else 413 (default 16777216)",
                \.batchBytesMax, range: 1...(1024 * 1024 * 1024)),
        integer("send-queue-bytes-max", "bytes queued per connection before the slow-consumer policy (default 1048576)",
                \.sendQueueBytesMax, range: 4096...(1 << 30)),
        seconds("send-timeout", "seconds a connection's socket may refuse bytes before the slow-consumer policy (default 5)",
                \.sendTimeoutSeconds),
        integer("delivery-backlog-bytes-max",
                "published bytes waiting for one shard before publishes get 503 (default 67108864)",
                \.deliveryBacklogBytesMax, range: 65_536...(1 << 40)),
        seconds("idempotency-window", "seconds an Idempotency-Key's publish result is remembered (default 300)",
                \.idempotencyWindowSeconds),
        .init(name: "slow-consumer-policy", valueName: "disconnect|drop",
              help: "what a full send queue or a stalled socket does (default disconnect)") { config, text in
            guard let value = SlowConsumerPolicy(rawValue: text) else { return false }
            config.slowConsumerPolicy = value
            return true
        },
        integer("socket-send-buffer-bytes", "kernel send buffer per connection, 0 = autotune (default 0)",
                \.socketSendBufferBytes, range: 0...(64 * 1024 * 1024)),
        integer("recv-buffer-count", "provided receive buffers per ring (default 512)", \.recvBufferCount,
                range: 16...32_768),
        integer("recv-buffer-bytes", "bytes per provided receive buffer (default 2048)", \.recvBufferBytes,
                range: 512...65_536),
        integer("fd-reserve", "descriptors kept out of the registered file tables (default 512)", \.fdReserve,
                range: 32...100_000),
        .init(name: "redis", valueName: "redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]",
              help: "join a cluster through this Redis (repeatable, or a comma-separated list: topics are spread over them)",
              repeatable: true) { config, text in
            var endpoints: [RedisEndpoint] = []
            for item in text.split(separator: ",") {
                guard let endpoint = RedisEndpoint.parse(String(item.trimmingWhitespace())) else { return false }
                endpoints.append(endpoint)
            }
            guard !endpoints.isEmpty, endpoints.count <= 64 else { return false }
            config.redis = endpoints
            return true
        },
        .init(name: "node-id", valueName: "NAME",
              help: "this node's name in a cluster: 1-64 of A-Z a-z 0-9 . _ - (default: host name and pid)") { config, text in
            guard (1...64).contains(text.utf8.count),
                  text.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) || $0 == 0x2E || $0 == 0x5F || $0 == 0x2D }) else {
                return false
            }
            config.nodeID = text
            return true
        },
        seconds("redis-timeout", "seconds one Redis call may take before Redis counts as unreachable (default 1)",
                \.redisTimeoutSeconds),
        seconds("redis-topic-ttl", "seconds a topic's seq and epoch outlive its last publish in Redis (default 86400)",
                \.redisTopicTTLSeconds),
        integer("connect-rate-per-source", "new connections per second from one address (IPv6: one /64), with a burst of as many; 0 = no limit (default 0)",
                \.connectRatePerSource, range: 0...1_000_000),
        integer("zstd-dictionaries-max", "topics that may hold a trained zstd dictionary at once (default 1000)",
                \.zstdDictionariesMax, range: 0...1_000_000),
        integer("zstd-dictionary-bytes", "the most a trained zstd dictionary may hold (default 16384)",
                \.zstdDictionaryBytes, range: 1_024...1_048_576),
        integer("zstd-train-after", "train a topic's zstd dictionary by itself at its Nth message; 0 = only on POST /v1/topics/T/dictionary (default 0)",
                \.zstdTrainAfter, range: 0...1_000_000_000),
        integer("zstd-level", "zstd compression level for herald.zstd.v1 messages, 1-19 (default 3)",
                \.zstdLevel, range: 1...19),
        integer("compress-min-bytes", "messages shorter than this go out uncompressed with permessage-deflate and with zstd without a dictionary (default 128)",
                \.compressMinBytes, range: 0...16_777_216),
        integer("deflate-level", "zlib level for permessage-deflate messages, 1-9, paid once per publish (default 6)",
                \.deflateLevel, range: 1...9),
        text("allowed-origins", "LIST", "browser origins allowed to open a WebSocket, e.g. 'https://app.example.com,https://*.example.com'; others get 403", \.allowedOrigins),
        text("tls-cert", "FILE", "PEM certificate chain for TLS on the public listener (wss://); needs --tls-key", \.tlsCertificateFile),
        text("tls-key", "FILE", "PEM private key of --tls-cert", \.tlsKeyFile),
        text("zstd-decoder", "FILE", "the browser client's zstd decoder served at /herald-zstd.wasm (make builds it from Debian's libzstd; default: herald-zstd.wasm next to the herald executable, when there)", \.zstdDecoderFile),
        text("tls-ticket-key-file", "FILE", "TLS session ticket keys, 80 bytes each (openssl rand 80), the first seals; share it between nodes so clients resume on any; re-read on SIGHUP (default: random keys rotated hourly)", \.tlsTicketKeyFile),
        .init(name: "tls-record-layer", valueName: "herald|openssl",
              help: "who runs the TLS 1.3 record layer after the handshake: herald (keeps ~300 B of keys per connection, the default) or openssl (keeps its SSL object, ~15 KB)") { config, text in
            switch text {
            case "herald": config.tlsOwnRecordLayer = true
            case "openssl": config.tlsOwnRecordLayer = false
            default: return false
            }
            return true
        },
        .init(name: "log-level", valueName: "debug|info|warning|error",
              help: "minimum level logged to stderr (default info)") { config, text in
            guard let value = LogLevel.named(text) else { return false }
            config.logLevel = value
            return true
        },
    ]

    public static func named(_ name: String) -> ConfigOption? {
        all.first { $0.name == name }
    }

    private static func seconds(_ name: String, _ help: String,
                                _ field: WritableKeyPath<Config, Double> & Sendable) -> ConfigOption {
        ConfigOption(name: name, valueName: "SECONDS", help: help) { config, text in
            // A day bounds every timer so tick arithmetic can never overflow.
            guard let value = Double(text), value > 0, value <= 86_400 else { return false }
            config[keyPath: field] = value
            return true
        }
    }

    /// A non-empty text option (a file, a secret, a list parsed later).
    private static func text(_ name: String, _ valueName: String, _ help: String,
                             _ field: WritableKeyPath<Config, String?> & Sendable) -> ConfigOption {
        ConfigOption(name: name, valueName: valueName, help: help) { config, text in
            guard !text.isEmpty else { return false }
            config[keyPath: field] = text
            return true
        }
    }

    /// An integer option within `range` (a count or a size in bytes).
    private static func integer(_ name: String, _ help: String,
                                _ field: WritableKeyPath<Config, Int> & Sendable,
                                range: ClosedRange<Int>) -> ConfigOption {
        ConfigOption(name: name, valueName: "N", help: help) { config, text in
            guard let value = Int(text), range.contains(value) else { return false }
            config[keyPath: field] = value
            return true
        }
    }

    static func parseBool(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "1", "true", "yes", "on": true
        case "0", "false", "no", "off": false
        default: nil
        }
    }
}
