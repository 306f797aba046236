import Glibc

/// CLOCK_MONOTONIC in milliseconds: immune to wall-clock steps, read once
/// per loop turn.
enum Clock {
    static func monotonicMilliseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1000 + UInt64(now.tv_nsec) / 1_000_000
    }

    /// Wall-clock seconds since 1970, for token `exp`/`nbf` (RFC 7519).
    static func wallSeconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec)
    }
}
