import Testing
@testable import HeraldCore

/// A slab of slots and a wheel threaded through their links, as the engine
/// builds them. Holds the slab so its memory outlives the wheel.
private final class WheelFixture {
  let slab: Slab<TestSlot>
  let wheel: TimingWheel

  init(capacity: Int = 64, bucketCount: Int = 8, tickMilliseconds: UInt64 = 10, nowMilliseconds: UInt64 = 1_000) {
    slab = Slab(capacity: capacity, initial: TestSlot(payload: 0, timer: TimerLink()))
    wheel = TimingWheel(
      capacity: capacity, bucketCount: bucketCount, tickMilliseconds: tickMilliseconds,
      nowMilliseconds: nowMilliseconds, links: slab.baseAddress,
      stride: MemoryLayout<TestSlot>.stride, linkOffset: MemoryLayout<TestSlot>.offset(of: \.timer)!)
  }

  /// Advances and returns what fired, in firing order.
  func advance(to now: UInt64) -> [UInt32] {
    var fired: [UInt32] = []
    wheel.advance(toMilliseconds: now) { fired.append($0) }
    return fired
  }
}

@Suite struct TimingWheelTests {
  @Test func roundsBucketCountUpToAPowerOfTwo() {
    #expect(WheelFixture(bucketCount: 1).wheel.bucketCount == 1)
    #expect(WheelFixture(bucketCount: 5).wheel.bucketCount == 8)
    #expect(WheelFixture(bucketCount: 1024).wheel.bucketCount == 1024)
  }

  @Test func firesAtTheFirstTickAtOrAfterTheDeadlineNeverEarly() {
    let fixture = WheelFixture()  // now 1000, 10 ms ticks
    fixture.wheel.schedule(3, afterMilliseconds: 25)  // deadline 1025 → tick boundary 1030
    #expect(fixture.wheel.isScheduled(3))
    #expect(fixture.wheel.count == 1)
    #expect(fixture.advance(to: 1_025) == [])
    #expect(fixture.advance(to: 1_029) == [])
    #expect(fixture.advance(to: 1_030) == [3])
    #expect(!fixture.wheel.isScheduled(3))
    #expect(fixture.wheel.count == 0)
    #expect(fixture.advance(to: 2_000) == [], "fires once")
  }

  @Test func deadlineOnATickBoundaryFiresAtThatBoundary() {
    let fixture = WheelFixture()
    #expect(fixture.advance(to: 1_003) == [])
    fixture.wheel.schedule(1, afterMilliseconds: 7)  // deadline exactly 1010
    #expect(fixture.advance(to: 1_009) == [])
    #expect(fixture.advance(to: 1_010) == [1])
  }

  @Test func absoluteDeadlineCountsFromTheCallersClockNotTheWheels() {
    // The event loop's case: the wheel last advanced at 1000, the loop slept
    // and woke at 1900, and sets a 1000 ms timer before advancing the wheel.
    let fixture = WheelFixture(bucketCount: 64)
    fixture.wheel.schedule(1, atMilliseconds: 1_900 + 1_000)
    fixture.wheel.schedule(2, afterMilliseconds: 1_000)  // from the wheel's clock: 2000
    #expect(fixture.advance(to: 1_900) == [])
    #expect(fixture.advance(to: 2_000) == [2])
    #expect(fixture.advance(to: 2_899) == [], "never early")
    #expect(fixture.advance(to: 2_900) == [1])
  }

  @Test func absoluteDeadlineAlreadyPassedFiresOnTheNextTick() {
    let fixture = WheelFixture()
    #expect(fixture.advance(to: 1_050) == [])
    fixture.wheel.schedule(4, atMilliseconds: 900)
    fixture.wheel.schedule(5, atMilliseconds: 1_055)  // rounds up to 1060
    #expect(fixture.advance(to: 1_059) == [])
    #expect(Set(fixture.advance(to: 1_060)) == [4, 5])
  }

  @Test func zeroDelayFiresOnTheNextTick() {
    let fixture = WheelFixture()
    fixture.wheel.schedule(0, afterMilliseconds: 0)
    #expect(fixture.advance(to: 1_009) == [])
    #expect(fixture.advance(to: 1_010) == [0])
  }

  @Test func cancelPreventsFiring() {
    let fixture = WheelFixture()
    fixture.wheel.schedule(1, afterMilliseconds: 20)
    fixture.wheel.schedule(2, afterMilliseconds: 20)
    fixture.wheel.schedule(3, afterMilliseconds: 20)
    fixture.wheel.cancel(2)
    fixture.wheel.cancel(2)   // no-op when not scheduled
    fixture.wheel.cancel(40)  // never scheduled
    #expect(!fixture.wheel.isScheduled(2))
    #expect(fixture.wheel.count == 2)
    #expect(Set(fixture.advance(to: 1_020)) == [1, 3])
    #expect(fixture.wheel.count == 0)
  }

  @Test func rescheduleMovesTheEntry() {
    let fixture = WheelFixture()
    fixture.wheel.schedule(5, afterMilliseconds: 50)
    fixture.wheel.schedule(5, afterMilliseconds: 200)
    #expect(fixture.wheel.count == 1)
    #expect(fixture.advance(to: 1_190) == [])
    #expect(fixture.advance(to: 1_200) == [5])
    fixture.wheel.schedule(5, afterMilliseconds: 500)
    fixture.wheel.schedule(5, afterMilliseconds: 30)  // earlier this time
    #expect(fixture.advance(to: 1_230) == [5])
    #expect(fixture.advance(to: 2_000) == [])
  }

  @Test func deadlinesBeyondOneRevolutionWaitForTheirTick() {
    let fixture = WheelFixture(bucketCount: 8)  // one revolution = 80 ms
    fixture.wheel.schedule(0, afterMilliseconds: 1_000)  // 12.5 revolutions
    fixture.wheel.schedule(1, afterMilliseconds: 80)     // same bucket, next revolution
    fixture.wheel.schedule(2, afterMilliseconds: 160)    // same bucket, two revolutions
    var firedAt: [UInt32: UInt64] = [:]
    var now: UInt64 = 1_000
    while now < 2_500 {
      now += 10
      for index in fixture.advance(to: now) {
        #expect(firedAt[index] == nil, "fired twice")
        firedAt[index] = now
      }
    }
    #expect(firedAt == [0: 2_000, 1: 1_080, 2: 1_160])
  }

  @Test func bigGapFiresEverythingDueInDeadlineOrder() {
    let fixture = WheelFixture(capacity: 512, bucketCount: 16, tickMilliseconds: 1, nowMilliseconds: 0)
    var random = SeededRandom(state: 42)
    var deadline: [UInt32: UInt64] = [:]
    for index in UInt32(0)..<512 {
      let delay = UInt64.random(in: 1...200_000, using: &random)
      fixture.wheel.schedule(index, afterMilliseconds: delay)
      deadline[index] = delay
    }
    let fired = fixture.advance(to: 150_000)  // ~9,400 revolutions in one call
    #expect(Set(fired).count == fired.count, "each fires once")
    #expect(Set(fired) == Set(deadline.filter { $0.value <= 150_000 }.keys))
    let firedDeadlines = fired.map { deadline[$0]! }
    #expect(firedDeadlines == firedDeadlines.sorted())
    #expect(fixture.wheel.count == 512 - fired.count)
    let rest = fixture.advance(to: 200_000)
    #expect(Set(rest) == Set(deadline.filter { $0.value > 150_000 }.keys))
  }

  /// 32-bit deadline ticks wrap; a gap longer than 2^31 ticks must neither
  /// confuse the wrapped comparison nor refire a self-rescheduling timer
  /// once per period.
  @Test func gapsBeyondTheWrappedTickRangeStayCorrect() {
    let start: UInt64 = (1 << 32) - 100  // 1 ms ticks: the low 32 bits wrap soon
    let fixture = WheelFixture(capacity: 4, bucketCount: 64, tickMilliseconds: 1, nowMilliseconds: start)
    let longDelay = fixture.wheel.maxDelayMilliseconds
    fixture.wheel.schedule(0, afterMilliseconds: 5)
    fixture.wheel.schedule(1, afterMilliseconds: longDelay)
    #expect(fixture.advance(to: start + 5) == [0])
    var fires: [(index: UInt32, tick: UInt64)] = []
    let passTicks = TimingWheel.maxTicksPerPass
    let target = start + 5 + 3 * passTicks + 7
    fixture.wheel.schedule(0, afterMilliseconds: 5)
    fixture.wheel.advance(toMilliseconds: target) { index in
      fires.append((index, 0))
      if index == 0 { fixture.wheel.schedule(0, afterMilliseconds: 1_000) }
    }
    // Entry 0 fires once in each of the first three passes, then its
    // deadline lies 1000 ms after the last pass started, past `target`.
    #expect(fires.map(\.index).filter { $0 == 0 }.count == 3)
    #expect(fires.map(\.index).filter { $0 == 1 }.count == 1)
    // The last reschedule counted from the last pass's start, target - 7.
    #expect(fixture.wheel.isScheduled(0))
    #expect(fixture.advance(to: target + 992) == [])
    #expect(fixture.advance(to: target + 993) == [0])
    #expect(fixture.wheel.count == 0)
  }

  @Test func fireMayRescheduleItselfAndCancelItsBucketNeighbours() {
    let fixture = WheelFixture(bucketCount: 8)
    for index in UInt32(0)..<6 { fixture.wheel.schedule(index, afterMilliseconds: 20) }
    fixture.wheel.schedule(10, afterMilliseconds: 100)  // same bucket, next revolution
    var firstFired: UInt32?
    var fired: [UInt32] = []
    fixture.wheel.advance(toMilliseconds: 1_020) { index in
      fired.append(index)
      guard firstFired == nil else { return }
      firstFired = index
      // Itself: back into the same bucket one revolution later.
      fixture.wheel.schedule(index, afterMilliseconds: 80)
      // Every other entry of the bucket being walked, whichever the walk
      // visits next.
      for other in UInt32(0)..<6 where other != index { fixture.wheel.cancel(other) }
      // And the far entry of the same bucket, moved to the next tick.
      fixture.wheel.schedule(10, afterMilliseconds: 0)
    }
    #expect(fired.count == 1)
    let first = try! #require(firstFired)
    #expect(fixture.wheel.count == 2)
    #expect(fixture.advance(to: 1_030) == [10])
    #expect(fixture.advance(to: 1_090) == [])
    #expect(fixture.advance(to: 1_100) == [first])
    #expect(fixture.wheel.count == 0)
  }

  @Test func fireReschedulingWithZeroDelayFiresOnTheNextTickNotThisOne() {
    let fixture = WheelFixture()
    fixture.wheel.schedule(7, afterMilliseconds: 10)
    var fired: [(UInt32, Int)] = []
    var calls = 0
    for now in stride(from: UInt64(1_010), through: 1_040, by: 10) {
      calls += 1
      fixture.wheel.advance(toMilliseconds: now) { index in
        fired.append((index, calls))
        fixture.wheel.schedule(index, afterMilliseconds: 0)
      }
    }
    #expect(fired.map(\.1) == [1, 2, 3, 4], "once per tick")
    // Over a multi-tick advance (ticks 105...108): it fires at 105, and the
    // reschedule counts from the new now (1080), so it is due once more, at
    // 108 — not once per elapsed tick.
    var multi = 0
    fixture.wheel.advance(toMilliseconds: 1_080) { index in
      multi += 1
      fixture.wheel.schedule(index, afterMilliseconds: 0)
    }
    #expect(multi == 2)
    #expect(fixture.advance(to: 1_089) == [])
    #expect(fixture.advance(to: 1_090) == [7])
  }

  @Test func fireMayScheduleOthersIntoTheBucketBeingWalked() {
    let fixture = WheelFixture(bucketCount: 8)
    fixture.wheel.schedule(0, afterMilliseconds: 10)
    var fired: [UInt32] = []
    fixture.wheel.advance(toMilliseconds: 1_010) { index in
      fired.append(index)
      // Lands in the bucket being walked, one revolution later.
      if index == 0 { fixture.wheel.schedule(1, afterMilliseconds: 80) }
    }
    #expect(fired == [0])
    #expect(fixture.advance(to: 1_080) == [])
    #expect(fixture.advance(to: 1_090) == [1])
  }

  @Test func millisecondsUntilNextExpiry() {
    let fixture = WheelFixture(bucketCount: 8)
    #expect(fixture.wheel.millisecondsUntilNextExpiry(nowMilliseconds: 1_000) == nil)
    fixture.wheel.schedule(0, afterMilliseconds: 35)  // fires at 1040
    #expect(fixture.wheel.millisecondsUntilNextExpiry(nowMilliseconds: 1_000) == 40)
    #expect(fixture.wheel.millisecondsUntilNextExpiry(nowMilliseconds: 1_003) == 37)
    #expect(fixture.advance(to: 1_003) == [])
    #expect(fixture.wheel.millisecondsUntilNextExpiry(nowMilliseconds: 1_003) == 37)
    #expect(fixture.wheel.millisecondsUntilNextExpiry(nowMilliseconds: 1_050) == 0, "overdue: don't wait")
    fixture.wheel.cancel(0)
    #expect(fixture.wheel.millisecondsUntilNextExpiry(nowMilliseconds: 1_003) == nil)
    // Far entry (tick 200, bucket 0): the answer may be early, never late.
    fixture.wheel.schedule(1, afterMilliseconds: 997)  // fires at 2000
    let wait = fixture.wheel.millisecondsUntilNextExpiry(nowMilliseconds: 1_003)
    #expect(wait != nil && wait! > 0 && wait! <= 997)
  }

  @Test func jitterStaysWithinBoundsAndSpreads() {
    let base: UInt64 = 30_000
    var ticks = Set<UInt64>()
    for index in UInt32(0)..<100_000 {
      let value = TimingWheel.jittered(base, index: index, salt: 7, fraction: 0.2)
      #expect(value >= 24_000 && value <= base)
      ticks.insert(value / 10)
    }
    #expect(ticks.count > 590, "601 possible 10 ms ticks, nearly all used")
    #expect(TimingWheel.jittered(base, index: 1, salt: 7, fraction: 0.2)
              == TimingWheel.jittered(base, index: 1, salt: 7, fraction: 0.2))
    let saltA = (UInt32(0)..<64).map { TimingWheel.jittered(base, index: $0, salt: 1, fraction: 0.5) }
    let saltB = (UInt32(0)..<64).map { TimingWheel.jittered(base, index: $0, salt: 2, fraction: 0.5) }
    #expect(saltA != saltB)
    #expect(TimingWheel.jittered(base, index: 3, salt: 0, fraction: 0) == base)
    #expect(TimingWheel.jittered(0, index: 3, salt: 0, fraction: 1) == 0)
    #expect(TimingWheel.jittered(UInt64.max, index: 3, salt: 0, fraction: 1) <= UInt64.max)
  }

  /// 100k entries, random schedule/cancel/reschedule (also from inside
  /// fire), time stepped one tick boundary at a time; every entry must fire
  /// exactly once, exactly at the first tick at or after its deadline.
  @Test func matchesSortedReferenceWith100kEntries() throws {
    let capacity = 100_000
    let tick: UInt64 = 10
    var now: UInt64 = 5_000
    let fixture = WheelFixture(capacity: capacity, bucketCount: 1_024, tickMilliseconds: tick, nowMilliseconds: now)
    let wheel = fixture.wheel
    var random = SeededRandom(state: 0xC0FFEE)
    // index → (deadline in ms, tick it must fire at); byTick: tick → indices.
    var expected: [UInt32: (deadline: UInt64, tick: UInt64)] = [:]
    var byTick: [UInt64: Set<UInt32>] = [:]
    var processingTick = now / tick

    func schedule(_ index: UInt32, _ delay: UInt64) {
      cancel(index)
      let deadline = now + delay
      let fireTick = max((deadline + tick - 1) / tick, processingTick + 1)
      wheel.schedule(index, afterMilliseconds: delay)
      expected[index] = (deadline, fireTick)
      byTick[fireTick, default: []].insert(index)
    }
    func cancel(_ index: UInt32) {
      wheel.cancel(index)
      if let old = expected.removeValue(forKey: index) { byTick[old.tick]?.remove(index) }
    }
    func randomIndex() -> UInt32 { UInt32.random(in: 0..<UInt32(capacity), using: &random) }
    func randomDelay() -> UInt64 {
      // Mostly within a revolution (10.24 s), some up to 60 revolutions.
      Bool.random(using: &random)
        ? UInt64.random(in: 0...10_000, using: &random) : UInt64.random(in: 0...600_000, using: &random)
    }

    for index in UInt32(0)..<UInt32(capacity) { schedule(index, randomDelay()) }
    var firedCount = 0
    for step in 0..<20_000 {
      for _ in 0..<Int.random(in: 0...20, using: &random) {
        if Int.random(in: 0..<4, using: &random) == 0 { cancel(randomIndex()) } else { schedule(randomIndex(), randomDelay()) }
      }
      if step % 1_000 == 0, let earliest = expected.values.map(\.tick).min() {
        let wait = try #require(wheel.millisecondsUntilNextExpiry(nowMilliseconds: now))
        #expect(now + wait <= earliest * tick, "never later than the earliest expiry")
      }
      // Next tick boundary plus a random offset inside the tick.
      let target = (now / tick + 1) * tick + UInt64.random(in: 0..<tick, using: &random)
      now = target
      processingTick = target / tick
      wheel.advance(toMilliseconds: target) { index in
        firedCount += 1
        guard let entry = expected.removeValue(forKey: index) else {
          Issue.record("\(index) fired but was not scheduled")
          return
        }
        byTick[entry.tick]?.remove(index)
        #expect(entry.tick == processingTick, "fires exactly at its tick")
        #expect(entry.deadline <= target, "never early")
        switch Int.random(in: 0..<8, using: &random) {
        case 0, 1: schedule(index, randomDelay())
        case 2: cancel(randomIndex())
        case 3: schedule(randomIndex(), randomDelay())
        default: break
        }
      }
      #expect(byTick.removeValue(forKey: processingTick)?.isEmpty ?? true, "everything due has fired")
      #expect(wheel.count == expected.count)
    }
    #expect(firedCount > 50_000, "the test exercised firing")
    // Finally one long advance over everything left: deadline-tick order.
    var lastTick: UInt64 = 0
    var finalFired = 0
    let farTarget = now + 700_000
    wheel.advance(toMilliseconds: farTarget) { index in
      finalFired += 1
      if let entry = expected.removeValue(forKey: index) {
        #expect(entry.tick >= lastTick, "deadline-tick order")
        #expect(entry.deadline <= farTarget)
        lastTick = entry.tick
      } else {
        Issue.record("\(index) fired but was not scheduled")
      }
    }
    #expect(expected.isEmpty)
    #expect(wheel.count == 0)
    #expect(wheel.millisecondsUntilNextExpiry(nowMilliseconds: farTarget) == nil)
  }
}
