import HeraldIO
import Synchronization

/// What the shards (through the registry) ask of the broker: follow a
/// topic that just got its first subscriber on this node, or drop one whose
/// last subscriber left. The broker takes both lists each loop turn.
///
/// Bounded: a topic is asked for at most once per follow (the registry
/// marks it pending), and reported idle at most once per last subscriber
/// leaving, so each list holds at most one entry per topic the registry
/// holds (`--topics-max`) between two broker turns.
final class FollowRequests: Sendable {
    private struct Lists {
        var follow: [String] = []
        var idle: [(topic: String, atMilliseconds: UInt64)] = []
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
        lists.withLock { $0.idle.append((topic, now)) }
    }

    /// Everything asked since the last call.
    func take() -> (follow: [String], idle: [(topic: String, atMilliseconds: UInt64)]) {
        lists.withLock { lists in
            defer { lists = Lists() }
            return (lists.follow, lists.idle)
        }
    }
}
