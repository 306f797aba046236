/// A token bucket small enough for a connection slot (3 bytes): `tokens`
/// left and the second it was last refilled (the low 16 bits of a
/// seconds clock; a bucket untouched for 18 h refills as if less time had
/// passed, which only ever limits more, never less).
public struct TokenBucket: Sendable, Equatable, BitwiseCopyable {
    public var tokens: UInt8
    // Two bytes rather than a UInt16: alignment 1 keeps the bucket at 3
    // bytes, so it fits the padding before the slot's `assembly` pointer.
    private var secondLow: UInt8
    private var secondHigh: UInt8

    /// The second of the last refill (16 bits of it).
    public var refilledSecond: UInt16 {
        get { UInt16(secondHigh) << 8 | UInt16(secondLow) }
        set {
            secondLow = UInt8(truncatingIfNeeded: newValue)
            secondHigh = UInt8(truncatingIfNeeded: newValue >> 8)
        }
    }

    /// A full bucket.
    public init(capacity: UInt8, nowSecond: UInt32) {
        tokens = capacity
        secondLow = UInt8(truncatingIfNeeded: nowSecond)
        secondHigh = UInt8(truncatingIfNeeded: nowSecond >> 8)
    }

    /// Takes one token after refilling `perSecond` per elapsed second up to
    /// `capacity`; false when none is left (the caller refuses the action).
    public mutating func take(capacity: UInt8, perSecond: UInt8, nowSecond: UInt32) -> Bool {
        let now = UInt16(truncatingIfNeeded: nowSecond)
        // Safe: wrapping subtraction of two 16-bit second stamps, the later first.
        let elapsed = Int(now &- refilledSecond)
        if elapsed > 0 {
            tokens = UInt8(min(Int(capacity), Int(tokens) + elapsed * Int(perSecond)))
            refilledSecond = now
        }
        guard tokens > 0 else { return false }
        tokens -= 1
        return true
    }
}
