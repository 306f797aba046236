import Testing
@testable import HeraldCore

@Suite struct RingPlanTests {
    /// The sizing NOTES.md works through: a million connections on two
    /// shards under a 20,000-descriptor limit.
    @Test func millionConnectionsOnTwoShards() {
        let plan = RingPlan(connectionsMax: 1_000_000, shards: 2, openFilesLimit: 20_000, fdReserve: 512)
        #expect(plan.shards == 2)
        // 500,000 per shard over tables of 20,000 - 512 = 19,488 entries.
        #expect(plan.ringsPerShard == 26)
        #expect(plan.ringCount == 52)
        #expect(plan.connectionsPerRing <= 19_488)
        #expect(plan.connectionsPerRing == 19_231)
        #expect(plan.connectionsCapacity >= 1_000_000)
        #expect(plan.connectionsCapacity == 52 * 19_231)
        #expect(plan.processDescriptorsUsed == 2 * 2 + 52)
    }

    @Test func smallDeploymentNeedsOneRingPerShard() {
        let plan = RingPlan(connectionsMax: 100, shards: 4, openFilesLimit: 1024, fdReserve: 512)
        #expect(plan.ringsPerShard == 1)
        #expect(plan.ringCount == 4)
        #expect(plan.connectionsPerRing == 25)
        #expect(plan.connectionsCapacity == 100)
        #expect(plan.processDescriptorsUsed == 4 * 2 + 4)
    }

    @Test func unevenSplitRoundsUp() {
        let plan = RingPlan(connectionsMax: 10, shards: 3, openFilesLimit: 65_536, fdReserve: 512)
        #expect(plan.ringsPerShard == 1)
        #expect(plan.connectionsPerRing == 4)
        #expect(plan.connectionsCapacity == 12)
    }

    @Test func moreShardsThanConnectionsStillGivesEveryRingASlot() {
        let plan = RingPlan(connectionsMax: 1, shards: 8, openFilesLimit: 1024, fdReserve: 32)
        #expect(plan.ringsPerShard == 1)
        #expect(plan.connectionsPerRing == 1)
        #expect(plan.connectionsCapacity == 8)
    }

    @Test func tableBoundaryAddsARing() {
        // Table of 1,000 entries: exactly 1,000 per shard fits one ring, 1,001 needs two.
        let exact = RingPlan(connectionsMax: 1_000, shards: 1, openFilesLimit: 1_512, fdReserve: 512)
        #expect(exact.ringsPerShard == 1)
        #expect(exact.connectionsPerRing == 1_000)
        let over = RingPlan(connectionsMax: 1_001, shards: 1, openFilesLimit: 1_512, fdReserve: 512)
        #expect(over.ringsPerShard == 2)
        #expect(over.connectionsPerRing == 501)
    }

    @Test(arguments: [0, 100, 511, 512, 700, 768])
    func tinyDescriptorLimitFloorsTablesAt256(openFilesLimit: Int) {
        // limit - reserve ≤ 256: tables of 256 entries, more rings, never zero.
        let plan = RingPlan(connectionsMax: 1_000, shards: 1, openFilesLimit: openFilesLimit, fdReserve: 512)
        #expect(plan.ringsPerShard == 4)
        #expect(plan.connectionsPerRing == 250)
        #expect(plan.connectionsCapacity == 1_000)
    }

    /// Over a grid of inputs: capacity covers the request, no table exceeds
    /// its limit, and the ring count is the smallest that does both.
    @Test func planIsSufficientBoundedAndMinimal() {
        for connectionsMax in [1, 255, 256, 257, 10_000, 99_999, 1_000_000, 16_000_000] {
            for shards in [1, 2, 3, 7, 16, 256] {
                for openFilesLimit in [256, 1_024, 20_000, 1_048_576] {
                    for fdReserve in [32, 512, 100_000] {
                        let plan = RingPlan(connectionsMax: connectionsMax, shards: shards,
                                            openFilesLimit: openFilesLimit, fdReserve: fdReserve)
                        let tableMax = max(256, openFilesLimit - fdReserve)
                        let perShard = (connectionsMax + shards - 1) / shards
                        let label = "\(connectionsMax)/\(shards)/\(openFilesLimit)/\(fdReserve)"
                        #expect(plan.connectionsCapacity >= connectionsMax, "\(label)")
                        #expect(plan.ringsPerShard * plan.connectionsPerRing >= perShard, "\(label)")
                        #expect(plan.connectionsPerRing <= tableMax, "\(label)")
                        #expect(plan.connectionsPerRing >= 1, "\(label)")
                        #expect((plan.ringsPerShard - 1) * tableMax < perShard, "\(label): a ring too many")
                        #expect(plan.ringCount == shards * plan.ringsPerShard, "\(label)")
                    }
                }
            }
        }
    }
}

struct RingPlanHeadroomTests {
    @Test func everyShardGetsItsShareAndAnEighthMore() {
        #expect(RingPlan.slotsWithHeadroom(connectionsMax: 1_000_000, shards: 2) == 1_000_000 + 2 * 62_500)
        #expect(RingPlan.slotsWithHeadroom(connectionsMax: 100_000, shards: 1) == 112_500)
    }

    @Test func tinyLimitsStillLeaveSixteenSpareSlotsPerShard() {
        // --connections-max 2 on 2 shards: both connections may hash to one
        // shard, and a third must still be accepted somewhere to get its 503.
        #expect(RingPlan.slotsWithHeadroom(connectionsMax: 2, shards: 2) == 2 + 2 * 16)
        let plan = RingPlan(connectionsMax: RingPlan.slotsWithHeadroom(connectionsMax: 2, shards: 2), shards: 2,
                            openFilesLimit: 20_000, fdReserve: 512)
        // Each shard: its share (1) plus 16, room for both connections and a third.
        #expect(plan.ringsPerShard * plan.connectionsPerRing == 1 + 16)
    }
}
