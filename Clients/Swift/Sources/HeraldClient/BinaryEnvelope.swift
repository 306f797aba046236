import Foundation

/// Herald's binary envelope (Docs/PROTOCOL.md "Binary envelope"):
/// version (1) | topic length (1) | topic | seq (8, big-endian) | payload.
enum BinaryEnvelope {
    static let version: UInt8 = 1

    static func decode(_ bytes: [UInt8]) -> HeraldMessage? {
        guard bytes.count >= 10, bytes[0] == version else { return nil }
        let topicLength = Int(bytes[1])
        guard topicLength > 0, bytes.count >= 2 + topicLength + 8,
              let topic = String(bytes: bytes[2..<(2 + topicLength)], encoding: .utf8) else { return nil }
        var seq: UInt64 = 0
        for byte in bytes[(2 + topicLength)..<(2 + topicLength + 8)] { seq = seq << 8 | UInt64(byte) }
        return HeraldMessage(topic: topic, seq: seq, payload: .binary(Data(bytes[(2 + topicLength + 8)...])))
    }
}
