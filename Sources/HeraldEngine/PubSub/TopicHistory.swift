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
        /// The `herald.zstd.v1` frame, when zstd connections existed at
        /// publish, and the dictionary it was made with (kept alive by the
        /// entry: a replay may need to send it first).
        var zstd: Unmanaged<OutboundFrame>? = nil
        var zstdDictionary: Unmanaged<TopicDictionary>? = nil

        /// Gives the entry's references back.
        func release() {
            plain.release()
            compressed?.release()
            zstd?.release()
            zstdDictionary?.release()
        }

        /// One more reference to everything the entry holds (a replay's).
        func retain() {
            _ = plain.retain()
            _ = compressed?.retain()
            _ = zstd?.retain()
            _ = zstdDictionary?.retain()
        }
    }

    /// A kept entry's cost beyond its frames' bytes and its ring slot,
    /// measured (Docs/BENCHMARKS.md, "History memory"): the frame object
    /// and its allocation's rounding (~64 B), the eviction-order entry
    /// (24 B; the list keeps up to twice the live entries and grows by
    /// doubling: up to ~96 B) and the heap the eviction churn leaves
    /// fragmented. 256 is what a 100,000-topic run at the bound measured, so
    /// the history's resident memory stays within `--history-bytes-max`;
    /// without eviction it overstates (~75 B measured), which errs on the
    /// safe side. The ring's slots are charged separately (`storageBytes`).
    static let entryOverheadBytes = 256

    /// What the ring's array takes, charged against `--history-bytes-max`
    /// with the entries: its allocated capacity (slots of evicted entries
    /// included) and the array header.
    var storageBytes: Int {
        ring.capacity == 0 ? 0 : Self.arrayHeaderBytes + ring.capacity * MemoryLayout<Entry?>.stride
    }

    static let arrayHeaderBytes = 32

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
            // Grows up to capacity, so a topic with few messages costs few
            // slots; by doubling, but never past the capacity.
            if ring.count == ring.capacity { ring.reserveCapacity(min(capacity, max(4, ring.count * 2))) }
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
        } else if ring.count >= 8 && count <= ring.count / 4 {
            // Mostly evicted (the byte bound or the TTL took the rest): the
            // slots go back, the ring regrows if the topic gets busy again.
            // Amortized O(1): at least 3/4 of the slots were freed since the
            // last rebuild.
            var smaller: [Entry?] = []
            smaller.reserveCapacity(min(capacity, max(4, count * 2)))
            for offset in 0..<count { smaller.append(ring[(head + offset) % capacity]) }
            ring = smaller
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
