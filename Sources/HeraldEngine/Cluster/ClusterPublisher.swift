import HeraldCore
import HeraldIO
import HeraldRedis

/// Publishing on a node of a cluster (CONTRACT "Multi-node"): each publish
/// runs `ClusterScripts.publish` in the topic's Redis, which takes the
/// seq, keeps the epoch, appends to the stream and PUBLISHes — every node
/// (this one included) then delivers it from its channel subscription.
///
/// One per admin thread: its connections are used by that thread alone.
/// A publish waits at most `--redis-timeout` for its Redis; an instance
/// that just failed is not tried again for `retryAfterFailureMilliseconds`,
/// so publishes during an outage get their 503 at once.
/// Redis could not answer (the admin API says 503).
struct ClusterUnavailable: Error {
    let reason: String

    init(_ reason: String) {
        self.reason = reason
    }
}

final class ClusterPublisher {
    private struct Link {
        var connection: RedisConnection?
        var script: [UInt8] = []
        var failedAtMilliseconds: UInt64?
    }

    let settings: ClusterSettings
    let status: ClusterStatus
    private var links: [Link]
    /// 250 ms: a Redis back from a restart takes publishes again within a
    /// quarter second; a down one costs one connect attempt per quarter
    /// second per admin thread, not one per publish.
    static let retryAfterFailureMilliseconds: UInt64 = 250

    init(settings: ClusterSettings, status: ClusterStatus) {
        self.settings = settings
        self.status = status
        links = settings.endpoints.map { _ in Link() }
    }

    /// Publishes `jobs` in order (per-topic order kept: one connection per
    /// instance, commands pipelined in order); one outcome each.
    func publish(_ jobs: [(topic: String, payload: Publisher.Payload)]) -> [TopicRegistry.PublishOutcome] {
        var outcomes = [TopicRegistry.PublishOutcome](repeating: .unavailable("not attempted"), count: jobs.count)
        var byInstance: [[Int]] = links.map { _ in [] }
        for (index, job) in jobs.enumerated() { byInstance[settings.instance(of: job.topic)].append(index) }
        for (instance, indices) in byInstance.enumerated() where !indices.isEmpty {
            run(indices, of: jobs, on: instance, into: &outcomes)
        }
        for outcome in outcomes {
            if case .published = outcome {
                status.publishes.add(1, ordering: .relaxed)
            } else {
                status.publishFailures.add(1, ordering: .relaxed)
            }
        }
        return outcomes
    }

    private func run(_ indices: [Int], of jobs: [(topic: String, payload: Publisher.Payload)], on instance: Int,
                     into outcomes: inout [TopicRegistry.PublishOutcome]) {
        var remaining = indices
        // Twice at most: a NOSCRIPT (Redis restarted and lost its scripts)
        // reloads the script and runs the refused publishes again — they
        // did not run, so nothing is published twice.
        for _ in 0..<2 where !remaining.isEmpty {
            guard let connection = connection(instance) else {
                for index in remaining { outcomes[index] = .unavailable(unreachable(instance)) }
                return
            }
            let commands = remaining.map { command(jobs[$0].topic, jobs[$0].payload, script: links[instance].script) }
            let replies: [RedisReply]
            do {
                replies = try connection.pipeline(commands)
            } catch {
                fail(instance, error)
                // Some may have run before the connection failed: the
                // publisher's retry with an Idempotency-Key is what makes
                // that safe (Docs/SCALING.md "Failure semantics").
                for index in remaining { outcomes[index] = .unavailable(unreachable(instance)) }
                return
            }
            var again: [Int] = []
            for (index, reply) in zip(remaining, replies) {
                if let parts = reply.elements, parts.count == 2, let seq = parts[0].integer, seq > 0,
                   let epoch = parts[1].text {
                    outcomes[index] = .published(seq: UInt64(seq), epoch: epoch)
                } else if reply.errorMessage?.hasPrefix("NOSCRIPT") == true {
                    again.append(index)
                    links[instance].script = []
                } else {
                    status.protocolErrors.add(1, ordering: .relaxed)
                    Log.warning("cluster publish failed", ["topic": jobs[index].topic,
                                                           "reply": reply.errorMessage ?? "malformed"])
                    outcomes[index] = .unavailable("redis refused the publish: \(reply.errorMessage ?? "malformed reply")")
                }
            }
            remaining = again
        }
    }

    private func command(_ topic: String, _ payload: Publisher.Payload, script: [UInt8]) -> [[UInt8]] {
        let (kind, data) = ClusterMessage.kind(of: payload)
        return [Array("EVALSHA".utf8), script, Array("2".utf8),
                ClusterScripts.metaKey(topic), ClusterScripts.streamKey(topic), ClusterScripts.channel(topic),
                Array(ClusterSettings.newEpoch().utf8), [kind], data,
                Array(String(settings.historySize).utf8), Array(String(settings.historyTTLMilliseconds).utf8),
                Array(String(settings.topicTTLMilliseconds).utf8)]
    }

    /// The connection to `instance` with the publish script loaded, or nil
    /// when it cannot be had now.
    private func connection(_ instance: Int) -> RedisConnection? {
        if let connection = links[instance].connection, !links[instance].script.isEmpty { return connection }
        let now = SystemClock.monotonicMilliseconds()
        if let failed = links[instance].failedAtMilliseconds, now - failed < Self.retryAfterFailureMilliseconds {
            return nil
        }
        do {
            let connection = try links[instance].connection ?? settings.connect(instance)
            links[instance].script = try ClusterSettings.load(ClusterScripts.publish, on: connection)
            links[instance].connection = connection
            links[instance].failedAtMilliseconds = nil
            return connection
        } catch {
            fail(instance, error)
            return nil
        }
    }

    private func fail(_ instance: Int, _ error: any Error) {
        links[instance].connection = nil
        links[instance].script = []
        links[instance].failedAtMilliseconds = SystemClock.monotonicMilliseconds()
        Log.debug("cluster publish: redis unreachable", ["redis": settings.endpoints[instance].description,
                                                          "error": "\(error)"])
    }

    private func unreachable(_ instance: Int) -> String {
        "redis \(settings.endpoints[instance]) unreachable; retry later"
    }

    // MARK: Reads for the admin API

    /// `topic`'s seq and epoch in Redis (nil: no meta there), or why
    /// Redis could not be asked.
    func position(_ topic: String) -> Result<FollowPosition?, ClusterUnavailable> {
        history(topic, since: 0, limit: 0).map { $0?.position }
    }

    /// `topic`'s position and its stream entries after `since`, at most
    /// `limit` (`GET /v1/topics/T/history` in a cluster: every node answers
    /// the same). Nil when the topic has no meta in Redis.
    func history(_ topic: String, since: UInt64,
                 limit: Int) -> Result<(position: FollowPosition, entries: [ClusterMessage])?, ClusterUnavailable> {
        let instance = settings.instance(of: topic)
        guard let connection = connection(instance) else { return .failure(ClusterUnavailable(unreachable(instance))) }
        var commands: [[[UInt8]]] = [[Array("HMGET".utf8), ClusterScripts.metaKey(topic), Array("epoch".utf8),
                                      Array("seq".utf8)]]
        if limit > 0 {
            commands.append([Array("XRANGE".utf8), ClusterScripts.streamKey(topic), Array("\(since + 1)-0".utf8),
                             Array("+".utf8), Array("COUNT".utf8), Array("\(limit)".utf8)])
        }
        do {
            let replies = try connection.pipeline(commands)
            guard let meta = replies[0].elements, meta.count == 2 else {
                return .failure(ClusterUnavailable("malformed reply from redis"))
            }
            guard let epoch = meta[0].text, let seq = meta[1].integer, seq >= 0 else { return .success(nil) }
            let entries = (replies.count > 1 ? replies[1].elements ?? [] : []).compactMap {
                ClusterMessage.parse(streamEntry: $0)
            }
            return .success((FollowPosition(epoch: epoch, seq: UInt64(seq)), entries))
        } catch {
            fail(instance, error)
            return .failure(ClusterUnavailable(unreachable(instance)))
        }
    }

    // MARK: Idempotency across nodes

    /// Runs `body` once per `Idempotency-Key` across every node: the key is
    /// claimed in Redis (`SET NX PX window`) before the publish and holds
    /// the response after it, so a retry on any node within the window
    /// gets the first response. A failed publish releases the claim.
    func idempotent(key: String, fingerprint: [UInt8], windowMilliseconds: UInt64,
                    _ body: () -> AdminRouter.Response) -> AdminRouter.Response {
        let instance = JumpHash.bucket(name: key, buckets: settings.endpoints.count)
        guard let connection = connection(instance) else { return Self.unavailableResponse }
        let redisKey = ClusterScripts.idempotencyKey(key)
        let window = Array(String(windowMilliseconds).utf8)
        do {
            let claim = try connection.command([Array("SET".utf8), redisKey, [UInt8(ascii: "P")] + fingerprint,
                                                Array("NX".utf8), Array("PX".utf8), window])
            if claim == .null {
                let stored = try connection.command([Array("GET".utf8), redisKey])
                return replay(stored, fingerprint: fingerprint) ?? body()
            }
            let response = body()
            // The admin thread may have lost its connection while publishing.
            guard let after = self.connection(instance) else { return response }
            if response.status == .ok {
                var value = [UInt8(ascii: "D")] + fingerprint
                value += Array(String(response.status.code).utf8)
                value += response.body
                _ = try after.command([Array("SET".utf8), redisKey, value, Array("PX".utf8), window])
            } else {
                _ = try after.command([Array("DEL".utf8), redisKey])
            }
            return response
        } catch {
            fail(instance, error)
            return Self.unavailableResponse
        }
    }

    /// The response a stored value answers, or nil when the key expired
    /// between the claim and the read (the caller publishes).
    private func replay(_ stored: RedisReply, fingerprint: [UInt8]) -> AdminRouter.Response? {
        guard let value = stored.bytes, value.count >= 1 + fingerprint.count else { return nil }
        guard Array(value[1..<(1 + fingerprint.count)]) == fingerprint else {
            return AdminRouter.error(.unprocessableContent, "Idempotency-Key was already used for a different request")
        }
        if value[0] == UInt8(ascii: "P") {
            return AdminRouter.error(.conflict, "a request with this Idempotency-Key is in progress; retry later",
                                     headers: [("Retry-After", "1")])
        }
        let rest = Array(value[(1 + fingerprint.count)...])
        guard rest.count >= 3 else { return nil }
        status.idempotentReplays.add(1, ordering: .relaxed)
        return AdminRouter.Response(status: .ok, contentType: "application/json", body: Array(rest[3...]),
                                    headers: [("Idempotent-Replayed", "true")])
    }

    static let unavailableResponse = AdminRouter.error(.serviceUnavailable, "redis unreachable; retry later",
                                                       headers: [("Retry-After", "1")])
}
