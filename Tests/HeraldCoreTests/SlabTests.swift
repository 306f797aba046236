import Testing
@testable import HeraldCore

@Suite struct SlabTests {
  @Test func allocatesUntilFullThenReturnsNil() throws {
    let slab = Slab<UInt64>(capacity: 8, initial: 0)
    var indices = Set<UInt32>()
    for expectedCount in 1...8 {
      let handle = try #require(slab.allocate())
      indices.insert(handle.index)
      #expect(slab.count == expectedCount)
    }
    #expect(indices == Set(0..<8))
    #expect(slab.isFull)
    #expect(slab.allocate() == nil)
    #expect(slab.count == 8)
  }

  @Test func emptySlabIsFullAndAllocatesNothing() {
    let slab = Slab<UInt64>(capacity: 0, initial: 0)
    #expect(slab.isFull)
    #expect(slab.allocate() == nil)
    #expect(!slab.isAllocated(0))
  }

  @Test func freeThenReuseBumpsGeneration() throws {
    let slab = Slab<UInt64>(capacity: 4, initial: 0)
    let first = try #require(slab.allocate())
    #expect(first.generation == 1)
    slab.free(first.index)
    #expect(slab.count == 0)
    #expect(!slab.isAllocated(first.index))
    let second = try #require(slab.allocate())
    #expect(second.index == first.index)
    #expect(second.generation == first.generation + 1)
    #expect(slab.handle(second.index) == second)
  }

  @Test func staleHandlesAreNotLive() throws {
    let slab = Slab<UInt64>(capacity: 4, initial: 0)
    let old = try #require(slab.allocate())
    #expect(slab.isLive(old))
    slab.free(old.index)
    #expect(!slab.isLive(old), "freed slot")
    let new = try #require(slab.allocate())
    #expect(new.index == old.index)
    #expect(!slab.isLive(old), "reused slot, old generation")
    #expect(slab.isLive(new))
    #expect(!slab.isLive(SlotHandle(index: 99, generation: new.generation)), "out of range")
    #expect(!slab.isLive(SlotHandle(index: 1, generation: 0)), "never allocated")
    // Only the low 24 bits are significant (the rest do not survive user_data).
    #expect(slab.isLive(SlotHandle(index: new.index, generation: new.generation | 0xFF00_0000)))
  }

  @Test func reusesMostRecentlyFreedSlotFirst() throws {
    let slab = Slab<UInt64>(capacity: 8, initial: 0)
    let handles = try (0..<4).map { _ in try #require(slab.allocate()) }
    slab.free(handles[1].index)
    slab.free(handles[3].index)
    #expect(slab.allocate()?.index == handles[3].index)
    #expect(slab.allocate()?.index == handles[1].index)
    #expect(slab.allocate()?.index == 4, "then untouched slots in order")
  }

  @Test func allocateResetsSlotToInitial() throws {
    let slab = Slab<TestSlot>(capacity: 2, initial: TestSlot(payload: 7, timer: TimerLink()))
    let handle = try #require(slab.allocate())
    #expect(slab.pointer(handle.index).pointee.payload == 7)
    slab.pointer(handle.index).pointee.payload = 42
    slab.free(handle.index)
    let again = try #require(slab.allocate())
    #expect(again.index == handle.index)
    #expect(slab.pointer(again.index).pointee.payload == 7)
  }

  @Test func generationWrapsAt24Bits() throws {
    let slab = Slab<UInt8>(capacity: 1, initial: 0)
    // Generations start at 0 and the first allocation yields 1, so the
    // (2^24 - 1)th yields the largest 24-bit value.
    var last = SlotHandle(index: 0, generation: 0)
    for _ in 0..<((1 << 24) - 1) {
      last = slab.allocate()!
      slab.free(last.index)
    }
    #expect(last.generation == SlotHandle.generationMask)
    let wrapped = try #require(slab.allocate())
    #expect(wrapped.generation == 0)
  }

  @Test func pointersAreStrideApartFromACacheLineAlignedBase() {
    let slab = Slab<TestSlot>(capacity: 16, initial: TestSlot(payload: 0, timer: TimerLink()))
    let stride = MemoryLayout<TestSlot>.stride
    #expect(Int(bitPattern: slab.baseAddress) % 64 == 0)
    for index in 0..<UInt32(16) {
      #expect(UnsafeMutableRawPointer(slab.pointer(index)) == slab.baseAddress + Int(index) * stride)
    }
  }

  @Test func bytesPerSlotIsStridePlusGenerationPlusFreeLink() {
    #expect(MemoryLayout<TimerLink>.size == 12)
    #expect(MemoryLayout<TimerLink>.stride == 12)
    #expect(MemoryLayout<TestSlot>.stride == 24)
    #expect(Slab<UInt64>.bytesPerSlot == 8 + 4 + 4)
    #expect(Slab<TestSlot>.bytesPerSlot == 24 + 4 + 4)
  }

  @Test func doubleFreeTraps() async {
    await #expect(processExitsWith: .failure) {
      let slab = Slab<UInt64>(capacity: 2, initial: 0)
      let handle = slab.allocate()!
      slab.free(handle.index)
      slab.free(handle.index)
    }
  }

  /// Random allocate/free against a Set model; checks every observable after
  /// each step, including that stale handles stay dead.
  /// The same model holds for an eager slab and a lazily touched one:
  /// both hand out never-used slots in index order and reuse LIFO.
  @Test(arguments: [false, true])
  func matchesSetModelUnderRandomAllocateAndFree(lazy: Bool) throws {
    let capacity = 64
    let slab = Slab<UInt64>(capacity: capacity, initial: 0, lazilyTouched: lazy)
    var random = SeededRandom(state: 0x5EED)
    var live: [UInt32: SlotHandle] = [:]
    var stale: [SlotHandle] = []
    var freeStack: [UInt32] = []   // the model's LIFO order for reused slots
    var neverUsed = 0
    for _ in 0..<20_000 {
      if live.isEmpty || (live.count < capacity && Bool.random(using: &random)) {
        let handle = try #require(slab.allocate())
        #expect(live[handle.index] == nil)
        if let expected = freeStack.popLast() {
          #expect(handle.index == expected)
        } else {
          #expect(Int(handle.index) == neverUsed)
          neverUsed += 1
        }
        live[handle.index] = handle
        // Stamp the payload so a slot handed to two owners would show.
        slab.pointer(handle.index).pointee = UInt64(handle.index) << 32 | UInt64(handle.generation)
      } else {
        let victim = try #require(live.keys.randomElement(using: &random))
        let removed = live.removeValue(forKey: victim)
        let handle = try #require(removed)
        #expect(slab.pointer(victim).pointee == UInt64(handle.index) << 32 | UInt64(handle.generation))
        slab.free(victim)
        freeStack.append(victim)
        stale.append(handle)
      }
      #expect(slab.count == live.count)
      #expect(slab.isFull == (live.count == capacity))
      if live.count == capacity { #expect(slab.allocate() == nil) }
      for index in 0..<UInt32(capacity) {
        #expect(slab.isAllocated(index) == (live[index] != nil))
      }
      for handle in live.values { #expect(slab.isLive(handle)) }
      for handle in stale.suffix(8) { #expect(!slab.isLive(handle)) }
    }
  }

  @Test func lazySlabTouchesOnlyWhatItHandsOut() throws {
    let slab = Slab<TestSlot>(capacity: 1_000, initial: TestSlot(payload: 7, timer: TimerLink()),
                              lazilyTouched: true)
    #expect(!slab.isAllocated(0) && !slab.isAllocated(999))
    #expect(slab.handle(500).generation == 0)
    #expect(!slab.isLive(SlotHandle(index: 500, generation: 0)))
    let first = try #require(slab.allocate())
    #expect(first.index == 0 && first.generation == 1)
    #expect(slab.pointer(0).pointee.payload == 7)
    slab.pointer(0).pointee.payload = 99
    slab.free(0)
    let again = try #require(slab.allocate())
    #expect(again.index == 0 && again.generation == 2)
    #expect(slab.pointer(0).pointee.payload == 7)   // reset to initial
    let second = try #require(slab.allocate())
    #expect(second.index == 1)
    #expect(!slab.isAllocated(2))
  }
}
