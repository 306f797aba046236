import Testing
@testable import HeraldCore

/// Runs the loader with an in-memory environment and file system.
private func load(_ arguments: [String], environment: [String: String] = [:],
                  files: [String: String] = [:]) -> Result<ConfigLoader.Outcome, ConfigLoader.Failure> {
    ConfigLoader.load(arguments: arguments, environment: environment, readFile: { files[$0] })
}

/// The configuration a successful load produced; records an issue otherwise.
private func loadedConfig(_ arguments: [String], environment: [String: String] = [:],
                          files: [String: String] = [:],
                          sourceLocation: SourceLocation = #_sourceLocation) -> Config? {
    switch load(arguments, environment: environment, files: files) {
    case .success(.run(let config)):
        return config
    case .success(.help):
        Issue.record("expected a configuration, got help", sourceLocation: sourceLocation)
    case .failure(let failure):
        Issue.record("expected a configuration, got: \(failure)", sourceLocation: sourceLocation)
    }
    return nil
}

/// The failure message of a load; nil (and an issue) when it succeeded.
private func failureMessage(_ arguments: [String], environment: [String: String] = [:],
                            files: [String: String] = [:],
                            sourceLocation: SourceLocation = #_sourceLocation) -> String? {
    switch load(arguments, environment: environment, files: files) {
    case .failure(let failure):
        return failure.description
    case .success(let outcome):
        Issue.record("expected a failure, got \(outcome)", sourceLocation: sourceLocation)
        return nil
    }
}

/// One valid, non-default value per option. `everyOptionHasASample` fails
/// when an option is added to `ConfigOption.all` without one here.
private let samples: [String: (value: String, check: @Sendable (Config) -> Bool)] = [
    "listen": ("127.0.0.9:9001", { $0.listen == HostPort(host: "127.0.0.9", port: 9001) }),
    "admin-listen": ("127.0.0.2:9002", { $0.adminListen == HostPort(host: "127.0.0.2", port: 9002) }),
    "shards": ("3", { $0.shards == 3 }),
    "connections-max": ("77", { $0.connectionsMax == 77 }),
    "handshake-timeout": ("1.5", { $0.handshakeTimeoutSeconds == 1.5 }),
    "ping-interval": ("2", { $0.pingIntervalSeconds == 2 }),
    "pong-timeout": ("3.25", { $0.pongTimeoutSeconds == 3.25 }),
    "message-bytes-max": ("200", { $0.messageBytesMax == 200 }),
    "enable-echo": ("true", { $0.enableEcho }),
    "shutdown-timeout": ("4", { $0.shutdownTimeoutSeconds == 4 }),
    "close-timeout": ("5", { $0.closeTimeoutSeconds == 5 }),
    "admin-token": ("s3cret", { $0.adminToken == "s3cret" }),
    "topics-per-connection-max": ("7", { $0.topicsPerConnectionMax == 7 }),
    "topics-max": ("1000", { $0.topicsMax == 1000 }),
    "jwt-secret": ("k3y", { $0.jwtSecret == "k3y" }),
    "publish-bytes-max": ("99", { $0.publishBytesMax == 99 }),
    "batch-bytes-max": ("4096", { $0.batchBytesMax == 4096 }),
    "admin-threads": ("3", { $0.adminThreads == 3 }),
    "disable-demo": ("true", { $0.disableDemo }),
    "send-queue-bytes-max": ("8192", { $0.sendQueueBytesMax == 8192 }),
    "slow-consumer-policy": ("drop", { $0.slowConsumerPolicy == .drop }),
    "recv-buffer-count": ("32", { $0.recvBufferCount == 32 }),
    "recv-buffer-bytes": ("1024", { $0.recvBufferBytes == 1024 }),
    "socket-send-buffer-bytes": ("16384", { $0.socketSendBufferBytes == 16384 }),
    "fd-reserve": ("64", { $0.fdReserve == 64 }),
    "log-level": ("debug", { $0.logLevel == .debug }),
    "send-timeout": ("2.5", { $0.sendTimeoutSeconds == 2.5 }),
    "delivery-backlog-bytes-max": ("1048576", { $0.deliveryBacklogBytesMax == 1_048_576 }),
    "idempotency-window": ("60", { $0.idempotencyWindowSeconds == 60 }),
    "topic-idle-seconds": ("5", { $0.topicIdleSeconds == 5 }),
    "history-size": ("7", { $0.historySize == 7 }),
    "subscribes-per-second": ("9", { $0.subscribesPerSecond == 9 }),
    "subscribe-burst": ("11", { $0.subscribeBurst == 11 }),
    "history-ttl": ("30", { $0.historyTTLSeconds == 30 }),
    "history-bytes-max": ("1000", { $0.historyBytesMax == 1000 }),
    "redis": ("redis://:pw@r1:7000/1", { $0.redis == [RedisEndpoint(host: "r1", port: 7000, password: "pw", database: 1)] }),
    "node-id": ("eu-1", { $0.nodeID == "eu-1" }),
    "redis-timeout": ("0.5", { $0.redisTimeoutSeconds == 0.5 }),
    "redis-topic-ttl": ("600", { $0.redisTopicTTLSeconds == 600 }),
    "connect-rate-per-source": ("50", { $0.connectRatePerSource == 50 }),
    "allowed-origins": ("https://app.example.com,https://*.example.org",
                        { $0.allowedOrigins == "https://app.example.com,https://*.example.org" }),
    "tls-cert": ("/etc/herald/chain.pem", { $0.tlsCertificateFile == "/etc/herald/chain.pem" }),
    "tls-key": ("/etc/herald/key.pem", { $0.tlsKeyFile == "/etc/herald/key.pem" }),
    "tls-record-layer": ("openssl", { !$0.tlsOwnRecordLayer }),
    "zstd-dictionaries-max": ("12", { $0.zstdDictionariesMax == 12 }),
    "zstd-dictionary-bytes": ("4096", { $0.zstdDictionaryBytes == 4096 }),
    "zstd-level": ("7", { $0.zstdLevel == 7 }),
    "zstd-train-after": ("500", { $0.zstdTrainAfter == 500 }),
    "tls-ticket-key-file": ("/etc/herald/tickets.key", { $0.tlsTicketKeyFile == "/etc/herald/tickets.key" }),
    "defer-accept": ("3", { $0.deferAcceptSeconds == 3 }),
    "compress-min-bytes": ("64", { $0.compressMinBytes == 64 }),
    "deflate-level": ("9", { $0.deflateLevel == 9 }),
    "zstd-decoder": ("/opt/herald/herald-zstd.wasm", { $0.zstdDecoderFile == "/opt/herald/herald-zstd.wasm" }),
]

@Suite struct ConfigLoaderTests {
    @Test func noInputGivesTheDefaults() {
        let config = loadedConfig([])
        #expect(config == Config())
        #expect(config?.listen == HostPort(host: "0.0.0.0", port: 8080))
        #expect(config?.adminListen == HostPort(host: "127.0.0.1", port: 8081))
        #expect(config?.adminToken == nil)
        #expect(config?.shards == nil)
    }

    @Test func everyOptionHasASample() {
        #expect(Set(ConfigOption.all.map(\.name)) == Set(samples.keys))
        #expect(ConfigOption.all.count == samples.count, "option names must be unique")
    }

    /// Each option reaches its field whichever way it is given: `--x v`,
    /// `--x=v`, `HERALD_X=v` and `x = v` in a file.
    @Test(arguments: ConfigOption.all.map(\.name))
    func optionIsAcceptedInEveryForm(name: String) throws {
        let sample = try #require(samples[name])
        let option = try #require(ConfigOption.named(name))
        let spaced = option.isSwitch ? ["--\(name)"] : ["--\(name)", sample.value]
        let forms: [(String, Config?)] = [
            ("--x v", loadedConfig(spaced)),
            ("--x=v", loadedConfig(["--\(name)=\(sample.value)"])),
            ("env", loadedConfig([], environment: [option.environmentName: sample.value])),
            ("file", loadedConfig(["--config", "h.conf"], files: ["h.conf": "\(name) = \(sample.value)\n"])),
        ]
        for (form, config) in forms {
            let config = try #require(config, "\(form)")
            #expect(sample.check(config), "\(name) via \(form)")
            #expect(config != Config(), "\(name) via \(form) left the defaults unchanged")
        }
    }

    @Test func environmentNamesAreUpperSnakeCaseTwins() throws {
        #expect(try #require(ConfigOption.named("topics-per-connection-max")).environmentName
                == "HERALD_TOPICS_PER_CONNECTION_MAX")
        #expect(try #require(ConfigOption.named("listen")).environmentName == "HERALD_LISTEN")
        for option in ConfigOption.all {
            #expect(option.environmentName.hasPrefix("HERALD_"))
            #expect(!option.environmentName.contains("-"))
        }
    }

    @Test func severalFlagsTogether() {
        let config = loadedConfig(["--shards", "4", "--connections-max=5000", "--listen", "[::]:9000",
                                   "--slow-consumer-policy=drop"])
        #expect(config?.shards == 4)
        #expect(config?.connectionsMax == 5000)
        #expect(config?.listen == HostPort(host: "::", port: 9000))
        #expect(config?.slowConsumerPolicy == .drop)
        #expect(config?.pingIntervalSeconds == 25, "untouched fields keep their defaults")
    }

    @Test func switchWithoutValueTurnsOn() {
        #expect(loadedConfig(["--enable-echo"])?.enableEcho == true)
        #expect(loadedConfig([])?.enableEcho == false)
    }

    @Test(arguments: [("true", true), ("1", true), ("yes", true), ("ON", true),
                      ("false", false), ("0", false), ("no", false), ("off", false)])
    func switchTakesAnInlineOrEnvironmentBoolean(text: String, expected: Bool) {
        #expect(loadedConfig(["--enable-echo=\(text)"])?.enableEcho == expected)
        #expect(loadedConfig([], environment: ["HERALD_ENABLE_ECHO": text])?.enableEcho == expected)
    }

    @Test func switchDoesNotConsumeTheNextArgument() {
        // `--enable-echo false` is the switch followed by a stray word.
        #expect(failureMessage(["--enable-echo", "false"]) == "unexpected argument 'false' (see --help)")
        #expect(failureMessage(["--enable-echo=maybe"]) == "bad value 'maybe' for --enable-echo")
    }

    @Test func flagsBeatEnvironmentWhichBeatsTheFile() {
        let files = ["h.conf": "shards = 2\nconnections-max = 10\nping-interval = 7\n"]
        let environment = ["HERALD_CONFIG": "h.conf", "HERALD_SHARDS": "3", "HERALD_CONNECTIONS_MAX": "20"]
        let all = loadedConfig(["--shards", "4"], environment: environment, files: files)
        #expect(all?.shards == 4)
        #expect(all?.connectionsMax == 20)
        #expect(all?.pingIntervalSeconds == 7)

        let noFlag = loadedConfig([], environment: environment, files: files)
        #expect(noFlag?.shards == 3)

        let fileOnly = loadedConfig([], environment: ["HERALD_CONFIG": "h.conf"], files: files)
        #expect(fileOnly?.shards == 2)
        #expect(fileOnly?.connectionsMax == 10)
    }

    @Test func laterFlagWins() {
        #expect(loadedConfig(["--shards", "2", "--shards=5"])?.shards == 5)
    }

    @Test func configFlagBeatsConfigEnvironment() {
        let files = ["a.conf": "shards = 2\n", "b.conf": "shards = 6\n"]
        #expect(loadedConfig(["--config", "b.conf"], environment: ["HERALD_CONFIG": "a.conf"], files: files)?.shards == 6)
        #expect(loadedConfig(["--config=b.conf"], environment: ["HERALD_CONFIG": "a.conf"], files: files)?.shards == 6)
        #expect(loadedConfig([], environment: ["HERALD_CONFIG": "a.conf"], files: files)?.shards == 2)
    }

    @Test func configFileProblems() {
        #expect(failureMessage(["--config", "missing.conf"]) == "cannot read config file 'missing.conf'")
        #expect(failureMessage([], environment: ["HERALD_CONFIG": "gone"]) == "cannot read config file 'gone'")
        #expect(failureMessage(["--config"]) == "--config needs a FILE")
    }

    @Test func configFileSyntax() {
        let text = """
            # Herald settings
            \tshards=3   # trailing comment

              connections-max   =   1234
            admin-token = "quoted value"
            log-level = warn
            listen = 127.0.0.1:9999
            """
        let config = loadedConfig(["--config", "h.conf"], files: ["h.conf": text])
        #expect(config?.shards == 3)
        #expect(config?.connectionsMax == 1234)
        #expect(config?.adminToken == "quoted value")
        #expect(config?.logLevel == .warning)
        #expect(config?.listen == HostPort(host: "127.0.0.1", port: 9999))
    }

    @Test func hashInsideQuotesIsPartOfTheValue() {
        let text = "admin-token = \"ab#cd\"  # the token\nlog-level = error#trailing\n"
        let config = loadedConfig(["--config", "h.conf"], files: ["h.conf": text])
        #expect(config?.adminToken == "ab#cd")
        #expect(config?.logLevel == .error)
    }

    @Test func configFileValueMayContainEquals() {
        let config = loadedConfig(["--config", "h.conf"], files: ["h.conf": "admin-token = a=b=c\n"])
        #expect(config?.adminToken == "a=b=c")
    }

    @Test func emptyConfigFileGivesTheDefaults() {
        #expect(loadedConfig(["--config", "h.conf"], files: ["h.conf": ""]) == Config())
        #expect(loadedConfig(["--config", "h.conf"], files: ["h.conf": "# only a comment\n\n"]) == Config())
    }

    @Test func configFileErrorsNameTheFileAndLine() {
        let unknown = "shards = 2\n\n# comment\nbogus-key = 1\n"
        #expect(failureMessage(["--config", "h.conf"], files: ["h.conf": unknown])
                == "h.conf:4: unknown key 'bogus-key'")
        let badValue = "# first\nshards = zero\n"
        #expect(failureMessage(["--config", "h.conf"], files: ["h.conf": badValue])
                == "h.conf:2: bad value 'zero' for shards")
        let noEquals = "shards = 2\nlisten 0.0.0.0:1\n"
        #expect(failureMessage(["--config", "h.conf"], files: ["h.conf": noEquals])
                == "h.conf: line 2: expected 'key = value'")
    }

    @Test func parseFileReportsLineNumbers() throws {
        let pairs = try ConfigLoader.parseFile("\n# c\na = 1\n  b=\"2\"  \n").get()
        #expect(pairs.map { $0.line } == [3, 4])
        #expect(pairs.map { $0.key } == ["a", "b"])
        #expect(pairs.map { $0.value } == ["1", "2"])
    }

    @Test func helpListsEveryOptionAndItsEnvironmentName() {
        guard case .success(.help(let text)) = load(["--help"]) else {
            Issue.record("--help did not return help")
            return
        }
        let lines = text.split(separator: "\n").map(String.init)
        for option in ConfigOption.all {
            let line = lines.first { $0.hasPrefix("  --\(option.name) ") }
            #expect(line != nil, "--help lacks --\(option.name)")
            #expect(line?.hasSuffix("[\(option.environmentName)]") == true, "\(option.name)")
            #expect(line?.contains(option.help) == true, "\(option.name)")
            if let valueName = option.valueName {
                #expect(line?.contains("--\(option.name) \(valueName)") == true, "\(option.name)")
            }
        }
        #expect(text.contains("--config FILE"))
        #expect(text.contains("HERALD_CONFIG"))
    }

    @Test(arguments: [["-h"], ["--shards", "4", "--help"], ["--shards", "0", "--help"]])
    func helpWinsOverOtherFlags(arguments: [String]) {
        guard case .success(.help(let text)) = load(arguments) else {
            Issue.record("\(arguments) did not return help")
            return
        }
        #expect(text == ConfigLoader.helpText())
    }

    @Test func unknownFlagsAndStrayArguments() {
        #expect(failureMessage(["--bogus"]) == "unknown flag '--bogus' (see --help)")
        #expect(failureMessage(["--bogus=1"]) == "unknown flag '--bogus' (see --help)")
        #expect(failureMessage(["shards", "4"]) == "unexpected argument 'shards' (see --help)")
        #expect(failureMessage(["-s"]) == "unexpected argument '-s' (see --help)")
    }

    @Test func flagWithoutValue() {
        #expect(failureMessage(["--shards"]) == "--shards needs a value (N)")
        #expect(failureMessage(["--listen"]) == "--listen needs a value (HOST:PORT)")
    }

    @Test(arguments: [
        ("shards", "0"), ("shards", "257"), ("shards", "x"), ("shards", ""),
        ("connections-max", "0"), ("connections-max", "16000001"),
        ("handshake-timeout", "0"), ("handshake-timeout", "-1"), ("handshake-timeout", "86401"),
        ("handshake-timeout", "abc"), ("ping-interval", "nan"), ("pong-timeout", "inf"),
        ("message-bytes-max", "0"), ("message-bytes-max", "16777217"),
        ("topics-per-connection-max", "0"), ("topics-per-connection-max", "65537"),
        ("topics-max", "0"), ("topics-max", "100000001"),
        ("publish-bytes-max", "0"), ("publish-bytes-max", "67108865"),
        ("send-queue-bytes-max", "4095"), ("send-queue-bytes-max", "1073741825"),
        ("recv-buffer-count", "15"), ("recv-buffer-count", "32769"),
        ("recv-buffer-bytes", "511"), ("recv-buffer-bytes", "65537"),
        ("socket-send-buffer-bytes", "-1"), ("socket-send-buffer-bytes", "67108865"),
        ("fd-reserve", "31"), ("fd-reserve", "100001"),
        ("slow-consumer-policy", "kill"), ("log-level", "trace"), ("admin-token", ""), ("jwt-secret", ""),
        ("listen", "nohost"), ("listen", "host:70000"), ("listen", ":80"), ("listen", "host:"),
        ("admin-listen", "[::1]"), ("admin-listen", "[::1:80"),
    ])
    func badValuesAreRejected(name: String, value: String) {
        #expect(failureMessage(["--\(name)=\(value)"]) == "bad value '\(value)' for --\(name)")
        let option = ConfigOption.named(name)
        #expect(option != nil)
        if let option {
            #expect(failureMessage([], environment: [option.environmentName: value])
                    == "bad value '\(value)' in \(option.environmentName)")
        }
    }

    @Test(arguments: [("shards", "1"), ("shards", "256"), ("connections-max", "16000000"),
                      ("handshake-timeout", "86400"), ("message-bytes-max", "1"),
                      ("send-queue-bytes-max", "4096"), ("fd-reserve", "32"), ("fd-reserve", "100000")])
    func rangeEndsAreAccepted(name: String, value: String) {
        #expect(loadedConfig(["--\(name)", value]) != nil)
    }

    @Test func nonLoopbackAdminNeedsAToken() {
        let refused = failureMessage(["--admin-listen", "0.0.0.0:8081"])
        #expect(refused == "refusing to serve the admin API on non-loopback 0.0.0.0:8081 without --admin-token")
        #expect(failureMessage([], environment: ["HERALD_ADMIN_LISTEN": "[::]:8081"])
                == "refusing to serve the admin API on non-loopback [::]:8081 without --admin-token")
        let allowed = loadedConfig(["--admin-listen", "0.0.0.0:8081", "--admin-token", "t"])
        #expect(allowed?.adminListen == HostPort(host: "0.0.0.0", port: 8081))
        #expect(loadedConfig(["--admin-listen", "[::1]:9000"])?.adminListen == HostPort(host: "::1", port: 9000))
        #expect(loadedConfig(["--admin-listen", "localhost:9000"]) != nil)
    }

    @Test func environmentOutsideTheTableIsIgnored() {
        #expect(loadedConfig([], environment: ["HERALD_BOGUS": "1", "PATH": "/bin"]) == Config())
    }

    @Test func logLevelNames() {
        for level in LogLevel.allCases { #expect(LogLevel.named(level.name) == level) }
        #expect(LogLevel.named("warn") == .warning)
        #expect(LogLevel.named("INFO") == nil)
        #expect(LogLevel.debug < LogLevel.error)
    }
}

@Suite struct HostPortTests {
    @Test(arguments: [
        ("127.0.0.1:8080", "127.0.0.1", 8080), ("0.0.0.0:0", "0.0.0.0", 0),
        ("localhost:65535", "localhost", 65535), ("[::1]:9000", "::1", 9000), ("[::]:80", "::", 80),
        ("[fe80::1%eth0]:443", "fe80::1%eth0", 443), ("example.com:1", "example.com", 1),
    ])
    func parsesHostAndPort(_ example: (String, String, Int)) {
        let (text, host, port) = example
        #expect(HostPort.parse(text) == HostPort(host: host, port: UInt16(port)))
    }

    @Test(arguments: ["", "host", ":80", "host:", "host:65536", "host:-1", "host:8o", "[::1]", "[::1]80",
                      "[::1:80", "[]:80", "[::1]:"])
    func rejectsMalformed(text: String) {
        #expect(HostPort.parse(text) == nil)
    }

    @Test(arguments: [("127.0.0.1", true), ("127.1.2.3", true), ("::1", true), ("localhost", true),
                      ("0.0.0.0", false), ("::", false), ("10.0.0.1", false), ("128.0.0.1", false),
                      ("example.com", false), ("1270.0.0.1", false)])
    func loopback(host: String, expected: Bool) {
        #expect(HostPort(host: host, port: 1).isLoopback == expected)
    }

    @Test func descriptionBracketsIPv6AndRoundTrips() {
        #expect(HostPort(host: "::1", port: 8081).description == "[::1]:8081")
        #expect(HostPort(host: "10.1.2.3", port: 80).description == "10.1.2.3:80")
        for text in ["[::1]:8081", "10.1.2.3:80", "[2001:db8::7]:1"] {
            #expect(HostPort.parse(text)?.description == text)
        }
    }
}

@Suite struct RedisFlagTests {
    @Test func redisIsRepeatableAndTakesAList() {
        let twice = loadedConfig(["--redis", "redis://a", "--redis=redis://b:7000"])
        #expect(twice?.redis.map(\.description) == ["redis://a:6379/0", "redis://b:7000/0"])
        let listed = loadedConfig([], environment: ["HERALD_REDIS": "redis://a, redis://b"])
        #expect(listed?.redis.count == 2)
        // Flags win over the environment as a whole, not item by item.
        let both = loadedConfig(["--redis", "redis://c"], environment: ["HERALD_REDIS": "redis://a,redis://b"])
        #expect(both?.redis.map(\.host) == ["c"])
        #expect(loadedConfig([])?.redis.isEmpty == true)
    }

    @Test func clusterFlagsAreChecked() {
        #expect(failureMessage(["--redis", "redis://a", "--redis", "nope"])?.contains("--redis") == true)
        #expect(failureMessage(["--node-id", "a b"])?.contains("--node-id") == true)
        #expect(loadedConfig(["--node-id", "eu-1.a_b", "--redis-timeout", "0.25"])?.redisTimeoutSeconds == 0.25)
    }
}
