import HeraldCore
import Synchronization

/// `--connect-rate-per-source` for the whole process: one table behind a
/// lock, taken once per accepted connection (uncontended, ~20 ns, against
/// the ~40 µs an accepted connection costs), so a source gets its rate
/// however the kernel spreads its connections over rings and shards.
final class ConnectRateLimit: Sendable {
    private let limiter: Mutex<SourceRateLimiter>

    init(perSecond: Int) {
        limiter = Mutex(SourceRateLimiter(perSecond: perSecond, burst: perSecond))
    }

    func admit(source: UInt64, nowMilliseconds: UInt64) -> Bool {
        limiter.withLock { $0.admit(source: source, nowMilliseconds: nowMilliseconds) }
    }
}
