import HeraldCompression
import HeraldCore
import HeraldIO
import HeraldRedis
import Synchronization

/// The node's side of Redis pub/sub (CONTRACT "Multi-node"): one thread
/// holding, per Redis instance, a subscriber connection (a channel per
/// topic with local subscribers) and a command connection (position and
/// stream reads). It turns every message into frames once — compressed
/// once — and hands them to the shards through the registry in per-topic
/// order. hiredis's synchronous API runs here only, never on a shard.
///
/// Bounds: `followed` holds one entry per topic the registry follows (at
/// most `--topics-max`); SUBSCRIBE/UNSUBSCRIBE go out in commands of at
/// most `channelsPerCommand` channels; a sync reads at most
/// `--history-size` stream entries per topic; what waits in the subscriber
/// socket is bounded by Redis's `client-output-buffer-limit pubsub`
/// (Redis drops a subscriber that falls that far behind: the broker then
/// reconnects and resyncs every topic, announcing what it cannot recover).
final class ClusterBroker: @unchecked Sendable {
    // @unchecked: everything but `stopRequested` is touched only by the
    // broker thread after `start`.
    private enum Phase {
        /// SUBSCRIBE sent, its confirmation not yet read.
        case subscribing
        /// Subscribed; the position read is queued (`pendingSyncs`).
        case syncing
        case live
        /// The instance is down: resubscribed (and resynced from `known`)
        /// when it is back.
        case down
    }

    private struct Followed {
        let instance: Int
        var phase: Phase
        /// The position delivered so far; nil until the first sync (a new
        /// follow, answered with `resolve`).
        var known: FollowPosition?
    }

    private struct Link {
        var subscriber: RedisConnection?
        var command: RedisConnection?
        var syncScript: [UInt8] = []
        var retryAtMilliseconds: UInt64 = 0
        var backoffMilliseconds: UInt64 = ClusterBroker.backoffMinMilliseconds
        var pingSentAtMilliseconds: UInt64?
        var lastPingMilliseconds: UInt64 = 0
        var pendingSyncs: [String] = []
        var isUp: Bool { subscriber != nil }
    }

    let settings: ClusterSettings
    let registry: TopicRegistry
    let requests: FollowRequests
    let status: ClusterStatus
    private var links: [Link]
    private var followed: [String: Followed] = [:]
    /// Topics whose last local subscriber left, oldest first, each once
    /// (`idleListed`): bounded by the followed topics.
    private var idleTopics: [(topic: String, atMilliseconds: UInt64)] = []
    private var idleHead = 0
    private var idleListed: Set<String> = []
    /// This thread's compressors for messages received through Redis.
    private lazy var compressors = Publisher.Compressors(settings.compression)
    private let stopRequested = Atomic<Bool>(false)
    private var thread: SystemThread?

    /// A topic with no local subscriber keeps its channel this long: a page
    /// reload or a reconnect subscribes again within seconds, and then
    /// finds the position and history warm (no sync).
    static let unfollowAfterMilliseconds: UInt64 = 10_000
    /// Channels per SUBSCRIBE/UNSUBSCRIBE command: a resubscribe of 100,000
    /// topics after a reconnect goes out in 100 commands, none huge.
    static let channelsPerCommand = 1_000
    /// Topics synced per pipelined round trip.
    static let syncsPerPipeline = 1_000
    /// Reconnect backoff: from 100 ms doubling to 5 s, with jitter, so
    /// nodes that lost one Redis together do not reconnect in lockstep.
    static let backoffMinMilliseconds: UInt64 = 100
    static let backoffMaxMilliseconds: UInt64 = 5_000
    /// A PING on each subscriber connection this often: a Redis that stops
    /// answering (stuck, partitioned) is found within this plus the timeout.
    static let pingIntervalMilliseconds: UInt64 = 1_000

    init(settings: ClusterSettings, registry: TopicRegistry, requests: FollowRequests, status: ClusterStatus) {
        self.settings = settings
        self.registry = registry
        self.requests = requests
        self.status = status
        links = settings.endpoints.map { _ in Link() }
    }

    /// Connects to every instance it can (the rest retry in the
    /// background) and starts the thread.
    func start() {
        let now = SystemClock.monotonicMilliseconds()
        for instance in links.indices { connect(instance, now: now) }
        thread = SystemThread.start(name: "herald-broker") { [self] in run() }
    }

    func stop() {
        stopRequested.store(true, ordering: .releasing)
        Socket.signalEvent(requests.wakeDescriptor)
        thread?.join()
        thread = nil
    }

    private func run() {
        while !stopRequested.load(ordering: .acquiring) {
            let now = SystemClock.monotonicMilliseconds()
            for instance in links.indices where !links[instance].isUp && now >= links[instance].retryAtMilliseconds {
                connect(instance, now: now)
            }
            takeRequests(now: now)
            unfollowIdle(now: now)
            ping(now: now)
            var descriptors = [requests.wakeDescriptor]
            var owners: [Int] = [-1]
            for instance in links.indices {
                if let subscriber = links[instance].subscriber {
                    descriptors.append(subscriber.descriptor)
                    owners.append(instance)
                }
            }
            for ready in RedisConnection.waitReadable(descriptors, timeoutMilliseconds: 100) {
                if owners[ready] < 0 {
                    Socket.drainEvent(requests.wakeDescriptor)
                } else {
                    readSubscriber(owners[ready])
                }
            }
        }
    }

    // MARK: Connections

    private func connect(_ instance: Int, now: UInt64) {
        do {
            let command = try settings.connect(instance)
            let subscriber = try settings.connect(instance)
            links[instance].syncScript = try ClusterSettings.load(ClusterScripts.sync, on: command)
            links[instance].command = command
            links[instance].subscriber = subscriber
        } catch {
            links[instance].subscriber = nil
            links[instance].command = nil
            let wait = links[instance].backoffMilliseconds
            links[instance].retryAtMilliseconds = now + wait / 2 + UInt64.random(in: 0...wait / 2)
            links[instance].backoffMilliseconds = min(wait * 2, Self.backoffMaxMilliseconds)
            if wait == Self.backoffMinMilliseconds {
                Log.warning("redis unreachable", ["redis": settings.endpoints[instance].description, "error": "\(error)"])
            }
            return
        }
        links[instance].backoffMilliseconds = Self.backoffMinMilliseconds
        links[instance].pingSentAtMilliseconds = nil
        links[instance].lastPingMilliseconds = now
        status.setUp(instance, true)
        // Every topic this node follows there subscribes again; each
        // resyncs from the position it delivered (a gap or reset announced
        // for what cannot be recovered).
        let topics = followed.filter { $0.value.instance == instance }.map(\.key)
        for topic in topics { followed[topic]?.phase = .subscribing }
        if !topics.isEmpty { status.reconnects.add(1, ordering: .relaxed) }
        Log.info("redis connected", ["redis": settings.endpoints[instance].description, "topics": "\(topics.count)"])
        send("SUBSCRIBE", topics, on: instance)
    }

    /// The instance failed: connections dropped, follows still resolving
    /// fail (their subscribers get `unavailable`), live ones wait.
    private func linkDown(_ instance: Int, _ error: any Error) {
        guard links[instance].isUp else { return }
        Log.warning("redis connection lost", ["redis": settings.endpoints[instance].description, "error": "\(error)"])
        let now = SystemClock.monotonicMilliseconds()
        links[instance].subscriber = nil
        links[instance].command = nil
        links[instance].pendingSyncs = []
        links[instance].retryAtMilliseconds = now + Self.backoffMinMilliseconds
        links[instance].backoffMilliseconds = Self.backoffMinMilliseconds * 2
        status.setUp(instance, false)
        for (topic, entry) in followed where entry.instance == instance {
            if entry.known == nil {
                failFollow(topic)
            } else {
                followed[topic]?.phase = .down
            }
        }
    }

    private func failFollow(_ topic: String) {
        followed[topic] = nil
        status.followed.store(followed.count, ordering: .relaxed)
        status.followsFailed.add(1, ordering: .relaxed)
        registry.failFollow(topic: topic)
    }

    /// SUBSCRIBE or UNSUBSCRIBE `topics`' channels, in bounded commands.
    private func send(_ verb: String, _ topics: [String], on instance: Int) {
        guard let subscriber = links[instance].subscriber, !topics.isEmpty else { return }
        do {
            var start = 0
            while start < topics.count {
                let chunk = topics[start..<min(start + Self.channelsPerCommand, topics.count)]
                try subscriber.append([Array(verb.utf8)] + chunk.map { ClusterScripts.channel($0) })
                start += chunk.count
            }
            try subscriber.flush()
        } catch {
            linkDown(instance, error)
        }
    }

    private func ping(now: UInt64) {
        for instance in links.indices {
            guard let subscriber = links[instance].subscriber else { continue }
            if let sent = links[instance].pingSentAtMilliseconds {
                if now - sent > UInt64(settings.timeoutMilliseconds) + Self.pingIntervalMilliseconds {
                    linkDown(instance, RedisError("no PONG within the timeout"))
                }
                continue
            }
            guard now - links[instance].lastPingMilliseconds >= Self.pingIntervalMilliseconds else { continue }
            do {
                try subscriber.append([Array("PING".utf8)])
                try subscriber.flush()
                links[instance].pingSentAtMilliseconds = now
                links[instance].lastPingMilliseconds = now
            } catch {
                linkDown(instance, error)
            }
        }
    }

    // MARK: Follow and unfollow

    private func takeRequests(now: UInt64) {
        let taken = requests.take()
        for entry in taken.idle where idleListed.insert(entry.topic).inserted { idleTopics.append(entry) }
        var subscribe: [[String]] = links.map { _ in [] }
        for topic in taken.follow {
            let instance = settings.instance(of: topic)
            guard links[instance].isUp else {
                // Fail fast: the subscribers get `unavailable` and may retry.
                registry.failFollow(topic: topic)
                status.followsFailed.add(1, ordering: .relaxed)
                continue
            }
            if var entry = followed[topic] {
                // The registry made a new record while the broker still
                // followed the old one (collected in between): answer it
                // with a fresh position read.
                entry.known = nil
                if entry.phase == .live {
                    entry.phase = .syncing
                    links[instance].pendingSyncs.append(topic)
                }
                followed[topic] = entry
                continue
            }
            followed[topic] = Followed(instance: instance, phase: .subscribing, known: nil)
            subscribe[instance].append(topic)
        }
        status.followed.store(followed.count, ordering: .relaxed)
        for instance in links.indices {
            send("SUBSCRIBE", subscribe[instance], on: instance)
            runSyncs(instance)
        }
    }

    /// Drops the channels of topics idle past `unfollowAfterMilliseconds`
    /// (if they still have no subscriber).
    private func unfollowIdle(now: UInt64) {
        guard idleHead < idleTopics.count,
              now - idleTopics[idleHead].atMilliseconds >= Self.unfollowAfterMilliseconds else { return }
        var unsubscribe: [[String]] = links.map { _ in [] }
        while idleHead < idleTopics.count {
            let entry = idleTopics[idleHead]
            guard now - entry.atMilliseconds >= Self.unfollowAfterMilliseconds else { break }
            idleHead += 1
            idleListed.remove(entry.topic)
            guard let state = followed[entry.topic], registry.unfollowIfIdle(topic: entry.topic) else { continue }
            followed[entry.topic] = nil
            unsubscribe[state.instance].append(entry.topic)
        }
        if idleHead > 1024 && idleHead * 2 > idleTopics.count {
            idleTopics.removeFirst(idleHead)
            idleHead = 0
        }
        status.followed.store(followed.count, ordering: .relaxed)
        for instance in links.indices { send("UNSUBSCRIBE", unsubscribe[instance], on: instance) }
    }

    // MARK: Reading

    private func readSubscriber(_ instance: Int) {
        guard let subscriber = links[instance].subscriber else { return }
        do {
            try subscriber.readAvailable()
            while let reply = try links[instance].subscriber?.bufferedReply() {
                handle(reply, from: instance)
                guard links[instance].isUp else { return }
            }
        } catch {
            linkDown(instance, error)
            return
        }
        runSyncs(instance)
    }

    /// One reply on a subscriber connection: a subscribe confirmation, a
    /// message or a pong (RESP2 pub/sub replies are arrays).
    private func handle(_ reply: RedisReply, from instance: Int) {
        if case .status("PONG") = reply {
            // A connection with no channel yet answers PING as a status.
            links[instance].pingSentAtMilliseconds = nil
            return
        }
        guard let parts = reply.elements, let kind = parts.first?.bytes else {
            status.protocolErrors.add(1, ordering: .relaxed)
            return
        }
        switch String(decoding: kind, as: UTF8.self) {
        case "message":
            guard parts.count == 3, let topic = Self.topic(parts[1]), let payload = parts[2].bytes else { break }
            status.messagesReceived.add(1, ordering: .relaxed)
            received(topic, payload, instance: instance)
        case "subscribe":
            guard let topic = Self.topic(parts[1]), followed[topic]?.phase == .subscribing else { break }
            followed[topic]?.phase = .syncing
            links[instance].pendingSyncs.append(topic)
        case "pong":
            links[instance].pingSentAtMilliseconds = nil
        default:
            break  // unsubscribe confirmations
        }
    }

    private static func topic(_ channel: RedisReply) -> String? {
        guard let bytes = channel.bytes, bytes.starts(with: ClusterScripts.channelPrefix) else { return nil }
        return String(decoding: bytes[ClusterScripts.channelPrefix.count...], as: UTF8.self)
    }

    private func received(_ topic: String, _ bytes: [UInt8], instance: Int) {
        guard let entry = followed[topic] else { return }  // unsubscribed since
        guard let message = ClusterMessage.parse(channelMessage: bytes) else {
            status.protocolErrors.add(1, ordering: .relaxed)
            Log.warning("malformed cluster message", ["topic": topic, "bytes": "\(bytes.count)"])
            return
        }
        if entry.phase == .syncing {
            // Its position read is queued: it covers this message (or
            // this one comes after it); read first, then look again.
            runSyncs(instance)
            guard links[instance].isUp else { return }
            return received(topic, bytes, instance: instance)
        }
        guard entry.phase == .live, let known = entry.known else { return }
        switch FollowPlan.arrival(known: known, seq: message.seq, epoch: message.epoch) {
        case .deliver:
            deliver(topic, message)
        case .duplicate:
            status.duplicates.add(1, ordering: .relaxed)
        case .resync:
            followed[topic]?.phase = .syncing
            links[instance].pendingSyncs.append(topic)
            runSyncs(instance)
        }
    }

    // MARK: Syncs

    /// Reads the position and stream of every topic waiting on `instance`
    /// (pipelined) and carries out each plan.
    private func runSyncs(_ instance: Int) {
        while !links[instance].pendingSyncs.isEmpty {
            guard let command = links[instance].command else { return }
            let batch = Array(links[instance].pendingSyncs.prefix(Self.syncsPerPipeline))
            links[instance].pendingSyncs.removeFirst(batch.count)
            let script = links[instance].syncScript
            var commands: [[[UInt8]]] = []
            for topic in batch {
                let known = followed[topic]?.known
                let from = known.map { $0.seq + 1 } ?? 0
                commands.append([Array("EVALSHA".utf8), script, Array("2".utf8),
                                 ClusterScripts.metaKey(topic), ClusterScripts.streamKey(topic),
                                 Array(ClusterSettings.newEpoch().utf8), Array(String(from).utf8),
                                 Array(String(settings.historySize).utf8),
                                 Array(String(settings.topicTTLMilliseconds).utf8),
                                 Array((known?.epoch ?? "").utf8), Array(String(known?.seq ?? 0).utf8)])
            }
            let replies: [RedisReply]
            do {
                replies = try command.pipeline(commands)
            } catch {
                linkDown(instance, error)
                return
            }
            for (topic, reply) in zip(batch, replies) { apply(topic, reply, instance: instance) }
        }
    }

    private func apply(_ topic: String, _ reply: RedisReply, instance: Int) {
        guard var entry = followed[topic], entry.phase == .syncing else { return }
        status.syncs.add(1, ordering: .relaxed)
        if entry.known != nil && !registry.isFollowed(topic) {
            // The registry let the topic go while Redis was away (its held
            // subscribes failed): nothing here follows it any more.
            unfollow(topic, instance: instance)
            return
        }
        guard let result = FollowPlan.parseSync(reply) else {
            status.protocolErrors.add(1, ordering: .relaxed)
            Log.warning("cluster sync failed", ["topic": topic, "reply": reply.errorMessage ?? "malformed"])
            if reply.errorMessage?.hasPrefix("NOSCRIPT") == true {
                // Redis lost its scripts (restarted under us): reconnect.
                linkDown(instance, RedisError("NOSCRIPT"))
            } else if entry.known == nil {
                failFollow(topic)
            } else {
                entry.phase = .live  // the next message tries again
                followed[topic] = entry
            }
            return
        }
        entry.phase = .live
        followed[topic] = entry
        for step in FollowPlan.steps(known: entry.known, position: result.position, entries: result.entries) {
            switch step {
            case .resolve(let position, let kept):
                let messages = kept.map { followedMessage(topic, $0) }
                guard registry.resolveFollowed(topic: topic, position: position, kept: messages) else {
                    // Nobody waits any more (every subscriber left and the
                    // record went): stop following.
                    unfollow(topic, instance: instance)
                    return
                }
                followed[topic]?.known = position
            case .message(let message):
                status.backfilled.add(1, ordering: .relaxed)
                deliver(topic, message)
            case .gap(let from, let to):
                status.gapMessages.add(to - from + 1, ordering: .relaxed)
                registry.gapFollowed(topic: topic, from: from, to: to)
                followed[topic]?.known?.seq = to
            case .reset(let position):
                status.resets.add(1, ordering: .relaxed)
                registry.resetFollowed(topic: topic, position: position)
                followed[topic]?.known = position
            }
        }
    }

    private func unfollow(_ topic: String, instance: Int) {
        followed[topic] = nil
        send("UNSUBSCRIBE", [topic], on: instance)
        status.followed.store(followed.count, ordering: .relaxed)
    }

    private func deliver(_ topic: String, _ message: ClusterMessage) {
        registry.deliverFollowed(topic: topic, message: followedMessage(topic, message))
        followed[topic]?.known?.seq = message.seq
    }

    /// The frames of a message, built and compressed once on this node.
    private func followedMessage(_ topic: String, _ message: ClusterMessage) -> TopicRegistry.FollowedMessage {
        // zstd without a dictionary: dictionaries are not trained in a
        // cluster (Docs/SCALING.md), so a short message often stays plain.
        let frames = Publisher.frames(topic: topic, seq: message.seq, payload: message.payload,
                                      deflater: registry.deflateConnections.load(ordering: .relaxed) > 0
                                          ? compressors.deflater : nil,
                                      zstd: registry.zstdConnections.load(ordering: .relaxed) > 0 ? compressors.zstd : nil,
                                      compressMinBytes: settings.compression.minBytes)
        return TopicRegistry.FollowedMessage(seq: message.seq, frames: frames,
                                             publishedAtMilliseconds: message.publishedAtMilliseconds)
    }
}
