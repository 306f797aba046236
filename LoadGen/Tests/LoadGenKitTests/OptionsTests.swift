import Testing
@testable import LoadGenKit

@Suite struct OptionsTests {
    @Test func defaultsAndScenario() throws {
        let options = try #require(try OptionsParser.parse(["hold"]))
        #expect(options.scenario == .hold)
        #expect(options.connections == 1_000)
        #expect(options.targets == [Target(address: 0x7F00_0001, port: 8080)])
        #expect(options.subscribeURL == URLTemplate.herald)
    }

    @Test func helpReturnsNil() throws {
        #expect(try OptionsParser.parse(["--help"]) == nil)
        #expect(OptionsParser.help.contains("--targets"))
    }

    @Test func everyFlagIsDocumented() {
        for flag in ["--targets", "--connections", "--rate", "--duration", "--topics", "--messages", "--publish-rate",
                     "--payload-bytes", "--sub-url", "--sub-message", "--pub-url", "--pub-header", "--rings",
                     "--ring-files-max", "--threads", "--churn-rate", "--slow-fraction", "--server-pid", "--json",
                     "--handshake-timeout", "--ramp-timeout", "--settle", "--buffers", "--buffer-bytes", "--quiet",
                     "--recover", "--publishers", "--pipeline", "--batch"] {
            #expect(OptionsParser.help.contains(flag), "\(flag) missing from --help")
        }
    }

    @Test func fanoutFlags() throws {
        let options = try #require(try OptionsParser.parse([
            "fanout", "--connections", "1_000_000", "--topics", "4", "--messages", "50", "--rate", "100",
            "--publish-rate", "20", "--json", "out.json", "--server-pid", "42", "--pub-header", "Authorization: Bearer x",
        ]))
        #expect(options.scenario == .fanout)
        #expect(options.connections == 1_000_000)
        #expect(options.topics == 4)
        #expect(options.messages == 50)
        #expect(options.connectRatePerSecond == 100)
        #expect(options.publishRatePerSecond == 20)
        #expect(options.jsonPath == "out.json")
        #expect(options.serverPID == 42)
        #expect(options.publishHeaders == ["Authorization: Bearer x"])
        // 1M connections over rings of 19,000 direct descriptors.
        #expect(options.ringCount == 53)
    }

    @Test func rejectsBadInput() {
        #expect(throws: UsageError.self) { try OptionsParser.parse([]) }
        #expect(throws: UsageError.self) { try OptionsParser.parse(["fly"]) }
        #expect(throws: UsageError.self) { try OptionsParser.parse(["hold", "--connections"]) }
        #expect(throws: UsageError.self) { try OptionsParser.parse(["hold", "--connections", "0"]) }
        #expect(throws: UsageError.self) { try OptionsParser.parse(["hold", "--buffers", "1000"]) }
        #expect(throws: UsageError.self) { try OptionsParser.parse(["hold", "--sub-url", "http://x/ws"]) }
        #expect(throws: UsageError.self) { try OptionsParser.parse(["fanout", "--sub-url", "ws://{host}/ws"]) }
        #expect(throws: UsageError.self) { try OptionsParser.parse(["slow", "--slow-fraction", "2"]) }
    }

    @Test func recoverSubscribesByMessage() throws {
        let options = try #require(try OptionsParser.parse(["fanout", "--messages", "300", "--recover", "100"]))
        #expect(options.recoverAfter == 100)
        // Herald's default URL subscribes silently; recovery needs the reply.
        #expect(options.subscribeURL.text == "ws://{host}/ws")
        #expect(options.subscribeMessage == Options.heraldSubscribe)
        #expect(throws: UsageError.self) { try OptionsParser.parse(["fanout", "--messages", "100", "--recover", "100"]) }
        #expect(throws: UsageError.self) { try OptionsParser.parse(["slow", "--recover", "10"]) }
        #expect(throws: UsageError.self) { try OptionsParser.parse(["fanout", "--recover", "0"]) }
        #expect(throws: UsageError.self) {
            try OptionsParser.parse(["fanout", "--recover", "10", "--sub-url", "ws://{host}/sub?t={topic}"])
        }
    }

    @Test func publishScenarioIsUnpacedByDefault() throws {
        let options = try #require(try OptionsParser.parse(["publish", "--topics", "1000", "--connections", "1000",
                                                            "--publishers", "8", "--pipeline", "16", "--batch", "50"]))
        #expect(options.scenario == .publish && options.publishRatePerSecond == 0)
        #expect(options.publishers == 8 && options.pipeline == 16 && options.batch == 50)
        let paced = try #require(try OptionsParser.parse(["publish", "--publish-rate", "500"]))
        #expect(paced.publishRatePerSecond == 500)
        #expect(throws: UsageError.self) { try OptionsParser.parse(["fanout", "--batch", "10"]) }
        #expect(throws: UsageError.self) { try OptionsParser.parse(["publish", "--pipeline", "0"]) }
    }

    @Test func targetRanges() throws {
        let full = try Target.parseList("127.0.0.1-127.0.0.32:8080")
        #expect(full.count == 32)
        #expect(full.first == Target(address: 0x7F00_0001, port: 8080))
        #expect(full.last?.description == "127.0.0.32:8080")
        let short = try Target.parseList("127.0.0.250-127.0.1.3:9000,10.0.0.1:80")
        #expect(short.map(\.description) == ["127.0.0.250:9000", "127.0.0.251:9000", "127.0.0.252:9000",
                                             "127.0.0.253:9000", "127.0.0.254:9000", "127.0.0.255:9000",
                                             "127.0.1.0:9000", "127.0.1.1:9000", "127.0.1.2:9000", "127.0.1.3:9000",
                                             "10.0.0.1:80"])
        #expect(try Target.parseList("127.0.0.1-16:8080").count == 16)
        #expect(throws: UsageError.self) { try Target.parseList("127.0.0.1") }
        #expect(throws: UsageError.self) { try Target.parseList("127.0.0.9-127.0.0.1:80") }
        #expect(throws: UsageError.self) { try Target.parseList("127.0.0:80") }
        #expect(throws: UsageError.self) { try Target.parseList("127.0.0.1:0") }
    }

    @Test func subscribeURLTemplate() throws {
        let herald = URLTemplate.herald
        let target = Target(address: 0x7F00_0005, port: 8080)
        #expect(herald.hostHeader(target: target) == "127.0.0.5:8080")
        #expect(herald.path(topic: "t3") == "/ws?topics=t3")
        #expect(herald.hasTopic)
        let other = try URLTemplate("ws://example.test:9000/socket/{topic}/live?x={topic}")
        #expect(other.hostHeader(target: target) == "example.test:9000")
        #expect(other.path(topic: "news") == "/socket/news/live?x=news")
        let bare = try URLTemplate("ws://{host}")
        #expect(bare.path(topic: "a") == "/")
    }

    @Test func publishURLTemplate() throws {
        let url = try HTTPURLTemplate("http://127.0.0.1:8081/v1/publish?topic={topic}")
        #expect(url.host == "127.0.0.1")
        #expect(url.port == 8081)
        #expect(url.path(topic: "t0") == "/v1/publish?topic=t0")
        #expect(try HTTPURLTemplate("http://10.1.2.3/p").port == 80)
        #expect(throws: UsageError.self) { try HTTPURLTemplate("https://127.0.0.1/p") }
        #expect(throws: UsageError.self) { try HTTPURLTemplate("http://localhost:1/p") }
    }
}
