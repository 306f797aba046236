import Histogram

/// Percentiles of a latency histogram recorded in nanoseconds, reported in
/// microseconds (HdrHistogram, 3 significant digits: ±0.1 %).
public struct LatencySummary: Sendable, Equatable {
    public var count: UInt64
    public var p50: Double
    public var p90: Double
    public var p99: Double
    public var p999: Double
    public var max: Double

    public init(_ histogram: Histogram<UInt64>) {
        count = histogram.totalCount
        guard count > 0 else {
            p50 = 0; p90 = 0; p99 = 0; p999 = 0; max = 0
            return
        }
        func micro(_ nanoseconds: UInt64) -> Double { Double(nanoseconds) / 1_000 }
        p50 = micro(histogram.valueAtPercentile(50))
        p90 = micro(histogram.valueAtPercentile(90))
        p99 = micro(histogram.valueAtPercentile(99))
        p999 = micro(histogram.valueAtPercentile(99.9))
        max = micro(histogram.max)
    }

    var json: String {
        "{\"count\":\(count),\"p50_us\":\(p50),\"p90_us\":\(p90),\"p99_us\":\(p99),\"p99_9_us\":\(p999),\"max_us\":\(max)}"
    }

    var line: String {
        "p50 \(format(p50)) p90 \(format(p90)) p99 \(format(p99)) p99.9 \(format(p999)) max \(format(max)) (n=\(count))"
    }

    func format(_ micro: Double) -> String {
        micro >= 1_000 ? "\((micro / 10).rounded() / 100) ms" : "\(micro.rounded()) µs"
    }
}
