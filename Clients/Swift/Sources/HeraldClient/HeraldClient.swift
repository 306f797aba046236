import Foundation
import HTTPTypes
import Logging
import NIOCore
import NIOWebSocket
import WSClient

/// A Herald connection for apps: subscribe to topics and read `events` —
/// messages in order per topic, with recovery across reconnects.
///
/// - Reconnects with exponential backoff and jitter (`minimumDelay` to
///   `maximumDelay`) until `close()`; the server's 4001 (bad token) stops
///   it for good.
/// - Every topic is subscribed again on each connection with where the
///   client was (`since`: epoch and seq), so the server replays what was
///   missed; what cannot be recovered arrives as `.reset` (reload state)
///   or `.gap`, never silently.
/// - `tokenProvider` is asked before every connect and again ahead of the
///   token's `exp`, and the new token is sent in-band (`refresh`), so a
///   long-lived connection is not closed with 4002.
/// - `.state` events say connecting / connected / disconnected (with the
///   close code) / closed.
/// - With a `zstd` decoder (the HeraldClientZstd product's
///   `LibzstdDecoder`), it asks for `herald.zstd.v1`: each message arrives
///   compressed once for every subscriber with the topic's trained
///   dictionary. Dictionaries are kept (64 at most) across reconnects and
///   listed in `zstd_dicts=`; a frame is decompressed only when it states a
///   size of at most `messageBytesMax`; a frame the client cannot decode
///   is reported (`.error(code: "zstd_frame")`) and the client reconnects,
///   resubscribing from its last seq, so the server replays that message.
///
/// ```swift
/// let client = HeraldClient(url: "wss://push.example.com/ws", tokenProvider: { try await api.heraldToken() })
/// await client.subscribe("orders/42")
/// await client.connect()
/// for await event in client.events {
///     if case .message(let message) = event { print(message.topic, message.seq) }
/// }
/// ```
public actor HeraldClient {
    public typealias TokenProvider = @Sendable () async throws -> String

    /// Every event, in order. Finishes after `.state(.closed)`.
    public nonisolated let events: AsyncStream<HeraldEvent>
    private let continuation: AsyncStream<HeraldEvent>.Continuation

    private let url: String
    private let tokenProvider: TokenProvider?
    private var token: String?
    private let backoff: Backoff
    private let logger: Logger
    /// Subscribed topics and the last seq seen (nil: none yet).
    private var topics: [String: UInt64?] = [:]
    private var epochs: [String: String] = [:]
    private var writer: WebSocketOutboundWriter?
    private var runTask: Task<Void, Never>?
    private var refreshTask: Task<Void, Never>?
    private var closing = false
    /// `herald.zstd.v1` framing and dictionaries; nil: not asked for.
    private var zstd: ZstdFrames?

    /// Largest message accepted (the server's default publish bound is 1 MiB).
    public static let messageBytesMax = 16 * 1024 * 1024

    public init(url: String, token: String? = nil, tokenProvider: TokenProvider? = nil,
                minimumDelay: Duration = .milliseconds(500), maximumDelay: Duration = .seconds(30),
                zstd: (any HeraldZstdDecoder)? = nil, logger: Logger = Logger(label: "herald-client")) {
        self.url = url
        self.zstd = zstd.map(ZstdFrames.init(decoder:))
        self.token = token
        self.tokenProvider = tokenProvider
        backoff = Backoff(minimum: minimumDelay, maximum: maximumDelay)
        self.logger = logger
        (events, continuation) = AsyncStream.makeStream(of: HeraldEvent.self, bufferingPolicy: .unbounded)
    }

    /// Starts connecting (and reconnecting) in the background.
    public func connect() {
        guard runTask == nil, !closing else { return }
        runTask = Task { await self.run() }
    }

    /// Subscribes to `topic` (now if connected, and on every reconnect).
    /// Idempotent: a topic already subscribed sends nothing, so its
    /// position is never mistaken for a new one.
    public func subscribe(_ topic: String) async {
        guard Self.isValidTopic(topic) else {
            continuation.yield(.error(code: "bad_topic", message: "topic names are 1-128 bytes of A-Z a-z 0-9 . _ - : @ /",
                                      topic: topic))
            return
        }
        guard topics[topic] == nil else { return }
        topics[topic] = .some(nil)
        await send(subscribeMessage(topic))
    }

    public func unsubscribe(_ topic: String) async {
        guard topics.removeValue(forKey: topic) != nil else { return }
        epochs[topic] = nil
        await send(#"{"type":"unsubscribe","topic":"\#(topic)"}"#)
    }

    /// Closes the connection (1000) and stops reconnecting; `events` ends.
    public func close() async {
        closing = true
        refreshTask?.cancel()
        if let writer { try? await writer.close(.normalClosure, reason: nil) }
        runTask?.cancel()
        if runTask == nil { finish() }
    }

    // MARK: The connection loop

    private func run() async {
        var attempt = 0
        while !closing && !Task.isCancelled {
            attempt += 1
            continuation.yield(.state(.connecting(attempt: attempt)))
            var code: UInt16?
            var reason: String?
            var opened = false
            do {
                if let tokenProvider { token = try await tokenProvider() }
                var headers = HTTPFields()
                if zstd != nil { headers[.secWebSocketProtocol] = ZstdFrames.subprotocol }
                let configuration = WebSocketClientConfiguration(maxFrameSize: Self.messageBytesMax,
                                                                 additionalHeaders: headers)
                let frame = try await WebSocketClient.connect(url: connectURL(), configuration: configuration,
                                                              logger: logger) { inbound, outbound, _ in
                    await self.opened(outbound)
                    for try await message in inbound.messages(maxSize: Self.messageBytesMax) {
                        await self.received(message)
                    }
                }
                opened = writerWasSet
                code = frame.map { UInt16(webSocketErrorCode: $0.closeCode) }
                reason = frame?.reason
            } catch {
                opened = writerWasSet
                reason = "\(error)"
            }
            writer = nil
            writerWasSet = false
            refreshTask?.cancel()
            continuation.yield(.state(.disconnected(code: code, reason: reason)))
            // 4001: the token is refused — retrying cannot help. 4002
            // (expired) is retried only with a provider to get a new one.
            if code == 4001 || (code == 4002 && tokenProvider == nil) { break }
            if opened { attempt = 1 }
            guard !closing else { break }
            try? await Task.sleep(for: backoff.delay(attempt: attempt, random: Double.random(in: 0...1)))
        }
        finish()
    }

    private var writerWasSet = false

    private func finish() {
        closing = true
        continuation.yield(.state(.closed))
        continuation.finish()
    }

    private func connectURL() -> String {
        var query: [String] = []
        if let token {
            let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
            query.append("token=" + (token.addingPercentEncoding(withAllowedCharacters: allowed) ?? token))
        }
        // Dictionaries kept from an earlier connection are not sent again.
        if let held = zstd?.heldIds, !held.isEmpty {
            query.append("zstd_dicts=" + held.map(String.init).joined(separator: ","))
        }
        guard !query.isEmpty else { return url }
        return url + (url.contains("?") ? "&" : "?") + query.joined(separator: "&")
    }

    private func opened(_ outbound: WebSocketOutboundWriter) async {
        writer = outbound
        writerWasSet = true
        continuation.yield(.state(.connected))
        for topic in topics.keys.sorted() { await send(subscribeMessage(topic)) }
        armRefresh()
    }

    private func send(_ text: String) async {
        guard let writer else { return }  // sent on the next connection
        do {
            try await writer.write(.text(text))
        } catch {
            logger.debug("send failed; the connection is ending", metadata: ["error": "\(error)"])
        }
    }

    private func subscribeMessage(_ topic: String) -> String {
        if let last = topics[topic], let seq = last, let epoch = epochs[topic] {
            return #"{"type":"subscribe","topic":"\#(topic)","since":{"seq":\#(seq),"epoch":\#(Self.jsonString(epoch))}}"#
        }
        return #"{"type":"subscribe","topic":"\#(topic)"}"#
    }

    // MARK: Token refresh

    private func armRefresh() {
        refreshTask?.cancel()
        guard tokenProvider != nil, let token, let exp = TokenExpiry.seconds(of: token) else { return }
        let wait = TokenExpiry.renewIn(exp: exp, now: Date().timeIntervalSince1970)
        refreshTask = Task { [weak self] in
            try? await Task.sleep(for: .milliseconds(Int64(wait * 1000)))
            guard !Task.isCancelled else { return }
            await self?.refresh()
        }
    }

    private func refresh() async {
        guard let tokenProvider, writer != nil else { return }
        do {
            let fresh = try await tokenProvider()
            token = fresh
            await send(#"{"type":"refresh","token":\#(Self.jsonString(fresh))}"#)
        } catch {
            logger.warning("token provider failed; the connection ends at the token's exp", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Receiving

    private func received(_ message: WebSocketMessage) async {
        switch message {
        case .binary(let buffer):
            var bytes = Array(buffer.readableBytesView)
            if bytes.first == UInt8(ascii: "Z"), zstd != nil {
                do {
                    switch try zstd!.decode(bytes, limit: Self.messageBytesMax) {
                    case .dictionary: return
                    case .text(let text):
                        handle(text)
                        return
                    case .envelope(let envelope): bytes = envelope
                    }
                } catch {
                    continuation.yield(.error(code: "zstd_frame", message: "\(error)", topic: nil))
                    if let writer { try? await writer.close(.init(codeNumber: 4000), reason: "undecodable zstd frame") }
                    return
                }
            }
            guard let decoded = BinaryEnvelope.decode(bytes) else { return }
            track(decoded.topic, decoded.seq)
            continuation.yield(.message(decoded))
        case .text(let text):
            handle(text)
        }
    }

    private func handle(_ text: String) {
        let bytes = Data(text.utf8)
        guard let object = try? JSONSerialization.jsonObject(with: bytes, options: [.fragmentsAllowed]) as? [String: Any],
              let type = object["type"] as? String else { return }
        let topic = object["topic"] as? String
        let seq = (object["seq"] as? NSNumber)?.uint64Value
        switch type {
        case "message":
            guard let topic, let seq else { return }
            track(topic, seq)
            continuation.yield(.message(HeraldMessage(topic: topic, seq: seq, payload: .json(Self.rawData(text, object)))))
        case "subscribed":
            guard let topic, let seq else { return }
            let last = topics[topic] ?? nil
            let known = epochs[topic]
            let epoch = object["epoch"] as? String
            if let epoch { epochs[topic] = epoch }
            if (object["recovered"] as? Bool) == true { return }  // the missed messages follow
            let newEpoch = known != nil && epoch != nil && epoch != known
            if last != nil && ((object["recovered"] as? Bool) == false || newEpoch) {
                continuation.yield(.reset(topic: topic, reason: newEpoch ? "epoch" : "not_recovered",
                                          epoch: epoch ?? "", seq: seq))
            } else if let last, seq > last {
                continuation.yield(.gap(topic: topic, from: last + 1, to: seq))
            }
            if topics[topic] != nil { topics[topic] = .some(seq) }
        case "gap":
            guard let topic, let from = (object["from"] as? NSNumber)?.uint64Value,
                  let to = (object["to"] as? NSNumber)?.uint64Value else { return }
            continuation.yield(.gap(topic: topic, from: from, to: to))
            if topics[topic] != nil { topics[topic] = .some(to) }
        case "refreshed":
            armRefresh()
        case "error":
            let code = object["code"] as? String ?? ""
            if let topic, ["forbidden", "bad_topic", "too_many_topics", "topic_limit"].contains(code) {
                // Refused for good: not sent again on every reconnect.
                topics[topic] = nil
                epochs[topic] = nil
            } else if let topic, code == "unavailable", topics[topic] != nil {
                // A cluster node could not reach Redis for a new topic:
                // asked again after a jittered delay.
                let delay = backoff.delay(attempt: 1, random: Double.random(in: 0...1)) * 2
                Task { [weak self] in
                    try? await Task.sleep(for: delay)
                    await self?.resubscribe(topic)
                }
            }
            continuation.yield(.error(code: code, message: object["message"] as? String ?? "", topic: topic))
        default:
            break  // pong, unsubscribed
        }
    }

    private func resubscribe(_ topic: String) async {
        guard topics[topic] != nil else { return }
        await send(subscribeMessage(topic))
    }

    private func track(_ topic: String, _ seq: UInt64) {
        guard let entry = topics[topic] else { return }
        if let last = entry, seq > last + 1 {
            continuation.yield(.gap(topic: topic, from: last + 1, to: seq - 1))
        }
        topics[topic] = .some(seq)
    }

    /// The `data` member's JSON text: Herald's envelope is
    /// `{"type":"message","topic":T,"seq":N,"data":D}` with `data` last,
    /// so D is the text between `"data":` and the closing brace — the
    /// bytes the publisher sent, unparsed. Other servers: re-serialized.
    static func rawData(_ text: String, _ object: [String: Any]) -> Data {
        let utf8 = Array(text.utf8)
        let marker = Array(#","data":"#.utf8)
        if text.hasPrefix(#"{"type":"message","topic":""#), utf8.last == UInt8(ascii: "}"),
           let start = firstRange(of: marker, in: utf8) {
            return Data(utf8[(start + marker.count)..<(utf8.count - 1)])
        }
        guard let data = object["data"],
              let encoded = try? JSONSerialization.data(withJSONObject: data, options: [.fragmentsAllowed]) else {
            return Data("null".utf8)
        }
        return encoded
    }

    private static func firstRange(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if Array(haystack[start..<(start + needle.count)]) == needle { return start }
        }
        return nil
    }

    static func isValidTopic(_ topic: String) -> Bool {
        let bytes = Array(topic.utf8)
        return (1...128).contains(bytes.count) && bytes.allSatisfy { byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                || [0x2E, 0x5F, 0x2D, 0x3A, 0x40, 0x2F].contains(byte)
        }
    }

    static func jsonString(_ text: String) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: text, options: [.fragmentsAllowed]),
              let encoded = String(data: data, encoding: .utf8) else { return "\"\"" }
        return encoded
    }
}
