/// The bucket bounds of Herald's latency histograms (Prometheus `le`
/// labels), 1 µs to 10 s in 1–2.5–5 steps: fine where a healthy gateway
/// lives (a lock held for microseconds, a delivery in tens of µs to a few
/// ms) and coarse where only "how bad" matters.
/// Pure: which bucket a duration falls in, and the label of each bound.
public enum LatencyBuckets {
    /// Upper bounds, inclusive, in microseconds; one more bucket (+Inf)
    /// follows the last.
    public static let boundsMicroseconds: [UInt64] = [
        1, 2, 5,
        10, 25, 50, 100, 250, 500,
        1_000, 2_500, 5_000, 10_000, 25_000, 50_000,
        100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000,
    ]

    /// Buckets including +Inf.
    public static var count: Int { boundsMicroseconds.count + 1 }

    /// The bucket of a duration: the first bound it does not exceed, or
    /// the last (+Inf).
    public static func bucket(microseconds: UInt64) -> Int {
        // 19 bounds: a linear walk beats a binary search at this size and
        // most durations fall in the first few buckets.
        for (index, bound) in boundsMicroseconds.enumerated() where microseconds <= bound { return index }
        return boundsMicroseconds.count
    }

    /// The `le` label of bucket `index` in seconds ("0.00001", …, "+Inf").
    public static func label(_ index: Int) -> String {
        guard index < boundsMicroseconds.count else { return "+Inf" }
        return seconds(boundsMicroseconds[index])
    }

    /// Microseconds as a decimal number of seconds, exactly ("0.000025").
    public static func seconds(_ microseconds: UInt64) -> String {
        let whole = microseconds / 1_000_000
        var fraction = String(microseconds % 1_000_000)
        fraction = String(repeating: "0", count: 6 - fraction.count) + fraction
        while fraction.last == "0" { fraction.removeLast() }
        return fraction.isEmpty ? "\(whole)" : "\(whole).\(fraction)"
    }
}
