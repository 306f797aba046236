import HeraldIO
import Synchronization

/// Commands from the admin thread to the shards, for what only a shard may
/// do to its connections (`POST /v1/disconnect`). Each shard has a queue; a
/// command is pushed to every shard and the shard's eventfd rung; the shard
/// takes its queue on its next loop turn and reports to the command's
/// countdown.
///
/// Bounded: an admin connection has one command in flight at a time (it
/// reads no further request until that one is answered, see `AdminServer`),
/// but an answer given at its deadline leaves the command queued for a late
/// shard, and the connection may ask again. So each queue is also bounded
/// itself (`commandsPerShardMax`): past it a command is refused (503) until
/// the late shard catches up.
final class ShardControl: Sendable {
    enum Command: Sendable {
        /// Close every connection whose token `sub` is `subject` (4000).
        case disconnect(subject: String, reply: Countdown)
    }

    /// One shard's queue (a class: `Mutex` cannot live in an array).
    final class Queue: Sendable {
        let commands = Mutex<[Command]>([])
    }

    private let queues: [Queue]
    private let wakeDescriptors: [Int32]
    /// How long an admin request waits for the shards (a shard in the middle
    /// of a million-subscriber broadcast takes seconds to get to it).
    static let replyTimeoutMilliseconds: UInt64 = 5_000
    /// Commands one shard's queue holds at most: as many as admin
    /// connections one thread takes (`AdminServer.connectionsMax`), so only
    /// repeated asks to a shard that stopped answering reach it.
    static let commandsPerShardMax = 1_024

    init(wakeDescriptors: [Int32]) {
        self.wakeDescriptors = wakeDescriptors
        queues = wakeDescriptors.map { _ in Queue() }
    }

    /// Asks every shard to close `subject`'s connections; returns how many
    /// they closed, and whether every shard answered within the timeout.
    /// Nil (nothing asked) when a shard's queue is full.
    func disconnect(subject: String) -> (closed: Int, complete: Bool)? {
        guard let reply = startDisconnect(subject: subject) else { return nil }
        let result = reply.wait(timeoutMilliseconds: Self.replyTimeoutMilliseconds)
        return (result.total, result.complete)
    }

    /// The same without waiting: the countdown the shards report to, which
    /// rings `notifying` (an eventfd) when the last one has. Nil, with no
    /// shard asked, when a shard's queue holds `commandsPerShardMax`.
    func startDisconnect(subject: String, notifying descriptor: Int32 = -1) -> Countdown? {
        // Checked before any is queued: a command reaches every shard or none.
        // (Only admin servers push, threads or shards, one command per
        // request each: racing each other they pass the bound by at most
        // their number.)
        guard queues.allSatisfy({ queue in queue.commands.withLock { $0.count } < Self.commandsPerShardMax }) else {
            return nil
        }
        let reply = Countdown(count: queues.count, notifying: descriptor)
        for (shard, queue) in queues.enumerated() {
            queue.commands.withLock { $0.append(.disconnect(subject: subject, reply: reply)) }
            Socket.signalEvent(wakeDescriptors[shard])
        }
        return reply
    }

    /// The commands waiting for `shard` (its own thread).
    func take(shard: Int) -> [Command] {
        queues[shard].commands.withLock { queue in
            defer { queue.removeAll() }
            return queue
        }
    }

    /// Whether anything waits for `shard` (a cheap check each loop turn).
    func hasCommands(shard: Int) -> Bool {
        queues[shard].commands.withLock { !$0.isEmpty }
    }
}
