/// A streaming parser for client-to-server WebSocket frames (RFC 6455 §5).
///
/// One decoder lives inline in each connection slot, so it is kept to 28
/// bytes: the header is either parsed straight out of the receive buffer
/// (the common case) or, when it straddles two receives, accumulated byte by
/// byte into the same fields the payload phase uses. Nothing allocates.
///
/// The decoder unmasks payload in place and hands out slices of the caller's
/// buffer; it never copies payload.
public struct FrameDecoder: Sendable, BitwiseCopyable {
    @usableFromInline
    enum Phase: UInt8, Sendable, BitwiseCopyable {
        case header
        case payload
        case failed
    }

    /// Header phase: the extended payload length accumulated so far.
    /// Payload phase: payload bytes of the current frame not yet returned.
    @usableFromInline var remaining: UInt64 = 0
    /// Payload bytes of the fragmented message in progress, summed over its
    /// frames so far; bounded by `messageBytesMax`.
    @usableFromInline var messageBytes: UInt64 = 0
    /// The masking key, first wire byte in the high bits (see `FrameMask`).
    @usableFromInline var maskKey: UInt32 = 0
    /// The first two header bytes, kept while the header is incomplete.
    @usableFromInline var byte0: UInt8 = 0
    @usableFromInline var byte1: UInt8 = 0
    /// Header bytes received so far (0...13) while in the header phase.
    @usableFromInline var headerCount: UInt8 = 0
    @usableFromInline var phase: Phase = .header
    /// Position within the payload modulo 4 (RFC 6455 §5.3).
    @usableFromInline var maskOffset: UInt8 = 0
    /// The opcode of the fragmented message in progress, nil between messages.
    @usableFromInline var messageOpcode: Opcode? = nil
    /// Valid once `phase == .failed`.
    @usableFromInline var failure: CloseCode = .protocolError

    @inlinable
    public init() {}

    /// True between the first frame of a fragmented data message (FIN = 0)
    /// and its final continuation frame's header.
    @inlinable
    public var isInsideFragmentedMessage: Bool { messageOpcode != nil }

    /// Parses as much of `buffer` as yields one event, unmasking payload in
    /// place. The caller drops `consumed` bytes and calls again until
    /// `.needMore`. `messageBytesMax` bounds a message's payload summed over
    /// its fragments (1009, RFC 6455 §7.4.1); `allowRSV1` is true when
    /// permessage-deflate was negotiated (RFC 7692 §6).
    @inlinable
    public mutating func next(
        _ buffer: UnsafeMutableRawBufferPointer, messageBytesMax: Int, allowRSV1: Bool
    ) -> FrameDecoderStep {
        switch phase {
        case .payload:
            return nextPayload(buffer)
        case .header:
            return nextHeader(buffer, messageBytesMax: messageBytesMax, allowRSV1: allowRSV1)
        case .failed:
            return FrameDecoderStep(consumed: 0, event: .failure(failure))
        }
    }

    // MARK: - Payload

    @inlinable
    mutating func nextPayload(_ buffer: UnsafeMutableRawBufferPointer) -> FrameDecoderStep {
        let available = UInt64(truncatingIfNeeded: buffer.count)
        if remaining > 0 && available == 0 {
            return FrameDecoderStep(consumed: 0, event: .needMore)
        }
        // Safe: take ≤ buffer.count, so it fits in Int.
        let take = Int(truncatingIfNeeded: min(remaining, available))
        let chunk = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<take])
        FrameMask.apply(chunk, key: maskKey, offset: Int(maskOffset))
        remaining &-= UInt64(truncatingIfNeeded: take)
        maskOffset = UInt8(truncatingIfNeeded: (Int(maskOffset) &+ take) & 3)
        let complete = remaining == 0
        if complete {
            resetHeader()
        }
        return FrameDecoderStep(consumed: take, event: .payload(chunk, frameComplete: complete))
    }

    // MARK: - Header

    /// Total header bytes for a client frame: 2, the extended length
    /// (0, 2 or 8 bytes, RFC 6455 §5.2) and the 4-byte masking key.
    @inlinable
    static func headerBytes(len7: UInt8) -> Int {
        switch len7 {
        case 126: return 2 + 2 + 4
        case 127: return 2 + 8 + 4
        default: return 2 + 4
        }
    }

    @inlinable
    mutating func nextHeader(
        _ buffer: UnsafeMutableRawBufferPointer, messageBytesMax: Int, allowRSV1: Bool
    ) -> FrameDecoderStep {
        guard let base = buffer.baseAddress, buffer.count > 0 else {
            return FrameDecoderStep(consumed: 0, event: .needMore)
        }
        let count = buffer.count
        // Fast path: the whole header is in this buffer and none is buffered.
        if headerCount == 0 && count >= 2 {
            let first = base.load(as: UInt8.self)
            let second = base.load(fromByteOffset: 1, as: UInt8.self)
            if let code = checkFirstBytes(first, second, allowRSV1: allowRSV1) {
                return fail(code, consumed: 2)
            }
            let len7 = second & 0x7F
            let total = Self.headerBytes(len7: len7)
            if count >= total {
                let length: UInt64
                switch len7 {
                case 126:
                    length = UInt64(UInt16(bigEndian: base.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
                case 127:
                    length = UInt64(bigEndian: base.loadUnaligned(fromByteOffset: 2, as: UInt64.self))
                default:
                    length = UInt64(len7)
                }
                let key = UInt32(bigEndian: base.loadUnaligned(fromByteOffset: total - 4, as: UInt32.self))
                return startFrame(
                    first: first, second: second, length: length, key: key,
                    consumed: total, messageBytesMax: messageBytesMax)
            }
        }
        return nextHeaderSlow(base, count: count, messageBytesMax: messageBytesMax, allowRSV1: allowRSV1)
    }

    /// The header straddles receive buffers: take it one byte at a time.
    /// Runs the same checks in the same order as the fast path, so the
    /// outcome never depends on how the stream was split.
    @usableFromInline
    mutating func nextHeaderSlow(
        _ base: UnsafeMutableRawPointer, count: Int, messageBytesMax: Int, allowRSV1: Bool
    ) -> FrameDecoderStep {
        var index = 0
        while index < count {
            let byte = base.load(fromByteOffset: index, as: UInt8.self)
            index += 1
            switch headerCount {
            case 0:
                byte0 = byte
            case 1:
                byte1 = byte
                if let code = checkFirstBytes(byte0, byte, allowRSV1: allowRSV1) {
                    return fail(code, consumed: index)
                }
            default:
                let total = Self.headerBytes(len7: byte1 & 0x7F)
                if Int(headerCount) < total - 4 {
                    remaining = (remaining << 8) | UInt64(byte)
                } else {
                    maskKey = (maskKey << 8) | UInt32(byte)
                }
            }
            headerCount += 1
            if headerCount >= 2 && Int(headerCount) == Self.headerBytes(len7: byte1 & 0x7F) {
                let len7 = byte1 & 0x7F
                let length = len7 < 126 ? UInt64(len7) : remaining
                return startFrame(
                    first: byte0, second: byte1, length: length, key: maskKey,
                    consumed: index, messageBytesMax: messageBytesMax)
            }
        }
        return FrameDecoderStep(consumed: count, event: .needMore)
    }

    /// The checks that need only the first two header bytes (RFC 6455 §5.1,
    /// §5.2, §5.4, §5.5; RFC 7692 §6.1), so a bad frame fails before its
    /// extended length arrives.
    @inlinable
    func checkFirstBytes(_ first: UInt8, _ second: UInt8, allowRSV1: Bool) -> CloseCode? {
        // §5.2: RSV2/RSV3 must be 0 unless an extension defines them; none does here.
        if first & 0x30 != 0 { return .protocolError }
        // §5.2: reserved opcodes fail the connection.
        guard let opcode = Opcode(rawValue: first & 0x0F) else { return .protocolError }
        // §5.1: "a client MUST mask all frames"; the server MUST close otherwise.
        if second & 0x80 == 0 { return .protocolError }
        let rsv1 = first & 0x40 != 0
        switch opcode {
        case .close, .ping, .pong:
            // §5.5: control frames have FIN set and at most 125 payload bytes;
            // RFC 7692 §6.1: RSV1 is never set on control frames.
            if first & 0x80 == 0 || second & 0x7F > 125 || rsv1 { return .protocolError }
        case .continuation:
            // RFC 7692 §6.1: RSV1 only on a message's first frame.
            // §5.4: a continuation needs a message in progress.
            if rsv1 || messageOpcode == nil { return .protocolError }
        case .text, .binary:
            // §5.4: fragments of one message are not interleaved with another.
            if (rsv1 && !allowRSV1) || messageOpcode != nil { return .protocolError }
        }
        return nil
    }

    @inlinable
    mutating func startFrame(
        first: UInt8, second: UInt8, length: UInt64, key: UInt32,
        consumed: Int, messageBytesMax: Int
    ) -> FrameDecoderStep {
        // §5.2: "the most significant bit MUST be 0" in a 64-bit length.
        // Non-minimal length encodings are accepted on purpose (lenient).
        guard length >> 63 == 0, let opcode = Opcode(rawValue: first & 0x0F) else {
            return fail(.protocolError, consumed: consumed)
        }
        let fin = first & 0x80 != 0
        let rsv1 = first & 0x40 != 0
        let limit = UInt64(max(messageBytesMax, 0))
        let header: FrameHeader
        switch opcode {
        case .text, .binary:
            // Checked now, before any payload is buffered (§10.4).
            if length > limit { return fail(.messageTooBig, consumed: consumed) }
            if !fin {
                messageOpcode = opcode
                messageBytes = length
            }
            header = FrameHeader(
                opcode: opcode, fin: fin, rsv1: rsv1, payloadLength: length,
                messageOpcode: opcode, isFirstFrameOfMessage: true)
        case .continuation:
            guard let current = messageOpcode else { return fail(.protocolError, consumed: consumed) }
            // Written as a subtraction so the sum cannot overflow.
            if messageBytes > limit || length > limit - messageBytes {
                return fail(.messageTooBig, consumed: consumed)
            }
            if fin {
                messageOpcode = nil
                messageBytes = 0
            } else {
                messageBytes += length
            }
            header = FrameHeader(
                opcode: opcode, fin: fin, rsv1: false, payloadLength: length,
                messageOpcode: current, isFirstFrameOfMessage: false)
        case .close, .ping, .pong:
            header = FrameHeader(
                opcode: opcode, fin: true, rsv1: false, payloadLength: length,
                messageOpcode: opcode, isFirstFrameOfMessage: true)
        }
        phase = .payload
        remaining = length
        maskKey = key
        maskOffset = 0
        return FrameDecoderStep(consumed: consumed, event: .frameStart(header))
    }

    @inlinable
    mutating func resetHeader() {
        phase = .header
        headerCount = 0
        remaining = 0
        maskKey = 0
        maskOffset = 0
    }

    @inlinable
    mutating func fail(_ code: CloseCode, consumed: Int) -> FrameDecoderStep {
        phase = .failed
        failure = code
        return FrameDecoderStep(consumed: consumed, event: .failure(code))
    }
}
