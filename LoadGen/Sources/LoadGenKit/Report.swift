/// The run's results: printed for humans, written as JSON with `--json`.
/// Memory figures: "user" is the server process's RSS growth, "kernel" the
/// machine-wide slab + TCP buffer growth, which on loopback holds BOTH ends
/// of every connection (client and server sockets).
public struct Report: Sendable {
    public var scenario: Scenario
    public var connectionsTarget: Int
    public var connectionsReached = 0
    public var connectedTotal = 0
    public var rampSeconds = 0.0
    public var rings = 0
    public var threads = 0
    public var errors: [(String, Int)] = []
    public var latency: LatencySummary?
    public var lastSubscriberLatency: LatencySummary?
    public var messagesPublished = 0
    public var publishFailures = 0
    /// Publishes sent again (same Idempotency-Key) after a failed attempt.
    public var publishRetries = 0
    /// `gap` messages received: loss the server announced (policy drop).
    public var gapsAnnounced = 0
    public var deliveries = 0
    public var deliveriesExpected = 0
    /// Published messages × readers that ever upgraded (closed ones included).
    public var deliveriesUpperBound = 0
    public var deliverySeconds = 0.0
    public var pingsAnswered = 0
    public var churnClosed = 0
    public var slowConnections = 0
    public var slowClosedByServer = 0
    public var receiveBufferStarved = 0
    /// --codec, and data frames' payload bytes as received and decoded.
    public var codec = Codec.plain
    public var payloadBytesReceived = 0
    public var payloadBytesDecoded = 0
    public var zstdDictionaries = 0
    public var zstdDictionaryBytes = 0
    public var durationSeconds = 0.0
    public var serverPID: Int32?
    public var serverStart: ProcessSample?
    public var serverPeak: ProcessSample?
    public var serverEnd: ProcessSample?
    public var kernelStart: KernelSample?
    public var kernelPeak: KernelSample?
    public var loadgenPeak: ProcessSample?
    public var interrupted = false
    /// `--recover`: the server's samples at the drop and once every dropped
    /// client caught up (rssBytes 0 = reached without a server pid).
    public var recoverServerStart: ProcessSample?
    public var recoverServerEnd: ProcessSample?
    public var recovery: RecoveryReport?
    /// The publish scenario's publishing figures, and the server's samples
    /// from the first publish until the deliveries drained.
    public var publishing: PublishingReport?
    public var publishServerStart: ProcessSample?
    public var publishServerEnd: ProcessSample?

    /// Server CPU from the first publish until the deliveries drained, per
    /// message published (fan-out included).
    public var serverCPUMicrosecondsPerPublish: Double? {
        guard let start = publishServerStart, let end = publishServerEnd, messagesPublished > 0 else { return nil }
        let cpu = end.userSeconds - start.userSeconds + end.systemSeconds - start.systemSeconds
        return (cpu * 1e6 / Double(messagesPublished) * 100).rounded() / 100
    }

    public init(scenario: Scenario, connectionsTarget: Int) {
        self.scenario = scenario
        self.connectionsTarget = connectionsTarget
    }

    public var connectRatePerSecond: Double { rampSeconds > 0 ? Double(connectedTotal) / rampSeconds : 0 }
    public var deliveriesMissing: Int { max(0, deliveriesExpected - deliveries) }
    public var deliveriesPerSecond: Double { deliverySeconds > 0 ? Double(deliveries) / deliverySeconds : 0 }
    public var errorTotal: Int { errors.reduce(0) { $0 + $1.1 } }
    /// More deliveries than published messages × every reader that ever
    /// upgraded: a duplicate the per-connection check could not see.
    public var deliveriesAboveExpected: Int { max(0, deliveries - max(deliveriesExpected, deliveriesUpperBound)) }
    /// Seq defects: duplicates, reordering, unannounced gaps, mix-ups.
    public var seqDefects: Int {
        errors.filter { ["seq_duplicate", "seq_reordered", "seq_gap_unannounced", "seq_mismatch"].contains($0.0) }
            .reduce(0) { $0 + $1.1 }
    }

    static func perConnection(_ bytes: Int, _ connections: Int) -> Int { connections > 0 ? bytes / connections : 0 }

    public var serverRSSDeltaBytes: Int? {
        guard let serverStart, let serverPeak else { return nil }
        return serverPeak.rssBytes - serverStart.rssBytes
    }

    public var kernelDeltaBytes: (slab: Int, unreclaimable: Int, tcp: Int)? {
        guard let kernelStart, let kernelPeak else { return nil }
        return (kernelPeak.slabBytes - kernelStart.slabBytes,
                kernelPeak.slabUnreclaimableBytes - kernelStart.slabUnreclaimableBytes,
                (kernelPeak.tcpMemoryPages - kernelStart.tcpMemoryPages) * 4_096)
    }

    /// Pass: every connection reached, nothing missing, no publish failed,
    /// no seq defect and nothing delivered beyond what was published.
    public var succeeded: Bool {
        !interrupted && connectionsReached >= connectionsTarget - slowClosedByServer
            && connectedTotal >= connectionsTarget && deliveriesMissing == 0 && publishFailures == 0
            && seqDefects == 0 && deliveriesAboveExpected == 0 && (recovery?.succeeded ?? true)
    }

    public var json: String {
        var fields: [String] = []
        fields.append("\"scenario\":\"\(scenario.rawValue)\"")
        fields.append("\"succeeded\":\(succeeded)")
        fields.append("\"interrupted\":\(interrupted)")
        fields.append("\"connections_target\":\(connectionsTarget)")
        fields.append("\"connections_reached\":\(connectionsReached)")
        fields.append("\"connected_total\":\(connectedTotal)")
        fields.append("\"ramp_seconds\":\(rampSeconds)")
        fields.append("\"connect_rate_per_second\":\(connectRatePerSecond.rounded())")
        fields.append("\"rings\":\(rings)")
        fields.append("\"threads\":\(threads)")
        fields.append("\"errors\":{" + errors.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}")
        fields.append("\"errors_total\":\(errorTotal)")
        fields.append("\"messages_published\":\(messagesPublished)")
        fields.append("\"publish_failures\":\(publishFailures)")
        fields.append("\"deliveries\":\(deliveries)")
        fields.append("\"deliveries_expected\":\(deliveriesExpected)")
        fields.append("\"deliveries_missing\":\(deliveriesMissing)")
        fields.append("\"deliveries_above_expected\":\(deliveriesAboveExpected)")
        fields.append("\"seq_defects\":\(seqDefects)")
        fields.append("\"gaps_announced\":\(gapsAnnounced)")
        fields.append("\"publish_retries\":\(publishRetries)")
        fields.append("\"deliveries_per_second\":\(deliveriesPerSecond.rounded())")
        fields.append("\"latency\":" + (latency?.json ?? "null"))
        fields.append("\"last_subscriber_latency\":" + (lastSubscriberLatency?.json ?? "null"))
        fields.append("\"pings_answered\":\(pingsAnswered)")
        fields.append("\"churn_closed\":\(churnClosed)")
        fields.append("\"slow_connections\":\(slowConnections)")
        fields.append("\"slow_closed_by_server\":\(slowClosedByServer)")
        fields.append("\"receive_buffer_starved\":\(receiveBufferStarved)")
        fields.append("\"codec\":\"\(codec.rawValue)\"")
        fields.append("\"payload_bytes_received\":\(payloadBytesReceived)")
        fields.append("\"payload_bytes_decoded\":\(payloadBytesDecoded)")
        fields.append("\"zstd_dictionaries_received\":\(zstdDictionaries)")
        fields.append("\"zstd_dictionary_bytes_received\":\(zstdDictionaryBytes)")
        fields.append("\"duration_seconds\":\(durationSeconds)")
        fields.append("\"recovery\":" + (recovery?.json ?? "null"))
        fields.append("\"publishing\":" + (publishing?.json(published: messagesPublished) ?? "null"))
        fields.append("\"server_cpu_us_per_publish\":" + (serverCPUMicrosecondsPerPublish.map { "\($0)" } ?? "null"))
        if let serverPID, let serverStart, let serverPeak {
            let end = serverEnd ?? serverPeak
            let delta = serverPeak.rssBytes - serverStart.rssBytes
            fields.append("\"server\":{\"pid\":\(serverPID),\"rss_start_bytes\":\(serverStart.rssBytes),"
                + "\"rss_peak_bytes\":\(serverPeak.rssBytes),\"rss_end_bytes\":\(end.rssBytes),"
                + "\"rss_delta_bytes\":\(delta),"
                + "\"rss_bytes_per_connection\":\(Self.perConnection(delta, connectionsReached)),"
                + "\"cpu_user_seconds\":\(end.userSeconds - serverStart.userSeconds),"
                + "\"cpu_system_seconds\":\(end.systemSeconds - serverStart.systemSeconds),"
                + "\"ramp_cpu_user_seconds\":\(serverPeak.userSeconds - serverStart.userSeconds),"
                + "\"ramp_cpu_system_seconds\":\(serverPeak.systemSeconds - serverStart.systemSeconds)}")
        } else {
            fields.append("\"server\":null")
        }
        if let delta = kernelDeltaBytes {
            let total = delta.slab + delta.tcp
            fields.append("\"kernel\":{\"slab_delta_bytes\":\(delta.slab),\"sunreclaim_delta_bytes\":\(delta.unreclaimable),"
                + "\"tcp_mem_delta_bytes\":\(delta.tcp),\"total_delta_bytes\":\(total),"
                + "\"bytes_per_connection_both_ends\":\(Self.perConnection(total, connectionsReached))}")
        } else {
            fields.append("\"kernel\":null")
        }
        if let loadgenPeak {
            fields.append("\"loadgen\":{\"rss_bytes\":\(loadgenPeak.rssBytes),"
                + "\"rss_bytes_per_connection\":\(Self.perConnection(loadgenPeak.rssBytes, connectionsReached)),"
                + "\"cpu_user_seconds\":\(loadgenPeak.userSeconds),\"cpu_system_seconds\":\(loadgenPeak.systemSeconds)}")
        }
        return "{" + fields.joined(separator: ",") + "}\n"
    }

    public var summary: String {
        var lines: [String] = []
        lines.append("herald-loadgen \(scenario.rawValue)\(interrupted ? " (interrupted)" : ""): "
            + (succeeded ? "PASS" : "FAIL"))
        lines.append("  connections: \(connectionsReached) open of \(connectionsTarget) target, \(connectedTotal) upgrades in "
            + "\(String(format2: rampSeconds)) s (\(Int(connectRatePerSecond))/s) over \(rings) rings, \(threads) thread(s)")
        lines.append("  errors: \(errorTotal)" + (errors.filter { $0.1 > 0 }.isEmpty ? ""
            : " (" + errors.filter { $0.1 > 0 }.map { "\($0.0) \($0.1)" }.joined(separator: ", ") + ")"))
        if messagesPublished + publishFailures > 0 || deliveries > 0 {
            lines.append("  published \(messagesPublished) (\(publishFailures) failed, \(publishRetries) retried); deliveries "
                + "\(deliveries) of \(deliveriesExpected) expected, \(deliveriesMissing) missing, "
                + "\(deliveriesAboveExpected) above expected, \(Int(deliveriesPerSecond))/s")
            lines.append("  seq checks: \(seqDefects) defects (duplicate, reordered, unannounced gap, mismatch); "
                + "\(gapsAnnounced) gaps announced by the server")
        }
        if let latency, latency.count > 0 { lines.append("  latency publish→receive: " + latency.line) }
        if let lastSubscriberLatency, lastSubscriberLatency.count > 0 {
            lines.append("  per message, until its last subscriber: " + lastSubscriberLatency.line)
        }
        if scenario == .churn { lines.append("  churn: \(churnClosed) closed and reopened") }
        if scenario == .slow {
            lines.append("  slow: \(slowConnections) stopped reading; \(slowClosedByServer) closed by the server")
        }
        if let recovery { lines.append(contentsOf: recovery.lines) }
        if let publishing { lines.append(contentsOf: publishing.lines(published: messagesPublished)) }
        if let cpu = serverCPUMicrosecondsPerPublish {
            lines.append("  server CPU per publish (first publish until delivered, fan-out included): \(cpu) µs")
        }
        if pingsAnswered > 0 { lines.append("  server pings answered: \(pingsAnswered)") }
        if let delta = serverRSSDeltaBytes, let serverStart, let serverPeak {
            let end = serverEnd ?? serverPeak
            lines.append("  server RSS \(serverStart.rssBytes / 1_048_576) → \(serverPeak.rssBytes / 1_048_576) MiB: "
                + "\(Self.perConnection(delta, connectionsReached)) B/connection (user space); CPU user "
                + "\(String(format2: end.userSeconds - serverStart.userSeconds)) s, system "
                + "\(String(format2: end.systemSeconds - serverStart.systemSeconds)) s")
        }
        if let delta = kernelDeltaBytes {
            lines.append("  kernel: slab +\(delta.slab / 1_048_576) MiB, TCP buffers +\(delta.tcp / 1_048_576) MiB: "
                + "\(Self.perConnection(delta.slab + delta.tcp, connectionsReached)) B/connection (both ends, loopback)")
        }
        if let loadgenPeak {
            lines.append("  load generator RSS \(loadgenPeak.rssBytes / 1_048_576) MiB")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// The publish scenario: how the messages were sent and how fast.
public struct PublishingReport: Sendable, Equatable {
    public var publishers: Int
    public var pipeline: Int
    /// Messages per request (0: one per request, no batch).
    public var batch: Int
    public var requests: Int
    /// From the first request until the last reply.
    public var publishSeconds: Double
    /// Request round trips (send → whole reply).
    public var roundTrip: LatencySummary

    public func publishesPerSecond(_ published: Int) -> Double {
        publishSeconds > 0 ? (Double(published) / publishSeconds).rounded() : 0
    }

    func json(published: Int) -> String {
        "{\"publishers\":\(publishers),\"pipeline\":\(pipeline),\"batch\":\(batch),\"requests\":\(requests),"
            + "\"publish_seconds\":\(publishSeconds),\"publishes_per_second\":\(publishesPerSecond(published)),"
            + "\"round_trip\":\(roundTrip.json)}"
    }

    func lines(published: Int) -> [String] {
        ["  publishing: \(requests) requests over \(publishers) connection(s), \(pipeline) in flight each, "
            + (batch > 0 ? "\(batch) messages per batch" : "one message each") + "; "
            + "\(Int(publishesPerSecond(published))) publishes/s over \(String(format2: publishSeconds)) s",
         "  publish round trip: " + roundTrip.line]
    }
}

/// `--recover`: every subscriber dropped after `after` publishes and
/// reconnected at once with `since`.
public struct RecoveryReport: Sendable, Equatable {
    public var after: Int
    /// Connections dropped, upgraded again, and caught up with their seam.
    public var dropped: Int
    public var rejoined: Int
    public var recovered: Int
    /// `recovered: false` answers (an error for this scenario).
    public var refused: Int
    /// Messages that arrived up to a recovering subscribe's seam.
    public var replayed: Int
    /// From the drop until the last dropped client caught up.
    public var allRecoveredSeconds: Double
    /// Per client, from the drop until it caught up.
    public var perClient: LatencySummary
    public var serverStart: ProcessSample?
    public var serverEnd: ProcessSample?

    public var succeeded: Bool { dropped > 0 && rejoined == dropped && recovered == dropped && refused == 0 }

    /// The server's CPU from the drop until all caught up (reconnects,
    /// subscribes, replays and the live publishes meanwhile).
    public var serverCPUSeconds: Double? {
        guard let serverStart, let serverEnd else { return nil }
        return serverEnd.userSeconds - serverStart.userSeconds + serverEnd.systemSeconds - serverStart.systemSeconds
    }

    public var serverCPUMicrosecondsPerReplayed: Double? {
        guard let cpu = serverCPUSeconds, replayed > 0 else { return nil }
        return (cpu * 1e6 / Double(replayed) * 100).rounded() / 100
    }

    var json: String {
        "{\"after\":\(after),\"dropped\":\(dropped),\"rejoined\":\(rejoined),\"recovered\":\(recovered),"
            + "\"refused\":\(refused),\"replayed\":\(replayed),\"all_recovered_seconds\":\(allRecoveredSeconds),"
            + "\"per_client\":\(perClient.json),"
            + "\"server_cpu_seconds\":\(serverCPUSeconds.map { "\($0)" } ?? "null"),"
            + "\"server_cpu_us_per_replayed\":\(serverCPUMicrosecondsPerReplayed.map { "\($0)" } ?? "null")}"
    }

    var lines: [String] {
        var out = ["  recovery after \(after) publishes: \(dropped) dropped, \(rejoined) reconnected, \(recovered) "
            + "caught up, \(refused) refused; \(replayed) messages replayed; all caught up in "
            + "\(String(format2: allRecoveredSeconds)) s"]
        if perClient.count > 0 { out.append("  per client, drop → caught up: " + perClient.line) }
        if let cpu = serverCPUSeconds {
            out.append("  server CPU from the drop until all caught up: \(String(format2: cpu)) s"
                + (serverCPUMicrosecondsPerReplayed.map { " (\($0) µs per replayed message)" } ?? ""))
        }
        return out
    }
}

extension String {
    /// Two decimals, without Foundation's String(format:).
    init(format2 value: Double) {
        let scaled = (value * 100).rounded() / 100
        self = "\(scaled)"
    }
}
