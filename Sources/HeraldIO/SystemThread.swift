import CURing
import Glibc

/// A named OS thread running one closure: the engine's shard and admin
/// threads. pthreads rather than Foundation's Thread (no Foundation in the
/// engine) or Swift tasks (a shard owns its rings for its whole life and
/// must never be moved between threads: SINGLE_ISSUER, NOTES.md).
public final class SystemThread: @unchecked Sendable {
    // @unchecked: `thread` is written once by `start`, before any other
    // thread can see the object, and read by `join` afterwards.
    private var thread = pthread_t()

    private final class Context {
        let name: String
        let body: () -> Void
        init(name: String, body: @escaping () -> Void) {
            self.name = name
            self.body = body
        }
    }

    private init() {}

    /// Starts `body` on a new thread named `name` (≤ 15 bytes kept). A
    /// failure to create a thread at start is a fatal configuration error
    /// (the limit on threads per user), so it traps with the errno.
    public static func start(name: String, _ body: @escaping @Sendable () -> Void) -> SystemThread {
        let handle = SystemThread()
        let context = Unmanaged.passRetained(Context(name: name, body: body))
        let result = pthread_create(&handle.thread, nil, { argument in
            let context = Unmanaged<Context>.fromOpaque(argument!).takeRetainedValue()
            setCurrentThreadName(context.name)
            context.body()
            return nil
        }, context.toOpaque())
        precondition(result == 0, "pthread_create failed: \(IOErrno(result))")
        return handle
    }

    /// Starts a thread nobody joins (it ends with the process).
    public static func detach(name: String, _ body: @escaping @Sendable () -> Void) {
        let handle = start(name: name, body)
        pthread_detach(handle.thread)
    }

    public func join() { pthread_join(thread, nil) }
}

/// A one-shot countdown the starting thread waits on: each started thread
/// arrives once, with the error that stopped its set-up, if any.
public final class StartBarrier: @unchecked Sendable {
    // @unchecked: all state is guarded by `mutex`/`condition`.
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var remaining: Int
    private var firstError: Error?

    public init(count: Int) {
        remaining = count
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
    }

    public func arrive(_ error: Error?) {
        pthread_mutex_lock(&mutex)
        if firstError == nil { firstError = error }
        remaining -= 1
        pthread_cond_broadcast(&condition)
        pthread_mutex_unlock(&mutex)
    }

    public func wait() -> Error? {
        pthread_mutex_lock(&mutex)
        while remaining > 0 { pthread_cond_wait(&condition, &mutex) }
        let error = firstError
        pthread_mutex_unlock(&mutex)
        return error
    }
}

/// A count of parties still to report, with their summed results, that one
/// thread waits on for a bounded time, or looks at when the last party
/// rings its eventfd (an admin request waiting for every shard to act on a
/// command).
public final class Countdown: @unchecked Sendable {
    // @unchecked: all state is guarded by `mutex`/`condition`.
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var remaining: Int
    private var total = 0
    /// An eventfd signalled when the last party reports (-1: none).
    private let notifyDescriptor: Int32

    public init(count: Int, notifying descriptor: Int32 = -1) {
        remaining = count
        notifyDescriptor = descriptor
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
    }

    deinit {
        pthread_cond_destroy(&condition)
        pthread_mutex_destroy(&mutex)
    }

    /// One party reports `amount`.
    public func arrive(adding amount: Int) {
        pthread_mutex_lock(&mutex)
        total += amount
        remaining -= 1
        let last = remaining == 0
        pthread_cond_broadcast(&condition)
        pthread_mutex_unlock(&mutex)
        if last && notifyDescriptor >= 0 { Socket.signalEvent(notifyDescriptor) }
    }

    /// The sum so far and whether every party reported, without waiting.
    public func peek() -> (total: Int, complete: Bool) {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return (total, remaining == 0)
    }

    /// Waits until every party reported or `timeoutMilliseconds` passed;
    /// returns the sum so far and whether every party reported.
    public func wait(timeoutMilliseconds: UInt64) -> (total: Int, complete: Bool) {
        var deadline = timespec()
        clock_gettime(CLOCK_REALTIME, &deadline)
        let nanoseconds = Int(deadline.tv_nsec) + Int(timeoutMilliseconds % 1000) * 1_000_000
        deadline.tv_sec += Int(timeoutMilliseconds / 1000) + nanoseconds / 1_000_000_000
        deadline.tv_nsec = nanoseconds % 1_000_000_000
        pthread_mutex_lock(&mutex)
        while remaining > 0 {
            if pthread_cond_timedwait(&condition, &mutex, &deadline) != 0 { break }
        }
        let result = (total, remaining == 0)
        pthread_mutex_unlock(&mutex)
        return result
    }
}
