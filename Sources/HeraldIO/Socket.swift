import CURing
import Glibc

/// The few plain socket calls Herald makes outside io_uring: creating
/// listeners at start, and process facts the engine sizes itself by.
public enum Socket {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// A TCP listener (blocking mode is irrelevant: only io_uring accepts
    /// on it) with `SO_REUSEPORT` (one per shard, so the
    /// kernel spreads connections over shards) and `SO_REUSEADDR` (a fast
    /// restart while old sockets sit in TIME_WAIT or an in-flight multishot
    /// accept still holds the port, NOTES.md).
    /// `sendBufferBytes` > 0 sets SO_SNDBUF on the listener; Linux copies it
    /// (and its lock against autotuning) into every accepted socket, which
    /// is how direct-descriptor connections get it without a syscall each.
    /// `deferAcceptSeconds` > 0 sets TCP_DEFER_ACCEPT (tcp(7)): the kernel
    /// completes the accept only when the client's first bytes arrive — so
    /// the first receive finds them instead of arming a poll and waking
    /// later (measured: 41–43 → 32–36 µs of server CPU per connection in a
    /// 100k ramp) — or, for a client that stays silent, after that many
    /// seconds (its SYN-ACK retransmissions).
    public static func listen(host: String, port: UInt16, backlog: Int32, reusePort: Bool,
                              sendBufferBytes: Int = 0, deferAcceptSeconds: Int = 0) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let lookup = getaddrinfo(host, String(port), &hints, &list)
        guard lookup == 0, let first = list else {
            throw Failure(description: "cannot resolve listen address \(host): \(String(cString: gai_strerror(lookup)))")
        }
        defer { freeaddrinfo(list) }
        let fd = socket(first.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket() failed: \(IOErrno.current)") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if reusePort {
            setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        if sendBufferBytes > 0 {
            var bytes = Int32(clamping: sendBufferBytes)
            setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, socklen_t(MemoryLayout<Int32>.size))
        }
        if deferAcceptSeconds > 0 {
            var seconds = Int32(clamping: deferAcceptSeconds)
            guard setsockopt(fd, Int32(IPPROTO_TCP), TCP_DEFER_ACCEPT, &seconds,
                             socklen_t(MemoryLayout<Int32>.size)) == 0 else {
                let error = IOErrno.current
                close(fd)
                throw Failure(description: "TCP_DEFER_ACCEPT failed: \(error)")
            }
        }
        guard bind(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 else {
            let error = IOErrno.current
            close(fd)
            throw Failure(description: "bind \(host):\(port) failed: \(error)")
        }
        guard Glibc.listen(fd, backlog) == 0 else {
            let error = IOErrno.current
            close(fd)
            throw Failure(description: "listen \(host):\(port) failed: \(error)")
        }
        return fd
    }

    /// The port a listener is bound to (port 0 asks the kernel to pick).
    public static func boundPort(_ fd: Int32) -> UInt16 {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &length) }
        }
        if storage.ss_family == sa_family_t(AF_INET6) {
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) }
            }
        }
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
        }
    }

    public static func close(_ fd: Int32) { _ = Glibc.close(fd) }

    /// Shuts both directions of a plain socket (an admin connection being
    /// closed: ends its armed receive with 0 bytes). ENOTCONN (the peer
    /// already left) is the only expected failure and is ignored.
    public static func shutdown(_ fd: Int32) { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }

    /// `how` for a direct descriptor's half-close: FIN after the queued bytes.
    public static let shutdownWrite = Int32(SHUT_WR)

    /// RLIMIT_NOFILE (soft): the largest registered file table one ring may have.
    public static func openFilesLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        return limit.rlim_cur > (1 << 30) ? 1 << 20 : Int(limit.rlim_cur)  // RLIM_INFINITY does not import (a -1 macro)
    }

    /// Raises the soft fd limit to the hard limit (harmless when equal).
    public static func raiseOpenFilesLimit() {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
    }

    public static func onlineCores() -> Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// A non-blocking eventfd (wake-ups between threads and rings).
    public static func eventDescriptor() throws -> Int32 {
        let fd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard fd >= 0 else { throw Failure(description: "eventfd failed: \(IOErrno.current)") }
        return fd
    }

    public static func signalEvent(_ fd: Int32) { _ = eventfd_write(fd, 1) }

    /// Resets an eventfd's counter (non-blocking; nothing to read is fine).
    public static func drainEvent(_ fd: Int32) {
        var value: eventfd_t = 0
        _ = eventfd_read(fd, &value)
    }
}
