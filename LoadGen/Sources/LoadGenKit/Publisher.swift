import Glibc
import Synchronization

/// Publishes the run's messages with HTTP/1.1 keep-alive POSTs from its own
/// thread (blocking socket; publish rates are modest). Each body carries the
/// message index and its CLOCK_MONOTONIC send time.
public final class Publisher: Sendable {
    public let published = Atomic<Int>(0)
    public let failed = Atomic<Int>(0)
    /// Publishes sent again after a failure (same Idempotency-Key).
    public let retried = Atomic<Int>(0)
    public let finished = Atomic<Bool>(false)
    let url: HTTPURLTemplate
    let headers: [String]
    let topics: [String]
    let messages: Int
    let ratePerSecond: Double
    let paddingBytes: Int
    let chat: Bool
    let control: RunControl
    /// Stops the publisher early (Ctrl-C).
    let stop: Atomic<Bool>

    /// A reply must arrive within this long or the connection is redone.
    static let replyTimeoutSeconds = 5
    /// Attempts per publish. Every attempt carries the same Idempotency-Key,
    /// so a retry after a lost reply can never publish twice (the server
    /// answers the first result); it is never re-sent blindly.
    static let attemptsMax = 5
    /// Names this run's keys: a retry of another run's index is not a repeat.
    let keyPrefix: String

    init(options: Options, control: RunControl) throws {
        url = try HTTPURLTemplate(options.publishURL)
        headers = options.publishHeaders
        topics = (0..<options.topics).map { "t\($0)" }
        messages = options.messages
        ratePerSecond = max(0.001, options.publishRatePerSecond)
        paddingBytes = options.payloadBytes
        chat = options.chatPayload
        self.control = control
        stop = Atomic<Bool>(false)
        keyPrefix = "herald-loadgen-\(getpid())-\(Clock.nanoseconds())"
    }

    func start() {
        let box = Unmanaged.passRetained(self)
        var thread = pthread_t()
        _ = pthread_create(&thread, nil, { argument in
            let publisher = Unmanaged<Publisher>.fromOpaque(argument!).takeRetainedValue()
            publisher.run()
            return nil
        }, box.toOpaque())
        pthread_detach(thread)
    }

    func run() {
        defer { finished.store(true, ordering: .releasing) }
        var socket: Int32 = -1
        let start = Clock.nanoseconds()
        for index in 0..<messages {
            if stop.load(ordering: .relaxed) { break }
            let due = start + UInt64(Double(index) / ratePerSecond * 1e9)
            let now = Clock.nanoseconds()
            if due > now { Clock.sleep(seconds: Double(due - now) / 1e9) }
            // Retries on a fresh connection (the server may close keep-alive,
            // or answer 503 while a shard is behind), each with the same key.
            var ok = false
            for attempt in 0..<Self.attemptsMax where !ok && !stop.load(ordering: .relaxed) {
                if attempt > 0 {
                    retried.add(1, ordering: .relaxed)
                    Clock.sleep(seconds: 0.1 * Double(attempt))
                }
                if socket < 0 {
                    socket = HTTPSocket.connect(url, timeoutSeconds: Self.replyTimeoutSeconds, receiveTimeout: true)
                }
                guard socket >= 0 else { continue }
                ok = post(index: index, socket: socket)
                if !ok {
                    close(socket)
                    socket = -1
                }
            }
            if ok { published.add(1, ordering: .relaxed) } else { failed.add(1, ordering: .relaxed) }
        }
        if socket >= 0 { close(socket) }
    }

    /// Sends one POST and reads the whole reply; true on a 2xx.
    func post(index: Int, socket: Int32) -> Bool {
        let topic = topics[index % topics.count]
        let body = MessageFields.body(index: index, nanoseconds: Clock.nanoseconds(), paddingBytes: paddingBytes, chat: chat)
        var head = "POST \(url.path(topic: topic)) HTTP/1.1\r\nHost: \(url.host):\(url.port)\r\n"
        head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n"
        head += "Idempotency-Key: \(keyPrefix)-\(index)\r\n"
        for header in headers { head += header + "\r\n" }
        head += "\r\n"
        let request = Array(head.utf8) + body
        guard HTTPSocket.sendAll(request, socket: socket) else { return false }
        return readReply(socket: socket)
    }

    /// Reads a reply head and a Content-Length body (the admin API always sends one).
    func readReply(socket: Int32) -> Bool {
        var buffer = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 4_096)
        // Bounded: replies are small; 64 KiB is plenty.
        while buffer.count < 65_536 {
            let count = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return false }
            buffer.append(contentsOf: chunk[0..<count])
            guard let end = buffer.withUnsafeBytes({ HandshakeResponse.headEnd($0) }) else { continue }
            let head = String(decoding: buffer[0..<end], as: UTF8.self).lowercased()
            var length = 0
            for line in head.split(separator: "\r\n") where line.hasPrefix("content-length:") {
                length = Int(line.dropFirst("content-length:".count).trimmingSpaces) ?? 0
            }
            if buffer.count >= end + 4 + length {
                let status = head.split(separator: " ").dropFirst().first ?? ""
                return status.hasPrefix("2")
            }
        }
        return false
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " || $0 == "\r" }).reversed().reduce(into: Substring()) { $0.append($1) }
    }
}
