import Glibc

/// A bounded first-in first-out queue that one worker thread waits on:
/// slow work handed off a thread that must not stall (a dictionary's
/// training off the admin thread that published its Nth message).
///
/// Bound: `capacity` items. `push` never blocks: at the bound, or once
/// the queue is closed, it refuses and the caller counts and reports the
/// refusal. `pop` blocks until an item arrives or the queue is closed.
public final class WorkQueue<Element: Sendable>: @unchecked Sendable {
    // @unchecked: all state is guarded by `mutex`/`condition`.
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    /// The items, oldest at `head` (taken items are dropped from the
    /// front once they are half the array, so the array stays within
    /// twice the bound).
    private var items: [Element] = []
    private var head = 0
    private var closed = false
    public let capacity: Int

    public init(capacity: Int) {
        precondition(capacity > 0, "a work queue holds at least one item")
        self.capacity = capacity
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
    }

    deinit {
        pthread_cond_destroy(&condition)
        pthread_mutex_destroy(&mutex)
    }

    /// Adds `item` for the worker; false when `capacity` items wait or
    /// the queue is closed (nothing is added).
    public func push(_ item: Element) -> Bool {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        guard !closed, items.count - head < capacity else { return false }
        items.append(item)
        pthread_cond_signal(&condition)
        return true
    }

    /// The oldest item, waiting for one while there is none; nil once the
    /// queue is closed (items still waiting then are not handed out).
    public func pop() -> Element? {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        while !closed && head == items.count { pthread_cond_wait(&condition, &mutex) }
        guard !closed else { return nil }
        let item = items[head]
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= capacity / 2 && head * 2 >= items.count {
            items.removeFirst(head)
            head = 0
        }
        return item
    }

    /// Items waiting now.
    public var count: Int {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return items.count - head
    }

    /// Ends the queue: a waiting `pop` returns nil, and every later `push`
    /// is refused.
    public func close() {
        pthread_mutex_lock(&mutex)
        closed = true
        items.removeAll()
        head = 0
        pthread_cond_broadcast(&condition)
        pthread_mutex_unlock(&mutex)
    }
}
