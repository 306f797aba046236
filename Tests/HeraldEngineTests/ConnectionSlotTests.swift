import HeraldCore
import Testing
@testable import HeraldEngine

/// Pins the size of the per-connection slot (see the layout comment in
/// ConnectionSlot.swift): a million connections cost a million slots.
@Suite struct ConnectionSlotTests {
    /// The stride on x86-64 today (120 bytes with the token grant and expiry; 128 per slab slot). A change to it is deliberate:
    /// update this and the layout table in ConnectionSlot.swift together.
    static let strideBytes = 120

    @Test func slotFitsInAQuarterKilobyte() {
        #expect(MemoryLayout<ConnectionSlot>.stride <= 256)
    }

    @Test("ConnectionSlot stride is pinned at 120 bytes")
    func strideIsPinned() {
        #expect(MemoryLayout<ConnectionSlot>.stride == Self.strideBytes,
                "ConnectionSlot stride is now \(MemoryLayout<ConnectionSlot>.stride) bytes")
    }

    @Test func slabCostPerSlotIsTheStridePlusEightBytes() {
        // 4 bytes of generation and 4 of free-list link (Slab.swift).
        #expect(Slab<ConnectionSlot>.bytesPerSlot == MemoryLayout<ConnectionSlot>.stride + 8)
        #expect(Slab<ConnectionSlot>.bytesPerSlot == 128)
    }

    @Test func newSlotIsFreeAndUnlinked() {
        let slot = ConnectionSlot()
        #expect(slot.state == .free)
        #expect(slot.pendingOperations == 0)
        #expect(slot.assembly == nil)
        #expect(slot.controlLength == 0)
        #expect(slot.sendBatch == ConnectionSlot.noBatch)
        #expect(slot.subscriptions == ShardRouter.none)
        #expect(slot.sendHead == slot.sendTail)
        #expect(slot.flags.isEmpty)
    }

    @Test func slabHandsOutFreshSlots() throws {
        let slab = Slab<ConnectionSlot>(capacity: 4, initial: ConnectionSlot())
        let handle = try #require(slab.allocate())
        slab.pointer(handle.index).pointee.life.reserved()
        slab.pointer(handle.index).pointee.subscriptions = 5
        slab.free(handle.index)
        let again = try #require(slab.allocate())
        #expect(slab.pointer(again.index).pointee.state == .free, "allocate resets the slot to its initial value")
        #expect(slab.pointer(again.index).pointee.subscriptions == ShardRouter.none)
    }
}
