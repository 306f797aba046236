import HeraldProtocol

/// Every event the engine counts (STYLE habit 10: every drop, close reason
/// and overflow is visible in `/metrics`). Grouped counters share a metric
/// name and differ by one label.
public enum Counter: Int, CaseIterable, Sendable {
    case tcpAccepted
    case acceptErrors
    case connectionsUpgraded
    case connectionsClosed
    case handshakeFailedBadRequest
    case handshakeFailedVersion
    case handshakeFailedTooLarge
    case handshakeFailedNotFound
    case handshakeFailedTimeout
    case handshakeFailedPeerClosed
    case handshakeFailedCapacity
    case handshakeFailedUnauthorized
    case handshakeFailedTLS
    case handshakeFailedOrigin
    case handshakeFailedRateLimited
    case tokensExpired
    case refreshes
    case disconnectsByAdmin
    case refreshesRefused
    case subscribesForbidden
    case subscribesRateLimited
    case publicHTTPRequests
    case close1000
    case close1001
    case close1002
    case close1003
    case close1006
    case close1007
    case close1008
    case close1009
    case close1011
    case close4000
    case close4001
    case close4002
    case closeOther
    case bytesReceived
    case bytesSent
    case messagesReceived
    case clientErrorsSent
    case pingsSent
    case pongTimeouts
    case receiveNoBuffers
    case receiveErrors
    case sendErrors
    case sendPartial
    case sendBatchesExhausted
    case submissionQueueFull
    case acceptPausedFull
    case messagesDelivered
    case messagesDropped
    case slowConsumerDisconnects
    case gapsSent
    case pingsCoalesced
    case sendQueueOverLimit
    case sendQueueFullCloses
    case sendTimeouts
    case sendWaitsForRoom
    case readsPaused
    case readsResumed
    case ioBugErrors
    case submitErrors
    case adminRequestTimeouts
    case idempotentReplays
    case memoryReleases
    case recoveriesSucceeded
    case recoveriesRefused
    case messagesReplayed
    case recoveriesDeferred
    case idempotencyKeysEvicted
    case adminConnectionsEvicted
    case adminConnectionsRefused
    case adminRequestsRefused
    case zstdDictionariesSent
    case tlsErrors
    case tlsHandshakes
    case tlsHandshakesResumed
    case tlsHandovers
    case tlsKeyUpdatesReceived
    case tlsKeyUpdatesSent
    case tlsAlertsSent

    /// (metric name without `herald_`, label name, label value, help)
    public var metric: (name: String, label: String?, value: String?, help: String) {
        switch self {
        case .tcpAccepted: ("tcp_accepted_total", nil, nil, "TCP connections accepted on the public listener")
        case .acceptErrors: ("accept_errors_total", nil, nil, "accept completions that failed")
        case .connectionsUpgraded: ("connections_total", nil, nil, "WebSocket connections ever opened")
        case .connectionsClosed: ("connections_closed_total", nil, nil, "WebSocket connections closed")
        case .handshakeFailedBadRequest: Counter.handshake("bad_request")
        case .handshakeFailedVersion: Counter.handshake("version")
        case .handshakeFailedTooLarge: Counter.handshake("too_large")
        case .handshakeFailedNotFound: Counter.handshake("not_found")
        case .handshakeFailedTimeout: Counter.handshake("timeout")
        case .handshakeFailedPeerClosed: Counter.handshake("peer_closed")
        case .handshakeFailedCapacity: Counter.handshake("capacity")
        case .handshakeFailedUnauthorized: Counter.handshake("unauthorized")
        case .tokensExpired: ("tokens_expired_total", nil, nil, "connections closed (4002) because their token expired")
        case .disconnectsByAdmin: ("admin_disconnects_total", nil, nil, "connections closed (4000) by POST /v1/disconnect")
        case .refreshes: ("token_refreshes_total", nil, nil, "refresh messages that extended a connection's token")
        case .refreshesRefused: ("token_refreshes_refused_total", nil, nil, "refresh messages refused (bad or expired token, another sub)")
        case .subscribesRateLimited: ("subscribes_rate_limited_total", nil, nil, "subscribes and unsubscribes refused (rate_limited) past --subscribes-per-second")
        case .subscribesForbidden: ("subscribes_forbidden_total", nil, nil, "subscribes refused: topic outside the connection token's topics")
        case .publicHTTPRequests: ("public_http_requests_total", nil, nil, "plain HTTP requests answered on the public listener (/healthz)")
        case .close1000: Counter.close("1000")
        case .close1001: Counter.close("1001")
        case .close1002: Counter.close("1002")
        case .close1003: Counter.close("1003")
        case .close1006: Counter.close("1006")
        case .close1007: Counter.close("1007")
        case .close1008: Counter.close("1008")
        case .close1009: Counter.close("1009")
        case .close1011: Counter.close("1011")
        case .close4000: Counter.close("4000")
        case .close4001: Counter.close("4001")
        case .close4002: Counter.close("4002")
        case .closeOther: Counter.close("other")
        case .bytesReceived: ("bytes_received_total", nil, nil, "bytes received from public-listener clients")
        case .bytesSent: ("bytes_sent_total", nil, nil, "bytes sent to public-listener clients")
        case .messagesReceived: ("messages_received_total", nil, nil, "WebSocket data messages received from clients")
        case .clientErrorsSent: ("client_errors_total", nil, nil, "error messages sent to clients (bad_json, unknown_type, bad_topic, too_many_topics, forbidden, topic_limit)")
        case .pingsSent: ("pings_sent_total", nil, nil, "heartbeat pings sent to silent connections")
        case .pongTimeouts: ("pong_timeouts_total", nil, nil, "connections dropped for not answering a ping")
        case .receiveNoBuffers: ("receive_no_buffers_total", nil, nil, "multishot receives parked because the provided-buffer ring was empty")
        case .receiveErrors: ("receive_errors_total", nil, nil, "receives that ended in an error (reset, ...)")
        case .sendErrors: ("send_errors_total", nil, nil, "sends that failed (EPIPE, ECONNRESET, ...)")
        case .sendPartial: ("send_partial_total", nil, nil, "sends that wrote fewer bytes than queued (rest re-sent)")
        case .sendBatchesExhausted: ("send_batches_exhausted_total", nil, nil, "loop turns where a send waited for a free iovec batch")
        case .submissionQueueFull: ("submission_queue_full_total", nil, nil, "times a full SQ was submitted early to make room")
        case .acceptPausedFull: ("accept_paused_full_total", nil, nil, "times a ring stopped accepting because all its slots were taken")
        case .messagesDelivered: ("messages_delivered_total", nil, nil, "published messages queued to a subscriber")
        case .messagesDropped: ("messages_dropped_total", nil, nil, "deliveries dropped by the drop slow-consumer policy")
        case .slowConsumerDisconnects: ("slow_consumer_disconnects_total", nil, nil, "connections closed (1008) by the disconnect slow-consumer policy")
        case .gapsSent: ("gaps_sent_total", nil, nil, "gap messages telling drop-policy subscribers what they missed")
        case .pingsCoalesced: ("pings_coalesced_total", nil, nil, "pings that replaced an unanswered one: one pong answers the latest (RFC 6455 §5.5.3)")
        case .sendQueueOverLimit: ("send_queue_over_limit_total", nil, nil, "times a connection's queue went over --send-queue-bytes-max (its input is then paused)")
        case .sendQueueFullCloses: ("send_queue_full_closes_total", nil, nil, "connections closed (1008) for staying over --send-queue-bytes-max past --pong-timeout")
        case .sendTimeouts: ("send_timeouts_total", nil, nil, "connections whose socket refused bytes for --send-timeout (the slow-consumer policy then acts)")
        case .sendWaitsForRoom: ("send_waits_for_room_total", nil, nil, "times a socket refused bytes and its queue waited for POLLOUT")
        case .readsPaused: ("reads_paused_total", nil, nil, "times a connection's input was paused because its queue was over the limit (backpressure)")
        case .readsResumed: ("reads_resumed_total", nil, nil, "times paused input resumed after the queue drained to half its limit")
        case .ioBugErrors: ("io_bug_errors_total", nil, nil, "completions with an errno only a bug can cause (EBADF, EFAULT, EINVAL, ...); logged")
        case .submitErrors: ("submit_errors_total", nil, nil, "io_uring_enter calls that failed (EBUSY is retried after reaping)")
        case .recoveriesSucceeded: ("recoveries_total", "result", "recovered", "subscribes with since, by result: recovered (nothing missed, or all of it replayed) or not")
        case .messagesReplayed: ("messages_replayed_total", nil, nil, "kept messages sent to recovering subscribers (subscribe with since)")
        case .recoveriesDeferred: ("recoveries_deferred_total", nil, nil, "subscribes with since held until the connection's queue was back under --send-queue-bytes-max")
        case .recoveriesRefused: ("recoveries_total", "result", "not_recovered", "subscribes with since, by result: recovered (nothing missed, or all of it replayed) or not")
        case .memoryReleases: ("memory_releases_total", nil, nil, "times an idle shard gave freed heap pages back to the kernel (malloc_trim)")
        case .idempotentReplays: ("idempotent_replays_total", nil, nil, "publishes answered from an earlier result by Idempotency-Key (nothing published)")
        case .idempotencyKeysEvicted: ("idempotency_keys_evicted_total", nil, nil, "Idempotency-Keys forgotten before their window ended (at the key limit)")
        case .adminRequestTimeouts: ("admin_request_timeouts_total", nil, nil, "admin requests answered 408 because the head or body came too slowly")
        case .adminConnectionsEvicted: ("admin_connections_evicted_total", nil, nil, "idle admin connections that never sent an authorized request, closed to make room")
        case .adminConnectionsRefused: ("admin_connections_refused_total", nil, nil, "admin connections closed at accept: every place held by an authorized client")
        case .adminRequestsRefused: ("admin_requests_refused_total", nil, nil, "admin requests refused for their framing (400, 413, 417, 431, 501) and closed")
        case .handshakeFailedTLS: Counter.handshake("tls")
        case .handshakeFailedOrigin: Counter.handshake("origin")
        case .handshakeFailedRateLimited: Counter.handshake("rate_limited")
        case .zstdDictionariesSent: ("zstd_dictionaries_sent_total", nil, nil, "herald.zstd.v1 dictionaries sent in-band, each to a subscriber of its topic before the first message that needs it")
        case .tlsErrors: ("tls_errors_total", nil, nil, "TLS connections ended by a record-layer failure after the handshake (bad record, alert), or by the peer's close_notify")
        case .tlsHandshakes: ("tls_handshakes_total", nil, nil, "TLS handshakes completed on the public listener")
        case .tlsHandshakesResumed: ("tls_handshakes_resumed_total", nil, nil, "TLS handshakes that resumed a session from a ticket (no certificate signature)")
        case .tlsHandovers: ("tls_record_layer_handovers_total", nil, nil, "TLS 1.3 connections whose record layer herald took over after the handshake, OpenSSL's SSL object freed")
        case .tlsKeyUpdatesReceived: ("tls_key_updates_received_total", nil, nil, "TLS 1.3 KeyUpdate messages received (RFC 8446 §4.6.3)")
        case .tlsKeyUpdatesSent: ("tls_key_updates_sent_total", nil, nil, "TLS 1.3 KeyUpdate messages sent: answers to the peer's requests, and herald's own every 2^24 records")
        case .tlsAlertsSent: ("tls_alerts_sent_total", nil, nil, "fatal TLS alerts herald's record layer sent before ending a connection (bad_record_mac, unexpected_message, ...)")
        }
    }

    private static func handshake(_ reason: String) -> (String, String?, String?, String) {
        ("handshakes_failed_total", "reason", reason, "upgrade requests answered with an error or dropped, by reason")
    }

    private static func close(_ code: String) -> (String, String?, String?, String) {
        ("closes_total", "code", code, "WebSocket connections closed, by close code (1006: TCP ended without a close frame)")
    }

    /// The `handshakes_failed_total` reason of a refused public request.
    static func forRefusal(_ refusal: PublicRefusal) -> Counter {
        switch refusal {
        case .badRequest: .handshakeFailedBadRequest
        case .version: .handshakeFailedVersion
        case .notFound: .handshakeFailedNotFound
        case .capacity: .handshakeFailedCapacity
        case .unauthorized: .handshakeFailedUnauthorized
        case .origin: .handshakeFailedOrigin
        }
    }

    /// The counter for a close code, for `closes_total{code=…}`.
    static func forClose(_ code: UInt16) -> Counter {
        switch code {
        case 1000: .close1000
        case 1001: .close1001
        case 1002: .close1002
        case 1003: .close1003
        case 1006: .close1006
        case 1007: .close1007
        case 1008: .close1008
        case 1009: .close1009
        case 1011: .close1011
        case 4000: .close4000
        case 4001: .close4001
        case 4002: .close4002
        default: .closeOther
        }
    }
}
