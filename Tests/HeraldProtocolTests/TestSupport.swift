@testable import HeraldProtocol

/// A deterministic PRNG (SplitMix64) so randomized tests replay exactly.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// How a test frame encodes its payload length (RFC 6455 §5.2).
enum LengthEncoding {
    case minimal
    case force16
    case force64
}

/// Builds a client frame byte by byte, independently of `FrameEncoder`, so
/// decoder tests do not rely on the code they check.
func clientFrame(
    opcode: UInt8, fin: Bool = true, rsv: UInt8 = 0, masked: Bool = true,
    payload: [UInt8], key: [UInt8] = [0x37, 0xFA, 0x21, 0x3D], length: LengthEncoding = .minimal,
    declaredLength: UInt64? = nil
) -> [UInt8] {
    var out: [UInt8] = [(fin ? 0x80 : 0) | (rsv << 4) | opcode]
    let maskBit: UInt8 = masked ? 0x80 : 0
    let count = declaredLength ?? UInt64(payload.count)
    switch length {
    case .minimal where count < 126:
        out.append(maskBit | UInt8(count))
    case .minimal where count <= 0xFFFF, .force16:
        out.append(maskBit | 126)
        out.append(UInt8(truncatingIfNeeded: count >> 8))
        out.append(UInt8(truncatingIfNeeded: count))
    default:
        out.append(maskBit | 127)
        for shift in stride(from: 56, through: 0, by: -8) {
            out.append(UInt8(truncatingIfNeeded: count >> UInt64(shift)))
        }
    }
    if masked {
        out.append(contentsOf: key)
        for (index, byte) in payload.enumerated() {
            out.append(byte ^ key[index % 4])
        }
    } else {
        out.append(contentsOf: payload)
    }
    return out
}

/// A decoder run flattened so that runs with different input splits can be
/// compared: payload chunks are joined per frame.
enum Trace: Equatable {
    case header(FrameHeader)
    case payload([UInt8])
    case failure(CloseCode)
}

/// Feeds `stream` to a fresh decoder in chunks of the given sizes (the last
/// chunk takes the rest) and records what it reports. Also checks the
/// decoder's contract: `.needMore` only once the chunk is consumed.
func decode(
    _ stream: [UInt8], chunks: [Int] = [], messageBytesMax: Int = 1 << 20, allowRSV1: Bool = false
) -> (trace: [Trace], contractHeld: Bool) {
    var decoder = FrameDecoder()
    var trace: [Trace] = []
    var current: [UInt8] = []
    var contractHeld = true
    var offset = 0
    var sizes = chunks
    var failed = false
    while offset < stream.count && !failed {
        let size = sizes.isEmpty ? stream.count - offset : min(sizes.removeFirst(), stream.count - offset)
        var chunk = Array(stream[offset..<offset + size])
        offset += size
        chunk.withUnsafeMutableBytes { raw in
            var position = 0
            while true {
                let rest = UnsafeMutableRawBufferPointer(rebasing: raw[position...])
                let step = decoder.next(rest, messageBytesMax: messageBytesMax, allowRSV1: allowRSV1)
                if step.consumed < 0 || step.consumed > rest.count { contractHeld = false }
                position += step.consumed
                switch step.event {
                case .needMore:
                    if position != raw.count { contractHeld = false }
                    return
                case .frameStart(let header):
                    trace.append(.header(header))
                    current = []
                case .payload(let bytes, let frameComplete):
                    current.append(contentsOf: bytes)
                    if frameComplete { trace.append(.payload(current)) }
                case .failure(let code):
                    trace.append(.failure(code))
                    failed = true
                    return
                }
            }
        }
    }
    return (trace, contractHeld)
}

/// Decodes `stream` in one piece and byte by byte; both must agree.
func decodeBothWays(_ stream: [UInt8], messageBytesMax: Int = 1 << 20, allowRSV1: Bool = false) -> [Trace]? {
    let whole = decode(stream, messageBytesMax: messageBytesMax, allowRSV1: allowRSV1)
    let bytewise = decode(
        stream, chunks: Array(repeating: 1, count: stream.count), messageBytesMax: messageBytesMax,
        allowRSV1: allowRSV1)
    guard whole.contractHeld, bytewise.contractHeld, whole.trace == bytewise.trace else { return nil }
    return whole.trace
}

func header(
    _ opcode: Opcode, fin: Bool = true, rsv1: Bool = false, length: Int, message: Opcode? = nil, first: Bool = true
) -> Trace {
    .header(
        FrameHeader(
            opcode: opcode, fin: fin, rsv1: rsv1, payloadLength: UInt64(length),
            messageOpcode: message ?? opcode, isFirstFrameOfMessage: first))
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef")
    return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xF)]] })
}

extension Array where Element == UInt8 {
    /// Runs `body` over the array's bytes.
    func withRaw<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        withUnsafeBytes(body)
    }
}
