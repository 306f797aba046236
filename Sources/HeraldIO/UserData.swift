/// The 64-bit `user_data` every SQE carries and its CQE returns.
///
///     bit 63          56 55                    32 31                        0
///        +--------------+------------------------+---------------------------+
///        |  kind (8)    |  generation (24)       |  index (32)               |
///        +--------------+------------------------+---------------------------+
///
/// `index` names a slot (a connection, a listener, a pooled send) and
/// `generation` the slot's life: a completion that arrives after its slot
/// was freed and reused carries an older generation and is dropped. 24 bits
/// wrap after 16 M reuses of one slot, far beyond any operation's lifetime.
/// `kind` picks the handler (one switch over kinds, as in liburing's proxy.c).
public struct UserData: Hashable, Sendable {
    public let rawValue: UInt64

    @inlinable
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    @inlinable
    public init(kind: UInt8, generation: UInt32, index: UInt32) {
        // Safe: each field is masked to its width before shifting.
        rawValue = UInt64(kind) << 56 | UInt64(generation & 0x00FF_FFFF) << 32 | UInt64(index)
    }

    @inlinable public var kind: UInt8 { UInt8(truncatingIfNeeded: rawValue >> 56) }
    @inlinable public var generation: UInt32 { UInt32(truncatingIfNeeded: rawValue >> 32) & 0x00FF_FFFF }
    @inlinable public var index: UInt32 { UInt32(truncatingIfNeeded: rawValue) }
}
