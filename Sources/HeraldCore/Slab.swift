/// Fixed-capacity pool of fixed-size POD slots allocated once at start.
///
/// Why a slab: a gateway holding up to a million connections must not touch
/// the allocator per connection event, and `UInt32` slot indices fit into
/// io_uring `user_data` where an object reference cannot. Every byte is
/// allocated in `init`; `allocate` and `free` are O(1) pointer-chasing on a
/// LIFO free list.
///
/// Raw memory is fenced here: elements and per-slot bookkeeping live in two
/// allocations owned by this object and freed in `deinit`. `pointer(_:)` and
/// `baseAddress` hand out addresses that stay valid for the slab's lifetime;
/// the caller must keep the slab alive while using them.
///
/// Not thread-safe: each shard owns its own slab.
public final class Slab<Element: BitwiseCopyable> {
  /// Per-slot bookkeeping, kept side by side so `isLive` touches one cache
  /// line, and apart from the elements so scanning the free list does not
  /// pull whole connection slots into cache.
  @usableFromInline
  internal struct Meta: BitwiseCopyable {
    /// 24-bit generation, bumped on every `allocate`.
    @usableFromInline var generation: UInt32
    /// Next free slot when free; `Slab.allocatedMarker` when allocated.
    @usableFromInline var next: UInt32

    @inlinable
    init(generation: UInt32, next: UInt32) {
      self.generation = generation
      self.next = next
    }
  }

  /// `Meta.next` of an allocated slot.
  @usableFromInline internal static var allocatedMarker: UInt32 { UInt32.max }
  /// End of the free list.
  @usableFromInline internal static var endOfFreeList: UInt32 { UInt32.max - 1 }
  /// The largest capacity: indices stay below both sentinels above (and the
  /// two `TimerLink` sentinels, which share their values).
  public static var maxCapacity: Int { Int(UInt32.max - 2) }
  /// Elements start on a cache line so that slots whose stride is a multiple
  /// of 64 bytes never straddle two lines (x86-64 and most arm64 cores).
  @usableFromInline internal static var cacheLineBytes: Int { 64 }

  public let capacity: Int
  /// Slots whose bookkeeping (and element) has been initialized: all of
  /// them for an eager slab, the high-water mark of use for a lazy one.
  /// Slots at or past it have never been handed out.
  @usableFromInline internal var touched: Int
  @usableFromInline internal var storedCount: Int
  @usableFromInline internal var freeHead: UInt32
  @usableFromInline internal let elements: UnsafeMutablePointer<Element>
  @usableFromInline internal let meta: UnsafeMutablePointer<Meta>
  /// What `allocate` resets a slot to, so no state leaks between connections.
  @usableFromInline internal let initial: Element

  /// Allocates `capacity` elements (each set to `initial`), their
  /// generations and the free list. Slot 0 is handed out first.
  ///
  /// `lazilyTouched`: reserve the memory but write a slot only when it is
  /// first handed out (fresh slots come from a high-water mark, freed ones
  /// from the free list). Large allocations are fresh anonymous pages, so
  /// resident memory then grows with the connections actually held rather
  /// than with the capacity.
  public init(capacity: Int, initial: Element, lazilyTouched: Bool = false) {
    precondition(capacity >= 0 && capacity <= Slab.maxCapacity,
                 "Slab capacity \(capacity) outside 0...\(Slab.maxCapacity)")
    let (elementBytes, overflow) = capacity.multipliedReportingOverflow(
      by: MemoryLayout<Element>.stride)
    precondition(!overflow, "Slab of \(capacity) elements overflows the address space")
    self.capacity = capacity
    self.initial = initial
    storedCount = 0
    let raw = UnsafeMutableRawPointer.allocate(
      byteCount: elementBytes,
      alignment: max(MemoryLayout<Element>.alignment, Slab.cacheLineBytes))
    elements = raw.bindMemory(to: Element.self, capacity: capacity)
    meta = UnsafeMutablePointer<Meta>.allocate(capacity: capacity)
    if lazilyTouched {
      touched = 0
      freeHead = Slab.endOfFreeList
      return
    }
    elements.initialize(repeating: initial, count: capacity)
    for i in 0..<capacity {
      // Safe: i + 1 <= capacity <= UInt32.max - 2, so the conversion is exact.
      let next = i + 1 < capacity ? UInt32(truncatingIfNeeded: i + 1) : Slab.endOfFreeList
      (meta + i).initialize(to: Meta(generation: 0, next: next))
    }
    touched = capacity
    freeHead = capacity > 0 ? 0 : Slab.endOfFreeList
  }

  deinit {
    // Element and Meta are BitwiseCopyable: nothing to deinitialize.
    UnsafeMutableRawPointer(elements).deallocate()
    meta.deallocate()
  }

  /// Slots in use.
  @inlinable
  public var count: Int { storedCount }

  @inlinable
  public var isFull: Bool { storedCount == capacity }

  /// Takes a free slot, resets it to `initial`, bumps its generation (masked
  /// to 24 bits) and returns its handle; nil when full.
  ///
  /// The free list is LIFO so the most recently freed slot, likely still in
  /// cache, is reused first.
  @inlinable
  public func allocate() -> SlotHandle? {
    var index = freeHead
    if index == Slab.endOfFreeList {
      // A lazy slab's next never-used slot, initialized now.
      guard touched < capacity else { return nil }
      // Safe: touched < capacity <= UInt32.max - 2.
      index = UInt32(truncatingIfNeeded: touched)
      (meta + touched).initialize(to: Meta(generation: 0, next: Slab.endOfFreeList))
      (elements + touched).initialize(to: initial)
      touched &+= 1
    }
    // Safe: every index on the free list is < capacity.
    let slot = meta + Int(index)
    freeHead = slot.pointee.next
    slot.pointee.next = Slab.allocatedMarker
    // Safe: wrapping is intended; only 24 bits are significant.
    let generation = (slot.pointee.generation &+ 1) & SlotHandle.generationMask
    slot.pointee.generation = generation
    // Safe: index < capacity (see above).
    (elements + Int(index)).pointee = initial
    // Safe: a free slot existed, so storedCount < capacity.
    storedCount &+= 1
    return SlotHandle(index: index, generation: generation)
  }

  /// Returns a slot to the free list. Precondition: it is allocated (a double
  /// free would put the slot on the list twice and hand it to two owners).
  @inlinable
  public func free(_ index: UInt32) {
    precondition(Int(index) < touched, "Slab.free: index \(index) out of range or never allocated")
    // Safe: index < touched <= capacity, checked above.
    let slot = meta + Int(index)
    precondition(slot.pointee.next == Slab.allocatedMarker, "Slab.free: slot \(index) is not allocated")
    slot.pointee.next = freeHead
    freeHead = index
    // Safe: the slot was allocated, so storedCount >= 1.
    storedCount &-= 1
  }

  /// False for out-of-range indices too, so decoding a corrupt `user_data`
  /// cannot trap.
  @inlinable
  public func isAllocated(_ index: UInt32) -> Bool {
    guard Int(index) < touched else { return false }
    // Safe: index < capacity, checked above.
    return meta[Int(index)].next == Slab.allocatedMarker
  }

  /// True when `handle.index` is allocated and its generation matches
  /// (compared on the 24 significant bits).
  @inlinable
  public func isLive(_ handle: SlotHandle) -> Bool {
    guard Int(handle.index) < touched else { return false }
    // Safe: index < capacity, checked above.
    let slot = meta[Int(handle.index)]
    return slot.next == Slab.allocatedMarker
      && slot.generation == handle.generation & SlotHandle.generationMask
  }

  /// The handle of `index` with its current generation.
  @inlinable
  public func handle(_ index: UInt32) -> SlotHandle {
    precondition(Int(index) < capacity, "Slab.handle: index \(index) out of range")
    // A never-used slot has generation 0 (its first allocation makes it 1).
    guard Int(index) < touched else { return SlotHandle(index: index, generation: 0) }
    return SlotHandle(index: index, generation: meta[Int(index)].generation)
  }

  /// Pointer to the slot's element; valid for the slab's lifetime.
  @inlinable
  public func pointer(_ index: UInt32) -> UnsafeMutablePointer<Element> {
    precondition(Int(index) < capacity, "Slab.pointer: index \(index) out of range")
    // Safe: index < capacity, checked above.
    return elements + Int(index)
  }

  /// Address of element 0; elements are `MemoryLayout<Element>.stride` bytes
  /// apart. For intrusive structures such as `TimingWheel`.
  @inlinable
  public var baseAddress: UnsafeMutableRawPointer { UnsafeMutableRawPointer(elements) }

  /// User-space bytes this slab holds per slot:
  /// `MemoryLayout<Element>.stride` + 4 (generation) + 4 (free-list link).
  /// Excludes the allocator's fixed per-allocation overhead (two allocations
  /// per slab), which is negligible at any useful capacity.
  public static var bytesPerSlot: Int {
    MemoryLayout<Element>.stride + MemoryLayout<Meta>.stride
  }
}
