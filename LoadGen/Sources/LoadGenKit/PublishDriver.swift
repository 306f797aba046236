import Glibc
import Histogram
import Synchronization

/// The `publish` scenario's publishers: `--publishers` threads, each with
/// one keep-alive HTTP/1.1 connection carrying up to `--pipeline` requests
/// in flight, each request one message (`POST /v1/publish?topic=T`) or
/// `--batch` of them (`POST /v1/publish/batch`, NDJSON). Topic k belongs to
/// thread k mod P, which publishes that topic's messages in index order, so
/// every topic's seqs still follow its publish order and the subscribers'
/// seq checks hold. Nothing is retried: a failed request or a batch line
/// answered with an error counts as failed messages (the run then fails).
public final class PublishDriver: @unchecked Sendable {
    // @unchecked: each thread owns its slot of `latencies`; the runner
    // reads them after `finished` (acquiring).
    public let published = Atomic<Int>(0)
    public let failed = Atomic<Int>(0)
    public let requests = Atomic<Int>(0)
    let finishedThreads = Atomic<Int>(0)
    let stop = Atomic<Bool>(false)
    let url: HTTPURLTemplate
    let headers: [String]
    let topics: [String]
    let messages: Int
    let ratePerSecond: Double
    let paddingBytes: Int
    let chat: Bool
    let publishers: Int
    let pipeline: Int
    let batch: Int
    /// Request round trips (send → whole response), one histogram per thread.
    var latencies: [Histogram<UInt64>]

    static let replyTimeoutSeconds = 10

    init(options: Options) throws {
        url = try HTTPURLTemplate(options.publishURL)
        headers = options.publishHeaders
        topics = (0..<options.topics).map { "t\($0)" }
        messages = options.messages
        ratePerSecond = options.publishRatePerSecond
        paddingBytes = options.payloadBytes
        chat = options.chatPayload
        publishers = max(1, min(options.publishers, options.topics))
        pipeline = max(1, options.pipeline)
        batch = options.batch
        latencies = (0..<max(1, min(options.publishers, options.topics))).map { _ in
            Histogram<UInt64>(highestTrackableValue: 120_000_000_000, numberOfSignificantValueDigits: .three)
        }
    }

    var finished: Bool { finishedThreads.load(ordering: .acquiring) == publishers }

    func start() {
        for thread in 0..<publishers {
            let box = Unmanaged.passRetained(Box(driver: self, thread: thread))
            var handle = pthread_t()
            _ = pthread_create(&handle, nil, { argument in
                let box = Unmanaged<Box>.fromOpaque(argument!).takeRetainedValue()
                box.driver.run(thread: box.thread)
                box.driver.finishedThreads.add(1, ordering: .releasing)
                return nil
            }, box.toOpaque())
            pthread_detach(handle)
        }
    }

    final class Box {
        let driver: PublishDriver
        let thread: Int
        init(driver: PublishDriver, thread: Int) {
            self.driver = driver
            self.thread = thread
        }
    }

    /// One request on the wire, oldest first.
    struct InFlight {
        let sentAt: UInt64
        let messages: Int
    }

    func run(thread: Int) {
        // This thread's messages, in index order.
        let mine = (0..<messages).filter { ($0 % topics.count) % publishers == thread }
        guard !mine.isEmpty else { return }
        let socket = HTTPSocket.connect(url, timeoutSeconds: Self.replyTimeoutSeconds, receiveTimeout: false)
        guard socket >= 0 else {
            failed.add(mine.count, ordering: .relaxed)
            return
        }
        defer { close(socket) }
        let share = ratePerSecond > 0 ? ratePerSecond * Double(mine.count) / Double(messages) : 0
        let start = Clock.nanoseconds()
        var next = 0
        var inFlight: [InFlight] = []
        var inFlightHead = 0
        var input: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while (next < mine.count || inFlightHead < inFlight.count) && !stop.load(ordering: .relaxed) {
            // Send what is due while the pipeline has room.
            var output: [UInt8] = []
            let now = Clock.nanoseconds()
            while next < mine.count && inFlight.count - inFlightHead < pipeline {
                if share > 0 && start + UInt64(Double(next) / share * 1e9) > now { break }
                let count = batch > 0 ? min(batch, mine.count - next) : 1
                appendRequest(mine[next..<(next + count)], to: &output)
                inFlight.append(InFlight(sentAt: now, messages: count))
                next += count
                requests.add(1, ordering: .relaxed)
            }
            if !output.isEmpty && !HTTPSocket.sendAll(output, socket: socket) {
                failed.add(mine.count - next + pendingMessages(inFlight, from: inFlightHead), ordering: .relaxed)
                return
            }
            guard inFlightHead < inFlight.count else {
                // Nothing in flight: wait for the next message to be due.
                if next < mine.count && share > 0 {
                    let due = start + UInt64(Double(next) / share * 1e9)
                    let now = Clock.nanoseconds()
                    if due > now { Clock.sleep(seconds: min(0.05, Double(due - now) / 1e9)) }
                }
                continue
            }
            // Wait for replies (briefly when more messages are due soon).
            var poller = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            let wait: Int32 = next < mine.count && inFlight.count - inFlightHead < pipeline ? 1 : 1_000 * Int32(Self.replyTimeoutSeconds)
            let ready = poll(&poller, 1, wait)
            if ready == 0 && wait > 1 {
                failed.add(mine.count - next + pendingMessages(inFlight, from: inFlightHead), ordering: .relaxed)
                return
            }
            guard ready > 0 else { continue }
            let count = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            guard count > 0 else {
                failed.add(mine.count - next + pendingMessages(inFlight, from: inFlightHead), ordering: .relaxed)
                return
            }
            input.append(contentsOf: chunk[0..<count])
            // Every complete reply answers the oldest request in flight.
            var consumed = 0
            while inFlightHead < inFlight.count,
                  let reply = input.withUnsafeBytes({ Self.reply(UnsafeRawBufferPointer(rebasing: $0[consumed...])) }) {
                consumed += reply.length
                let request = inFlight[inFlightHead]
                inFlightHead += 1
                let elapsed = Clock.nanoseconds() - request.sentAt
                _ = latencies[thread].record(min(elapsed, latencies[thread].highestTrackableValue))
                let ok = reply.status / 100 == 2 ? (batch > 0 ? reply.results : 1) : 0
                published.add(min(ok, request.messages), ordering: .relaxed)
                failed.add(request.messages - min(ok, request.messages), ordering: .relaxed)
            }
            if consumed > 0 { input.removeFirst(consumed) }
            if inFlightHead > 1_024 {
                inFlight.removeFirst(inFlightHead)
                inFlightHead = 0
            }
        }
    }

    func pendingMessages(_ inFlight: [InFlight], from head: Int) -> Int {
        inFlight[head...].reduce(0) { $0 + $1.messages }
    }

    /// One POST for `indexes` (one message, or a batch of them).
    func appendRequest(_ indexes: ArraySlice<Int>, to output: inout [UInt8]) {
        var body: [UInt8] = []
        let path: String
        if batch > 0 {
            path = "/v1/publish/batch"
            for index in indexes {
                body += Array(#"{"topic":"\#(topics[index % topics.count])","data":"#.utf8)
                body += MessageFields.body(index: index, nanoseconds: Clock.nanoseconds(), paddingBytes: paddingBytes, chat: chat)
                body += Array("}\n".utf8)
            }
        } else {
            let index = indexes.first!
            path = url.path(topic: topics[index % topics.count])
            body = MessageFields.body(index: index, nanoseconds: Clock.nanoseconds(), paddingBytes: paddingBytes, chat: chat)
        }
        var head = "POST \(path) HTTP/1.1\r\nHost: \(url.host):\(url.port)\r\n"
        head += "Content-Type: \(batch > 0 ? "application/x-ndjson" : "application/json")\r\nContent-Length: \(body.count)\r\n"
        for header in headers { head += header + "\r\n" }
        head += "\r\n"
        output += Array(head.utf8)
        output += body
    }

    /// A complete reply at the start of `bytes`: its status, length and, for
    /// a batch, how many results carry a seq (the rest are errors).
    static func reply(_ bytes: UnsafeRawBufferPointer) -> (status: Int, length: Int, results: Int)? {
        guard let end = HandshakeResponse.headEnd(bytes) else { return nil }
        let head = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[0..<end]), as: UTF8.self).lowercased()
        var length = 0
        for line in head.split(separator: "\r\n") where line.hasPrefix("content-length:") {
            length = Int(line.dropFirst("content-length:".count).trimmingSpaces) ?? 0
        }
        guard bytes.count >= end + 4 + length else { return nil }
        let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
        let body = UnsafeRawBufferPointer(rebasing: bytes[(end + 4)..<(end + 4 + length)])
        var results = 0
        var offset = 0
        while let found = MessageFields.find(MessageFields.seqKey, in: UnsafeRawBufferPointer(rebasing: body[offset...])) {
            results += 1
            offset += found + MessageFields.seqKey.count
        }
        return (status, end + 4 + length, results)
    }
}

/// A blocking TCP connection to the publish URL's host (both publishers:
/// publish rates are modest per thread, and blocking keeps them simple).
enum HTTPSocket {
    /// Connected with TCP_NODELAY and a send timeout (and a receive timeout
    /// when `receiveTimeout`); -1 on failure.
    static func connect(_ url: HTTPURLTemplate, timeoutSeconds: Int, receiveTimeout: Bool) -> Int32 {
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return -1 }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        if receiveTimeout { setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size)) }
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = url.port.bigEndian
        address.sin_addr.s_addr = (Target.parseIPv4(Substring(url.host)) ?? 0).bigEndian
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            close(fd)
            return -1
        }
        return fd
    }

    static func sendAll(_ bytes: [UInt8], socket: Int32) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let result = bytes.withUnsafeBytes {
                Glibc.send(socket, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL))
            }
            guard result > 0 else { return false }
            sent += result
        }
        return true
    }
}
