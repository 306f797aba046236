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
    /// Multi-node figures; nil on a single node.
    var cluster: ClusterStatus? = nil
    /// TLS certificate reloads; nil without TLS.
    var tls: TLSCertificates? = nil
    /// The trainer thread's queue and counts; nil in reports made without
    /// a publisher (tests).
    var training: Publisher.DictionaryTraining? = nil

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
        if let cluster {
            out += ",\"cluster\":{\"node\":\"\(cluster.nodeID)\",\"redis\":["
            out += cluster.endpoints.indices.map {
                "{\"url\":\"\(cluster.endpoints[$0])\",\"up\":\(cluster.isUp($0))}"
            }.joined(separator: ",") + "]"
            for (name, value) in clusterFigures(cluster) { out += ",\"\(name)\":\(value)" }
            out += "}"
        }
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

    /// Multi-node figures by metric name (`/v1/stats` "cluster" and `/metrics`).
    private func clusterFigures(_ cluster: ClusterStatus) -> [(String, UInt64)] {
        [("cluster_topics_followed", UInt64(cluster.followed.load(ordering: .relaxed))),
         ("redis_reconnects_total", cluster.reconnects.load(ordering: .relaxed)),
         ("cluster_messages_received_total", cluster.messagesReceived.load(ordering: .relaxed)),
         ("cluster_duplicates_total", cluster.duplicates.load(ordering: .relaxed)),
         ("cluster_syncs_total", cluster.syncs.load(ordering: .relaxed)),
         ("cluster_backfilled_total", cluster.backfilled.load(ordering: .relaxed)),
         ("cluster_gap_messages_total", cluster.gapMessages.load(ordering: .relaxed)),
         ("cluster_resets_total", cluster.resets.load(ordering: .relaxed)),
         ("cluster_follows_failed_total", cluster.followsFailed.load(ordering: .relaxed)),
         ("cluster_publishes_total", cluster.publishes.load(ordering: .relaxed)),
         ("cluster_publish_failures_total", cluster.publishFailures.load(ordering: .relaxed)),
         ("cluster_idempotent_replays_total", cluster.idempotentReplays.load(ordering: .relaxed)),
         ("cluster_protocol_errors_total", cluster.protocolErrors.load(ordering: .relaxed))]
    }

    static let clusterHelp: [String: (String, String)] = [
        "cluster_topics_followed": ("gauge", "topics this node follows through Redis (one channel subscription each)"),
        "redis_reconnects_total": ("counter", "reconnections to a Redis instance that had followed topics (each resynced)"),
        "cluster_messages_received_total": ("counter", "messages received from Redis channels"),
        "cluster_duplicates_total": ("counter", "channel messages dropped because a sync had delivered them"),
        "cluster_syncs_total": ("counter", "position reads: new follows, seq jumps, epoch changes, reconnects"),
        "cluster_backfilled_total": ("counter", "messages missed on a channel and delivered from the Redis stream"),
        "cluster_gap_messages_total": ("counter", "messages lost to this node (gone from the stream), announced as gaps"),
        "cluster_resets_total": ("counter", "topics whose sequence restarted in Redis (subscribers told recovered:false)"),
        "cluster_follows_failed_total": ("counter", "first subscribes refused with `unavailable` because Redis was unreachable"),
        "cluster_publishes_total": ("counter", "publishes sequenced through Redis by this node"),
        "cluster_publish_failures_total": ("counter", "publishes answered 503 because Redis was unreachable or refused"),
        "cluster_idempotent_replays_total": ("counter", "publishes answered from an Idempotency-Key stored in Redis"),
        "cluster_protocol_errors_total": ("counter", "malformed messages or replies from Redis (logged, skipped)"),
    ]

    /// `{"label value": n, ...}` for one labelled metric family.
    private func labelled(_ name: String, _ value: (Counter) -> UInt64) -> String {
        let members = Counter.allCases.filter { $0.metric.name == name }
        return "{" + members.map { "\"\($0.metric.value ?? "")\":\(value($0))" }.joined(separator: ",") + "}"
    }

    /// Prometheus text exposition format 0.0.4.
    func prometheus() -> [UInt8] {
        var out = ""
        /// One unlabelled sample with its HELP and TYPE lines.
        func single(_ name: String, _ type: String, _ help: String, _ value: some BinaryInteger) {
            out += "# HELP herald_\(name) \(help)\n# TYPE herald_\(name) \(type)\nherald_\(name) \(value)\n"
        }
        /// A gauge with one sample per shard (`shard="N"`).
        func perShard(_ name: String, _ help: String, _ values: [Int]) {
            out += "# HELP herald_\(name) \(help)\n# TYPE herald_\(name) gauge\n"
            for (index, value) in values.enumerated() { out += "herald_\(name){shard=\"\(index)\"} \(value)\n" }
        }
        single("connections", "gauge", "WebSocket connections open now", openConnections)
        perShard("shard_connections", "WebSocket connections open now, by shard",
                 shards.map { $0.openConnections.load(ordering: .relaxed) })
        let topics = registry.totals()
        single("topics", "gauge", "topics known (published to or subscribed)", topics.topics)
        single("subscriptions", "gauge", "topic subscriptions held now", topics.subscriptions)
        single("messages_published_total", "counter", "messages published through the admin API", topics.published)
        single("topics_refused_total", "counter", "new topics refused at --topics-max", topics.refused)
        let history = registry.historyTotals()
        single("history_messages", "gauge", "messages kept for recovery", history.entries)
        single("history_bytes", "gauge", "bytes of kept messages (frames and bookkeeping)", history.bytes)
        single("history_evicted_total", "counter", "kept messages evicted early by --history-bytes-max", history.evicted)
        let dictionaries = registry.dictionaryTotals
        single("zstd_dictionaries", "gauge", "topics holding a trained zstd dictionary (--zstd-dictionaries-max)",
               dictionaries.count)
        single("zstd_dictionary_bytes", "gauge", "memory the current zstd dictionaries hold (bytes, prepared tables, delivery frames)",
               dictionaries.bytes)
        if let training {
            single("zstd_trainings_queued", "gauge",
                   "trainings waiting for the trainer thread (--zstd-train-after, POST /v1/topics/T/dictionary; at most 1024)",
                   training.queue.count)
            single("zstd_trainings_total", "counter",
                   "dictionaries trained by --zstd-train-after (on the trainer thread, off the admin threads)",
                   training.trained.load(ordering: .relaxed))
            single("zstd_trainings_failed_total", "counter",
                   "--zstd-train-after trainings that made no dictionary: too few kept messages, --zstd-dictionaries-max reached, the topic gone, or zstd could not train",
                   training.failed.load(ordering: .relaxed))
            single("zstd_trainings_skipped_total", "counter",
                   "--zstd-train-after trainings skipped because 1024 were already queued (the topic stays untrained until POST /v1/topics/T/dictionary)",
                   training.skipped.load(ordering: .relaxed))
        }
        single("topics_collected_total", "counter",
               "idle topics freed (no subscribers, nothing published for --topic-idle-seconds)", registry.collectedTotal)
        single("publishes_backlogged_total", "counter",
               "publishes refused (503) because a shard's delivery backlog was full", registry.backlogRefusedTotal)
        single("publish_frames_built_under_lock_total", "counter",
               "publishes whose frames were built inside the registry lock: every one while no subscriber negotiated compression (a plain frame is cheap); with permessage-deflate or zstd subscribers, only a topic's first publish or two to one topic at once, the others compressing before they take it",
               registry.framesBuiltUnderLockTotal)
        perShard("shard_delivery_backlog_bytes", "published bytes waiting for each shard",
                 registry.queues.map { $0.pendingBytes.load(ordering: .relaxed) })
        perShard("shard_delivery_backlog_messages", "published messages waiting for each shard",
                 registry.queues.map { $0.pendingCount.load(ordering: .relaxed) })
        perShard("shard_send_queue_bytes", "bytes queued on each shard's connections, not yet taken by their sockets",
                 shards.map { $0.sendQueueBytes.load(ordering: .relaxed) })
        perShard("shard_connections_over_send_limit",
                 "connections whose queue is over --send-queue-bytes-max (input paused)",
                 shards.map { $0.connectionsOverLimit.load(ordering: .relaxed) })
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
            help: "how long a publish held the topic registry's lock (sequencing and queueing its frames, which are built and compressed before it but for herald_publish_frames_built_under_lock_total)",
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
        if let cluster {
            out += "# HELP herald_redis_up whether this node's connections to a Redis instance are up\n"
            out += "# TYPE herald_redis_up gauge\n"
            for (index, endpoint) in cluster.endpoints.enumerated() {
                out += "herald_redis_up{redis=\"\(endpoint)\"} \(cluster.isUp(index) ? 1 : 0)\n"
            }
            for (name, value) in clusterFigures(cluster) {
                let (type, help) = Self.clusterHelp[name] ?? ("counter", name)
                single(name, type, help, value)
            }
        }
        if let tls {
            out += "# HELP herald_tls_reloads_total SIGHUP reloads of --tls-cert/--tls-key, by result\n"
            out += "# TYPE herald_tls_reloads_total counter\n"
            out += "herald_tls_reloads_total{result=\"ok\"} \(tls.reloads.load(ordering: .relaxed))\n"
            out += "herald_tls_reloads_total{result=\"failed\"} \(tls.reloadFailures.load(ordering: .relaxed))\n"
        }
        out += "# HELP herald_uptime_seconds seconds since start\n# TYPE herald_uptime_seconds gauge\n"
        out += "herald_uptime_seconds \((Clock.monotonicMilliseconds() - startedMilliseconds) / 1000)\n"
        return Array(out.utf8)
    }
}
