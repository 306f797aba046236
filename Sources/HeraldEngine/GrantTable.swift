import HeraldProtocol

/// The topic grants of one ring's authenticated connections, stored once
/// per distinct grant and shared by reference count: users with the same
/// `topics` claim (the common case) cost one entry, and a connection slot
/// holds only a 4-byte index.
struct GrantTable {
    private var grants: [TopicGrant?] = []
    private var references: [Int] = []
    private var indexByGrant: [TopicGrant: UInt32] = [:]
    private var free: [UInt32] = []

    mutating func retain(_ grant: TopicGrant) -> UInt32 {
        if let index = indexByGrant[grant] {
            references[Int(index)] += 1
            return index
        }
        let index: UInt32
        if let reused = free.popLast() {
            index = reused
            grants[Int(index)] = grant
            references[Int(index)] = 1
        } else {
            index = UInt32(grants.count)
            grants.append(grant)
            references.append(1)
        }
        indexByGrant[grant] = index
        return index
    }

    mutating func release(_ index: UInt32) {
        references[Int(index)] -= 1
        guard references[Int(index)] == 0, let grant = grants[Int(index)] else { return }
        indexByGrant[grant] = nil
        grants[Int(index)] = nil
        free.append(index)
    }

    func allows(_ index: UInt32, _ topic: String) -> Bool {
        grants[Int(index)]?.allows(topic) ?? false
    }

    var count: Int { indexByGrant.count }
}
