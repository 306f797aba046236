import Testing

@testable import HeraldProtocol

@Suite struct FrameEncoderTests {
    func serverHeader(opcode: Opcode, fin: Bool = true, rsv1: Bool = false, length: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: FrameEncoder.headerBytesMax)
        let written = out.withUnsafeMutableBytes {
            FrameEncoder.writeHeader(opcode: opcode, fin: fin, rsv1: rsv1, payloadLength: length, to: $0.baseAddress!)
        }
        return Array(out.prefix(written))
    }

    @Test func serverHeadersUseTheShortestLengthForm() {
        #expect(serverHeader(opcode: .text, length: 0) == [0x81, 0x00])
        #expect(serverHeader(opcode: .text, length: 125) == [0x81, 125])
        #expect(serverHeader(opcode: .binary, length: 126) == [0x82, 126, 0x00, 126])
        #expect(serverHeader(opcode: .binary, length: 65_535) == [0x82, 126, 0xFF, 0xFF])
        #expect(serverHeader(opcode: .binary, length: 65_536) == [0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0])
        #expect(serverHeader(opcode: .continuation, fin: false, length: 1) == [0x00, 0x01])
        #expect(serverHeader(opcode: .text, rsv1: true, length: 3) == [0xC1, 0x03])
        #expect(serverHeader(opcode: .ping, length: 0) == [0x89, 0x00])
    }

    @Test func headerLengths() {
        #expect(FrameEncoder.headerLength(payloadLength: 0, masked: false) == 2)
        #expect(FrameEncoder.headerLength(payloadLength: 125, masked: false) == 2)
        #expect(FrameEncoder.headerLength(payloadLength: 126, masked: false) == 4)
        #expect(FrameEncoder.headerLength(payloadLength: 65_535, masked: true) == 8)
        #expect(FrameEncoder.headerLength(payloadLength: 65_536, masked: false) == 10)
        #expect(FrameEncoder.headerLength(payloadLength: 65_536, masked: true) == FrameEncoder.headerBytesMax)
    }

    @Test func maskedHeaderWritesKeyInWireOrder() {
        var out = [UInt8](repeating: 0, count: FrameEncoder.headerBytesMax)
        let written = out.withUnsafeMutableBytes {
            FrameEncoder.writeMaskedHeader(opcode: .text, fin: true, payloadLength: 5, maskKey: 0x37FA_213D, to: $0.baseAddress!)
        }
        #expect(Array(out.prefix(written)) == [0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D])
    }

    /// RFC 6455 §5.7 "Hello" example: the masked payload bytes.
    @Test func maskMatchesRFCExample() {
        var payload = bytes("Hello")
        payload.withUnsafeMutableBytes { FrameEncoder.mask($0, key: 0x37FA_213D, offset: 0) }
        #expect(payload == [0x7F, 0x9F, 0x4D, 0x51, 0x58])
    }

    @Test func maskingInPiecesEqualsMaskingWhole() {
        var random = SplitMix64(seed: 99)
        let original = (0..<257).map { _ in UInt8.random(in: 0...255, using: &random) }
        let key = UInt32.random(in: 0...UInt32.max, using: &random)
        var whole = original
        whole.withUnsafeMutableBytes { FrameEncoder.mask($0, key: key, offset: 0) }
        for split in [1, 3, 6, 8, 11, 100] {
            var pieces = original
            pieces.withUnsafeMutableBytes { raw in
                FrameEncoder.mask(UnsafeMutableRawBufferPointer(rebasing: raw[..<split]), key: key, offset: 0)
                FrameEncoder.mask(UnsafeMutableRawBufferPointer(rebasing: raw[split...]), key: key, offset: split)
            }
            #expect(pieces == whole, "split \(split)")
        }
        whole.withUnsafeMutableBytes { FrameEncoder.mask($0, key: key, offset: 0) }
        #expect(whole == original)
    }

    /// The load generator's frames must decode to what it meant to send.
    @Test func maskedFramesRoundTripThroughTheDecoder() {
        var random = SplitMix64(seed: 1234)
        for length in [0, 1, 125, 126, 127, 1000, 65_535, 65_536, 70_001] {
            let payload = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
            let key = UInt32.random(in: 0...UInt32.max, using: &random)
            var frame = [UInt8](repeating: 0, count: FrameEncoder.headerLength(payloadLength: length, masked: true))
            let written = frame.withUnsafeMutableBytes {
                FrameEncoder.writeMaskedHeader(opcode: .binary, fin: true, payloadLength: length, maskKey: key, to: $0.baseAddress!)
            }
            #expect(written == frame.count)
            var body = payload
            body.withUnsafeMutableBytes { FrameEncoder.mask($0, key: key, offset: 0) }
            frame += body
            let trace = decode(frame, chunks: [3, 5, 1000]).trace
            #expect(trace == [header(.binary, length: length), .payload(payload)], "length \(length)")
        }
    }

    @Test func wholeServerFrame() {
        #expect(FrameEncoder.frame(opcode: .pong, payload: bytes("hi")) == [0x8A, 0x02, 0x68, 0x69])
        let big = FrameEncoder.frame(opcode: .text, payload: Array(repeating: UInt8(0x61), count: 200))
        #expect(Array(big.prefix(4)) == [0x81, 126, 0x00, 200])
        #expect(big.count == 204)
    }

    @Test func closeFrameCarriesCodeAndReason() {
        #expect(FrameEncoder.closeFrame(code: .goingAway, reason: "bye") == [0x88, 0x05, 0x03, 0xE9, 0x62, 0x79, 0x65])
        #expect(FrameEncoder.closeFrame(code: .normal, reason: "") == [0x88, 0x02, 0x03, 0xE8])
    }

    /// §5.5: control payloads ≤ 125 bytes; the cut must not split a scalar.
    @Test func closeReasonIsTruncatedAtAScalarBoundary() {
        let frame = FrameEncoder.closeFrame(code: .policyViolation, reason: String(repeating: "é", count: 100))
        let payload = Array(frame.dropFirst(2))
        #expect(Int(frame[1]) == payload.count)
        #expect(payload.count == 2 + 122)  // 61 two-byte scalars; a 62nd would need 124 > 123
        let reason = Array(payload.dropFirst(2))
        #expect(reason.withUnsafeBytes { UTF8Validator.isValid($0) })
        let emoji = FrameEncoder.closeFrame(code: .normal, reason: String(repeating: "😀", count: 40))
        #expect(emoji.count - 2 == 2 + 120)
        let ascii = FrameEncoder.closeFrame(code: .normal, reason: String(repeating: "a", count: 300))
        #expect(ascii.count - 2 == FrameEncoder.controlPayloadBytesMax)
    }
}
