import HeraldRedis

/// A node's position in one followed topic and the decisions that keep it
/// exact (CONTRACT "Multi-node": nothing lost silently). Pure: the broker
/// carries the steps out; tests drive it with values.
///
/// Redis pub/sub is at-most-once: a message published while a node's
/// subscriber connection was down, or before its SUBSCRIBE took effect, is
/// simply not delivered to it. Every message carries its topic's seq and
/// epoch, so a node sees what it missed — a seq jump, another epoch — and
/// reads the topic's position and stream once (`ClusterScripts.sync`), for
/// all its local subscribers at once, not per client.
struct FollowPosition: Equatable {
    var epoch: String
    var seq: UInt64
}

enum FollowPlan {
    /// What to do with a message that arrived on the channel.
    enum Arrival: Equatable {
        /// The next one: deliver.
        case deliver
        /// Already delivered (it came in a sync's stream read too): drop.
        case duplicate
        /// A seq jump or another epoch: read the position and stream.
        case resync
    }

    static func arrival(known: FollowPosition, seq: UInt64, epoch: String) -> Arrival {
        guard epoch == known.epoch else { return .resync }
        if seq <= known.seq { return .duplicate }
        return seq == known.seq + 1 ? .deliver : .resync
    }

    /// One step of a sync's outcome, in order.
    enum Step: Equatable {
        /// A new follow: the topic's position, with the kept messages that
        /// end at it (they fill the node's history for recoveries).
        case resolve(FollowPosition, kept: [ClusterMessage])
        /// Deliver the message (same epoch, the next seq).
        case message(ClusterMessage)
        /// `from...to` are gone from the stream: subscribers get a `gap`.
        case gap(from: UInt64, to: UInt64)
        /// Another epoch: subscribers are told their position is void
        /// (`subscribed` with `recovered: false`) and go on from `seq`.
        case reset(FollowPosition)
    }

    /// The sync script's reply `{seq, epoch, entries}`; nil when malformed.
    static func parseSync(_ reply: RedisReply) -> (position: FollowPosition, entries: [ClusterMessage])? {
        guard let parts = reply.elements, parts.count == 3, let seq = parts[0].integer, seq >= 0,
              let epoch = parts[1].text, !epoch.isEmpty, let raw = parts[2].elements else { return nil }
        var entries: [ClusterMessage] = []
        for item in raw {
            guard let entry = ClusterMessage.parse(streamEntry: item) else { return nil }
            entries.append(entry)
        }
        return (FollowPosition(epoch: epoch, seq: UInt64(seq)), entries)
    }

    /// The steps that take a node from `known` (nil: a new follow) to
    /// `position`, given the stream's entries up to it.
    static func steps(known: FollowPosition?, position: FollowPosition, entries: [ClusterMessage]) -> [Step] {
        let wanted = entries.filter { $0.seq <= position.seq }
        guard let known else {
            // Kept messages must be consecutive and end at the position.
            var kept: [ClusterMessage] = []
            for entry in wanted.reversed() {
                guard entry.seq == (kept.first?.seq ?? position.seq + 1) - 1 else { break }
                kept.insert(entry, at: 0)
            }
            return [.resolve(position, kept: kept)]
        }
        guard known.epoch == position.epoch else {
            // What the new epoch published before now is part of the state
            // the client reloads after a reset: live from the position on.
            return [.reset(position)]
        }
        guard position.seq > known.seq else { return [] }
        var steps: [Step] = []
        var next = known.seq + 1
        for entry in wanted where entry.seq >= next {
            if entry.seq > next { steps.append(.gap(from: next, to: entry.seq - 1)) }
            steps.append(.message(entry))
            next = entry.seq + 1
        }
        if next <= position.seq { steps.append(.gap(from: next, to: position.seq)) }
        return steps
    }
}
