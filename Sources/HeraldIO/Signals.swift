import Glibc

/// Termination signals, taken synchronously: blocked in every thread from
/// the start, so only `waitForTermination`'s `sigwait` ever receives them
/// (no async signal handler touches engine state).
public enum Signals {
    public enum Termination: Sendable {
        case terminate, interrupt
        /// SIGHUP: reload the TLS certificate (only from `waitForSignal`).
        case hangup

        public var name: String {
            switch self {
            case .terminate: "SIGTERM"
            case .interrupt: "SIGINT"
            case .hangup: "SIGHUP"
            }
        }
    }

    /// Blocks SIGTERM/SIGINT (taken by `waitForTermination`) and SIGPIPE
    /// (sends use MSG_NOSIGNAL; a stray write must not kill the process) in
    /// the calling thread and every thread it spawns. Call before any.
    public static func blockTermination() {
        var signals = terminationSet()
        sigaddset(&signals, SIGPIPE)
        sigaddset(&signals, SIGHUP)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
    }

    /// Waits for SIGTERM, SIGINT or SIGHUP.
    public static func waitForSignal() -> Termination {
        var signals = terminationSet()
        sigaddset(&signals, SIGHUP)
        var received: Int32 = 0
        sigwait(&signals, &received)
        switch received {
        case SIGHUP: return .hangup
        case SIGTERM: return .terminate
        default: return .interrupt
        }
    }

    /// Waits for SIGTERM or SIGINT.
    public static func waitForTermination() -> Termination {
        var signals = terminationSet()
        var received: Int32 = 0
        sigwait(&signals, &received)
        return received == SIGTERM ? .terminate : .interrupt
    }

    /// Leaves at once with `status`, skipping atexit handlers (a second
    /// signal during a graceful shutdown).
    public static func exitNow(_ status: Int32) -> Never { _exit(status) }

    private static func terminationSet() -> sigset_t {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGINT)
        return signals
    }
}

/// The clocks the engine reads.
public enum SystemClock {
    /// CLOCK_MONOTONIC in milliseconds: immune to wall-clock steps, read
    /// once per loop turn.
    public static func monotonicMilliseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1000 + UInt64(now.tv_nsec) / 1_000_000
    }

    /// CLOCK_MONOTONIC in microseconds, for the latency histograms (a vDSO
    /// read, no system call).
    public static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
    }

    /// Wall-clock seconds since 1970, for token `exp`/`nbf` (RFC 7519).
    public static func wallSeconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec)
    }

    /// Wall-clock milliseconds since 1970 (ages of messages another
    /// machine stamped: Redis's TIME in multi-node).
    public static func wallMilliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }
}

/// The process's standard error, where log lines go.
public enum StandardError {
    /// One write(2) per call: lines from different threads never
    /// interleave (a pipe guarantees it up to PIPE_BUF bytes). EINTR is
    /// retried; a short write's rest is written too.
    public static func write(_ text: String) {
        var bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress! + written, $0.count - written) }
            if result > 0 {
                written += result
            } else if result < 0 && IOErrno.current == .interrupted {
                continue
            } else {
                return
            }
        }
    }
}
