import HeraldCore
import HeraldIO
import HeraldProtocol

/// Maps one admin request to its response (CONTRACT "Admin listener").
/// One per admin thread, used by that thread only. A class: as a struct
/// of eight references it was copied — every reference retained and
/// released — into the closures of each request it answered.
final class AdminRouter {
    let token: String?
    let stats: StatsReport
    let publisher: Publisher
    /// Publish results by `Idempotency-Key` (admin thread only).
    let idempotency: IdempotencyCache
    /// Commands to the shards (nil in unit tests without shards).
    let control: ShardControl?
    /// `--publish-bytes-max`: one message of a batch is bounded like a
    /// single publish (the batch's body by `--batch-bytes-max`).
    let publishBytesMax: Int
    /// Multi-node: this admin thread's Redis publisher (each thread has its
    /// own connections); nil on a single node.
    var cluster: ClusterPublisher?
    var clusterStatus: ClusterStatus?
    /// This admin thread's deferred shard wake-ups, flushed by the admin
    /// server after each batch of completions it handled (every burst
    /// they carried answered); nil wakes a shard at each publish (unit tests).
    var wakes: ShardWakes?
    /// The admin server's eventfd: when set, `POST /v1/disconnect` answers
    /// later (`Response.awaited`) instead of holding the thread until every
    /// shard replied; nil waits in place (unit tests without a server).
    var awaitedAnswerDescriptor: Int32?
    /// How long an awaited answer waits for the shards before its 503.
    var awaitedAnswerTimeoutMilliseconds = ShardControl.replyTimeoutMilliseconds

    init(token: String?, stats: StatsReport, publisher: Publisher, control: ShardControl? = nil,
         idempotency: IdempotencyCache = IdempotencyCache(windowMilliseconds: 300_000, keysMax: 100_000),
         publishBytesMax: Int = Config().publishBytesMax) {
        self.token = token
        self.stats = stats
        self.publisher = publisher
        self.idempotency = idempotency
        self.control = control
        self.publishBytesMax = publishBytesMax
    }

    struct Response {
        let status: HTTPStatus
        let contentType: String
        let body: [UInt8]
        var headers: [(String, String)] = []
        /// Set on an answer that is not ready: the server writes
        /// `awaited.answer` once it gives one, and nothing of this response.
        var awaited: AwaitedAnswer? = nil
    }

    /// An answer that is not ready when its request is read: `POST
    /// /v1/disconnect` waits for the shards (the last one to reply rings the
    /// server's eventfd), `POST /v1/topics/T/dictionary` for the trainer
    /// thread (which rings it when done). A 503 at its deadline.
    final class AwaitedAnswer: Sendable {
        enum Source: Sendable {
            case disconnect(Countdown)
            case training(Publisher.TrainingRequest)
        }
        let source: Source
        let deadlineMilliseconds: UInt64

        init(_ source: Source, deadlineMilliseconds: UInt64) {
            self.source = source
            self.deadlineMilliseconds = deadlineMilliseconds
        }

        /// The answer, or nil while it is not ready and the deadline has
        /// not passed.
        func answer(nowMilliseconds: UInt64) -> Response? {
            switch source {
            case .disconnect(let reply):
                let result = reply.peek()
                if result.complete { return AdminRouter.disconnected(result.total) }
                guard nowMilliseconds >= deadlineMilliseconds else { return nil }
                return AdminRouter.disconnectTimedOut(result.total)
            case .training(let request):
                if let outcome = request.outcome { return AdminRouter.trained(request.topic, outcome) }
                guard nowMilliseconds >= deadlineMilliseconds else { return nil }
                return AdminRouter.error(.serviceUnavailable, "the training did not end in time; its dictionary is "
                                         + "installed if it succeeds (see GET /v1/topics/T)",
                                         headers: [("Retry-After", "1")])
            }
        }
    }

    /// How long a requested training may take before its 503 (the
    /// training goes on, and installs its dictionary if it succeeds).
    static let trainingAnswerTimeoutMilliseconds: UInt64 = 30_000

    /// Whether `request` may get an awaited answer: the server then answers
    /// the requests before it first, and reads none after it until it is
    /// answered (pipelined answers stay in order).
    func mayAnswerLater(_ request: AdminRequest) -> Bool {
        guard awaitedAnswerDescriptor != nil else { return false }
        let path = request.head.path
        if path == "/v1/disconnect" { return control != nil }
        return path.hasPrefix("/v1/topics/") && path.hasSuffix("/dictionary")
            && publisher.training.hasWorker.load(ordering: .relaxed)
    }

    func respond(_ request: AdminRequest) -> Response {
        if let refusal = refusal(for: request.head) { return refusal }
        let path = request.head.path
        let method = request.head.method
        switch path {
        case "/healthz":
            guard method == "GET" || method == "HEAD" else { return Self.methodNotAllowed("GET") }
            if let clusterStatus, !clusterStatus.allUp {
                // Subscribers stay connected, but publishes fail: say so.
                let down = clusterStatus.downEndpoints.map(\.description).joined(separator: ", ")
                return Response(status: .serviceUnavailable, contentType: "text/plain; charset=utf-8",
                                body: Array("redis unreachable: \(down)".utf8), headers: [("Retry-After", "1")])
            }
            return Response(status: .ok, contentType: "text/plain; charset=utf-8", body: Array("ok".utf8))
        case "/v1/stats":
            guard method == "GET" else { return Self.methodNotAllowed("GET") }
            return Response(status: .ok, contentType: "application/json", body: stats.json())
        case "/metrics":
            guard method == "GET" else { return Self.methodNotAllowed("GET") }
            return Response(status: .ok, contentType: "text/plain; version=0.0.4; charset=utf-8",
                            body: stats.prometheus())
        case "/v1/publish":
            guard method == "POST" else { return Self.methodNotAllowed("POST") }
            return idempotent(request) { publish($0) }
        case AdminRequestReader.batchPath:
            guard method == "POST" else { return Self.methodNotAllowed("POST") }
            return idempotent(request) { publishBatch($0) }
        case "/v1/disconnect":
            guard method == "POST" else { return Self.methodNotAllowed("POST") }
            return disconnect(request)
        case "/v1/topics":
            guard method == "GET" else { return Self.methodNotAllowed("GET") }
            return listTopics(request)
        default:
            if path.hasPrefix("/v1/topics/") {
                let rest = path.dropFirst("/v1/topics/".count)
                if rest.hasSuffix("/dictionary") {
                    guard method == "POST" else { return Self.methodNotAllowed("POST") }
                    return trainDictionary(String(rest.dropLast("/dictionary".count)))
                }
                guard method == "GET" else { return Self.methodNotAllowed("GET") }
                // A topic whose own name ends in "/history" is reached with
                // its slashes percent-encoded (%2F).
                if rest.hasSuffix("/history") {
                    return history(String(rest.dropLast("/history".count)), request)
                }
                return topic(String(rest))
            }
            return Self.error(.notFound, "no such endpoint: \(path)")
        }
    }

    /// The answer a request gets from its head alone (a wrong or missing
    /// token), before its body is read; nil when it may proceed.
    func refusal(for head: HTTPRequestHead) -> Response? {
        guard let token, !authorized(head, token: token) else { return nil }
        return Self.error(.unauthorized, "missing or wrong bearer token",
                          headers: [("WWW-Authenticate", "Bearer realm=\"herald\"")])
    }

    /// `POST /v1/disconnect` `{"sub":"user-id"}`: every connection whose
    /// token `sub` matches is closed with 4000 on every shard; `{"closed":K}`.
    private func disconnect(_ request: AdminRequest) -> Response {
        let parsed = request.body.withUnsafeBytes { JSONValue.parse($0) }
        guard let subject = parsed?["sub"]?.stringValue, !subject.isEmpty else {
            return Self.error(.badRequest, "body must be {\"sub\": \"user id\"}")
        }
        guard let control else { return Self.error(.serviceUnavailable, "no shards to ask") }
        if let descriptor = awaitedAnswerDescriptor {
            // The admin thread goes on serving other connections meanwhile
            // (a shard in a large broadcast takes seconds to reply).
            guard let reply = control.startDisconnect(subject: subject, notifying: descriptor) else {
                return Self.shardsBehind
            }
            let deadline = Clock.monotonicMilliseconds() + awaitedAnswerTimeoutMilliseconds
            return Response(status: .ok, contentType: "application/json", body: [],
                            awaited: AwaitedAnswer(.disconnect(reply), deadlineMilliseconds: deadline))
        }
        guard let result = control.disconnect(subject: subject) else { return Self.shardsBehind }
        return result.complete ? Self.disconnected(result.closed) : Self.disconnectTimedOut(result.closed)
    }

    /// A shard has `ShardControl.commandsPerShardMax` disconnects still to
    /// take (it stopped answering): nothing more is asked of it.
    static var shardsBehind: Response {
        error(.serviceUnavailable, "a shard is behind on earlier disconnects; nothing was asked, retry later",
              headers: [("Retry-After", "1")])
    }

    static func disconnected(_ closed: Int) -> Response {
        Response(status: .ok, contentType: "application/json", body: Array(#"{"closed":\#(closed)}"#.utf8))
    }

    static func disconnectTimedOut(_ closed: Int) -> Response {
        error(.serviceUnavailable, "not every shard answered in time (\(closed) closed so far)",
              headers: [("Retry-After", "1")])
    }

    /// Listing and history pages: at most this many entries per request.
    static let pageMax = 1000
    static let pageDefault = 100

    /// `GET /v1/topics?prefix=P&limit=K`: topics in name order.
    private func listTopics(_ request: AdminRequest) -> Response {
        guard let query = QueryString.parse(request.head.query) else { return Self.error(.badRequest, "bad query string") }
        let prefix = query.last(where: { $0.name == "prefix" })?.value ?? ""
        guard let limit = Self.limit(query) else {
            return Self.error(.badRequest, "limit must be an integer from 1 to \(Self.pageMax)")
        }
        var body = Array(#"{"topics":["#.utf8)
        for (position, topic) in publisher.registry.list(prefix: prefix, limit: limit).enumerated() {
            if position > 0 { body.append(UInt8(ascii: ",")) }
            body += Array(#"{"topic":"#.utf8)
            JSONString.append(topic.name.utf8, to: &body)
            body += Array(#","subscribers":\#(topic.subscribers),"seq":\#(topic.seq),"epoch":"#.utf8)
            JSONString.append(topic.epoch.utf8, to: &body)
            body.append(UInt8(ascii: "}"))
        }
        body += Array("]}".utf8)
        return Response(status: .ok, contentType: "application/json", body: body)
    }

    /// `POST /v1/topics/T/dictionary`: trains a zstd dictionary from the
    /// topic's kept messages and makes it the topic's; `herald.zstd.v1`
    /// subscribers get it in-band before the first message compressed with
    /// it. A training takes tens of milliseconds to seconds (~40 ms for
    /// 1,000 messages; up to `Publisher.dictionarySamplesMax`), so it runs
    /// on the trainer thread and the answer is awaited: the admin thread
    /// (or, with `--admin-threads 0`, the shard) serves on meanwhile. In
    /// place only without a trainer thread or an admin server (unit tests).
    private func trainDictionary(_ encoded: String) -> Response {
        guard let name = QueryString.percentDecode(Substring(encoded)), TopicName.isValid(name) else {
            return Self.error(.badRequest, "bad topic name")
        }
        guard cluster == nil else {
            return Self.error(.notImplemented, "zstd dictionaries are not available with --redis yet")
        }
        if let descriptor = awaitedAnswerDescriptor, publisher.training.hasWorker.load(ordering: .relaxed) {
            let request = Publisher.TrainingRequest(topic: name, notify: descriptor)
            guard publisher.requestTraining(request) else {
                return Self.error(.serviceUnavailable, "\(Publisher.DictionaryTraining.queueMax) trainings are "
                                  + "already waiting; retry later", headers: [("Retry-After", "1")])
            }
            let deadline = Clock.monotonicMilliseconds() + Self.trainingAnswerTimeoutMilliseconds
            return Response(status: .ok, contentType: "application/json", body: [],
                            awaited: AwaitedAnswer(.training(request), deadlineMilliseconds: deadline))
        }
        return Self.trained(name, publisher.trainDictionary(topic: name))
    }

    /// The answer to a training of `name`'s dictionary.
    static func trained(_ name: String, _ outcome: Publisher.TrainingOutcome) -> Response {
        switch outcome {
        case .trained(let dictionary, let bytes, let samples, let replaced):
            var body = Array(#"{"topic":"#.utf8)
            JSONString.append(name.utf8, to: &body)
            body += Array(#","dictionary":\#(dictionary),"bytes":\#(bytes),"samples":\#(samples),"replaced":\#(replaced.map(String.init) ?? "null")}"#.utf8)
            return Response(status: .ok, contentType: "application/json", body: body)
        case .noSuchTopic:
            return error(.notFound, "no such topic (never used, or freed when idle)")
        case .tooFewSamples(let count):
            return error(.unprocessableContent, "a dictionary needs at least \(Publisher.dictionarySamplesMin) kept "
                         + "messages of the topic (it has \(count); see --history-size)")
        case .untrainable(let reason):
            return error(.unprocessableContent, "zstd could not train a dictionary: \(reason)")
        case .atLimit(let topicsMax):
            return error(.conflict, "\(topicsMax) topics already hold a dictionary (--zstd-dictionaries-max)")
        }
    }

    /// `GET /v1/topics/T/history?since=N&limit=K`: the kept messages after
    /// seq N (0: all kept), oldest first, each as published — JSON or text
    /// data as it reached subscribers, bytes as base64 with `"binary":true`.
    private func history(_ encoded: String, _ request: AdminRequest) -> Response {
        guard let name = QueryString.percentDecode(Substring(encoded)), TopicName.isValid(name) else {
            return Self.error(.badRequest, "bad topic name")
        }
        guard let query = QueryString.parse(request.head.query) else { return Self.error(.badRequest, "bad query string") }
        var since: UInt64 = 0
        if let text = query.last(where: { $0.name == "since" })?.value {
            guard let value = UInt64(text) else { return Self.error(.badRequest, "since must be a non-negative integer") }
            since = value
        }
        guard let limit = Self.limit(query) else {
            return Self.error(.badRequest, "limit must be an integer from 1 to \(Self.pageMax)")
        }
        if let cluster { return clusterHistory(cluster, name, since: since, limit: limit) }
        guard let page = publisher.registry.history(topic: name, since: since, limit: limit) else {
            return Self.error(.notFound, "no such topic (never used, or freed when idle)")
        }
        var body = Array(#"{"topic":"#.utf8)
        JSONString.append(name.utf8, to: &body)
        body += Array(#","epoch":"#.utf8)
        JSONString.append(page.epoch.utf8, to: &body)
        body += Array(#","seq":\#(page.seq),"messages":["#.utf8)
        for (position, entry) in page.entries.enumerated() {
            if position > 0 { body.append(UInt8(ascii: ",")) }
            entry.plain._withUnsafeGuaranteedRef { frame in
                HistoryItem.append(frame: UnsafeRawBufferPointer(frame.bytes), topic: name, seq: entry.seq, to: &body)
            }
            entry.plain.release()
        }
        body += Array("]}".utf8)
        return Response(status: .ok, contentType: "application/json", body: body)
    }

    /// The history endpoint in a cluster: the topic's Redis stream, so
    /// every node answers the same.
    private func clusterHistory(_ cluster: ClusterPublisher, _ name: String, since: UInt64, limit: Int) -> Response {
        switch cluster.history(name, since: since, limit: limit) {
        case .failure(let unavailable):
            return Self.error(.serviceUnavailable, unavailable.reason, headers: [("Retry-After", "1")])
        case .success(nil):
            return Self.error(.notFound, "no such topic (never used, or expired in redis)")
        case .success(let page?):
            var body = Array(#"{"topic":"#.utf8)
            JSONString.append(name.utf8, to: &body)
            body += Array(#","epoch":"#.utf8)
            JSONString.append(page.position.epoch.utf8, to: &body)
            body += Array(#","seq":\#(page.position.seq),"messages":["#.utf8)
            for (position, entry) in page.entries.enumerated() where entry.seq <= page.position.seq {
                if position > 0 { body.append(UInt8(ascii: ",")) }
                body += Array(#"{"seq":\#(entry.seq),"data":"#.utf8)
                switch entry.payload {
                case .json(let data): body += data
                case .text(let text): JSONString.append(text, to: &body)
                case .binary(let data):
                    JSONString.append(Base64.encode(data).utf8, to: &body)
                    body += Array(#","binary":true"#.utf8)
                }
                body.append(UInt8(ascii: "}"))
            }
            body += Array("]}".utf8)
            return Response(status: .ok, contentType: "application/json", body: body)
        }
    }

    static func limit(_ query: [(name: String, value: String)]) -> Int? {
        guard let text = query.last(where: { $0.name == "limit" })?.value else { return pageDefault }
        guard let value = Int(text), (1...pageMax).contains(value) else { return nil }
        return value
    }

    private func topic(_ encoded: String) -> Response {
        guard let name = QueryString.percentDecode(Substring(encoded)), TopicName.isValid(name) else {
            return Self.error(.badRequest, "bad topic name")
        }
        var info = publisher.registry.info(topic: name)
        if let cluster {
            // seq and epoch are the cluster's (Redis); subscribers this node's.
            switch cluster.position(name) {
            case .failure(let unavailable):
                return Self.error(.serviceUnavailable, unavailable.reason, headers: [("Retry-After", "1")])
            case .success(let position):
                info = TopicRegistry.TopicInfo(subscribers: info.subscribers, seq: position?.seq ?? 0,
                                               epoch: position?.epoch)
            }
        }
        var body = Array(#"{"topic":"#.utf8)
        JSONString.append(name.utf8, to: &body)
        body += Array(#","subscribers":\#(info.subscribers),"seq":\#(info.seq),"epoch":"#.utf8)
        if let epoch = info.epoch { JSONString.append(epoch.utf8, to: &body) } else { body += Array("null".utf8) }
        body.append(UInt8(ascii: "}"))
        return Response(status: .ok, contentType: "application/json", body: body)
    }

    /// `POST /v1/publish?topic=T` (raw body, Content-Type picks the
    /// envelope) or `POST /v1/publish` with `{"topic"|"topics", "data"}`.
    private func publish(_ request: AdminRequest) -> Response {
        let query = QueryString.firstValue(named: "topic", in: request.head.query)
        guard query.valid else { return Self.error(.badRequest, "bad query string") }
        if let topic = query.value { return publishRaw(topic: topic, request) }
        return publishJSON(request)
    }

    private func publishRaw(topic: String, _ request: AdminRequest) -> Response {
        switch rawPayload(topic: topic, request) {
        case .failure(let refusal): return refusal.response
        case .success(let payload): return rawResult(topic: topic, attempt(topic: topic, payload: payload))
        }
    }

    /// A refusal carried through a `Result`.
    struct Refusal: Error {
        let response: Response
    }

    /// The payload of a raw publish (its Content-Type picks the envelope),
    /// or the error answer.
    private func rawPayload(topic: String, _ request: AdminRequest) -> Result<Publisher.Payload, Refusal> {
        guard TopicName.isValid(topic) else { return .failure(Refusal(response: Self.error(.badRequest, "bad topic name"))) }
        guard !request.body.isEmpty else { return .failure(Refusal(response: Self.error(.badRequest, "missing body"))) }
        // Absent, repeated or any other type: UTF-8 text.
        if request.head.hasMediaType("application/json") {
            let valid = request.body.withUnsafeBytes { JSONValidator.isValid($0) }
            guard valid else { return .failure(Refusal(response: Self.error(.badRequest, "body is not valid JSON"))) }
            return .success(.json(request.body))
        } else if request.head.hasMediaType("application/octet-stream") {
            return .success(.binary(request.body))
        } else {
            let valid = request.body.withUnsafeBytes { UTF8Validator.isValid($0) }
            guard valid else {
                return .failure(Refusal(response: Self.error(
                    .badRequest, "body is not UTF-8 text; publish bytes as application/octet-stream")))
            }
            return .success(.text(request.body))
        }
    }

    /// The answer to one raw publish.
    private func rawResult(topic: String, _ outcome: TopicRegistry.PublishOutcome) -> Response {
        var body: [UInt8] = []
        switch outcome {
        case .published(let seq, let epoch):
            // One answer in this body: reserved once (the members' names,
            // the topic, 20 digits, the epoch; escapes may still grow it).
            body.reserveCapacity(50 + topic.utf8.count + epoch.utf8.count)
            PublishResult.append(topic: topic, seq: seq, epoch: epoch, to: &body)
        case .topicLimit: return topicLimit()
        case .backlogged: return backlogged()
        case .unavailable(let reason): return Self.error(.serviceUnavailable, reason, headers: [("Retry-After", "1")])
        }
        return Response(status: .ok, contentType: "application/json", body: body)
    }

    /// Answers a pipelined burst of requests, in order. In a cluster, runs
    /// of plain raw publishes (`POST /v1/publish?topic=T`, no
    /// `Idempotency-Key`) go to Redis together — one pipelined round trip
    /// per instance instead of one per request — so a publisher that
    /// pipelines is not held to one Redis round trip per message. Requests
    /// run in order: a run is sent before any other request is answered.
    func respond(all requests: [AdminRequest]) -> [Response] {
        guard let cluster, requests.count > 1 else { return requests.map { respond($0) } }
        var responses: [Response] = []
        responses.reserveCapacity(requests.count)
        var run: [(topic: String, payload: Publisher.Payload)] = []
        func flush() {
            guard !run.isEmpty else { return }
            for (job, outcome) in zip(run, cluster.publish(run)) { responses.append(rawResult(topic: job.topic, outcome)) }
            run = []
        }
        for request in requests {
            if let job = plainRawPublish(request) {
                run.append(job)
            } else {
                flush()
                responses.append(respond(request))
            }
        }
        flush()
        return responses
    }

    /// The topic and payload of a request that is a plain, valid raw
    /// publish; nil for anything else (answered by `respond`).
    private func plainRawPublish(_ request: AdminRequest) -> (topic: String, payload: Publisher.Payload)? {
        guard request.head.method == "POST", request.head.path == "/v1/publish", refusal(for: request.head) == nil,
              request.head.header("Idempotency-Key") == nil,
              let topic = QueryString.firstValue(named: "topic", in: request.head.query).value,
              case .success(let payload) = rawPayload(topic: topic, request) else { return nil }
        return (topic, payload)
    }

    /// Publishes in order: in this process on a single node, through
    /// Redis in a cluster (one pipelined round trip per instance).
    private func attempt(_ jobs: [(topic: String, payload: Publisher.Payload)]) -> [TopicRegistry.PublishOutcome] {
        if let cluster { return cluster.publish(jobs) }
        return jobs.map { attempt(topic: $0.topic, payload: $0.payload) }
    }

    /// One publish, the same way: on one node without the arrays of one
    /// job and one outcome (every single publish comes here).
    private func attempt(topic: String, payload: Publisher.Payload) -> TopicRegistry.PublishOutcome {
        if let cluster { return cluster.publish([(topic, payload)])[0] }
        return publisher.attempt(topic: topic, payload: payload, wakes: wakes)
    }

    /// Runs `body` once per `Idempotency-Key` within the window: a repeat
    /// gets the first (successful) result, marked `Idempotent-Replayed`.
    private func idempotent(_ request: AdminRequest, _ body: (AdminRequest) -> Response) -> Response {
        guard let key = request.head.header("Idempotency-Key") else { return body(request) }
        guard IdempotencyCache.isValidKey(key) else {
            return Self.error(.badRequest, "Idempotency-Key must be 1-255 visible ASCII characters")
        }
        let fingerprint = IdempotencyCache.fingerprint(request)
        if let cluster {
            // Across nodes: the key lives in Redis (a retry may reach any node).
            return cluster.idempotent(key: key, fingerprint: fingerprint,
                                      windowMilliseconds: idempotency.windowMilliseconds) { body(request) }
        }
        let now = Clock.monotonicMilliseconds()
        return idempotency.serialized {
            switch idempotency.lookup(key, fingerprint: fingerprint, nowMilliseconds: now) {
            case .replay(var response):
                response.headers.append(("Idempotent-Replayed", "true"))
                return response
            case .conflict:
                return Self.error(.unprocessableContent, "Idempotency-Key was already used for a different request")
            case .miss:
                let response = body(request)
                if response.status == .ok {
                    idempotency.store(key, fingerprint: fingerprint, response: response, nowMilliseconds: now)
                }
                return response
            }
        }
    }

    /// A shard is behind by more than `--delivery-backlog-bytes-max`:
    /// nothing was published; the publisher retries after a second.
    private func backlogged() -> Response {
        Self.error(.serviceUnavailable, "delivery backlog full (--delivery-backlog-bytes-max); retry later",
                   headers: [("Retry-After", "1")])
    }

    private func topicLimit() -> Response {
        Self.error(.serviceUnavailable, "topic limit reached (--topics-max \(publisher.registry.topicsMax))")
    }

    private func publishJSON(_ request: AdminRequest) -> Response {
        guard !request.body.isEmpty else { return Self.error(.badRequest, "missing body") }
        let parsed = request.body.withUnsafeBytes { PublishRequest.parse($0) }
        let object: PublishRequest
        switch parsed {
        case .success(let value): object = value
        case .failure(let error):
            let message = error.message.hasPrefix("must be") ? "body " + error.message : error.message
            return Self.error(.badRequest, message)
        }
        let count = object.topicCount
        var body = Array(#"{"results":["#.utf8)
        // On a single node each publish runs as the loop reaches it (a
        // refusal stops the rest); in a cluster they go to Redis together.
        let outcomes: [TopicRegistry.PublishOutcome]? = cluster.map { cluster in
            let data = Array(request.body[object.data])
            return cluster.publish(object.topics.map { ($0, .json(data)) })
        }
        for position in 0..<count {
            let name = object.topic(at: position)
            // A topic past --topics-max stops the batch; earlier ones stay
            // published (each publish is independent), so say which.
            if position > 0 { body.append(UInt8(ascii: ",")) }
            let outcome = outcomes?[position] ?? request.body.withUnsafeBytes { bytes in
                publisher.attempt(topic: name, json: UnsafeRawBufferPointer(rebasing: bytes[object.data]), wakes: wakes)
            }
            switch outcome {
            case .published(let seq, let epoch):
                PublishResult.append(topic: name, seq: seq, epoch: epoch, to: &body)
            case .topicLimit:
                return Self.error(.serviceUnavailable,
                                  "topic limit reached at \"\(name)\" (\(position) of \(count) published)")
            case .backlogged:
                return Self.error(.serviceUnavailable,
                                  "delivery backlog full at \"\(name)\" (\(position) of \(count) published)",
                                  headers: [("Retry-After", "1")])
            case .unavailable(let reason):
                // Others may have been published (each is independent).
                let published = outcomes?.filter { $0.seq != nil }.count ?? position
                return Self.error(.serviceUnavailable,
                                  "\(reason) (at \"\(name)\"; \(published) of \(count) published)",
                                  headers: [("Retry-After", "1")])
            }
        }
        body += Array("]}".utf8)
        return Response(status: .ok, contentType: "application/json", body: body)
    }

    /// Messages one batch may hold (blank lines not counted; a `topics`
    /// line counts once per topic): the reply carries one result per
    /// message, so this bounds it too (~1 MB).
    static let batchMessagesMax = 10_000

    /// `POST /v1/publish/batch`: NDJSON, one `{"topic"|"topics", "data"}`
    /// per line, published in order. Each line gets its own entry in
    /// `results` — its result (`{"results":[…]}` for a `topics` line) or
    /// `{"error":…}` — and a bad line never stops the others. Blank lines
    /// are skipped and get no entry.
    private func publishBatch(_ request: AdminRequest) -> Response {
        guard !request.body.isEmpty else { return Self.error(.badRequest, "missing body") }
        let parsed: [Result<PublishRequest, PublishRequest.Failure>]
        switch request.body.withUnsafeBytes({
            PublishBatch.parse($0, dataBytesMax: publishBytesMax, messagesMax: Self.batchMessagesMax)
        }) {
        case .empty:
            return Self.error(.badRequest, "no messages: one JSON object per line")
        case .tooMany:
            return Self.error(.payloadTooLarge, "at most \(Self.batchMessagesMax) messages per batch (counting each topic)")
        case .lines(let lines):
            parsed = lines
        }
        // The answer's size is about known: reserved once, where growing
        // it by doubling took several allocations of a kilobyte or more per
        // batch, each making glibc consolidate its fast bins (issue 12).
        var out: [UInt8] = []
        out.reserveCapacity(Self.resultsBytesEstimate(parsed))
        out += #"{"results":["#.utf8
        var backlogged = false
        // In a cluster every message goes to Redis in one pipeline per
        // instance; the results are then written in line order.
        var clusterOutcomes: [TopicRegistry.PublishOutcome] = []
        if let cluster {
            var jobs: [(topic: String, payload: Publisher.Payload)] = []
            for case .success(let object) in parsed {
                let data = Array(request.body[object.data])
                for name in object.topics { jobs.append((name, .json(data))) }
            }
            clusterOutcomes = cluster.publish(jobs)
        }
        var nextOutcome = 0
        // Each line's data is published from the body where it lies.
        request.body.withUnsafeBytes { bytes in
            for (position, result) in parsed.enumerated() {
                if position > 0 { out.append(UInt8(ascii: ",")) }
                let object: PublishRequest
                switch result {
                case .success(let value): object = value
                case .failure(let error):
                    Self.appendError(error.message, to: &out)
                    continue
                }
                if !object.single { out += Array(#"{"results":["#.utf8) }
                for index in 0..<object.topicCount {
                    let name = object.topic(at: index)
                    if index > 0 { out.append(UInt8(ascii: ",")) }
                    let outcome: TopicRegistry.PublishOutcome
                    if cluster != nil {
                        outcome = clusterOutcomes[nextOutcome]
                        nextOutcome += 1
                    } else {
                        outcome = publisher.attempt(topic: name, json: UnsafeRawBufferPointer(rebasing: bytes[object.data]),
                                                    wakes: wakes)
                    }
                    switch outcome {
                    case .published(let seq, let epoch):
                        PublishResult.append(topic: name, seq: seq, epoch: epoch, to: &out)
                    case .topicLimit:
                        Self.appendError("topic limit reached (--topics-max \(publisher.registry.topicsMax))", topic: name,
                                         to: &out)
                    case .backlogged:
                        backlogged = true
                        Self.appendError("delivery backlog full (--delivery-backlog-bytes-max); retry later", topic: name,
                                         to: &out)
                    case .unavailable(let reason):
                        backlogged = true
                        Self.appendError(reason, topic: name, to: &out)
                    }
                }
                if !object.single { out += Array("]}".utf8) }
            }
        }
        out += Array("]}".utf8)
        // Some lines may be retried (only those: the others are published).
        return Response(status: .ok, contentType: "application/json", body: out,
                        headers: backlogged ? [("Retry-After", "1")] : [])
    }

    /// About the size of a batch's answer when every publish succeeds: per
    /// result its members' names, the topic, a seq and an epoch of ~20
    /// bytes each (more is appended as needed).
    static func resultsBytesEstimate(_ parsed: [Result<PublishRequest, PublishRequest.Failure>]) -> Int {
        var bytes = 16
        for case .success(let object) in parsed {
            for index in 0..<object.topicCount { bytes += 72 + object.topic(at: index).utf8.count }
        }
        return bytes
    }

    /// `{"error":"…"[,"topic":"T"]}`: one batch line's (or topic's) failure.
    static func appendError(_ message: String, topic: String? = nil, to body: inout [UInt8]) {
        body += Array(#"{"error":"#.utf8)
        JSONString.append(Array(message.utf8), to: &body)
        if let topic {
            body += Array(#","topic":"#.utf8)
            JSONString.append(topic.utf8, to: &body)
        }
        body.append(UInt8(ascii: "}"))
    }

    /// Constant-time comparison: the token check must not leak how many
    /// leading bytes matched.
    private func authorized(_ head: HTTPRequestHead, token: String) -> Bool {
        // RFC 9110 §11.1: the scheme name is case-insensitive.
        guard let value = head.header("Authorization"), value.count > 7,
              value.prefix(7).lowercased() == "bearer " else { return false }
        let given = Array(value.utf8.dropFirst(7))
        let expected = Array(token.utf8)
        // Walks the longer of the two whatever they hold, so neither the
        // content nor the length of the token leaks through timing.
        var difference = UInt8(truncatingIfNeeded: given.count ^ expected.count) | (given.count == expected.count ? 0 : 1)
        for index in 0..<max(given.count, expected.count) {
            let a = index < given.count ? given[index] : 0
            let b = index < expected.count ? expected[index] : 0
            difference |= a ^ b
        }
        return difference == 0
    }

    static func error(_ status: HTTPStatus, _ message: String, headers: [(String, String)] = []) -> Response {
        var body: [UInt8] = Array("{\"error\":".utf8)
        JSONString.append(Array(message.utf8), to: &body)
        body.append(UInt8(ascii: "}"))
        return Response(status: status, contentType: "application/json", body: body, headers: headers)
    }

    static func methodNotAllowed(_ allow: String) -> Response {
        error(.methodNotAllowed, "method not allowed", headers: [("Allow", allow)])
    }
}

