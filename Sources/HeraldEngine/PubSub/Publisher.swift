import HeraldCompression
import HeraldProtocol
import Synchronization

/// Turns a publish into one wire-ready frame — WebSocket header and
/// envelope in a single buffer — built once per publish and shared by every
/// subscriber on every shard (CONTRACT "Messages on the socket").
final class Publisher: @unchecked Sendable {
    // @unchecked: `deflater` is used only inside the registry's lock (the
    // frame builder runs there), so publishes from any thread are serialized.
    let registry: TopicRegistry
    private let deflater = MessageDeflater()
    /// Messages shorter than this are sent uncompressed: deflate rarely
    /// wins on a few dozen bytes and costs the receiver an inflate.
    static let compressBytesMin = 128

    init(registry: TopicRegistry) {
        self.registry = registry
    }

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

    /// The seq, or nil when the topic is new and `--topics-max` is reached.
    func publish(topic: String, payload: Payload) -> UInt64? {
        registry.publish(topic: topic) { seq in
            let plain = Publisher.frame(topic: topic, seq: seq, payload: payload)
            guard registry.deflateConnections.load(ordering: .relaxed) > 0 else { return (plain, nil) }
            return (plain, compressedFrame(of: plain))
        }
    }

    /// The plain frame's payload deflated into an RSV1 frame of the same
    /// opcode (RFC 7692 §6), or nil when small or incompressible.
    private func compressedFrame(of plain: OutboundFrame) -> OutboundFrame? {
        let bytes = UnsafeRawBufferPointer(plain.bytes)
        // Re-read the header we wrote: opcode and payload offset.
        let opcode: Opcode = bytes[0] & 0x0F == Opcode.binary.rawValue ? .binary : .text
        let length7 = Int(bytes[1] & 0x7F)
        let offset = length7 == 127 ? 10 : (length7 == 126 ? 4 : 2)
        let payload = UnsafeRawBufferPointer(rebasing: bytes[offset...])
        guard payload.count >= Publisher.compressBytesMin, let deflated = deflater.compress(payload) else { return nil }
        let header = FrameEncoder.headerLength(payloadLength: deflated.count, masked: false)
        return OutboundFrame(count: header + deflated.count) { out in
            let at = FrameEncoder.writeHeader(opcode: opcode, fin: true, rsv1: true, payloadLength: deflated.count,
                                              to: out.baseAddress!)
            deflated.withUnsafeBytes { (out.baseAddress! + at).copyMemory(from: $0.baseAddress!, byteCount: deflated.count) }
        }
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
