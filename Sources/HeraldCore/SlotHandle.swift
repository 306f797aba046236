/// Index + generation of a slot; a late io_uring completion for a reused slot
/// carries an old generation and is dropped.
///
/// Why a generation: io_uring completions arrive asynchronously, so a
/// completion for a connection that was closed (and whose slot was handed to
/// a new connection) can still be in the completion queue. Comparing the
/// generation packed into `user_data` with the slot's current one tells the
/// two apart without any per-completion allocation.
public struct SlotHandle: Hashable, Sendable {
  public var index: UInt32
  /// Only the low 24 bits are significant: the generation is packed into the
  /// 64-bit io_uring `user_data` next to an 8-bit kind and the 32-bit index.
  /// A `Slab` only ever hands out generations already masked to 24 bits.
  public var generation: UInt32

  @inlinable
  public init(index: UInt32, generation: UInt32) {
    self.index = index
    self.generation = generation
  }

  /// 24 bits: what remains of `user_data`'s 64 bits after the 32-bit index and
  /// the 8-bit completion kind. A stale completion is mistaken for a live one
  /// only if its slot was reused exactly 2^24 times while it was in flight.
  public static let generationMask: UInt32 = 0x00FF_FFFF
}
