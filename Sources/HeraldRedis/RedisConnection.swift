import CHiredis
import Glibc

/// One connection to a Redis server through hiredis's synchronous API
/// (Debian's libhiredis 0.14): a well-kept protocol implementation instead
/// of a home-made RESP client. Used by one thread at a time — the broker
/// thread for its subscriber and command connections, each admin thread
/// for its own publishing connection — so hiredis's blocking calls never
/// run on a shard thread (Docs/SCALING.md).
///
/// Every failure throws `RedisError` and leaves the connection unusable
/// (hiredis sets `err` and will not recover it): the owner drops it and
/// connects again.
public final class RedisConnection {
    private let context: UnsafeMutablePointer<redisContext>
    public let endpoint: String

    /// Connects, authenticates and selects the database, each step bounded
    /// by `timeoutMilliseconds`; the same bound then applies to every read
    /// and write (SO_RCVTIMEO/SO_SNDTIMEO), so a Redis that stops answering
    /// costs a caller at most that long.
    public init(host: String, port: Int, username: String? = nil, password: String? = nil, database: Int = 0,
                timeoutMilliseconds: Int) throws(RedisError) {
        endpoint = "\(host):\(port)"
        let timeout = Self.timeval(milliseconds: timeoutMilliseconds)
        guard let context = redisConnectWithTimeout(host, Int32(port), timeout) else {
            throw RedisError("redis \(host):\(port): cannot allocate a connection")
        }
        if context.pointee.err != 0 {
            // Not yet stored: no deinit runs for this throw, so free here.
            let message = Self.errorText(context)
            redisFree(context)
            throw RedisError("redis \(host):\(port): \(message)")
        }
        self.context = context
        _ = redisSetTimeout(context, timeout)
        // Keep-alive probes find a peer that vanished without a FIN.
        _ = redisEnableKeepAlive(context)
        // From here a throw runs deinit (self is initialised): the context is freed.
        if let password {
            var arguments: [[UInt8]] = [Array("AUTH".utf8)]
            if let username { arguments.append(Array(username.utf8)) }
            arguments.append(Array(password.utf8))
            if let message = try command(arguments).errorMessage { throw RedisError("redis AUTH: \(message)") }
        }
        if database != 0 {
            let reply = try command([Array("SELECT".utf8), Array(String(database).utf8)])
            if let message = reply.errorMessage { throw RedisError("redis SELECT \(database): \(message)") }
        }
    }

    deinit {
        redisFree(context)
    }

    /// The socket, for `poll` (the broker waits on its subscriber connections).
    public var descriptor: Int32 { context.pointee.fd }

    /// Sends one command and waits for its reply (bounded by the timeout).
    public func command(_ arguments: [[UInt8]]) throws(RedisError) -> RedisReply {
        try append(arguments)
        return try nextReply()
    }

    /// Sends commands in one write and reads their replies in order: one
    /// round trip for the lot (Redis pipelining).
    public func pipeline(_ commands: [[[UInt8]]]) throws(RedisError) -> [RedisReply] {
        for arguments in commands { try append(arguments) }
        var replies: [RedisReply] = []
        replies.reserveCapacity(commands.count)
        for _ in commands { replies.append(try nextReply()) }
        return replies
    }

    /// Queues a command in hiredis's output buffer (sent by the next read
    /// or `flush`).
    public func append(_ arguments: [[UInt8]]) throws(RedisError) {
        precondition(!arguments.isEmpty, "a Redis command has a name")
        let status: Int32 = Self.withArgv(arguments) { argv, lengths in
            redisAppendCommandArgv(context, Int32(arguments.count), argv, lengths)
        }
        guard status == REDIS_OK else { throw failure("append") }
    }

    /// Writes everything queued (blocking, bounded by the timeout).
    public func flush() throws(RedisError) {
        var done: Int32 = 0
        while done == 0 {
            guard redisBufferWrite(context, &done) == REDIS_OK else { throw failure("write") }
        }
    }

    /// The next reply: flushes what is queued, then reads until a whole
    /// reply is in (blocking, bounded by the timeout).
    public func nextReply() throws(RedisError) -> RedisReply {
        var raw: UnsafeMutableRawPointer?
        guard redisGetReply(context, &raw) == REDIS_OK, let raw else { throw failure("read") }
        defer { freeReplyObject(raw) }
        return Self.convert(raw.assumingMemoryBound(to: redisReply.self))
    }

    /// Reads what the socket holds (one `read`; call it when `poll` said
    /// readable, so it does not block) into hiredis's reader. Throws when
    /// the peer closed or the read failed.
    public func readAvailable() throws(RedisError) {
        guard redisBufferRead(context) == REDIS_OK else { throw failure("read") }
    }

    /// A whole reply already read, or nil (never touches the socket).
    public func bufferedReply() throws(RedisError) -> RedisReply? {
        var raw: UnsafeMutableRawPointer?
        guard redisGetReplyFromReader(context, &raw) == REDIS_OK else { throw failure("parse") }
        guard let raw else { return nil }
        defer { freeReplyObject(raw) }
        return Self.convert(raw.assumingMemoryBound(to: redisReply.self))
    }

    /// Waits until one of `descriptors` is readable (or hung up), at most
    /// `timeoutMilliseconds`; the indices of the ready ones. EINTR counts
    /// as a timeout (the caller loops anyway).
    public static func waitReadable(_ descriptors: [Int32], timeoutMilliseconds: Int) -> [Int] {
        var polled = descriptors.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        let ready = poll(&polled, nfds_t(polled.count), Int32(timeoutMilliseconds))
        guard ready > 0 else { return [] }
        return polled.indices.filter { polled[$0].revents != 0 }
    }

    private func failure(_ step: String) -> RedisError {
        RedisError("redis \(endpoint) \(step): \(context.pointee.err == 0 ? "no reply" : Self.errorText(context))")
    }

    private static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { raw in
            let bytes = raw.prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    private static func timeval(milliseconds: Int) -> Glibc.timeval {
        Glibc.timeval(tv_sec: milliseconds / 1000, tv_usec: (milliseconds % 1000) * 1000)
    }

    /// hiredis's argv form of `arguments` (pointers valid inside `body`;
    /// hiredis copies the bytes into its output buffer).
    private static func withArgv<Result>(_ arguments: [[UInt8]],
                                         _ body: (UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> Result) -> Result {
        let lengths = arguments.map(\.count)
        // One buffer holding every argument, so one allocation per command.
        let joined = arguments.flatMap { $0 }
        return joined.withUnsafeBufferPointer { storage in
            let base = storage.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) }
            var pointers: [UnsafePointer<CChar>?] = []
            pointers.reserveCapacity(arguments.count)
            var offset = 0
            // An empty argument (length 0) still needs a valid pointer.
            let empty: StaticString = ""
            for length in lengths {
                pointers.append(length == 0 || base == nil
                                ? UnsafeRawPointer(empty.utf8Start).assumingMemoryBound(to: CChar.self)
                                : base! + offset)
                offset += length
            }
            return pointers.withUnsafeMutableBufferPointer { argv in
                lengths.withUnsafeBufferPointer { body(argv.baseAddress!, $0.baseAddress!) }
            }
        }
    }

    private static func convert(_ reply: UnsafeMutablePointer<redisReply>) -> RedisReply {
        let value = reply.pointee
        switch value.type {
        case REDIS_REPLY_STRING:
            guard let text = value.str else { return .string([]) }
            return .string(Array(UnsafeRawBufferPointer(start: text, count: value.len)))
        case REDIS_REPLY_INTEGER:
            return .integer(value.integer)
        case REDIS_REPLY_ARRAY:
            guard let elements = value.element else { return .array([]) }
            return .array((0..<value.elements).map { convert(elements[$0]!) })
        case REDIS_REPLY_STATUS:
            return .status(value.str.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: value.len), as: UTF8.self) } ?? "")
        case REDIS_REPLY_ERROR:
            return .error(value.str.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: value.len), as: UTF8.self) } ?? "")
        default:
            return .null
        }
    }
}
