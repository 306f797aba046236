/// What a run does (`herald-loadgen SCENARIO …`).
public enum Scenario: String, Sendable, CaseIterable {
    /// N subscribed connections held for `--duration`, answering the server's pings.
    case hold
    /// N subscribers over K topics; M timestamped messages published; latency per delivery.
    case fanout
    /// Like hold, but `--churn-rate` connections per second are closed and reopened.
    case churn
    /// Like fanout, but `--slow-fraction` of the subscribers stop reading.
    case slow
    /// Like fanout, published as fast as the server takes it (or at
    /// `--publish-rate`) by `--publishers` pipelined connections, singly or
    /// in batches: publishes/s, publish round trips, server CPU per publish.
    case publish
}

/// Every knob of a run, with the default and why. Parsed by `OptionsParser`
/// (no swift-argument-parser: the project keeps its dependency tree small and
/// `herald --help` is hand-written the same way).
public struct Options: Sendable, Equatable {
    public var scenario: Scenario = .hold
    /// Destination addresses, connections spread round-robin. Loopback needs
    /// ≥ 16 of them for 1M connections (≈ 64k source ports per destination).
    public var targets: [Target] = [Target(address: 0x7F00_0001, port: 8080)]
    public var connections = 1_000
    /// Connections opened per second during the ramp.
    public var connectRatePerSecond = 10_000
    /// Hold time once the ramp is over (hold, churn), or the wait after the
    /// last publish for fanout/slow before giving up on missing deliveries.
    public var durationSeconds = 10.0
    public var topics = 1
    public var messages = 100
    public var publishRatePerSecond = 100.0
    /// Extra bytes of padding in each published message's data.
    public var payloadBytes = 0
    /// `--chat`: messages look like a chat application's events.
    public var chatPayload = false
    /// What subscribers ask to be compressed with (every message is decoded).
    public var codec = Codec.plain
    public var subscribeURL = URLTemplate.herald
    /// Sent as a text frame after the handshake when the server subscribes
    /// by message rather than by URL (`{topic}` is substituted).
    public var subscribeMessage: String?
    public var publishURL = "http://127.0.0.1:8081/v1/publish?topic={topic}"
    public var publishHeaders: [String] = []
    /// 0 = ceil(connections / ringFilesMax).
    public var rings = 0
    /// One ring's file table ≤ RLIMIT_NOFILE (20,000 here, NOTES.md); 19,000
    /// leaves room for the process's own descriptors.
    public var ringFilesMax = 19_000
    /// Threads driving the rings. 1 by default: the server shares the machine.
    public var threads = 1
    public var churnRatePerSecond = 100
    public var slowFraction = 0.1
    /// publish: HTTP connections publishing, requests in flight on each,
    /// messages per request (0 = single publishes, else batches).
    public var publishers = 4
    public var pipeline = 8
    public var batch = 0
    /// fanout: after this many publishes every subscriber drops its
    /// connection and reconnects at once, subscribing with `since` (Herald's
    /// recovery); nil = never.
    public var recoverAfter: Int?
    public var serverPID: Int32?
    public var jsonPath: String?
    public var handshakeTimeoutSeconds = 10.0
    /// Ramp gives up after this long (0 = connections / rate × 2 + 30 s).
    public var rampTimeoutSeconds = 0.0
    /// Pause between "all subscribed" and the first publish.
    public var settleSeconds = 1.0
    /// Provided receive buffers per ring (power of two ≤ 32768) and their size.
    public var buffersPerRing = 1_024
    public var bufferBytes = 2_048
    public var quiet = false

    public init() {}

    /// Herald's in-band subscribe (`--recover` uses it unless told otherwise).
    public static let heraldSubscribe = #"{"type":"subscribe","topic":"{topic}"}"#

    public var ringCount: Int {
        rings > 0 ? rings : max(1, (connections + ringFilesMax - 1) / ringFilesMax)
    }

    public var effectiveRampTimeoutSeconds: Double {
        rampTimeoutSeconds > 0 ? rampTimeoutSeconds
            : Double(connections) / Double(max(1, connectRatePerSecond)) * 2 + 30
    }
}

public struct UsageError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

public enum OptionsParser {
    /// `nil` result means "--help was asked for".
    public static func parse(_ arguments: [String]) throws -> Options? {
        var options = Options()
        var index = 0
        var sawScenario = false
        func value(_ flag: String) throws -> String {
            index += 1
            guard index < arguments.count else { throw UsageError("\(flag) needs a value") }
            return arguments[index]
        }
        func int(_ flag: String, min: Int = 0) throws -> Int {
            let text = try value(flag)
            guard let number = Int(text.replacingUnderscores), number >= min else {
                throw UsageError("\(flag): expected an integer ≥ \(min), got '\(text)'")
            }
            return number
        }
        func double(_ flag: String) throws -> Double {
            let text = try value(flag)
            guard let number = Double(text), number >= 0 else {
                throw UsageError("\(flag): expected a number ≥ 0, got '\(text)'")
            }
            return number
        }
        while index < arguments.count {
            let argument = arguments[index]
            switch argument {
            case "-h", "--help": return nil
            case "--targets": options.targets = try Target.parseList(try value(argument))
            case "--connections": options.connections = try int(argument, min: 1)
            case "--rate": options.connectRatePerSecond = try int(argument, min: 1)
            case "--duration": options.durationSeconds = try double(argument)
            case "--topics": options.topics = try int(argument, min: 1)
            case "--messages": options.messages = try int(argument)
            case "--publish-rate": options.publishRatePerSecond = try double(argument)
            case "--payload-bytes": options.payloadBytes = try int(argument)
            case "--chat": options.chatPayload = true
            case "--codec":
                let name = try value(argument)
                guard let codec = Codec(rawValue: name) else {
                    throw UsageError("--codec must be plain, deflate or zstd (not '\(name)')")
                }
                options.codec = codec
            case "--sub-url": options.subscribeURL = try URLTemplate(try value(argument))
            case "--sub-message": options.subscribeMessage = try value(argument)
            case "--pub-url": options.publishURL = try value(argument)
            case "--pub-header": options.publishHeaders.append(try value(argument))
            case "--rings": options.rings = try int(argument, min: 1)
            case "--ring-files-max": options.ringFilesMax = try int(argument, min: 1)
            case "--threads": options.threads = try int(argument, min: 1)
            case "--churn-rate": options.churnRatePerSecond = try int(argument)
            case "--recover": options.recoverAfter = try int(argument, min: 1)
            case "--publishers": options.publishers = try int(argument, min: 1)
            case "--pipeline": options.pipeline = try int(argument, min: 1)
            case "--batch": options.batch = try int(argument)
            case "--slow-fraction":
                options.slowFraction = try double(argument)
                guard options.slowFraction <= 1 else { throw UsageError("--slow-fraction must be within 0…1") }
            case "--server-pid":
                let pid = try int(argument, min: 1)
                options.serverPID = Int32(pid)
            case "--json": options.jsonPath = try value(argument)
            case "--handshake-timeout": options.handshakeTimeoutSeconds = try double(argument)
            case "--ramp-timeout": options.rampTimeoutSeconds = try double(argument)
            case "--settle": options.settleSeconds = try double(argument)
            case "--buffers": options.buffersPerRing = try int(argument, min: 1)
            case "--buffer-bytes": options.bufferBytes = try int(argument, min: 256)
            case "--quiet": options.quiet = true
            default:
                if !argument.hasPrefix("-"), !sawScenario, let scenario = Scenario(rawValue: argument) {
                    options.scenario = scenario
                    sawScenario = true
                } else {
                    throw UsageError("unknown argument '\(argument)' (see --help)")
                }
            }
            index += 1
        }
        guard sawScenario else {
            throw UsageError("a scenario is required: \(Scenario.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard options.buffersPerRing & (options.buffersPerRing - 1) == 0, options.buffersPerRing <= 32_768 else {
            throw UsageError("--buffers must be a power of two ≤ 32768 (kernel limit)")
        }
        if options.scenario != .publish && (sawPublishOnly(arguments)) {
            throw UsageError("--publishers, --pipeline and --batch are for the publish scenario")
        }
        if options.scenario == .publish && !arguments.contains("--publish-rate") {
            options.publishRatePerSecond = 0  // as fast as the server takes them
        }
        if let after = options.recoverAfter {
            guard options.scenario == .fanout else { throw UsageError("--recover is for the fanout scenario") }
            guard after < options.messages else {
                throw UsageError("--recover \(after): must be below --messages (\(options.messages)), or nothing is missed")
            }
            // Recovery needs the `subscribed` reply (its epoch) and a
            // re-subscribe with `since`: subscribing by message, not by URL.
            if options.subscribeURL == .herald { options.subscribeURL = try URLTemplate("ws://{host}/ws") }
            guard !options.subscribeURL.hasTopic else {
                throw UsageError("--recover subscribes by message: give a --sub-url without {topic}")
            }
            if options.subscribeMessage == nil { options.subscribeMessage = Options.heraldSubscribe }
        }
        guard options.subscribeURL.hasTopic || options.subscribeMessage != nil || options.scenario == .hold else {
            throw UsageError("--sub-url has no {topic} and no --sub-message is given: nothing would subscribe")
        }
        return options
    }

    static func sawPublishOnly(_ arguments: [String]) -> Bool {
        arguments.contains("--publishers") || arguments.contains("--pipeline") || arguments.contains("--batch")
    }

    public static let help = """
    herald-loadgen SCENARIO [flags] — real WebSocket clients for Herald (or any WebSocket pub/sub server)

    Scenarios:
      hold     open --connections subscribed clients and hold them for --duration, answering pings
      fanout   --connections subscribers over --topics topics; publish --messages timestamped messages at
               --publish-rate through --pub-url; measures publish→receive latency of every delivery
      churn    like hold, while --churn-rate connections per second are closed and reopened
      slow     like fanout, but --slow-fraction of the subscribers stop reading (socket kept open);
               reports the others' latency and how many stuck ones the server closed
      publish  like fanout, published by --publishers pipelined keep-alive connections, singly or in
               --batch requests, as fast as the server answers (or at --publish-rate); reports
               publishes/s, publish round trips and server CPU per publish. For many small topics
               (e.g. --connections 1000 --topics 1000: one subscriber each)

    Connections:
      --targets LIST          destinations, comma separated; a range spreads over addresses:
                              127.0.0.1-127.0.0.32:8080 (default 127.0.0.1:8080). For >60k loopback
                              connections use ≥ connections/60000 addresses and a server on 0.0.0.0
      --connections N         clients to open (default 1000)
      --rate N                connections opened per second during the ramp (default 10000)
      --ramp-timeout S        give up the ramp after S seconds (default connections/rate×2+30)
      --handshake-timeout S   a connect+upgrade not done in S seconds counts as an error (default 10)
      --sub-url TEMPLATE      WebSocket URL; {host} = target host:port, {topic} = the client's topic
                              (default 'ws://{host}/ws?topics={topic}'); wss:// speaks TLS (OpenSSL,
                              the server's certificate not verified)
      --sub-message TEMPLATE  text frame sent after the upgrade to subscribe, {topic} substituted
                              (e.g. '{"type":"subscribe","topic":"{topic}"}'); default none (URL subscribes)
      --topics K              client i subscribes topic "t{i mod K}" (default 1)

    Publishing (fanout, slow):
      --messages M            messages to publish, round-robin over the topics (default 100)
      --publish-rate R        messages per second (default 100)
      --payload-bytes B       padding added to each message's data (default 0)
      --chat                  publish chat-application events (~200 B of varied JSON) instead of bare fields
      --codec C               plain, deflate (permessage-deflate) or zstd (herald.zstd.v1): what
                              subscribers ask for; every message is decoded and checked (default plain)
      --pub-url TEMPLATE      HTTP/1.1 keep-alive POST target, {topic} substituted
                              (default 'http://127.0.0.1:8081/v1/publish?topic={topic}')
      --pub-header 'K: V'     extra request header (repeatable), e.g. 'Authorization: Bearer T'
      --settle S              wait S seconds after the ramp before publishing (default 1)

    Publish scenario:
      --publishers P          HTTP connections publishing, each its own thread (default 4); topic k is
                              published by connection k mod P, so each topic's order is kept
      --pipeline D            requests in flight per connection (default 8)
      --batch B               messages per request through POST /v1/publish/batch (NDJSON, on the
                              --pub-url's host and port); 0 = one POST /v1/publish per message (default)
      --publish-rate R        default 0 here: as fast as the server answers

    Scenario knobs:
      --duration S            hold/churn: hold time after the ramp; fanout/slow: max wait for
                              deliveries after the last publish (default 10)
      --churn-rate N          churn: connections closed and reopened per second (default 100)
      --slow-fraction F       slow: fraction of subscribers that stop reading (default 0.1)
      --recover N             fanout: after N publishes every subscriber drops its connection and
                              reconnects at once, re-subscribing with since (Herald's recovery;
                              subscribes by message, default sub-url ws://{host}/ws); reports the time
                              until all have recovered, replayed messages and the server's CPU for it.
                              Every seq must still arrive exactly once

    Engine:
      --rings N               io_uring instances (default ceil(connections / ring-files-max))
      --ring-files-max N      direct descriptors per ring, ≤ RLIMIT_NOFILE (default 19000)
      --threads N             threads driving the rings (default 1)
      --buffers N             provided receive buffers per ring, power of two (default 1024)
      --buffer-bytes B        size of each receive buffer (default 2048)

    Report:
      --server-pid PID        sample the server's RSS and CPU (/proc/PID) over the run
      --json FILE             write the report as JSON
      --quiet                 no per-second progress lines

    Exit status: 0 success; 1 connections not all reached, deliveries missing, or errors; 2 usage.
    Ctrl-C stops the run and prints the partial report.
    """
}

extension String {
    /// "1_000_000" reads as 1000000.
    var replacingUnderscores: String { filter { $0 != "_" } }
}
