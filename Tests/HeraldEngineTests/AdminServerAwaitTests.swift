import Foundation
import Glibc
import HeraldCore
import HeraldIO
import Testing
@testable import HeraldEngine

/// A real admin server (its thread, its ring, a loopback listener) whose
/// shards never reply to `/v1/disconnect`: the admin thread must go on
/// answering other connections meanwhile. Before, it waited in the request
/// for up to 5 s and answered nobody.
@Suite struct AdminServerAwaitTests {
    @Test func anotherConnectionIsAnsweredWhileADisconnectAwaitsTheShards() throws {
        let registry = makeRegistry(shards: 1)
        // No shard runs: the test takes the command and replies for it.
        let control = ShardControl(wakeDescriptors: [-1])
        let router = AdminRouter(token: nil, stats: makeStatsReport(registry: registry),
                                 publisher: Publisher(registry: registry), control: control)
        let listener = try Socket.listen(host: "127.0.0.1", port: 0, backlog: 16, reusePort: false)
        let port = Socket.boundPort(listener)
        let server = try AdminServer(listener: listener, router: router, config: Config(),
                                     counters: ShardCounters(rings: 1))
        // Far beyond the test: only the reply below can end the wait.
        router.awaitedAnswerTimeoutMilliseconds = 600_000
        try server.start()
        defer {
            server.stop()
            server.join()
            Socket.close(listener)
        }
        let waiting = try Client(port: port)
        let body = #"{"sub":"eve"}"#
        waiting.send("POST /v1/disconnect HTTP/1.1\r\nHost: a\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        // The admin thread has asked the shard (bounded wait, not a timing assertion).
        for _ in 0..<3_000 where !control.hasCommands(shard: 0) { usleep(10_000) }
        #expect(control.hasCommands(shard: 0))

        // Another connection is answered meanwhile (a blocked admin thread
        // answers it only after the shard's reply, or its read times out).
        let other = try Client(port: port)
        other.send("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
        let healthz = other.readAnswer()
        #expect(healthz.hasPrefix("HTTP/1.1 200 OK") && healthz.hasSuffix("ok"), "\(healthz)")
        #expect(waiting.readNow() == nil)

        // The shard's reply rings the admin thread, which answers at once.
        guard case .disconnect(let subject, let reply) = control.take(shard: 0).first else {
            Issue.record("no command for the shard")
            return
        }
        #expect(subject == "eve")
        reply.arrive(adding: 0)
        let answer = waiting.readAnswer()
        #expect(answer.hasPrefix("HTTP/1.1 200 OK") && answer.hasSuffix(#"{"closed":0}"#), "\(answer)")
    }
}

/// A blocking loopback HTTP client of one connection.
private final class Client {
    let descriptor: Int32

    init(port: UInt16) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
        // A bound on every read: a broken server fails the test, never hangs it.
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(descriptor) }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        var sent = -1
        repeat {
            sent = bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, 0) }
        } while sent < 0 && errno == EINTR
    }

    /// One whole answer (head and Content-Length body), waiting for it.
    func readAnswer() -> String {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let text = String(decoding: data, as: UTF8.self)
            if let end = text.range(of: "\r\n\r\n") {
                let head = text[..<end.lowerBound]
                let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                    .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                if text.utf8.count >= text.utf8.distance(from: text.startIndex, to: end.upperBound) + length {
                    return text
                }
            }
            let count = recv(descriptor, &buffer, buffer.count, 0)
            // Interrupted by a signal (tests running beside this one start
            // and kill redis-server children: SIGCHLD): read again.
            if count < 0 && errno == EINTR { continue }
            // What ended the read is part of what the test reports.
            guard count > 0 else { return text + (count == 0 ? "(closed)" : "(recv errno \(errno))") }
            data += buffer[0..<count]
        }
    }

    /// What has arrived already, without waiting; nil when nothing has.
    func readNow() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        var count = recv(descriptor, &buffer, buffer.count, Int32(MSG_DONTWAIT))
        while count < 0 && errno == EINTR { count = recv(descriptor, &buffer, buffer.count, Int32(MSG_DONTWAIT)) }
        return count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : nil
    }
}
