import Synchronization

/// What can go wrong, counted per kind (the report's `errors` object).
public enum ErrorKind: Int, CaseIterable, Sendable {
    case socket, connect, handshakeSend, handshakeRejected, handshakeTimeout
    case receive, protocolViolation, closedByServer, sendPoolExhausted, serverErrorMessage
    /// wss://: a TLS handshake or record failure.
    case tls
    /// --codec: a message that does not decode (corrupt, no stated size,
    /// too large, or a zstd dictionary this connection was never sent).
    case undecodable
    /// A seq received twice by one connection.
    case seqDuplicate
    /// A seq lower than one already received (out of order).
    case seqReordered
    /// Seqs skipped without a `gap` message naming them (silent loss).
    case seqGap
    /// A message whose seq does not match its place in the topic's publishes.
    case seqMismatch
    /// `--recover`: the server answered `recovered: false`.
    case recoveryRefused
    /// A `subscribed` reply named another epoch than the topic had.
    case epochChanged

    public var name: String {
        switch self {
        case .socket: "socket"
        case .connect: "connect"
        case .handshakeSend: "handshake_send"
        case .handshakeRejected: "handshake_rejected"
        case .handshakeTimeout: "handshake_timeout"
        case .receive: "receive"
        case .protocolViolation: "protocol_violation"
        case .closedByServer: "closed_by_server"
        case .sendPoolExhausted: "send_pool_exhausted"
        case .serverErrorMessage: "server_error_message"
        case .tls: "tls"
        case .undecodable: "undecodable"
        case .seqDuplicate: "seq_duplicate"
        case .seqReordered: "seq_reordered"
        case .seqGap: "seq_gap_unannounced"
        case .seqMismatch: "seq_mismatch"
        case .recoveryRefused: "recovery_refused"
        case .epochChanged: "epoch_changed"
        }
    }
}

/// A worker's live counters: written by its thread, read once a second by
/// the progress line (relaxed atomics; uncontended, so nearly free).
public final class WorkerCounters: Sendable {
    public let attempted = Atomic<Int>(0)
    public let connected = Atomic<Int>(0)
    /// Currently upgraded and not closed.
    public let open = Atomic<Int>(0)
    public let deliveries = Atomic<Int>(0)
    public let pingsAnswered = Atomic<Int>(0)
    public let churnClosed = Atomic<Int>(0)
    public let slowClosedByServer = Atomic<Int>(0)
    public let receiveBufferStarved = Atomic<Int>(0)
    /// Data frames' payload bytes as received (compressed with --codec),
    /// and what they decoded to; zstd dictionaries received (not counted
    /// as message bytes).
    public let payloadBytesReceived = Atomic<Int>(0)
    public let payloadBytesDecoded = Atomic<Int>(0)
    public let zstdDictionaries = Atomic<Int>(0)
    public let zstdDictionaryBytes = Atomic<Int>(0)
    /// Errors are rare, so a lock per count is fine (an array of atomics
    /// cannot be built: `Atomic` is not copyable).
    let errorCounts = Mutex<[Int]>(Array(repeating: 0, count: ErrorKind.allCases.count))

    public init() {}

    public let gapsAnnounced = Atomic<Int>(0)
    /// `--recover`: connections dropped, upgraded again, caught up.
    public let recoverDropped = Atomic<Int>(0)
    public let rejoined = Atomic<Int>(0)
    public let recovered = Atomic<Int>(0)
    /// Messages that arrived up to the seam of a recovering subscribe: the replay.
    public let replayed = Atomic<Int>(0)

    func count(_ kind: ErrorKind, _ amount: Int = 1) { errorCounts.withLock { $0[kind.rawValue] += amount } }
    public func errors(_ kind: ErrorKind) -> Int { errorCounts.withLock { $0[kind.rawValue] } }
    public var errorTotal: Int { ErrorKind.allCases.reduce(0) { $0 + errors($1) } }
}
