/// Intrusive timer links embedded in every connection slot, so scheduling a
/// timer never allocates: `TimingWheel` threads a doubly linked list per
/// bucket through these links, addressing slots by their `UInt32` index.
///
/// Layout: three `UInt32`s, 12 bytes, alignment 4. "Scheduled" is encoded in
/// `prev` (a reserved index value) rather than in a separate flag so the link
/// stays at 12 bytes. Slot indices are below `UInt32.max - 2` (the `Slab` and
/// `TimingWheel` capacity limit), so the two sentinels never collide with a
/// real index.
public struct TimerLink: BitwiseCopyable, Sendable {
  /// Next entry in the same bucket, or `TimerLink.none`.
  @usableFromInline internal var next: UInt32
  /// Previous entry in the same bucket; `TimerLink.none` when this entry is
  /// the bucket's head; `TimerLink.unscheduled` when not in any bucket.
  @usableFromInline internal var prev: UInt32
  /// Absolute deadline tick, truncated to 32 bits. It wraps (after 49.7 days
  /// at 1 ms ticks), so `TimingWheel` only ever compares it with wrapping
  /// arithmetic against ticks less than 2^31 away (see
  /// `TimingWheel.maxDelayTicks`).
  @usableFromInline internal var deadline: UInt32

  /// "No entry" at the end of a bucket list, and `prev` of a bucket's head.
  @usableFromInline internal static var none: UInt32 { UInt32.max }
  /// `prev` of an entry that is in no bucket.
  @usableFromInline internal static var unscheduled: UInt32 { UInt32.max - 1 }

  /// An unscheduled link.
  @inlinable
  public init() {
    next = TimerLink.none
    prev = TimerLink.unscheduled
    deadline = 0
  }

  @inlinable
  internal var isScheduled: Bool { prev != TimerLink.unscheduled }
}
