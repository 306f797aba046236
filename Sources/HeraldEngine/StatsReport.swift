import HeraldCore

/// `/v1/stats` JSON and `/metrics` Prometheus text, both read from the
/// shards' counters (relaxed atomic loads; figures are a moment's view).
struct StatsReport {
    let shards: [ShardCounters]
    /// The admin threads' counters (each thread writes its own; the
    /// idempotency cache has its own, written under its lock).
    let admin: [ShardCounters]
    let registry: TopicRegistry
    let startedMilliseconds: UInt64

    func total(_ counter: Counter) -> UInt64 {
        shards.reduce(admin.reduce(0) { $0 &+ $1.value(counter) }) { $0 &+ $1.value(counter) }
    }

    var openConnections: Int {
        shards.reduce(0) { $0 + $1.openConnections.load(ordering: .relaxed) }
    }

    func json() -> [UInt8] {
        let topics = registry.totals()
        var out = "{"
        out += "\"connections\":\(openConnections)"
        out += ",\"connections_total\":\(total(.connectionsUpgraded))"
        out += ",\"topics\":\(topics.topics),\"subscriptions\":\(topics.subscriptions)"
        out += ",\"messages_published_total\":\(topics.published)"
        out += ",\"topics_refused_total\":\(topics.refused)"
        out += ",\"messages_delivered_total\":\(total(.messagesDelivered))"
        out += ",\"messages_dropped_total\":\(total(.messagesDropped))"
        out += ",\"slow_consumer_disconnects_total\":\(total(.slowConsumerDisconnects))"
        out += ",\"bytes_sent_total\":\(total(.bytesSent))"
        out += ",\"bytes_received_total\":\(total(.bytesReceived))"
        out += ",\"messages_received_total\":\(total(.messagesReceived))"
        out += ",\"tcp_accepted_total\":\(total(.tcpAccepted))"
        out += ",\"uptime_seconds\":\((Clock.monotonicMilliseconds() - startedMilliseconds) / 1000)"
        out += ",\"handshakes_failed\":" + labelled("handshakes_failed_total") { total($0) }
        out += ",\"closes\":" + labelled("closes_total") { total($0) }
        out += ",\"shards\":["
        for (index, shard) in shards.enumerated() {
            if index > 0 { out += "," }
            out += "{\"shard\":\(index),\"rings\":\(shard.rings)"
            out += ",\"connections\":\(shard.openConnections.load(ordering: .relaxed))"
            out += ",\"connections_total\":\(shard.value(.connectionsUpgraded))"
            out += ",\"messages_delivered_total\":\(shard.value(.messagesDelivered))"
            out += ",\"bytes_sent_total\":\(shard.value(.bytesSent))"
            out += ",\"bytes_received_total\":\(shard.value(.bytesReceived))"
            out += ",\"receive_no_buffers_total\":\(shard.value(.receiveNoBuffers))"
            out += ",\"submission_queue_full_total\":\(shard.value(.submissionQueueFull))}"
        }
        out += "]}"
        return Array(out.utf8)
    }

    /// `{"label value": n, ...}` for one labelled metric family.
    private func labelled(_ name: String, _ value: (Counter) -> UInt64) -> String {
        let members = Counter.allCases.filter { $0.metric.name == name }
        return "{" + members.map { "\"\($0.metric.value ?? "")\":\(value($0))" }.joined(separator: ",") + "}"
    }

    /// Prometheus text exposition format 0.0.4.
    func prometheus() -> [UInt8] {
        var out = ""
        out += "# HELP herald_connections WebSocket connections open now\n# TYPE herald_connections gauge\n"
        out += "herald_connections \(openConnections)\n"
        out += "# HELP herald_shard_connections WebSocket connections open now, by shard\n"
        out += "# TYPE herald_shard_connections gauge\n"
        for (index, shard) in shards.enumerated() {
            out += "herald_shard_connections{shard=\"\(index)\"} \(shard.openConnections.load(ordering: .relaxed))\n"
        }
        let topics = registry.totals()
        out += "# HELP herald_topics topics known (published to or subscribed)\n# TYPE herald_topics gauge\n"
        out += "herald_topics \(topics.topics)\n"
        out += "# HELP herald_subscriptions topic subscriptions held now\n# TYPE herald_subscriptions gauge\n"
        out += "herald_subscriptions \(topics.subscriptions)\n"
        out += "# HELP herald_messages_published_total messages published through the admin API\n"
        out += "# TYPE herald_messages_published_total counter\n"
        out += "herald_messages_published_total \(topics.published)\n"
        out += "# HELP herald_topics_refused_total new topics refused at --topics-max\n"
        out += "# TYPE herald_topics_refused_total counter\n"
        out += "herald_topics_refused_total \(topics.refused)\n"
        let history = registry.historyTotals()
        out += "# HELP herald_history_messages messages kept for recovery\n# TYPE herald_history_messages gauge\n"
        out += "herald_history_messages \(history.entries)\n"
        out += "# HELP herald_history_bytes bytes of kept messages (frames and bookkeeping)\n# TYPE herald_history_bytes gauge\n"
        out += "herald_history_bytes \(history.bytes)\n"
        out += "# HELP herald_history_evicted_total kept messages evicted early by --history-bytes-max\n"
        out += "# TYPE herald_history_evicted_total counter\n"
        out += "herald_history_evicted_total \(history.evicted)\n"
        out += "# HELP herald_topics_collected_total idle topics freed (no subscribers, nothing published for --topic-idle-seconds)\n"
        out += "# TYPE herald_topics_collected_total counter\n"
        out += "herald_topics_collected_total \(registry.collectedTotal)\n"
        out += "# HELP herald_publishes_backlogged_total publishes refused (503) because a shard's delivery backlog was full\n"
        out += "# TYPE herald_publishes_backlogged_total counter\n"
        out += "herald_publishes_backlogged_total \(registry.backlogRefusedTotal)\n"
        out += "# HELP herald_shard_delivery_backlog_bytes published bytes waiting for each shard\n"
        out += "# TYPE herald_shard_delivery_backlog_bytes gauge\n"
        for (index, queue) in registry.queues.enumerated() {
            out += "herald_shard_delivery_backlog_bytes{shard=\"\(index)\"} \(queue.pendingBytes.load(ordering: .relaxed))\n"
        }
        out += "# HELP herald_shard_delivery_backlog_messages published messages waiting for each shard\n"
        out += "# TYPE herald_shard_delivery_backlog_messages gauge\n"
        for (index, queue) in registry.queues.enumerated() {
            out += "herald_shard_delivery_backlog_messages{shard=\"\(index)\"} \(queue.pendingCount.load(ordering: .relaxed))\n"
        }
        out += "# HELP herald_shard_send_queue_bytes bytes queued on each shard's connections, not yet taken by their sockets\n"
        out += "# TYPE herald_shard_send_queue_bytes gauge\n"
        for (index, shard) in shards.enumerated() {
            out += "herald_shard_send_queue_bytes{shard=\"\(index)\"} \(shard.sendQueueBytes.load(ordering: .relaxed))\n"
        }
        out += "# HELP herald_shard_connections_over_send_limit connections whose queue is over --send-queue-bytes-max (input paused)\n"
        out += "# TYPE herald_shard_connections_over_send_limit gauge\n"
        for (index, shard) in shards.enumerated() {
            out += "herald_shard_connections_over_send_limit{shard=\"\(index)\"} \(shard.connectionsOverLimit.load(ordering: .relaxed))\n"
        }
        out += LatencyHistogram.prometheus(
            name: "publish_delivery_seconds",
            help: "from a publish being sequenced until a shard queued it on its subscribers' sockets (sent in the same loop turn), per shard that had subscribers",
            shards.map(\.publishDelivery))
        out += LatencyHistogram.prometheus(
            name: "registry_publish_lock_wait_seconds",
            help: "how long a publish waited for the topic registry's lock (admin threads and shards share it)",
            [registry.publishLockWait])
        out += LatencyHistogram.prometheus(
            name: "registry_publish_lock_hold_seconds",
            help: "how long a publish held the topic registry's lock (sequencing, building and compressing its frame, queueing it)",
            [registry.publishLockHold])
        out += LatencyHistogram.prometheus(
            name: "handshake_seconds", help: "from a TCP accept until the 101 Switching Protocols was queued",
            shards.map(\.handshake))
        var seen = Set<String>()
        for counter in Counter.allCases {
            let metric = counter.metric
            if seen.insert(metric.name).inserted {
                out += "# HELP herald_\(metric.name) \(metric.help)\n# TYPE herald_\(metric.name) counter\n"
            }
            if let label = metric.label, let value = metric.value {
                out += "herald_\(metric.name){\(label)=\"\(value)\"} \(total(counter))\n"
            } else {
                out += "herald_\(metric.name) \(total(counter))\n"
            }
        }
        out += "# HELP herald_uptime_seconds seconds since start\n# TYPE herald_uptime_seconds gauge\n"
        out += "herald_uptime_seconds \((Clock.monotonicMilliseconds() - startedMilliseconds) / 1000)\n"
        return Array(out.utf8)
    }
}
