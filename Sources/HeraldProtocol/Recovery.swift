/// Whether a subscribe with `since` can be answered `recovered: true`
/// (CONTRACT "History and recovery"), as a pure decision.
public enum Recovery {
    /// Where a client was: the last seq it processed, in which epoch.
    public struct Position: Equatable, Sendable {
        public var seq: UInt64
        public var epoch: String

        public init(seq: UInt64, epoch: String) {
            self.seq = seq
            self.epoch = epoch
        }
    }

    public enum Decision: Equatable, Sendable {
        /// The client missed nothing: every later message arrives live.
        case upToDate
        /// The client missed seqs `from...through`, all still kept (history).
        case replay(from: UInt64, through: UInt64)
        /// Not recoverable: another epoch (the sequence restarted), a
        /// position ahead of the topic, or missed messages no longer kept.
        case notRecovered
    }

    /// `seam` is the last seq the new subscription will not get live (every
    /// later one it will); `keptFrom` is the oldest seq still kept, nil when
    /// no history is kept for the topic.
    public static func decide(since: Position, seam: UInt64, epoch: String, keptFrom: UInt64? = nil) -> Decision {
        guard since.epoch == epoch, since.seq <= seam else { return .notRecovered }
        if since.seq == seam { return .upToDate }
        guard let keptFrom, keptFrom <= since.seq + 1 else { return .notRecovered }
        return .replay(from: since.seq + 1, through: seam)
    }
}
