import Testing
@testable import HeraldCore

@Suite struct TokenBucketTests {
    /// Takes one token at `second`.
    static func take(_ bucket: inout TokenBucket, at second: UInt32, capacity: UInt8 = 3, perSecond: UInt8 = 2) -> Bool {
        bucket.take(capacity: capacity, perSecond: perSecond, nowSecond: second)
    }

    @Test func burstThenRate() {
        var bucket = TokenBucket(capacity: 3, nowSecond: 100)
        var taken: [Bool] = []
        for _ in 0..<4 { taken.append(Self.take(&bucket, at: 100)) }
        #expect(taken == [true, true, true, false], "a burst of three")
        taken = []
        for _ in 0..<3 { taken.append(Self.take(&bucket, at: 101)) }
        #expect(taken == [true, true, false], "then two a second")
        taken = []
        for _ in 0..<4 { taken.append(Self.take(&bucket, at: 1_000)) }
        #expect(taken == [true, true, true, false], "a long idle refills to the capacity, never beyond")
    }

    @Test func secondsWrapAt16Bits() {
        var bucket = TokenBucket(capacity: 1, nowSecond: 65_535)
        let first = Self.take(&bucket, at: 65_535, capacity: 1, perSecond: 1)
        let acrossTheWrap = Self.take(&bucket, at: 65_536, capacity: 1, perSecond: 1)
        #expect(first && acrossTheWrap)
    }

    @Test func fitsInTheSlotsPadding() {
        #expect(MemoryLayout<TokenBucket>.size == 3 && MemoryLayout<TokenBucket>.alignment == 1)
    }
}
