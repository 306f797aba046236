import HeraldProtocol

/// The token identities of one ring's authenticated connections — the
/// token's `sub` and its topic grant — stored once per distinct pair and
/// shared by reference count, so a connection slot holds only a 4-byte
/// index (a user's several connections, and users without a `sub` who
/// share a `topics` claim, cost one entry).
struct GrantTable {
    struct Identity: Hashable {
        let subject: String?
        let grant: TopicGrant
    }

    private var grants: [Identity?] = []
    private var references: [Int] = []
    private var indexByGrant: [Identity: UInt32] = [:]
    private var free: [UInt32] = []

    mutating func retain(_ grant: TopicGrant, subject: String? = nil) -> UInt32 {
        retain(Identity(subject: subject, grant: grant))
    }

    mutating func retain(_ grant: Identity) -> UInt32 {
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
        grants[Int(index)]?.grant.allows(topic) ?? false
    }

    /// The token `sub` of the connections holding `index`.
    func subject(_ index: UInt32) -> String? { grants[Int(index)]?.subject }

    var count: Int { indexByGrant.count }
}
