import HeraldProtocol

/// The registry's kept history (CONTRACT "History and recovery"): each
/// topic's last messages in its record's ring, the registry-wide byte bound
/// over all of them (`HistoryLedger`), and the reads a recovery and the
/// history endpoint make. Touched only under the registry's lock.
extension TopicRegistry {
    /// Keeps a message's frames in its topic's history, within the ring's
    /// capacity and the TTL. The global byte bound is applied by
    /// `State.settleHistory` once the record is back in the table.
    func keep(_ frames: PublishFrames, seq: UInt64, topic: String,
              history: inout TopicHistory?, ledger: inout HistoryLedger, now time: UInt64) {
        let bytes = frames.plain.count + (frames.compressed?.count ?? 0) + (frames.zstd?.count ?? 0)
            + TopicHistory.entryOverheadBytes
        let entry = TopicHistory.Entry(seq: seq, plain: Unmanaged.passRetained(frames.plain),
                                       compressed: frames.compressed.map { Unmanaged.passRetained($0) },
                                       bytes: bytes, publishedAtMilliseconds: time,
                                       zstd: frames.zstd.map { Unmanaged.passRetained($0) },
                                       zstdDictionary: frames.zstdDictionary.map { Unmanaged.passRetained($0) })
        ledger.expire(&history, now: time, ttlMilliseconds: historyTTLMilliseconds)
        ledger.append(entry, topic: topic, to: &history, capacity: historySize)
    }

    /// Drops the entries of `record` older than `--history-ttl`.
    func expire(_ record: inout Record, state: inout State, now time: UInt64) {
        state.ledger.expire(&record.history, now: time, ttlMilliseconds: historyTTLMilliseconds)
    }

    /// A subscribe with `since`: the recovery decision for `topic` with the
    /// new subscription's seam (the last seq it will not get live), and the
    /// kept frames to replay, one reference each for the caller to release.
    func recover(topic: String, since: Recovery.Position, seam: UInt64,
                 epoch: String) -> (decision: Recovery.Decision, frames: [TopicHistory.Entry]) {
        let time = now()
        return state.withLock { state in
            var keptFrom: UInt64?
            if var record = state.records.removeValue(forKey: topic) {
                expire(&record, state: &state, now: time)
                keptFrom = record.history?.oldest?.seq
                state.records[topic] = record
                let decision = Recovery.decide(since: since, seam: seam, epoch: epoch, keptFrom: keptFrom)
                guard case .replay(let from, let through) = decision else { return (decision, []) }
                guard let entries = record.history?.entries(from: from, through: through) else {
                    return (.notRecovered, [])
                }
                for entry in entries { entry.retain() }
                return (decision, entries)
            }
            return (Recovery.decide(since: since, seam: seam, epoch: epoch), [])
        }
    }

    /// The kept messages of `topic` after `since`, at most `limit`, oldest
    /// first, with the topic's epoch and seq; one frame reference each for
    /// the caller to release. Nil when the topic does not exist.
    func history(topic: String, since: UInt64, limit: Int)
        -> (epoch: String, seq: UInt64, entries: [TopicHistory.Entry])? {
        let time = now()
        return state.withLock { state in
            // Taken out while its history expires (no copy of the ring).
            guard var record = state.records.removeValue(forKey: topic) else { return nil }
            expire(&record, state: &state, now: time)
            state.records[topic] = record
            var entries: [TopicHistory.Entry] = []
            if let history = record.history, let oldest = history.oldest, let newest = history.newest,
               since < newest.seq, limit > 0 {
                let from = max(since + 1, oldest.seq)
                let through = min(newest.seq, from + UInt64(limit) - 1)
                entries = history.entries(from: from, through: through) ?? []
                for entry in entries { _ = entry.plain.retain() }
            }
            return (epoch(record), record.seq, entries)
        }
    }

    /// (entries, bytes, evicted past the bound) of kept history, for stats.
    func historyTotals() -> (entries: Int, bytes: Int, evicted: UInt64) {
        state.withLock { ($0.ledger.entries, $0.ledger.bytes, $0.ledger.evictedTotal) }
    }
}

extension TopicRegistry.State {
    /// Brings kept history within `bytesMax` — the oldest kept message
    /// of any topic goes first — and compacts the order list. Run with
    /// every record in the table (none taken out), after any keep.
    mutating func settleHistory(bytesMax: Int) {
        while ledger.bytes > bytesMax && ledger.head < ledger.order.count {
            let oldest = ledger.order[ledger.head]
            ledger.head += 1
            // Entries already gone from their ring are skipped.
            guard let position = records.index(forKey: oldest.name),
                  Self.oldestSeq(&records.values[position].history) == oldest.seq else { continue }
            ledger.dropOldest(&records.values[position].history)
            ledger.evictedTotal &+= 1
        }
        // Entries that left their rings by other ways (the ring's own
        // capacity, the TTL) stay in the order list until compacted:
        // keep it within twice the live entries.
        guard ledger.order.count - ledger.head > 2 * ledger.entries + 1024 else { return }
        var kept: [(name: String, seq: UInt64)] = []
        kept.reserveCapacity(ledger.entries)
        for item in ledger.order[ledger.head...] {
            guard let position = records.index(forKey: item.name),
                  let oldest = Self.oldestSeq(&records.values[position].history), item.seq >= oldest else { continue }
            kept.append(item)
        }
        ledger.order = kept
        ledger.head = 0
    }

    /// The oldest kept seq of a history read in place: through the
    /// table's `_modify` accessor, where reading `records[name]` copied
    /// the whole record (a retain and release of each of its arrays)
    /// for every entry compaction looked at.
    private static func oldestSeq(_ history: inout TopicHistory?) -> UInt64? {
        history?.oldest?.seq
    }
}
