import Foundation
@testable import HeraldEngine
import Testing

struct ConnectionBudgetTests {
    @Test func acquireStopsExactlyAtTheLimit() {
        let budget = ConnectionBudget(limit: 3)
        #expect(budget.acquire())
        #expect(budget.acquire())
        #expect(budget.acquire())
        #expect(!budget.acquire())
        #expect(budget.inUse == 3)
        budget.release()
        #expect(budget.acquire())
        #expect(!budget.acquire())
    }

    @Test func concurrentAcquirersNeverOvershoot() {
        let budget = ConnectionBudget(limit: 1_000)
        let granted = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            var mine = 0
            for _ in 0..<1_000 where budget.acquire() { mine += 1 }
            granted.withLock { $0 += mine }
        }
        #expect(granted.withLock { $0 } == 1_000)
        #expect(budget.inUse == 1_000)
    }
}

import Synchronization
