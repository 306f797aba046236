/// Hashed timing wheel (Varghese & Lauck, "Hashed and Hierarchical Timing
/// Wheels", SOSP 1987, scheme 6) over slots whose `TimerLink` lives inside
/// the slot at a fixed offset.
///
/// O(1) `schedule` and `cancel`; `advance` visits only the buckets of elapsed
/// ticks. Entries whose deadline is more than one revolution away stay in
/// their bucket (keyed by `deadlineTick % bucketCount`) and are skipped until
/// their tick comes round.
///
/// Nothing is allocated after `init`: bucket heads are one array, and the
/// per-bucket doubly linked lists are threaded through the slots' links.
/// The wheel does not own the slot memory; whoever owns it (a `Slab`) must
/// outlive the wheel, and must `cancel` a slot's timer before reusing it
/// (`Slab.allocate` resets the slot, link included, to its initial value,
/// which would orphan a still-linked entry).
///
/// Time: the wheel keeps `currentTick`, the last tick whose bucket has been
/// processed, and fires an entry with deadline tick `d` when `advance`
/// reaches a time `now` with `now / tickMilliseconds >= d`. Deadlines are
/// stored as 32-bit ticks that wrap; every comparison is made with wrapping
/// arithmetic between ticks less than 2^31 apart, which `maxDelayTicks` and
/// `maxTicksPerPass` guarantee.
///
/// Not thread-safe: each shard owns its own wheel.
public final class TimingWheel {
  /// Longest delay, in ticks, `schedule` accepts: 2^29 (an absolute
  /// deadline: up to 2^30 past the wheel's clock), leaving room for a full
  /// `maxTicksPerPass` so that a live deadline is always less than 2^31
  /// ticks from the tick it is compared with. That is 6.2 days at 1 ms ticks
  /// and 621 days at 100 ms ticks — far beyond any ping or idle timeout.
  public static var maxDelayTicks: UInt64 { 1 << 29 }
  /// `advance` over a longer gap (a suspended process, a clock jump) works in
  /// passes of at most this many ticks; see `advance`.
  @usableFromInline internal static var maxTicksPerPass: UInt64 { 1 << 29 }
  /// 2^20 buckets (4 MiB of heads) cover 17 minutes at 1 ms ticks in one
  /// revolution; more buys nothing but memory.
  public static var maxBucketCount: Int { 1 << 20 }
  /// Indices stay below `TimerLink`'s two sentinels (the same limit as
  /// `Slab.maxCapacity`).
  internal static var maxCapacity: Int { Int(UInt32.max - 2) }
  /// One day: a coarser wheel is not a timer.
  public static var maxTickMilliseconds: UInt64 { 86_400_000 }

  public let tickMilliseconds: UInt64
  /// Slots the links cover; indices are < capacity.
  @usableFromInline internal let capacity: Int
  @usableFromInline internal let bucketMask: UInt64
  /// Head index of each bucket's list, or `TimerLink.none`.
  @usableFromInline internal let heads: UnsafeMutablePointer<UInt32>
  @usableFromInline internal let links: UnsafeMutableRawPointer
  @usableFromInline internal let stride: Int
  @usableFromInline internal let linkOffset: Int

  @usableFromInline internal var storedCount: Int
  /// Last tick whose bucket has been processed; every live deadline is later.
  @usableFromInline internal var currentTick: UInt64
  /// Time of the last `advance` (or `init`); `schedule` counts from here.
  @usableFromInline internal var nowMilliseconds: UInt64
  /// Entry the bucket walk in `advance` visits next; `unlink` moves it on
  /// when `fire` unlinks that entry, so the walk survives any cancel or
  /// reschedule done from inside `fire`.
  @usableFromInline internal var walkNext: UInt32
  /// Lower bound of the deadlines scheduled or passed over since
  /// `advance` last started a revolution window; lets a long `advance` jump
  /// over ticks where nothing can fire.
  @usableFromInline internal var windowMinTick: UInt64
  @usableFromInline internal var isAdvancing: Bool

  /// - Parameters:
  ///   - capacity: number of slots the links cover.
  ///   - bucketCount: rounded up to a power of two, so the bucket of a tick
  ///     is a mask rather than a division.
  ///   - links: base address of slot 0; `stride`: bytes between slots;
  ///     `linkOffset`: offset of the `TimerLink` inside a slot
  ///     (`MemoryLayout<Slot>.offset(of: \.timer)!`).
  ///
  /// Every slot's link is reset to unscheduled: from here on the wheel owns
  /// the links.
  ///
  /// `resetLinks: false` leaves the links alone, for a slab that hands out
  /// only slots already reset to an unscheduled `TimerLink` (a lazily
  /// touched slab: resetting every link would touch every slot).
  public init(capacity: Int, bucketCount: Int, tickMilliseconds: UInt64, nowMilliseconds: UInt64,
              links: UnsafeMutableRawPointer, stride: Int, linkOffset: Int, resetLinks: Bool = true) {
    precondition(capacity >= 0 && capacity <= TimingWheel.maxCapacity,
                 "TimingWheel capacity \(capacity) outside 0...\(TimingWheel.maxCapacity)")
    precondition(bucketCount >= 1 && bucketCount <= TimingWheel.maxBucketCount,
                 "TimingWheel bucketCount \(bucketCount) outside 1...\(TimingWheel.maxBucketCount)")
    precondition(tickMilliseconds >= 1 && tickMilliseconds <= TimingWheel.maxTickMilliseconds,
                 "TimingWheel tickMilliseconds \(tickMilliseconds) outside 1...\(TimingWheel.maxTickMilliseconds)")
    let linkSize = MemoryLayout<TimerLink>.size
    let linkAlignment = MemoryLayout<TimerLink>.alignment
    precondition(stride >= linkSize && linkOffset >= 0 && linkOffset <= stride - linkSize,
                 "TimingWheel: the TimerLink at offset \(linkOffset) does not fit in a \(stride)-byte slot")
    precondition(stride % linkAlignment == 0 && linkOffset % linkAlignment == 0
                   && Int(bitPattern: links) % linkAlignment == 0,
                 "TimingWheel: TimerLinks would be misaligned")
    precondition(!capacity.multipliedReportingOverflow(by: stride).overflow,
                 "TimingWheel: \(capacity) slots of \(stride) bytes overflow the address space")

    var buckets = 1
    while buckets < bucketCount { buckets <<= 1 }

    self.capacity = capacity
    self.tickMilliseconds = tickMilliseconds
    // Safe: buckets is a power of two in 1...maxBucketCount.
    bucketMask = UInt64(buckets &- 1)
    heads = UnsafeMutablePointer<UInt32>.allocate(capacity: buckets)
    heads.initialize(repeating: TimerLink.none, count: buckets)
    self.links = links
    self.stride = stride
    self.linkOffset = linkOffset
    storedCount = 0
    currentTick = nowMilliseconds / tickMilliseconds
    self.nowMilliseconds = nowMilliseconds
    walkNext = TimerLink.none
    windowMinTick = UInt64.max
    isAdvancing = false
    for index in 0..<(resetLinks ? capacity : 0) {
      // Safe: index < capacity <= UInt32.max - 2.
      link(UInt32(truncatingIfNeeded: index)).pointee = TimerLink()
    }
  }

  deinit {
    heads.deallocate()
  }

  /// Scheduled entries.
  @inlinable
  public var count: Int { storedCount }

  /// Longest delay `schedule` accepts (`maxDelayTicks` ticks).
  @inlinable
  public var maxDelayMilliseconds: UInt64 {
    // Safe: 2^29 * maxTickMilliseconds (< 2^27) < 2^56.
    TimingWheel.maxDelayTicks &* tickMilliseconds
  }

  /// Number of buckets (a power of two).
  @inlinable
  public var bucketCount: Int {
    // Safe: bucketMask < maxBucketCount.
    Int(bucketMask) &+ 1
  }

  // MARK: - Scheduling

  /// (Re)schedules `index` to fire at `nowMilliseconds` (as of the last
  /// `advance`) + `delay`, rounded up to the next tick so it never fires
  /// early. If already scheduled, it is moved.
  ///
  /// Called from inside `advance`'s `fire`, time counts from the `now`
  /// passed to that `advance`, and the entry fires on a later tick than the
  /// one being processed.
  @inlinable
  public func schedule(_ index: UInt32, afterMilliseconds delay: UInt64) {
    precondition(delay <= maxDelayMilliseconds,
                 "TimingWheel.schedule: delay \(delay) ms exceeds \(maxDelayMilliseconds) ms")
    let (deadlineMilliseconds, overflow) = nowMilliseconds.addingReportingOverflow(delay)
    precondition(!overflow, "TimingWheel.schedule: deadline overflows UInt64 milliseconds")
    schedule(index, atMilliseconds: deadlineMilliseconds)
  }

  /// (Re)schedules `index` to fire at the absolute time `deadline` (the
  /// clock `advance` is given), rounded up to the next tick so it never
  /// fires early; a deadline in a tick already processed fires on the next
  /// one. If already scheduled, it is moved.
  ///
  /// For an event loop that reads the clock once per wake-up and handles
  /// events before it advances the wheel: its "now" is ahead of the
  /// wheel's by the time it slept, and a delay counted from the wheel's
  /// clock would come due that much early. `deadline` may be at most
  /// `2 × maxDelayMilliseconds` past the wheel's clock (a delay of up to
  /// `maxDelayMilliseconds` from a caller's clock up to as far ahead);
  /// with `maxTicksPerPass` that keeps live deadlines < 2^31 ticks apart.
  @inlinable
  public func schedule(_ index: UInt32, atMilliseconds deadline: UInt64) {
    precondition(Int(index) < capacity, "TimingWheel.schedule: index \(index) out of range")
    // Round up: the tick whose start is at or after the deadline.
    var deadlineTick = deadline / tickMilliseconds
    if deadline % tickMilliseconds != 0 {
      // Safe: a non-zero remainder means tickMilliseconds >= 2, so the
      // quotient is at most UInt64.max / 2.
      deadlineTick &+= 1
    }
    // A tick already processed is not visited again. (Checked: overflows
    // only for a clock at UInt64.max milliseconds.)
    deadlineTick = max(deadlineTick, currentTick + 1)
    // Safe: deadlineTick > currentTick.
    precondition(deadlineTick &- currentTick <= 2 &* TimingWheel.maxDelayTicks &+ 1,
                 "TimingWheel.schedule: deadline \(deadline) ms is too far past the wheel's clock \(nowMilliseconds) ms")
    let entry = link(index)
    if entry.pointee.isScheduled {
      unlink(index, entry)
    } else {
      // Safe: at most capacity entries are scheduled.
      storedCount &+= 1
    }
    insert(index, entry, deadlineTick: deadlineTick)
    if deadlineTick < windowMinTick { windowMinTick = deadlineTick }
  }

  /// No-op when not scheduled.
  @inlinable
  public func cancel(_ index: UInt32) {
    precondition(Int(index) < capacity, "TimingWheel.cancel: index \(index) out of range")
    let entry = link(index)
    guard entry.pointee.isScheduled else { return }
    unlink(index, entry)
    // Safe: the entry was scheduled, so storedCount >= 1.
    storedCount &-= 1
  }

  @inlinable
  public func isScheduled(_ index: UInt32) -> Bool {
    precondition(Int(index) < capacity, "TimingWheel.isScheduled: index \(index) out of range")
    return link(index).pointee.isScheduled
  }

  // MARK: - Time

  /// Moves time forward to `now` and calls `fire` for every entry whose
  /// deadline is at or before `now`, each exactly once, in deadline-tick
  /// order. Each entry is unlinked before `fire` runs, so `fire` may
  /// schedule it again or cancel or schedule any other index; `fire` must
  /// not call `advance`. A `now` earlier than the last one is ignored (the
  /// clock is expected to be monotonic).
  ///
  /// A gap longer than `maxTicksPerPass` ticks is processed in passes, each
  /// treating its end as "now" for entries scheduled from `fire`; so a timer
  /// that reschedules itself fires at most once per pass (6.2 days at 1 ms
  /// ticks) rather than once per missed period.
  @inlinable
  public func advance(toMilliseconds now: UInt64, _ fire: (UInt32) -> Void) {
    precondition(!isAdvancing, "TimingWheel.advance called from inside fire")
    guard now > nowMilliseconds else { return }
    isAdvancing = true
    let targetTick = now / tickMilliseconds
    while currentTick < targetTick {
      // Safe: currentTick < targetTick.
      let remaining = targetTick &- currentTick
      // Safe: taken only when currentTick + maxTicksPerPass < targetTick.
      let passEnd = remaining > TimingWheel.maxTicksPerPass
        ? currentTick &+ TimingWheel.maxTicksPerPass : targetTick
      // Safe: passEnd <= targetTick, and targetTick * tickMilliseconds <= now.
      nowMilliseconds = passEnd == targetTick ? now : passEnd &* tickMilliseconds
      runPass(through: passEnd, fire)
    }
    nowMilliseconds = now
    isAdvancing = false
  }

  /// Milliseconds from `now` until the next tick boundary at which something
  /// may fire, for the event loop's wait timeout; nil when nothing is
  /// scheduled. Conservative: it finds the first non-empty bucket, whose
  /// entries may belong to a later revolution, so the answer may be early,
  /// never late. O(bucketCount) at worst.
  @inlinable
  public func millisecondsUntilNextExpiry(nowMilliseconds now: UInt64) -> UInt64? {
    guard storedCount > 0 else { return nil }
    // Every scheduled entry sits in some bucket, so one revolution finds one
    // at or before the earliest deadline tick.
    var tick = currentTick
    for _ in 0..<bucketCount {
      // Safe: the loop stops at or before the earliest deadline tick, a
      // UInt64 that schedule computed without overflow.
      tick &+= 1
      if heads[Int(tick & bucketMask)] != TimerLink.none { break }
    }
    let (boundary, overflow) = tick.multipliedReportingOverflow(by: tickMilliseconds)
    if overflow { return UInt64.max }
    // Safe: subtraction guarded by the comparison.
    return boundary > now ? boundary &- now : 0
  }

  // MARK: - Jitter

  /// Spreads `base` over `[base - base * fraction, base]` using a cheap,
  /// deterministic hash of `index` and `salt`, so a million connections
  /// accepted in one burst do not all ping in the same tick. `fraction` must
  /// be in 0...1.
  @inlinable
  public static func jittered(_ base: UInt64, index: UInt32, salt: UInt32, fraction: Double) -> UInt64 {
    precondition(fraction >= 0 && fraction <= 1, "TimingWheel.jittered: fraction \(fraction) outside 0...1")
    let scaled = Double(base) * fraction
    // Double(base) may round up past base (and past UInt64.max), so clamp
    // before converting back.
    let spread = scaled >= Double(base) ? base : UInt64(scaled)
    let hash = mix(UInt64(salt) << 32 | UInt64(index))
    let offset: UInt64
    if spread == UInt64.max {
      offset = hash
    } else {
      // Lemire's multiply-shift maps hash uniformly onto 0...spread without a
      // division ("Fast Random Integer Generation in an Interval", 2019).
      // Safe: spread < UInt64.max, checked above.
      offset = hash.multipliedFullWidth(by: spread &+ 1).high
    }
    // Safe: offset <= spread <= base.
    return base &- offset
  }

  /// SplitMix64's finalizer (Steele, Lea & Flood, "Fast Splittable
  /// Pseudorandom Number Generators", OOPSLA 2014): consecutive indices map
  /// to unrelated 64-bit values. The constants are the published ones.
  @inlinable
  internal static func mix(_ value: UInt64) -> UInt64 {
    // Safe: wrapping multiplication and addition are the point of the hash.
    var z = value &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

// MARK: - Internals

extension TimingWheel {
  @inlinable
  internal func link(_ index: UInt32) -> UnsafeMutablePointer<TimerLink> {
    // Safe: callers check index < capacity, and init checked that
    // capacity * stride does not overflow; the link lies inside the slot.
    (links + (Int(index) &* stride &+ linkOffset)).assumingMemoryBound(to: TimerLink.self)
  }

  @inlinable
  internal func bucket(ofTick tick: UInt32) -> Int {
    // bucketMask < 2^20, so the low 32 bits of a tick select the same bucket
    // as the full 64-bit tick.
    Int(UInt64(tick) & bucketMask)
  }

  @inlinable
  internal func insert(_ index: UInt32, _ entry: UnsafeMutablePointer<TimerLink>, deadlineTick: UInt64) {
    let deadline = UInt32(truncatingIfNeeded: deadlineTick)
    let bucket = bucket(ofTick: deadline)
    let head = heads[bucket]
    entry.pointee.deadline = deadline
    entry.pointee.prev = TimerLink.none
    entry.pointee.next = head
    if head != TimerLink.none { link(head).pointee.prev = index }
    heads[bucket] = index
  }

  @inlinable
  internal func unlink(_ index: UInt32, _ entry: UnsafeMutablePointer<TimerLink>) {
    let next = entry.pointee.next
    let prev = entry.pointee.prev
    if prev == TimerLink.none {
      heads[bucket(ofTick: entry.pointee.deadline)] = next
    } else {
      link(prev).pointee.next = next
    }
    if next != TimerLink.none { link(next).pointee.prev = prev }
    if walkNext == index { walkNext = next }
    entry.pointee = TimerLink()
  }

  /// Processes ticks `currentTick + 1 ... end`. After each full revolution
  /// every live entry has been either passed over or (re)scheduled, so
  /// `windowMinTick` bounds the earliest deadline and the ticks before it can
  /// be skipped: a long gap costs O(revolutions with work), not O(ticks).
  @inlinable
  internal func runPass(through end: UInt64, _ fire: (UInt32) -> Void) {
    var windowStart = currentTick
    windowMinTick = UInt64.max
    while currentTick < end {
      if storedCount == 0 {
        currentTick = end
        return
      }
      // Safe: currentTick < end.
      currentTick &+= 1
      visitBucket(ofTick: currentTick, fire)
      // Safe: currentTick >= windowStart.
      if currentTick &- windowStart >= bucketMask &+ 1 {
        // Safe: windowMinTick > currentTick + 1 >= 1 in this branch.
        if windowMinTick > currentTick &+ 1 { currentTick = min(end, windowMinTick &- 1) }
        windowStart = currentTick
        windowMinTick = UInt64.max
      }
    }
  }

  @inlinable
  internal func visitBucket(ofTick tick: UInt64, _ fire: (UInt32) -> Void) {
    let now32 = UInt32(truncatingIfNeeded: tick)
    var index = heads[Int(tick & bucketMask)]
    while index != TimerLink.none {
      let entry = link(index)
      walkNext = entry.pointee.next
      // Safe: live deadlines are within 2^31 ticks of `tick` (maxDelayTicks
      // plus maxTicksPerPass < 2^31), so the wrapped difference read as
      // signed is the true distance.
      let distance = Int32(bitPattern: entry.pointee.deadline &- now32)
      if distance <= 0 {
        unlink(index, entry)
        // Safe: the entry was scheduled, so storedCount >= 1.
        storedCount &-= 1
        fire(index)
      } else {
        // Safe: this is the deadline tick schedule computed as a UInt64.
        let deadlineTick = tick &+ UInt64(distance)
        if deadlineTick < windowMinTick { windowMinTick = deadlineTick }
      }
      index = walkNext
    }
  }
}
