/// How many io_uring rings each shard needs, worked out from
/// `--connections-max` and the process's open-files limit — the operator
/// never sets a ring count.
///
/// A ring's registered file table may hold at most RLIMIT_NOFILE entries, but
/// every ring has its own table (NOTES.md: 200 rings × 20,000 slots were
/// registered in one process). So a shard that must hold more connections
/// than one table allows gets several rings; connections accepted as direct
/// descriptors never enter the process fd table.
public struct RingPlan: Sendable, Equatable {
    public let shards: Int
    public let ringsPerShard: Int
    /// Connection slots (and file-table entries) of each ring.
    public let connectionsPerRing: Int

    public var ringCount: Int { shards * ringsPerShard }
    public var connectionsCapacity: Int { ringCount * connectionsPerRing }

    /// - Parameters:
    ///   - openFilesLimit: RLIMIT_NOFILE after raising soft to hard.
    ///   - fdReserve: descriptors kept for listeners, ring fds, eventfds,
    ///     admin connections and logs.
    public init(connectionsMax: Int, shards: Int, openFilesLimit: Int, fdReserve: Int) {
        precondition(connectionsMax > 0 && shards > 0)
        // At least 256 entries per table even under a tiny limit, so a
        // misconfigured host degrades into more rings, not zero capacity.
        let tableMax = max(256, openFilesLimit - fdReserve)
        // Safe: connectionsMax ≤ 16 M and shards ≥ 1 (ConfigOption bounds).
        let perShard = (connectionsMax + shards - 1) / shards
        let rings = max(1, (perShard + tableMax - 1) / tableMax)
        self.shards = shards
        ringsPerShard = rings
        connectionsPerRing = max(1, (perShard + rings - 1) / rings)
    }

    /// Slots to allocate for `connectionsMax` connections: each shard gets
    /// its share plus 1/8 (at least 16) of headroom. SO_REUSEPORT hashes
    /// connections over shards unevenly, so a shard may need more than its
    /// share; and at the global cap (an atomic count, not the slab) a shard
    /// must still have a slot to accept the next connection and answer 503,
    /// rather than leave it waiting in the listen backlog.
    public static func slotsWithHeadroom(connectionsMax: Int, shards: Int) -> Int {
        let share = (connectionsMax + shards - 1) / shards
        return connectionsMax + shards * max(16, share / 8)
    }

    /// Process descriptors the plan itself uses: per shard a listener and a
    /// wake eventfd, per ring its ring fd (compare with `fdReserve`).
    public var processDescriptorsUsed: Int { shards * 2 + ringCount }
}
