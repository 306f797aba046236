import CURing
import Testing
@testable import HeraldIO

/// A full submission queue is a state, not a crash (STYLE; TigerBeetle's
/// overflow queue): SQEs that find no room wait in order and go out with
/// the next `submit`. Runs a real ring (io_uring is on every machine that
/// runs Herald; the suite fails loudly where it is not).
@Suite struct RingOverflowTests {
    @Test func overflowedSQEsAreSubmittedInOrder() throws {
        let ring = try Ring(entries: 4, completionEntries: 64)
        // Fill the SQ, then force three more into the overflow queue as a
        // refused submit would.
        for index in 0..<4 { io_uring_prep_nop(ring.nextSQE()); stamp(ring, UInt32(index)) }
        for index in 4..<7 {
            let sqe = ring.overflowSQE()
            io_uring_prep_nop(sqe)
            sqe.pointee.user_data = UserData(kind: 1, generation: 0, index: UInt32(index)).rawValue
        }
        #expect(ring.pendingSubmissions == 7)
        // While the overflow queue holds SQEs, new ones queue behind them.
        io_uring_prep_nop(ring.nextSQE())
        stamp(ring, 7, overflowed: true)
        #expect(ring.pendingSubmissions == 8)
        ring.submit()
        #expect(ring.pendingSubmissions == 0)
        let completions = UnsafeMutableBufferPointer<Completion>.allocate(capacity: 16)
        defer { completions.deallocate() }
        var seen: [UInt32] = []
        for _ in 0..<100 where seen.count < 8 {
            let count = ring.reap(into: completions)
            seen += completions[0..<count].map(\.userData.index)
            if count == 0 { ring.submitAndWait(timeoutNanoseconds: 10_000_000) }
        }
        #expect(seen == Array(0..<8), "SQEs must run in the order they were prepared")
    }

    @Test func aFullQueueSubmitsEarlyInsteadOfFailing() throws {
        let ring = try Ring(entries: 2, completionEntries: 64)
        for index in 0..<10 { io_uring_prep_nop(ring.nextSQE()); stamp(ring, UInt32(index)) }
        #expect(ring.submissionQueueFullCount >= 4)
        ring.submit()
        #expect(ring.submitErrorCount == 0)
    }

    /// Sets the user_data of the SQE just prepared (the last one handed out).
    private func stamp(_ ring: Ring, _ index: UInt32, overflowed: Bool = false) {
        let sqe: UnsafeMutablePointer<io_uring_sqe>
        if overflowed || ring.overflowCount > 0 {
            sqe = ring.overflow + (ring.overflowCount - 1)
        } else {
            // The SQE liburing handed out last: sqe_tail - 1.
            let mask = ring.raw.pointee.sq.ring_mask
            sqe = ring.raw.pointee.sq.sqes + Int((ring.raw.pointee.sq.sqe_tail &- 1) & mask)
        }
        sqe.pointee.user_data = UserData(kind: 1, generation: 0, index: index).rawValue
    }
}
