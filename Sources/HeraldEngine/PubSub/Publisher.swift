import HeraldProtocol

/// Turns a publish into one wire-ready frame — WebSocket header and
/// envelope in a single buffer — built once per publish and shared by every
/// subscriber on every shard (CONTRACT "Messages on the socket").
struct Publisher: Sendable {
    let registry: TopicRegistry

    enum Payload {
        /// Valid JSON text, embedded as is: `"data":<json>`.
        case json([UInt8])
        /// Text that becomes a JSON string: `"data":"<escaped>"`.
        case text([UInt8])
        /// Bytes for a binary frame (layout in Docs/PROTOCOL.md).
        case binary([UInt8])
    }

    /// Binary envelope version byte (Docs/PROTOCOL.md).
    static let binaryEnvelopeVersion: UInt8 = 1

    func publish(topic: String, payload: Payload) -> UInt64 {
        registry.publish(topic: topic) { seq in Publisher.frame(topic: topic, seq: seq, payload: payload) }
    }

    static func frame(topic: String, seq: UInt64, payload: Payload) -> OutboundFrame {
        switch payload {
        case .json(let data):
            return textFrame(topic: topic, seq: seq) { data }
        case .text(let text):
            return textFrame(topic: topic, seq: seq) {
                var quoted: [UInt8] = []
                quoted.reserveCapacity(text.count + 2)
                JSONString.append(text, to: &quoted)
                return quoted
            }
        case .binary(let bytes):
            // version(1) | topic length(1) | topic | seq (8, big-endian) | payload
            let topicBytes = Array(topic.utf8)
            let envelopeLength = 2 + topicBytes.count + 8 + bytes.count
            let header = FrameEncoder.headerLength(payloadLength: envelopeLength, masked: false)
            return OutboundFrame(count: header + envelopeLength) { out in
                var at = FrameEncoder.writeHeader(opcode: .binary, fin: true, rsv1: false,
                                                  payloadLength: envelopeLength, to: out.baseAddress!)
                out[at] = binaryEnvelopeVersion
                out[at + 1] = UInt8(topicBytes.count)
                at += 2
                for byte in topicBytes { out[at] = byte; at += 1 }
                for shift in stride(from: 56, through: 0, by: -8) { out[at] = UInt8(truncatingIfNeeded: seq >> UInt64(shift)); at += 1 }
                if !bytes.isEmpty {
                    // Safe: the buffer was sized header + envelope.
                    bytes.withUnsafeBytes { (out.baseAddress! + at).copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
                }
            }
        }
    }

    /// `{"type":"message","topic":T,"seq":N,"data":` + data + `}` in a text frame.
    private static func textFrame(topic: String, seq: UInt64, data: () -> [UInt8]) -> OutboundFrame {
        let envelope = ServerMessage.message(topic: topic, seq: seq, jsonData: data())
        let header = FrameEncoder.headerLength(payloadLength: envelope.count, masked: false)
        return OutboundFrame(count: header + envelope.count) { out in
            let at = FrameEncoder.writeHeader(opcode: .text, fin: true, rsv1: false, payloadLength: envelope.count,
                                              to: out.baseAddress!)
            envelope.withUnsafeBytes { (out.baseAddress! + at).copyMemory(from: $0.baseAddress!, byteCount: envelope.count) }
        }
    }
}
