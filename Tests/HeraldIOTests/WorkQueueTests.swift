import Synchronization
import Testing

@testable import HeraldIO

@Suite struct WorkQueueTests {
    @Test func handsItemsOutInOrderAndRefusesAtItsBound() {
        let queue = WorkQueue<Int>(capacity: 3)
        #expect(queue.push(1) && queue.push(2) && queue.push(3))
        #expect(!queue.push(4))  // the bound: refused, nothing added
        #expect(queue.count == 3)
        #expect(queue.pop() == 1)
        #expect(queue.push(5))  // room again
        #expect(queue.pop() == 2 && queue.pop() == 3 && queue.pop() == 5)
        #expect(queue.count == 0)
    }

    /// Many rounds of partial fills and drains (the front is compacted as
    /// items are taken) keep the order and the bound of a plain array.
    @Test func matchesAPlainQueueOverManyRounds() {
        let queue = WorkQueue<Int>(capacity: 7)
        var model: [Int] = []
        var next = 0
        var random = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            if Bool.random(using: &random) {
                let accepted = queue.push(next)
                #expect(accepted == (model.count < 7))
                if accepted { model.append(next) }
                next += 1
            } else if !model.isEmpty {
                #expect(queue.pop() == model.removeFirst())
            }
            #expect(queue.count == model.count)
        }
    }

    /// A worker waiting on an empty queue gets what another thread pushes.
    @Test func aWaitingWorkerGetsThePushedItem() {
        let queue = WorkQueue<String>(capacity: 4)
        let received = Mutex<[String]>([])
        let worker = SystemThread.start(name: "test-worker") {
            while let item = queue.pop() {
                received.withLock { $0.append(item) }
                if item == "last" { return }
            }
        }
        #expect(queue.push("first"))
        #expect(queue.push("last"))
        worker.join()
        #expect(received.withLock { $0 } == ["first", "last"])
    }

    /// Closing wakes a waiting worker with nil and refuses later pushes.
    @Test func closingEndsAWaitingWorker() {
        let queue = WorkQueue<Int>(capacity: 4)
        let ended = Atomic<Bool>(false)
        let worker = SystemThread.start(name: "test-worker") {
            while queue.pop() != nil {}
            ended.store(true, ordering: .relaxed)
        }
        queue.close()
        worker.join()
        let workerEnded = ended.load(ordering: .relaxed)
        #expect(workerEnded)
        #expect(!queue.push(1))
        #expect(queue.pop() == nil)
    }
}
