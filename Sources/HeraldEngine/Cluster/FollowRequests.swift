import HeraldIO
import Synchronization

/// What the shards (through the registry) ask of the broker: follow a
/// topic that just got its first subscriber on this node, or drop one whose
/// last subscriber left. The broker takes both lists each loop turn.
///
/// Bounded: a topic is asked for at most once per follow (the registry
/// marks it pending), and an idle topic is listed once however often its
/// last subscriber leaves (a client toggling a subscription adds nothing),
/// so each list holds at most one entry per topic the registry holds
/// (`--topics-max`).
final class FollowRequests: Sendable {
    private struct Lists {
        var follow: [String] = []
        var idle: [(topic: String, atMilliseconds: UInt64)] = []
        var idleListed: Set<String> = []
    }

    private let lists = Mutex(Lists())
    /// The broker's eventfd: rung on every request so it wakes from `poll`.
    let wakeDescriptor: Int32

    init(wakeDescriptor: Int32) {
        self.wakeDescriptor = wakeDescriptor
    }

    func follow(_ topic: String) {
        lists.withLock { $0.follow.append(topic) }
        Socket.signalEvent(wakeDescriptor)
    }

    func idle(_ topic: String) {
        let now = SystemClock.monotonicMilliseconds()
        lists.withLock { lists in
            if lists.idleListed.insert(topic).inserted { lists.idle.append((topic, now)) }
        }
    }

    /// Everything asked since the last call.
    func take() -> (follow: [String], idle: [(topic: String, atMilliseconds: UInt64)]) {
        lists.withLock { lists in
            defer { lists = Lists() }
            return (lists.follow, lists.idle)
        }
    }
}
