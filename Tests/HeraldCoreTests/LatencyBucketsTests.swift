import Testing
@testable import HeraldCore

@Suite struct LatencyBucketsTests {
    @Test func aDurationFallsInTheFirstBucketItDoesNotExceed() {
        #expect(LatencyBuckets.bucket(microseconds: 0) == 0)
        #expect(LatencyBuckets.bucket(microseconds: 10) == 0, "bounds are inclusive (Prometheus le)")
        #expect(LatencyBuckets.bucket(microseconds: 11) == 1)
        #expect(LatencyBuckets.bucket(microseconds: 1_000) == 6)
        #expect(LatencyBuckets.bucket(microseconds: 10_000_000) == LatencyBuckets.count - 2)
        #expect(LatencyBuckets.bucket(microseconds: 10_000_001) == LatencyBuckets.count - 1, "+Inf")
        #expect(LatencyBuckets.bucket(microseconds: .max) == LatencyBuckets.count - 1)
        #expect(LatencyBuckets.boundsMicroseconds == LatencyBuckets.boundsMicroseconds.sorted())
    }

    @Test func labelsAreExactSeconds() {
        #expect(LatencyBuckets.label(0) == "0.00001")
        #expect(LatencyBuckets.label(1) == "0.000025")
        #expect(LatencyBuckets.label(6) == "0.001")
        #expect(LatencyBuckets.label(15) == "1")
        #expect(LatencyBuckets.label(16) == "2.5")
        #expect(LatencyBuckets.label(LatencyBuckets.count - 1) == "+Inf")
        #expect(LatencyBuckets.seconds(4_885_574) == "4.885574")
        #expect(LatencyBuckets.seconds(0) == "0")
    }
}
