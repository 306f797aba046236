/// The life of one public-listener connection, from accept to the freed
/// slot, as a value whose event methods say what to do (STYLE habit 3; the
/// RFC 6455 §7 closing handshake, HTTP answers that close, teardown). The
/// reactor owns the I/O and carries the actions out; this decides.
///
/// Two bytes, kept in the connection's slot.
public struct ConnectionLifecycle: Sendable, Equatable, BitwiseCopyable {
    public enum State: UInt8, Sendable, BitwiseCopyable {
        /// In the slab's free list.
        case free
        /// An accept SQE targets this slot's file index.
        case accepting
        /// TCP open, request head not yet complete.
        case handshaking
        /// WebSocket open.
        case open
        /// A close frame or an HTTP answer is queued; the connection ends when
        /// the queue drains (and, for a clean close, the peer's close
        /// arrives), or at the close timeout.
        case closing
        /// Cancel and close_direct issued; waiting for pending completions.
        case tearingDown
    }

    public struct Flags: OptionSet, Sendable, BitwiseCopyable {
        public var rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// Our close frame is queued or sent.
        public static let closeSent = Flags(rawValue: 1 << 0)
        /// The peer's close frame arrived.
        public static let closeReceived = Flags(rawValue: 1 << 1)
        /// End as soon as the send queue drains (HTTP answers, violations).
        public static let endAfterSend = Flags(rawValue: 1 << 2)
        /// Ignore further input.
        public static let inputClosed = Flags(rawValue: 1 << 3)
        /// The upgrade succeeded: the end counts in `closes_total`.
        public static let upgraded = Flags(rawValue: 1 << 4)
    }

    public private(set) var state = State.free
    public private(set) var flags = Flags()

    public init() {}

    public var isClosingOrGone: Bool { state == .closing || state == .tearingDown || state == .free }
    /// Torn down or free: every event is a no-op (no action on a closed slot).
    var isGone: Bool { state == .tearingDown || state == .free }
    /// Input is still parsed (frames or the request head).
    public var readsInput: Bool { !flags.contains(.inputClosed) && (state == .handshaking || state == .open || state == .closing) }
    /// New data (publishes, replies) may still be queued.
    public var acceptsData: Bool { state == .open && !flags.contains(.closeSent) }

    // MARK: Opening

    public mutating func reserved() {
        precondition(state == .free, "reserving a slot in state \(state)")
        state = .accepting
    }

    public mutating func accepted() {
        precondition(state == .accepting, "accept completed in state \(state)")
        state = .handshaking
    }

    public mutating func upgraded() {
        precondition(state == .handshaking, "upgrade in state \(state)")
        state = .open
        flags.insert(.upgraded)
    }

    /// A plain HTTP answer (an error, `/healthz`) is queued: no more input,
    /// and the connection ends once it is out.
    public mutating func answeredHTTP() { endOnceSent() }

    private mutating func endOnceSent() {
        guard !isGone else { return }
        state = .closing
        flags.formUnion([.endAfterSend, .inputClosed])
    }

    /// The transport failed (a TLS record error): its alert is queued; no
    /// more input, and the connection ends once the alert is out.
    public mutating func transportFailed() { endOnceSent() }

    // MARK: Closing (RFC 6455 §7)

    public enum PeerCloseAction: Equatable, Sendable {
        /// The closing handshake is complete (we had sent ours): the server
        /// closes TCP first (§7.1.1).
        case tearDown
        /// Echo the code (§5.5.1), or an empty close for none, then end.
        case reply(CloseCode?)
    }

    /// The peer's close frame arrived with a valid payload.
    public mutating func peerClosed(code: CloseCode?) -> PeerCloseAction {
        guard !isGone else { return .tearDown }
        flags.formUnion([.closeReceived, .inputClosed])
        if flags.contains(.closeSent) { return .tearDown }
        flags.formUnion([.closeSent, .endAfterSend])
        state = .closing
        return .reply(code)
    }

    /// We fail the connection (§7.1.7: a violation): no more input; true
    /// when our close frame should be queued now (false: it already was).
    public mutating func fail() -> Bool {
        flags.insert(.inputClosed)
        guard !isGone else { return false }
        guard !flags.contains(.closeSent) else { return false }
        flags.formUnion([.closeSent, .endAfterSend])
        state = .closing
        return true
    }

    /// We start a close (shutdown, policy) and wait for the peer's close or
    /// the close timeout; true when our close frame should be queued now.
    public mutating func initiateClose() -> Bool {
        guard !isGone, !flags.contains(.closeSent) else { return false }
        flags.insert(.closeSent)
        state = .closing
        return true
    }

    public enum DrainAction: Equatable, Sendable {
        /// Keep going.
        case none
        /// Everything is out: half-close our side (FIN after it) and keep
        /// reading until the peer closes or the close timeout ("lingering
        /// close": closing with unread input would send RST, and the peer
        /// could lose our last frame, RFC 6455 §7.1.1).
        case halfClose
        /// Everything is out and nothing more will be read: end now.
        case tearDown
    }

    /// The send queue drained; `receiving` says whether a receive is armed.
    public mutating func drained(receiving: Bool) -> DrainAction {
        guard !isGone, flags.contains(.endAfterSend) else { return .none }
        flags.remove(.endAfterSend)
        if flags.contains(.closeReceived) || !receiving { return .tearDown }
        flags.insert(.inputClosed)
        return .halfClose
    }

    public enum EndAction: Equatable, Sendable {
        /// Tear down; the peer left mid-handshake (counted as such).
        case tearDownHandshake
        /// Tear down an open connection that ended without a close frame
        /// (RFC 6455 §7.1.5: 1006).
        case tearDownAbnormal
        /// Tear down a connection already closing.
        case tearDown
        /// Already going: free the slot if nothing is pending.
        case finishIfIdle
    }

    /// The peer closed or reset its side (EOF or a receive error).
    public func peerEnded() -> EndAction {
        switch state {
        case .handshaking: .tearDownHandshake
        case .open: .tearDownAbnormal
        case .closing: .tearDown
        case .free, .accepting, .tearingDown: .finishIfIdle
        }
    }

    public enum TimerMeaning: Equatable, Sendable {
        /// The request head did not complete within the handshake timeout.
        case handshakeTimedOut
        /// Heartbeat, send timeout, queue limit (`Liveness.decide`).
        case liveness
        /// The peer never answered our close, or never read our answer.
        case closeTimedOut
        case none
    }

    /// What the connection's one timer means in its state.
    public var timerMeaning: TimerMeaning {
        switch state {
        case .handshaking: .handshakeTimedOut
        case .open: .liveness
        case .closing: .closeTimedOut
        case .free, .accepting, .tearingDown: .none
        }
    }

    /// Cancel and close are being issued; false when already done (a
    /// second teardown must issue nothing). Returns whether the connection
    /// had upgraded (its end is then counted once).
    public mutating func tearDown() -> (begin: Bool, wasUpgraded: Bool) {
        guard state != .tearingDown, state != .free else { return (false, false) }
        let wasUpgraded = flags.contains(.upgraded)
        flags.remove(.upgraded)
        flags.insert(.inputClosed)
        state = .tearingDown
        return (true, wasUpgraded)
    }

    /// Every completion is in: the slot may be reused (true), or not yet.
    public func canFree(pendingOperations: Int) -> Bool {
        state == .tearingDown && pendingOperations == 0
    }

    /// The slot returns to the slab (also after a failed accept).
    public mutating func freed() {
        self = ConnectionLifecycle()
    }
}
