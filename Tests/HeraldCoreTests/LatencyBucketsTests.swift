import Testing
@testable import HeraldCore

@Suite struct LatencyBucketsTests {
    @Test func aDurationFallsInTheFirstBucketItDoesNotExceed() {
        #expect(LatencyBuckets.bucket(microseconds: 0) == 0)
        #expect(LatencyBuckets.bucket(microseconds: 1) == 0, "bounds are inclusive (Prometheus le)")
        #expect(LatencyBuckets.bucket(microseconds: 2) == 1)
        #expect(LatencyBuckets.bucket(microseconds: 10) == 3)
        #expect(LatencyBuckets.bucket(microseconds: 11) == 4)
        #expect(LatencyBuckets.bucket(microseconds: 1_000) == 9)
        #expect(LatencyBuckets.bucket(microseconds: 10_000_000) == LatencyBuckets.count - 2)
        #expect(LatencyBuckets.bucket(microseconds: 10_000_001) == LatencyBuckets.count - 1, "+Inf")
        #expect(LatencyBuckets.bucket(microseconds: .max) == LatencyBuckets.count - 1)
        #expect(LatencyBuckets.boundsMicroseconds == LatencyBuckets.boundsMicroseconds.sorted())
    }

    @Test func labelsAreExactSeconds() {
        #expect(LatencyBuckets.label(0) == "0.000001")
        #expect(LatencyBuckets.label(3) == "0.00001")
        #expect(LatencyBuckets.label(4) == "0.000025")
        #expect(LatencyBuckets.label(9) == "0.001")
        #expect(LatencyBuckets.label(18) == "1")
        #expect(LatencyBuckets.label(19) == "2.5")
        #expect(LatencyBuckets.label(LatencyBuckets.count - 1) == "+Inf")
        #expect(LatencyBuckets.seconds(4_885_574) == "4.885574")
        #expect(LatencyBuckets.seconds(0) == "0")
    }
}
