/// `--connect-rate-per-source`: a token bucket per source address, so one
/// host (or a botnet's share of one /64) cannot make the server spend its
/// CPU on handshakes — a TLS handshake costs ~0.7 ms here, a reconnect
/// storm from one address thousands of them. Pure; the engine asks it at
/// every accept, before any byte is read.
///
/// Bounded: a fixed table of `slots` buckets (24 B each), indexed by a
/// seeded hash of the source. Two sources that land on one bucket replace
/// each other's state (the newcomer starts with a full burst): an attacker
/// cannot aim at another's bucket without the seed, and many sources
/// rotating through the table each get no more than their burst.
public struct SourceRateLimiter: Sendable {
    struct Bucket: Sendable {
        var source: UInt64 = 0
        /// Thousandths of a connection (fixed point: no floating point).
        var milliTokens: UInt64 = 0
        var refilledAtMilliseconds: UInt64 = 0
    }

    public let perSecond: UInt64
    public let burst: UInt64
    private var buckets: [Bucket]
    private let seed: UInt64

    public static let defaultSlots = 8192

    public init(perSecond: Int, burst: Int, slots: Int = SourceRateLimiter.defaultSlots,
                seed: UInt64 = UInt64.random(in: 1...UInt64.max)) {
        precondition(perSecond > 0 && burst > 0 && slots > 0, "a limit needs a rate, a burst and a table")
        self.perSecond = UInt64(perSecond)
        self.burst = UInt64(burst)
        self.seed = seed
        buckets = Array(repeating: Bucket(), count: slots)
    }

    /// Whether a new connection from `source` (an IPv4 address, or an IPv6
    /// /64, as 64 bits) may proceed now; takes one token when it may.
    public mutating func admit(source: UInt64, nowMilliseconds: UInt64) -> Bool {
        let at = Int(Self.mix(source ^ seed) % UInt64(buckets.count))
        if buckets[at].source != source || buckets[at].refilledAtMilliseconds == 0 {
            buckets[at] = Bucket(source: source, milliTokens: burst * 1000,
                                 refilledAtMilliseconds: max(nowMilliseconds, 1))
        } else {
            let elapsed = nowMilliseconds &- buckets[at].refilledAtMilliseconds
            if nowMilliseconds > buckets[at].refilledAtMilliseconds {
                // perSecond tokens a second = perSecond milli-tokens a millisecond.
                buckets[at].milliTokens = min(burst * 1000, buckets[at].milliTokens &+ elapsed &* perSecond)
                buckets[at].refilledAtMilliseconds = nowMilliseconds
            }
        }
        guard buckets[at].milliTokens >= 1000 else { return false }
        buckets[at].milliTokens -= 1000
        return true
    }

    /// splitmix64's finalizer: a good spread for addresses that differ in
    /// their low bits only.
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
