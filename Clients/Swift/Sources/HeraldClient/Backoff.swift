/// Reconnect delays: exponential from `minimum` to `maximum`, with "equal
/// jitter" (half fixed, half random), so a server restart does not bring
/// every client back in the same millisecond.
struct Backoff: Sendable {
    let minimum: Duration
    let maximum: Duration

    /// The delay before attempt `attempt` (1 = the first retry); `random`
    /// in 0...1.
    func delay(attempt: Int, random: Double) -> Duration {
        let exponent = min(max(attempt - 1, 0), 30)
        let ceiling = min(maximum, minimum * Double(1 << exponent))
        return ceiling / 2 + ceiling / 2 * min(max(random, 0), 1)
    }
}
