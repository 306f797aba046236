/// The rules of `--send-queue-bytes-max` as pure decisions (the reactor
/// keeps the counts and carries the answers out). Costs are a frame's bytes
/// plus its queue overhead (`OutboundFrame.queueCost`).
public enum SendQueueLimit {
    public enum PublishAdmission: Equatable, Sendable {
        case queue
        /// The queue would pass the limit: the slow-consumer policy acts.
        case slowConsumer
    }

    /// A published message costing `cost` arrives at a queue holding
    /// `queued`. An empty queue always takes one message, however large: the
    /// bound is on backlog, and a publish bigger than the bound must not
    /// look like a slow consumer.
    public static func admitPublish(cost: Int, queued: Int, limit: Int) -> PublishAdmission {
        queued > 0 && queued + cost > limit ? .slowConsumer : .queue
    }

    /// After any frame was queued: true when the queue has just gone over
    /// the limit (then input pauses, and the over-limit clock starts).
    public static func wentOverLimit(queued: Int, limit: Int, wasOverLimit: Bool) -> Bool {
        !wasOverLimit && queued > limit
    }

    public struct Drained: Equatable, Sendable {
        /// The queue is back within the limit.
        public var backUnderLimit: Bool
        /// Paused input resumes (hysteresis: at half the limit, so a client
        /// hovering at the limit does not flap its receive on and off).
        public var resumeReading: Bool
    }

    /// After bytes left the queue.
    public static func afterDrain(queued: Int, limit: Int, readPaused: Bool) -> Drained {
        Drained(backUnderLimit: queued <= limit, resumeReading: readPaused && queued <= limit / 2)
    }
}
