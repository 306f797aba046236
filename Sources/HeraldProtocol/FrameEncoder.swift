/// Writes WebSocket frames (RFC 6455 §5.2).
///
/// Server frames are never masked (§5.1: "A server MUST NOT mask any frames
/// that it sends to the client"); the masked variant exists for the load
/// generator, which plays the client.
public enum FrameEncoder {
    /// Largest header: 2 fixed bytes, an 8-byte extended length and a 4-byte
    /// masking key (§5.2).
    public static let headerBytesMax = 14

    /// Largest payload that fits the 7-bit length field; 126 and 127 flag a
    /// 16- or 64-bit extended length (§5.2).
    @usableFromInline static let length7Max = 125
    /// Largest payload that fits the 16-bit extended length.
    @usableFromInline static let length16Max = Int(UInt16.max)
    /// Control frame payloads are at most 125 bytes (§5.5).
    public static let controlPayloadBytesMax = 125

    /// Writes an unmasked server frame header to `to` (which must have room
    /// for `headerLength(payloadLength:masked: false)` bytes) and returns
    /// the bytes written: 2, 4 or 10.
    @inlinable
    @discardableResult
    public static func writeHeader(
        opcode: Opcode, fin: Bool, rsv1: Bool, payloadLength: Int, to: UnsafeMutableRawPointer
    ) -> Int {
        precondition(payloadLength >= 0, "negative payload length")
        to.storeBytes(of: firstByte(opcode: opcode, fin: fin, rsv1: rsv1), as: UInt8.self)
        return writeLength(payloadLength, maskBit: 0, to: to)
    }

    /// FIN, RSV1 and the opcode (RFC 6455 §5.2); RSV2/RSV3 are always 0.
    @inlinable
    static func firstByte(opcode: Opcode, fin: Bool, rsv1: Bool) -> UInt8 {
        opcode.rawValue | (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0)
    }

    /// Header bytes for a payload of `payloadLength`: 2, 4 or 10, plus 4 when masked.
    @inlinable
    public static func headerLength(payloadLength: Int, masked: Bool) -> Int {
        let unmasked: Int
        if payloadLength <= length7Max {
            unmasked = 2
        } else if payloadLength <= length16Max {
            unmasked = 4
        } else {
            unmasked = 10
        }
        return masked ? unmasked + 4 : unmasked
    }

    /// Writes a masked client frame header including the 4-byte key (key's
    /// most significant byte first, the order `mask(_:key:offset:)` uses) and
    /// returns the bytes written: 6, 8 or 14.
    @inlinable
    @discardableResult
    public static func writeMaskedHeader(
        opcode: Opcode, fin: Bool, payloadLength: Int, maskKey: UInt32, to: UnsafeMutableRawPointer
    ) -> Int {
        precondition(payloadLength >= 0, "negative payload length")
        to.storeBytes(of: firstByte(opcode: opcode, fin: fin, rsv1: false), as: UInt8.self)
        let written = writeLength(payloadLength, maskBit: 0x80, to: to)
        to.storeBytes(of: maskKey.bigEndian, toByteOffset: written, as: UInt32.self)
        return written + 4
    }

    /// XORs `bytes` with the masking key in place (§5.3). `offset` is the
    /// position of `bytes[0]` within the frame's payload, so a payload can be
    /// masked in pieces. Masking twice restores the input.
    @inlinable
    public static func mask(_ bytes: UnsafeMutableRawBufferPointer, key: UInt32, offset: Int) {
        FrameMask.apply(bytes, key: key, offset: offset)
    }

    /// A whole unfragmented server frame, for control and small app messages.
    public static func frame(opcode: Opcode, payload: some Collection<UInt8>) -> [UInt8] {
        let count = payload.count
        let headerCount = headerLength(payloadLength: count, masked: false)
        var out = [UInt8](repeating: 0, count: headerCount)
        out.withUnsafeMutableBytes { raw in
            // Safe: `out` has exactly headerLength(...) bytes.
            _ = writeHeader(opcode: opcode, fin: true, rsv1: false, payloadLength: count, to: raw.baseAddress!)
        }
        out.append(contentsOf: payload)
        return out
    }

    /// A close frame (§5.5.1): the code in network byte order, then the
    /// reason cut to fit the 125-byte control payload limit. The cut lands
    /// on a scalar boundary so the reason stays valid UTF-8 (§5.5.1 requires
    /// it; a peer would otherwise fail with 1007).
    public static func closeFrame(code: CloseCode, reason: String) -> [UInt8] {
        let reasonBytesMax = controlPayloadBytesMax - 2
        var payload: [UInt8] = [UInt8(truncatingIfNeeded: code.rawValue >> 8), UInt8(truncatingIfNeeded: code.rawValue)]
        var used = 0
        for scalar in reason.unicodeScalars {
            let width = scalar.utf8.count
            if used + width > reasonBytesMax { break }
            payload.append(contentsOf: scalar.utf8)
            used += width
        }
        return frame(opcode: .close, payload: payload)
    }

    /// Writes the second header byte and any extended length; returns the
    /// header bytes written so far (2, 4 or 10).
    @inlinable
    static func writeLength(_ payloadLength: Int, maskBit: UInt8, to: UnsafeMutableRawPointer) -> Int {
        if payloadLength <= length7Max {
            to.storeBytes(of: maskBit | UInt8(truncatingIfNeeded: payloadLength), toByteOffset: 1, as: UInt8.self)
            return 2
        } else if payloadLength <= length16Max {
            to.storeBytes(of: maskBit | 126, toByteOffset: 1, as: UInt8.self)
            to.storeBytes(of: UInt16(truncatingIfNeeded: payloadLength).bigEndian, toByteOffset: 2, as: UInt16.self)
            return 4
        } else {
            to.storeBytes(of: maskBit | 127, toByteOffset: 1, as: UInt8.self)
            to.storeBytes(of: UInt64(truncatingIfNeeded: payloadLength).bigEndian, toByteOffset: 2, as: UInt64.self)
            return 10
        }
    }
}
