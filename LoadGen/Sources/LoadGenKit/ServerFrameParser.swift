/// One step of parsing server frames (RFC 6455 §5.2) from received bytes.
public enum ServerFrameStep: Equatable, Sendable {
    /// A whole frame: its payload is `bytes[payloadStart ..< payloadStart + payloadLength]`
    /// and the next frame starts at `frameLength`.
    /// `compressed`: RSV1 set (permessage-deflate), only when allowed.
    case frame(opcode: UInt8, fin: Bool, payloadStart: Int, payloadLength: Int, frameLength: Int,
               compressed: Bool = false)
    /// The frame is not complete yet; keep the bytes and wait for more.
    case needMore
    /// The server broke the protocol; the connection is failed.
    case invalid(String)
}

/// Parses unmasked server frames. `FrameDecoder` in HeraldProtocol is the
/// server's decoder and rejects unmasked frames (§5.1: a server must reject
/// them), so the client side needs its own — a pure function over bytes.
public enum ServerFrameParser {
    /// A frame larger than this fails the connection (bounds the per-connection
    /// reassembly buffer; published payloads in a load test are small).
    public static let payloadBytesMax = 16 << 20

    /// `deflate`: permessage-deflate was agreed, so a data frame may have
    /// RSV1 set (RFC 7692 §6: on the first frame of a message only).
    public static func parse(_ bytes: UnsafeRawBufferPointer, deflate: Bool = false) -> ServerFrameStep {
        guard bytes.count >= 2 else { return .needMore }
        let first = bytes[0]
        let second = bytes[1]
        let opcode = first & 0x0F
        let fin = first & 0x80 != 0
        // §5.1: "A client MUST close a connection if it detects a masked frame."
        guard second & 0x80 == 0 else { return .invalid("masked server frame") }
        let compressed = first & 0x40 != 0
        guard first & 0x30 == 0, !compressed || (deflate && (opcode == 1 || opcode == 2)) else {
            return .invalid("reserved bits set (no extension negotiated)")
        }
        switch opcode {
        case 0, 1, 2: break
        case 8, 9, 10:
            // §5.5: control frames are never fragmented and carry ≤ 125 bytes.
            guard fin, second & 0x7F <= 125 else { return .invalid("bad control frame") }
        default: return .invalid("reserved opcode \(opcode)")
        }
        var headerLength = 2
        var payloadLength = Int(second & 0x7F)
        if payloadLength == 126 {
            guard bytes.count >= 4 else { return .needMore }
            payloadLength = Int(bytes[2]) << 8 | Int(bytes[3])
            headerLength = 4
        } else if payloadLength == 127 {
            guard bytes.count >= 10 else { return .needMore }
            var length: UInt64 = 0
            for index in 2..<10 { length = length << 8 | UInt64(bytes[index]) }
            guard length <= UInt64(payloadBytesMax) else { return .invalid("frame of \(length) bytes") }
            payloadLength = Int(length)
            headerLength = 10
        }
        guard payloadLength <= payloadBytesMax else { return .invalid("frame of \(payloadLength) bytes") }
        let frameLength = headerLength + payloadLength
        guard bytes.count >= frameLength else { return .needMore }
        return .frame(opcode: opcode, fin: fin, payloadStart: headerLength, payloadLength: payloadLength,
                      frameLength: frameLength, compressed: compressed)
    }
}
