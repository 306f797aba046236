import Testing

@testable import HeraldProtocol

@Suite struct FrameDecoderTests {
    @Test func fitsInAConnectionSlot() {
        #expect(MemoryLayout<FrameDecoder>.size <= 32)
    }

    /// RFC 6455 §5.7: "A single-frame masked text message" containing "Hello".
    @Test func rfcMaskedHelloExample() {
        let stream: [UInt8] = [0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58]
        #expect(decodeBothWays(stream) == [header(.text, length: 5), .payload(bytes("Hello"))])
    }

    @Test func zeroLengthFrameYieldsOneEmptyCompletePayload() {
        var decoder = FrameDecoder()
        var stream = clientFrame(opcode: 0x1, payload: [])
        stream.withUnsafeMutableBytes { raw in
            let first = decoder.next(raw, messageBytesMax: 100, allowRSV1: false)
            #expect(first.consumed == 6)
            guard case .frameStart(let frame) = first.event else {
                Issue.record("expected frameStart, got \(first.event)")
                return
            }
            #expect(frame.payloadLength == 0)
            let rest = UnsafeMutableRawBufferPointer(rebasing: raw[6...])
            let second = decoder.next(rest, messageBytesMax: 100, allowRSV1: false)
            #expect(second.consumed == 0)
            guard case .payload(let payload, let complete) = second.event else {
                Issue.record("expected payload, got \(second.event)")
                return
            }
            #expect(payload.isEmpty && complete)
            let third = decoder.next(rest, messageBytesMax: 100, allowRSV1: false)
            guard case .needMore = third.event else {
                Issue.record("expected needMore, got \(third.event)")
                return
            }
        }
    }

    @Test func sixteenAndSixtyFourBitLengths() {
        let medium = (0..<300).map { UInt8(truncatingIfNeeded: $0) }
        let large = (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let stream = clientFrame(opcode: 0x2, payload: medium) + clientFrame(opcode: 0x2, payload: large)
        #expect(stream[1] & 0x7F == 126)
        #expect(stream[medium.count + 8 + 1] & 0x7F == 127)
        let trace = decode(stream).trace
        #expect(trace == [header(.binary, length: 300), .payload(medium), header(.binary, length: 70_000), .payload(large)])
    }

    @Test func nonMinimalLengthEncodingIsAccepted() {
        let stream =
            clientFrame(opcode: 0x1, payload: bytes("hi"), length: .force16)
            + clientFrame(opcode: 0x1, payload: bytes("yo"), length: .force64)
        #expect(decodeBothWays(stream) == [header(.text, length: 2), .payload(bytes("hi")), header(.text, length: 2), .payload(bytes("yo"))])
    }

    /// A fragmented text message with a ping between its fragments, a binary
    /// frame with a 16-bit length and a close frame.
    static let mixedStream: [UInt8] =
        clientFrame(opcode: 0x1, fin: false, payload: bytes("Hel"), key: [1, 2, 3, 4])
        + clientFrame(opcode: 0x9, payload: bytes("ping!"), key: [9, 8, 7, 6])
        + clientFrame(opcode: 0x0, fin: false, payload: [], key: [5, 5, 5, 5])
        + clientFrame(opcode: 0x0, payload: bytes("lo, world"), key: [0xAA, 0xBB, 0xCC, 0xDD])
        + clientFrame(opcode: 0x2, payload: (0..<300).map { UInt8(truncatingIfNeeded: $0 * 3) }, key: [0x10, 0x20, 0x30, 0x40])
        + clientFrame(opcode: 0x8, payload: [0x03, 0xE8] + bytes("bye"), key: [0xFF, 0, 0xFF, 0])

    static let mixedTrace: [Trace] = [
        header(.text, fin: false, length: 3), .payload(bytes("Hel")),
        header(.ping, length: 5), .payload(bytes("ping!")),
        header(.continuation, fin: false, length: 0, message: .text, first: false), .payload([]),
        header(.continuation, length: 9, message: .text, first: false), .payload(bytes("lo, world")),
        header(.binary, length: 300), .payload((0..<300).map { UInt8(truncatingIfNeeded: $0 * 3) }),
        header(.close, length: 5), .payload([0x03, 0xE8] + bytes("bye")),
    ]

    @Test func fragmentationWithInterleavedPing() {
        let result = decode(Self.mixedStream)
        #expect(result.contractHeld)
        #expect(result.trace == Self.mixedTrace)
    }

    @Test func byteByByteMatchesWhole() {
        let result = decode(Self.mixedStream, chunks: Array(repeating: 1, count: Self.mixedStream.count))
        #expect(result.contractHeld)
        #expect(result.trace == Self.mixedTrace)
    }

    @Test func everySplitPointMatchesWhole() {
        for split in 0...Self.mixedStream.count {
            let result = decode(Self.mixedStream, chunks: [split])
            #expect(result.contractHeld, "split at \(split)")
            #expect(result.trace == Self.mixedTrace, "split at \(split)")
        }
    }

    @Test func randomChunkSizesMatchWhole() {
        var random = SplitMix64(seed: 0x5EED)
        for _ in 0..<300 {
            var chunks: [Int] = []
            var total = 0
            while total < Self.mixedStream.count {
                let size = Int.random(in: 1...20, using: &random)
                chunks.append(size)
                total += size
            }
            let result = decode(Self.mixedStream, chunks: chunks)
            #expect(result.contractHeld, "chunks \(chunks)")
            #expect(result.trace == Self.mixedTrace, "chunks \(chunks)")
        }
    }

    /// RFC 6455 §5.3: the key index continues across receive buffers,
    /// including offsets that are not multiples of 4 or 8.
    @Test func maskOffsetCarriesAcrossChunks() {
        var random = SplitMix64(seed: 42)
        let payload = (0..<1000).map { _ in UInt8.random(in: 0...255, using: &random) }
        let key = (0..<4).map { _ in UInt8.random(in: 0...255, using: &random) }
        let stream = clientFrame(opcode: 0x2, payload: payload, key: key)
        for chunkSize in [1, 2, 3, 5, 7, 9, 13, 64, 999] {
            let result = decode(stream, chunks: Array(repeating: chunkSize, count: stream.count / chunkSize + 1))
            #expect(result.trace == [header(.binary, length: 1000), .payload(payload)], "chunk size \(chunkSize)")
        }
    }

    @Test func tracksFragmentedMessageState() {
        var decoder = FrameDecoder()
        #expect(!decoder.isInsideFragmentedMessage)
        var stream =
            clientFrame(opcode: 0x1, fin: false, payload: bytes("a"))
            + clientFrame(opcode: 0x9, payload: bytes("p"))
            + clientFrame(opcode: 0x0, payload: bytes("b"))
        var states: [Bool] = []
        stream.withUnsafeMutableBytes { raw in
            var position = 0
            while true {
                let rest = UnsafeMutableRawBufferPointer(rebasing: raw[position...])
                let step = decoder.next(rest, messageBytesMax: 10, allowRSV1: false)
                position += step.consumed
                if case .needMore = step.event { break }
                if case .failure = step.event { break }
                states.append(decoder.isInsideFragmentedMessage)
            }
        }
        // After: text header, its payload, ping header, its payload, final
        // continuation header, its payload.
        #expect(states == [true, true, true, true, false, false])
    }

    @Test func rsv1AllowedOnlyOnFirstFrameOfNegotiatedDataMessage() {
        let compressed = clientFrame(opcode: 0x1, rsv: 0b100, payload: bytes("x"))
        #expect(decodeBothWays(compressed, allowRSV1: true) == [header(.text, rsv1: true, length: 1), .payload(bytes("x"))])
        #expect(decodeBothWays(compressed, allowRSV1: false) == [.failure(.protocolError)])
        let fragmented =
            clientFrame(opcode: 0x2, fin: false, rsv: 0b100, payload: bytes("x"))
            + clientFrame(opcode: 0x0, rsv: 0b100, payload: bytes("y"))
        #expect(
            decodeBothWays(fragmented, allowRSV1: true) == [
                header(.binary, fin: false, rsv1: true, length: 1), .payload(bytes("x")), .failure(.protocolError),
            ])
        let ping = clientFrame(opcode: 0x9, rsv: 0b100, payload: [])
        #expect(decodeBothWays(ping, allowRSV1: true) == [.failure(.protocolError)])
    }

    /// Every RFC 6455 §5 violation, as one frame on a fresh connection.
    @Test(arguments: [
        ("unmasked", clientFrame(opcode: 0x1, masked: false, payload: bytes("hi"))),
        ("RSV2", clientFrame(opcode: 0x1, rsv: 0b010, payload: bytes("hi"))),
        ("RSV3", clientFrame(opcode: 0x1, rsv: 0b001, payload: bytes("hi"))),
        ("RSV1 not negotiated", clientFrame(opcode: 0x1, rsv: 0b100, payload: bytes("hi"))),
        ("opcode 3", clientFrame(opcode: 0x3, payload: [])),
        ("opcode 4", clientFrame(opcode: 0x4, payload: [])),
        ("opcode 5", clientFrame(opcode: 0x5, payload: [])),
        ("opcode 6", clientFrame(opcode: 0x6, payload: [])),
        ("opcode 7", clientFrame(opcode: 0x7, payload: [])),
        ("opcode B", clientFrame(opcode: 0xB, payload: [])),
        ("opcode C", clientFrame(opcode: 0xC, payload: [])),
        ("opcode D", clientFrame(opcode: 0xD, payload: [])),
        ("opcode E", clientFrame(opcode: 0xE, payload: [])),
        ("opcode F", clientFrame(opcode: 0xF, payload: [])),
        ("ping of 126 bytes", clientFrame(opcode: 0x9, payload: Array(repeating: 0, count: 126))),
        ("close of 126 bytes", clientFrame(opcode: 0x8, payload: Array(repeating: 0, count: 126))),
        ("fragmented ping", clientFrame(opcode: 0x9, fin: false, payload: [])),
        ("fragmented pong", clientFrame(opcode: 0xA, fin: false, payload: [])),
        ("continuation first", clientFrame(opcode: 0x0, payload: bytes("x"))),
        ("64-bit length MSB", clientFrame(opcode: 0x2, payload: [], length: .force64, declaredLength: 1 << 63)),
    ])
    func protocolErrors(name: String, stream: [UInt8]) {
        #expect(decodeBothWays(stream) == [.failure(.protocolError)], "\(name)")
    }

    @Test func dataFrameInsideFragmentedMessageIsProtocolError() {
        let stream =
            clientFrame(opcode: 0x1, fin: false, payload: bytes("a"))
            + clientFrame(opcode: 0x2, payload: bytes("b"))
        #expect(decodeBothWays(stream) == [header(.text, fin: false, length: 1), .payload(bytes("a")), .failure(.protocolError)])
    }

    @Test func controlFrameOf125BytesIsAccepted() {
        let payload = Array(repeating: UInt8(7), count: 125)
        #expect(decodeBothWays(clientFrame(opcode: 0xA, payload: payload)) == [header(.pong, length: 125), .payload(payload)])
    }

    /// RFC 6455 §7.4.1 1009, checked at the header, before payload arrives.
    @Test func messageTooBig() {
        let payload = Array(repeating: UInt8(1), count: 100)
        #expect(decodeBothWays(clientFrame(opcode: 0x2, payload: payload), messageBytesMax: 100) == [header(.binary, length: 100), .payload(payload)])
        let frame = clientFrame(opcode: 0x2, payload: payload)
        #expect(decodeBothWays(frame, messageBytesMax: 99) == [.failure(.messageTooBig)])
        // Only the header is needed to decide.
        #expect(decodeBothWays(Array(frame.prefix(6)), messageBytesMax: 99) == [.failure(.messageTooBig)])
        // A huge declared length fails without its payload.
        let huge = clientFrame(opcode: 0x1, payload: [], length: .force64, declaredLength: 1 << 40)
        #expect(decodeBothWays(huge, messageBytesMax: 1 << 20) == [.failure(.messageTooBig)])
    }

    @Test func messageTooBigCountsAllFragments() {
        let stream =
            clientFrame(opcode: 0x1, fin: false, payload: Array(repeating: 0x61, count: 60))
            + clientFrame(opcode: 0x9, payload: Array(repeating: 0, count: 100))
            + clientFrame(opcode: 0x0, fin: false, payload: Array(repeating: 0x61, count: 40))
            + clientFrame(opcode: 0x0, payload: Array(repeating: 0x61, count: 1))
        let trace = decodeBothWays(stream, messageBytesMax: 100)
        #expect(trace?.last == .failure(.messageTooBig))
        #expect(trace?.count == 7)
        // Exactly at the limit is fine: control frames do not count.
        let atLimit = decodeBothWays(stream, messageBytesMax: 101)
        #expect(atLimit?.last == .payload([0x61]))
    }

    @Test func failureIsSticky() {
        var decoder = FrameDecoder()
        var stream = clientFrame(opcode: 0x3, payload: []) + clientFrame(opcode: 0x1, payload: bytes("ok"))
        stream.withUnsafeMutableBytes { raw in
            let first = decoder.next(raw, messageBytesMax: 100, allowRSV1: false)
            guard case .failure(.protocolError) = first.event else {
                Issue.record("expected failure, got \(first.event)")
                return
            }
            let again = decoder.next(UnsafeMutableRawBufferPointer(rebasing: raw[6...]), messageBytesMax: 100, allowRSV1: false)
            #expect(again.consumed == 0)
            guard case .failure(.protocolError) = again.event else {
                Issue.record("expected failure again, got \(again.event)")
                return
            }
        }
    }

    @Test func emptyInputNeedsMore() {
        var decoder = FrameDecoder()
        let step = decoder.next(UnsafeMutableRawBufferPointer(start: nil, count: 0), messageBytesMax: 10, allowRSV1: false)
        #expect(step.consumed == 0)
        guard case .needMore = step.event else {
            Issue.record("expected needMore, got \(step.event)")
            return
        }
    }

    @Test func unmasksLongPayloadsLikeTheReference() {
        var random = SplitMix64(seed: 7)
        for length in [0, 1, 7, 8, 9, 15, 16, 17, 125, 126, 4097] {
            let payload = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
            let key = (0..<4).map { _ in UInt8.random(in: 0...255, using: &random) }
            let trace = decode(clientFrame(opcode: 0x2, payload: payload, key: key)).trace
            #expect(trace == [header(.binary, length: length), .payload(payload)], "length \(length)")
        }
    }
}
