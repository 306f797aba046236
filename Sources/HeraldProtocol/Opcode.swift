/// A WebSocket frame opcode (RFC 6455 §5.2, §11.8).
///
/// Only the six defined opcodes are representable; the reserved ones
/// (3-7 for data, 0xB-0xF for control) fail the connection with 1002 in
/// `FrameDecoder` because RFC 6455 §5.2 says a peer that receives an unknown
/// opcode "MUST _Fail the WebSocket Connection_".
public enum Opcode: UInt8, Sendable, BitwiseCopyable {
    case continuation = 0
    case text = 1
    case binary = 2
    case close = 8
    case ping = 9
    case pong = 10

    /// Control frames have the most significant opcode bit set (RFC 6455 §5.5),
    /// may not be fragmented and carry at most 125 payload bytes.
    @inlinable
    public var isControl: Bool { rawValue & 0x08 != 0 }
}
