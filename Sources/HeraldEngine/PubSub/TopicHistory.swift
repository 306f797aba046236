/// The last messages of one topic, kept as the frames already built for
/// them (plain and, when any connection negotiated it, compressed), so a
/// recovery replays bytes that were encoded once, like a delivery
/// (CONTRACT "History and recovery"). A ring of at most `capacity` entries,
/// oldest first; each entry holds one reference to its frames, released
/// when it leaves. Lives in its topic's registry record, under the lock.
struct TopicHistory {
    struct Entry {
        let seq: UInt64
        let plain: Unmanaged<OutboundFrame>
        let compressed: Unmanaged<OutboundFrame>?
        /// What the entry costs against `--history-bytes-max`.
        let bytes: Int
        let publishedAtMilliseconds: UInt64

        /// Gives the entry's frame references back.
        func release() {
            plain.release()
            compressed?.release()
        }
    }

    /// A kept entry's cost beyond its frames' bytes, measured (Docs/
    /// BENCHMARKS.md, "History memory"): the frame object and its
    /// allocation's rounding (~64 B), the ring slot (~48 B, the ring's
    /// array grows to the topic's history size), the eviction-order entry
    /// (~40 B) and allocator slack. 192 keeps `--history-bytes-max` close to
    /// the resident memory the history really takes.
    static let entryOverheadBytes = 192

    let capacity: Int
    private var ring: [Entry?]
    private var head = 0
    private(set) var count = 0

    init(capacity: Int) {
        precondition(capacity > 0, "a history holds at least one message")
        self.capacity = capacity
        ring = []
    }

    var isEmpty: Bool { count == 0 }
    var oldest: Entry? { count == 0 ? nil : ring[head] }
    var newest: Entry? { count == 0 ? nil : ring[(head + count - 1) % capacity] }

    /// Appends the newest entry (its seq follows the newest kept one); when
    /// the ring is full the oldest leaves and is returned for release.
    mutating func append(_ entry: Entry) -> Entry? {
        precondition(newest.map { $0.seq + 1 == entry.seq } ?? true, "history entries must be consecutive")
        if ring.count < capacity {
            // Grows up to capacity, so a topic with few messages costs few slots.
            ring.append(entry)
            count += 1
            return nil
        }
        if count < capacity {
            ring[(head + count) % capacity] = entry
            count += 1
            return nil
        }
        let evicted = ring[head]
        ring[head] = entry
        head = (head + 1) % capacity
        return evicted
    }

    /// Takes the oldest entry out (the caller releases it).
    mutating func removeOldest() -> Entry? {
        guard count > 0, let entry = ring[head] else { return nil }
        ring[head] = nil
        head = (head + 1) % capacity
        count -= 1
        if count == 0 {
            ring.removeAll(keepingCapacity: false)
            head = 0
        }
        return entry
    }

    /// Entries `from...through` in order, or nil unless every one is kept.
    func entries(from: UInt64, through: UInt64) -> [Entry]? {
        guard let oldest, let newest, from >= oldest.seq, through <= newest.seq, from <= through else { return nil }
        let first = Int(from - oldest.seq)
        return (first...(first + Int(through - from))).map { ring[(head + $0) % capacity]! }
    }
}
