import Testing
@testable import HeraldEngine

@Suite struct LatencyHistogramTests {
    @Test func shardsMergeIntoCumulativeBuckets() {
        let first = LatencyHistogram()
        let second = LatencyHistogram()
        first.record(microseconds: 5)
        first.record(microseconds: 40)
        second.record(microseconds: 40)
        second.record(microseconds: 20_000_000)
        let text = LatencyHistogram.prometheus(name: "x_seconds", help: "h", [first, second])
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines[0] == "# HELP herald_x_seconds h")
        #expect(lines[1] == "# TYPE herald_x_seconds histogram")
        #expect(lines.contains(#"herald_x_seconds_bucket{le="0.00001"} 1"#))
        #expect(lines.contains(#"herald_x_seconds_bucket{le="0.000025"} 1"#))
        #expect(lines.contains(#"herald_x_seconds_bucket{le="0.00005"} 3"#))
        #expect(lines.contains(#"herald_x_seconds_bucket{le="10"} 3"#))
        #expect(lines.contains(#"herald_x_seconds_bucket{le="+Inf"} 4"#))
        #expect(lines.contains("herald_x_seconds_sum 20.000085"))
        #expect(lines.last == "herald_x_seconds_count 4")
    }
}
