import HeraldCore
import HeraldProtocol

/// Everything one connection holds in user space: a fixed-size, plain-data
/// slot in its ring's slab (no class references, no per-connection heap
/// object). The slot's index is also the connection's index in the ring's
/// registered file table.
///
/// Layout (x86-64): 120 bytes, stride pinned by `ConnectionSlotTests`; the
/// table with every offset is in Docs/ARCHITECTURE.md. Fields are ordered
/// so that small ones fill what alignment would waste: timer links 12,
/// flags 4, lifecycle 2, route/window/control 4, pendingOperations 2, closeCode 2,
/// sendBatch 2, lastHeardTick 4, decoder 28 (FrameDecoder, 8-aligned),
/// utf8 1, subscribe budget 3 (a token bucket in what was padding),
/// assembly pointer/length/capacity 16 (borrowed only
/// while a frame or head is incomplete), send head/tail/offset/bytes 16,
/// subscriptions 4, token grant 4, token expiry 4, stalledSinceTick 4,
/// overLimitSinceTick 4, pingSentTick 4. The split control-frame buffer
/// moved out to the ring (`partialControls`) to make room for the last three.
struct ConnectionSlot: BitwiseCopyable {
    var timer = TimerLink()
    var flags = ConnectionFlags()
    /// Opening, closing handshake, teardown (`ConnectionLifecycle`, pure).
    var life = ConnectionLifecycle()
    var route = Route.webSocket
    /// permessage-deflate `server_max_window_bits` the client asked for
    /// (8–14), 0 for the default 15 (RFC 7692 §7.1.2.1).
    var deflateWindowBits: UInt8 = 0
    /// Bytes of a control frame split across receives (≤ 125, kept in the
    /// ring's `partialControls` until the frame completes).
    var controlLength: UInt8 = 0
    /// Opcode of the control frame being received.
    var controlOpcode: UInt8 = 0
    /// SQEs issued for this slot whose final completion has not arrived;
    /// the slot (and its file index) is reused only when this is zero.
    var pendingOperations: UInt16 = 0
    /// The close code this connection ended with (for `closes_total`).
    var closeCode: UInt16 = 0
    /// The iovec batch of the send in flight (`noBatch` when none).
    var sendBatch: UInt16 = ConnectionSlot.noBatch
    /// Wheel tick of the last bytes received (heartbeats are lazy: the
    /// timer checks this instead of being moved on every receive).
    var lastHeardTick: UInt32 = 0
    var decoder = FrameDecoder()
    var utf8 = UTF8Validator()
    /// In-band subscribes and unsubscribes left (`--subscribes-per-second`);
    /// kept in the three bytes the alignment of `assembly` would waste.
    var subscribeBudget = TokenBucket(capacity: 0, nowSecond: 0)
    /// Message (or request head) bytes gathered across receives.
    var assembly: UnsafeMutableRawPointer? = nil
    var assemblyLength: UInt32 = 0
    var assemblyCapacity: UInt32 = 0
    var sendHead: UInt32 = SendNodePool.none
    var sendTail: UInt32 = SendNodePool.none
    /// Bytes of the head node already on the wire (after a partial send).
    var sendOffset: UInt32 = 0
    /// What the queue costs: every queued frame's `queueCost` (its bytes
    /// plus its node and, for a connection's own frames, its object); bounded by
    /// `--send-queue-bytes-max` (see `Reactor.enqueueShared`).
    var queuedBytes: UInt32 = 0
    /// Head of this connection's subscription list (pub/sub).
    var subscriptions: UInt32 = .max
    /// The connection token's topic grant (index into the ring's grant
    /// table); `noGrant` when connection auth is off.
    var grant: UInt32 = ConnectionSlot.noGrant
    /// The token's `exp` (seconds since 1970, fits until 2106); 0 = none.
    var tokenExpiresAt: UInt32 = 0
    /// Wheel tick of a stalled socket's last progress (flag `stalled`).
    var stalledSinceTick: UInt32 = 0
    /// Wheel tick the queue went over its limit (flag `overLimit`).
    var overLimitSinceTick: UInt32 = 0
    /// Wheel tick the outstanding heartbeat ping was queued at.
    var pingSentTick: UInt32 = 0

    /// During the handshake `pingSentTick` is free (it means something
    /// only with `.pingOutstanding`, which only open connections set): it
    /// holds the accept time, 32 bits of CLOCK_MONOTONIC µs, for the
    /// handshake histogram; zeroed at the upgrade.
    var acceptedAtMicroseconds: UInt32 {
        get { pingSentTick }
        set { pingSentTick = newValue }
    }

    static let noGrant: UInt32 = .max

    static let noBatch: UInt16 = .max
}

typealias ConnectionState = ConnectionLifecycle.State

extension ConnectionSlot {
    /// Where the connection is in its life (read-only here: only the
    /// lifecycle's event methods change it).
    var state: ConnectionState { life.state }
}

enum Route: UInt8, BitwiseCopyable {
    case webSocket
    case echo
}

struct ConnectionFlags: OptionSet, BitwiseCopyable {
    var rawValue: UInt32
    static let receiveArmed = ConnectionFlags(rawValue: 1 << 0)
    static let sendInFlight = ConnectionFlags(rawValue: 1 << 1)
    /// On the ring's flush list.
    static let flushQueued = ConnectionFlags(rawValue: 1 << 2)
    static let pingOutstanding = ConnectionFlags(rawValue: 1 << 5)
    /// On the ring's re-arm list (receive ended with ENOBUFS).
    static let rearmQueued = ConnectionFlags(rawValue: 1 << 7)
    /// The message in progress is text (UTF-8 validated as it streams).
    static let textMessage = ConnectionFlags(rawValue: 1 << 8)
    /// The data frame being received has FIN set (ends its message).
    static let finalFrame = ConnectionFlags(rawValue: 1 << 11)
    /// permessage-deflate was negotiated (RFC 7692).
    static let deflate = ConnectionFlags(rawValue: 1 << 12)
    /// The message in progress is compressed (RSV1 on its first frame).
    static let compressedMessage = ConnectionFlags(rawValue: 1 << 13)
    /// Holds one unit of the global `--connections-max` budget.
    static let counted = ConnectionFlags(rawValue: 1 << 14)
    /// Accepted past the global cap: its request is answered 503.
    static let overCapacity = ConnectionFlags(rawValue: 1 << 15)
    /// A one-shot POLLOUT is armed: the socket refused bytes and the queue
    /// waits for room (no send, no iovec batch held meanwhile).
    static let writableWait = ConnectionFlags(rawValue: 1 << 16)
    /// The socket refused bytes and has not taken a whole send since;
    /// `stalledSinceTick` is its last progress (any byte taken). Past
    /// `--send-timeout` without progress the slow-consumer policy acts.
    static let stalled = ConnectionFlags(rawValue: 1 << 17)
    /// The queue is over `--send-queue-bytes-max` (`overLimitSinceTick`).
    static let overLimit = ConnectionFlags(rawValue: 1 << 18)
    /// Input is not read (backpressure): the multishot receive was
    /// cancelled while the queue was over its limit; re-armed at half of it.
    static let readPaused = ConnectionFlags(rawValue: 1 << 19)
    /// Policy `drop`, stalled past `--send-timeout`: publishes are dropped
    /// (and announced with a gap) until a send completes in full.
    static let dropping = ConnectionFlags(rawValue: 1 << 20)
    /// A ping that arrived while the socket refused bytes (or the queue was
    /// over its limit) awaits its pong: one at most (RFC 6455 §5.5.3 lets an
    /// endpoint answer only the latest of several pings), queued when the
    /// connection can send again, with the payload in the ring's `pendingPongs`.
    static let pongPending = ConnectionFlags(rawValue: 1 << 21)
    /// TLS: the queue's head node holds ciphertext already (sent as is);
    /// every node after it is plaintext, encrypted when it reaches the head.
    static let cipherHead = ConnectionFlags(rawValue: 1 << 22)
    /// Negotiated `herald.zstd.v1`: published messages go as zstd frames.
    static let zstd = ConnectionFlags(rawValue: 1 << 23)
    /// Said which zstd dictionaries it holds (`Reactor.heldDictionaries`).
    static let heldDictionaries = ConnectionFlags(rawValue: 1 << 24)
    /// An armed accept that waits for a connection before trying
    /// (IORING_ACCEPT_POLL_FIRST, `Reactor.kernelTakesAcceptPollFirst`).
    static let acceptPolledFirst = ConnectionFlags(rawValue: 1 << 25)
}
