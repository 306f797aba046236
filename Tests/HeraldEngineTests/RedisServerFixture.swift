import Glibc
import HeraldRedis

/// A real `redis-server` (Debian's) for the tests of the cluster scripts:
/// its own free loopback port, no persistence, killed when the test ends.
/// Never a system service, never a mock (`make test` installs it).
final class RedisServerFixture {
    let port: Int
    private var pid: pid_t = 0

    struct Missing: Error, CustomStringConvertible {
        var description: String { "redis-server not found: `make test` installs Debian's redis-server" }
    }

    /// Spawned with posix_spawn (Foundation's Process keeps run-loop
    /// threads that stop the test process from exiting).
    init() throws {
        let candidates: [String] = ["/usr/bin/redis-server", "/usr/local/bin/redis-server", "/usr/sbin/redis-server"]
        guard let path = candidates
            .first(where: { access($0, X_OK) == 0 }) else { throw Missing() }
        port = Self.freePort()
        let arguments = [path, "--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                         "--dir", "/tmp", "--logfile", "/dev/null"]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        guard posix_spawn(&pid, path, &actions, nil, &argv, environ) == 0 else {
            throw RedisError("cannot start redis-server")
        }
        for _ in 0..<200 {
            if let connection = try? connect(), (try? connection.command([Array("PING".utf8)])) == .status("PONG") {
                return
            }
            usleep(25_000)
        }
        stop()
        throw RedisError("redis-server did not start on port \(port)")
    }

    deinit { stop() }

    private func stop() {
        guard pid > 0 else { return }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        pid = 0
    }

    func connect() throws -> RedisConnection {
        try RedisConnection(host: "127.0.0.1", port: port, timeoutMilliseconds: 2_000)
    }

    private static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

extension RedisConnection {
    func run(_ words: String...) throws -> RedisReply {
        try command(words.map { Array($0.utf8) })
    }
}
