import HeraldProtocol
import HeraldRedis

/// One message as it crosses Redis: on a topic's channel
/// (`seq \n epoch \n ms \n kind data`) or as a stream entry (id `seq-0`,
/// fields k, t, d). Parsing is pure so it is unit-tested and fuzzed
/// without a Redis.
struct ClusterMessage: Equatable {
    let seq: UInt64
    /// Empty for stream entries (the sync reply names the epoch once).
    let epoch: String
    let publishedAtMilliseconds: UInt64
    let payload: Publisher.Payload

    /// The kind byte of each payload (`Publisher.Payload`).
    static func kind(of payload: Publisher.Payload) -> (kind: UInt8, data: [UInt8]) {
        switch payload {
        case .json(let data): (UInt8(ascii: "j"), data)
        case .text(let data): (UInt8(ascii: "t"), data)
        case .binary(let data): (UInt8(ascii: "b"), data)
        }
    }

    static func payload(kind: UInt8, data: [UInt8]) -> Publisher.Payload? {
        switch kind {
        case UInt8(ascii: "j"): .json(data)
        case UInt8(ascii: "t"): .text(data)
        case UInt8(ascii: "b"): .binary(data)
        default: nil
        }
    }

    /// A channel message; nil when it is not in the layout above.
    static func parse(channelMessage bytes: [UInt8]) -> ClusterMessage? {
        var fields: [ArraySlice<UInt8>] = []
        var start = 0
        var index = 0
        while fields.count < 3 && index < bytes.count {
            if bytes[index] == 0x0A {
                fields.append(bytes[start..<index])
                start = index + 1
            }
            index += 1
        }
        guard fields.count == 3, start < bytes.count,
              let seq = decimal(fields[0]), seq > 0, let time = decimal(fields[2]),
              !fields[1].isEmpty, fields[1].count <= 128 else { return nil }
        guard let payload = payload(kind: bytes[start], data: Array(bytes[(start + 1)...])) else { return nil }
        return ClusterMessage(seq: seq, epoch: String(decoding: fields[1], as: UTF8.self),
                              publishedAtMilliseconds: time, payload: payload)
    }

    /// A stream entry as XRANGE returns it: `[id, [field, value, …]]`.
    static func parse(streamEntry reply: RedisReply) -> ClusterMessage? {
        guard let pair = reply.elements, pair.count == 2, let id = pair[0].bytes,
              let dash = id.firstIndex(of: UInt8(ascii: "-")), let seq = decimal(id[..<dash]), seq > 0,
              let fields = pair[1].elements, fields.count % 2 == 0 else { return nil }
        var kind: UInt8?
        var time: UInt64 = 0
        var data: [UInt8]?
        for at in stride(from: 0, to: fields.count, by: 2) {
            guard let name = fields[at].bytes, let value = fields[at + 1].bytes else { return nil }
            switch name {
            case [UInt8(ascii: "k")]: kind = value.first
            case [UInt8(ascii: "t")]: time = decimal(value[...]) ?? 0
            case [UInt8(ascii: "d")]: data = value
            default: break
            }
        }
        guard let kind, let data, let payload = payload(kind: kind, data: data) else { return nil }
        return ClusterMessage(seq: seq, epoch: "", publishedAtMilliseconds: time, payload: payload)
    }

    static func decimal(_ digits: ArraySlice<UInt8>) -> UInt64? {
        guard !digits.isEmpty, digits.count <= 19 else { return nil }
        var value: UInt64 = 0
        for digit in digits {
            guard digit >= 0x30 && digit <= 0x39 else { return nil }
            value = value * 10 + UInt64(digit - 0x30)
        }
        return value
    }
}


