/// The registry-wide account of kept history: the bytes and entries all
/// topics keep (against `--history-bytes-max`), and every kept message in
/// publish order, so the oldest of any topic goes first past the bound.
///
/// Its methods work on one topic's `TopicHistory?` passed in place — the
/// record's field, inside the registry's table or taken out of it — so a
/// publish keeps a message without taking its record out of the table
/// (which hashed the topic name twice per publish; issue 12). Touched only
/// under the registry's lock.
struct HistoryLedger {
    /// Kept messages in publish order (the front is `head`). Entries that
    /// left their rings by other ways (the ring's own capacity, the TTL)
    /// stay until skipped or compacted (`TopicRegistry.State.settleHistory`).
    var order: [(name: String, seq: UInt64)] = []
    var head = 0
    /// What the kept entries and their rings' slots cost, and how many
    /// entries there are.
    var bytes = 0
    var entries = 0
    /// Entries dropped because the global bound was reached.
    var evictedTotal: UInt64 = 0

    /// Appends `entry` (the topic's next seq) to `history`, made with
    /// `capacity` slots if the topic keeps nothing yet; a full ring's
    /// oldest entry leaves and is released.
    mutating func append(_ entry: TopicHistory.Entry, topic: String, to history: inout TopicHistory?, capacity: Int) {
        if history == nil { history = TopicHistory(capacity: capacity) }
        let storage = history!.storageBytes
        if let evicted = history!.append(entry) {
            bytes -= evicted.bytes
            entries -= 1
            evicted.release()
        }
        bytes += entry.bytes + history!.storageBytes - storage
        entries += 1
        order.append((topic, entry.seq))
    }

    /// Drops the oldest entry of `history`, keeping the totals; false when
    /// it keeps nothing.
    @discardableResult
    mutating func dropOldest(_ history: inout TopicHistory?) -> Bool {
        let storage = history?.storageBytes ?? 0
        guard let entry = history?.removeOldest() else { return false }
        bytes -= entry.bytes
        entries -= 1
        entry.release()
        if history?.isEmpty == true { history = nil }
        bytes += (history?.storageBytes ?? 0) - storage
        return true
    }

    /// Releases every kept message of `history` (a record being freed or
    /// restarting its sequence).
    mutating func dropAll(_ history: inout TopicHistory?) {
        while history != nil { dropOldest(&history) }
    }

    /// Drops the entries of `history` published `ttlMilliseconds` or more before `now`.
    mutating func expire(_ history: inout TopicHistory?, now: UInt64, ttlMilliseconds: UInt64) {
        while let oldest = history?.oldest, now &- oldest.publishedAtMilliseconds >= ttlMilliseconds {
            dropOldest(&history)
        }
    }
}
