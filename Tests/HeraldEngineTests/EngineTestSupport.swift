import HeraldProtocol
@testable import HeraldEngine

/// Frames `text` with `AdminRequestFramer` (the bytes as an HTTP client sends them).
func frameAdminRequest(_ text: String, headBytesMax: Int = 8192, bodyBytesMax: Int = 1024) -> AdminRequestFramer.Result {
    frameAdminRequest(Array(text.utf8), headBytesMax: headBytesMax, bodyBytesMax: bodyBytesMax)
}

func frameAdminRequest(_ bytes: [UInt8], headBytesMax: Int = 8192, bodyBytesMax: Int = 1024) -> AdminRequestFramer.Result {
    bytes.withUnsafeBytes { AdminRequestFramer.next($0, headBytesMax: headBytesMax, bodyBytesMax: bodyBytesMax) }
}

extension AdminRequestFramer.Result {
    var request: AdminRequest? {
        if case .request(let request, _) = self { return request }
        return nil
    }

    var consumed: Int? {
        if case .request(_, let consumed) = self { return consumed }
        return nil
    }

    var failureStatus: Int? {
        if case .failure(let status, _) = self { return status.code }
        return nil
    }

    var isIncomplete: Bool {
        if case .incomplete = self { return true }
        return false
    }
}

/// A server-to-client frame taken apart by hand (RFC 6455 §5.2), not by
/// the decoder under test elsewhere.
struct ParsedFrame: Equatable {
    var fin: Bool
    var rsv: UInt8
    var opcode: UInt8
    var masked: Bool
    var payload: [UInt8]
}

/// Parses exactly one frame filling all of `bytes`; nil when the header is
/// inconsistent or the bytes are not exactly one frame.
func parseFrame(_ bytes: [UInt8]) -> ParsedFrame? {
    guard bytes.count >= 2 else { return nil }
    var at = 2
    var length = Int(bytes[1] & 0x7F)
    if length == 126 {
        guard bytes.count >= 4 else { return nil }
        length = Int(bytes[2]) << 8 | Int(bytes[3])
        guard length >= 126 else { return nil }  // RFC 6455 §5.2: minimal encoding
        at = 4
    } else if length == 127 {
        guard bytes.count >= 10 else { return nil }
        length = bytes[2..<10].reduce(0) { $0 << 8 | Int($1) }
        guard length > 0xFFFF else { return nil }
        at = 10
    }
    let masked = bytes[1] & 0x80 != 0
    if masked { at += 4 }
    guard bytes.count == at + length else { return nil }
    return ParsedFrame(fin: bytes[0] & 0x80 != 0, rsv: (bytes[0] >> 4) & 0x07, opcode: bytes[0] & 0x0F,
                       masked: masked, payload: Array(bytes[at...]))
}

extension OutboundFrame {
    var byteArray: [UInt8] { Array(bytes) }
}

/// One drained delivery, its frames copied out.
struct DrainedDelivery {
    var topicID: UInt32
    var seq: UInt64
    var bytes: [UInt8]
    var compressed: [UInt8]?
}

/// Takes everything queued on `queue`, releasing each frame's retain the
/// way a shard does, and returns the deliveries in order.
func drainDeliveries(_ queue: DeliveryQueue) -> [DrainedDelivery] {
    var out: [DrainedDelivery] = []
    queue.drain { delivery in
        out.append(DrainedDelivery(topicID: delivery.topicID, seq: delivery.seq,
                                   bytes: delivery.frame.takeUnretainedValue().byteArray,
                                   compressed: delivery.compressed?.takeUnretainedValue().byteArray))
        delivery.frame.release()
        delivery.compressed?.release()
    }
    return out
}

/// A registry frame builder for tests: a plain frame naming the seq, no
/// compressed twin.
func plainFrames(_ seq: UInt64) -> PublishFrames {
    PublishFrames(plain: OutboundFrame(copying: Array("frame \(seq)".utf8)))
}

/// The `data` member of a `message` envelope built by `ServerMessage.message`.
func envelopeData(_ payload: [UInt8], topic: String, seq: UInt64) -> [UInt8]? {
    var prefix = Array(#"{"type":"message","topic":"#.utf8)
    JSONString.append(topic.utf8, to: &prefix)
    prefix += Array(#","seq":\#(seq),"data":"#.utf8)
    guard payload.count > prefix.count, Array(payload.prefix(prefix.count)) == prefix, payload.last == UInt8(ascii: "}")
    else { return nil }
    return Array(payload[prefix.count..<(payload.count - 1)])
}

/// A registry whose shards have no eventfd: `Socket.signalEvent(-1)` fails
/// with EBADF and is ignored, which these tests rely on.
func makeRegistry(shards: Int) -> TopicRegistry {
    TopicRegistry(wakeDescriptors: Array(repeating: -1, count: shards))
}

extension ShardRouter.SubscribeResult {
    /// The seq of an `.alreadySubscribed` answer, nil for any other.
    var alreadySubscribedSeq: UInt64? {
        if case .alreadySubscribed(let seq, _) = self { return seq }
        return nil
    }
}

extension TopicRegistry {
    /// Counts subscribers the way shards do (`join` for a shard's first,
    /// `added` for more, `left` for each that goes), for tests that only
    /// need the registry's view.
    @discardableResult
    func subscribersChanged(shard: Int, topic: String, delta: Int) -> (id: UInt32, seq: UInt64) {
        for _ in 0..<max(0, delta) {
            if shardSubscribers(shard, topic) == 0 {
                _ = join(shard: shard, topic: topic)
            } else {
                added(shard: shard, topic: topic)
            }
        }
        for _ in 0..<max(0, -delta) { left(shard: shard, topic: topic) }
        let identity = identity(of: topic)!
        return (identity.id, identity.seq)
    }
}
