/// A validated frame header as `FrameDecoder` reports it (RFC 6455 §5.2).
public struct FrameHeader: Sendable, Equatable {
    public var opcode: Opcode
    public var fin: Bool
    /// RSV1 marks a compressed message (RFC 7692 §6); only ever true on the
    /// first frame of a data message, and only when the caller allowed it.
    public var rsv1: Bool
    public var payloadLength: UInt64
    /// The opcode of the message this frame belongs to: for continuation
    /// frames the opcode of the message's first frame, otherwise `opcode`.
    public var messageOpcode: Opcode
    /// True for unfragmented frames, the first frame of a fragmented message,
    /// and every control frame (control frames are never fragmented, §5.5).
    public var isFirstFrameOfMessage: Bool

    @inlinable
    public init(
        opcode: Opcode, fin: Bool, rsv1: Bool, payloadLength: UInt64,
        messageOpcode: Opcode, isFirstFrameOfMessage: Bool
    ) {
        self.opcode = opcode
        self.fin = fin
        self.rsv1 = rsv1
        self.payloadLength = payloadLength
        self.messageOpcode = messageOpcode
        self.isFirstFrameOfMessage = isFirstFrameOfMessage
    }
}
