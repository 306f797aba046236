/// The binary frames of the `herald.zstd.v1` subprotocol (Docs/PROTOCOL.md
/// "zstd"): a published message compressed once with zstd, shared by every
/// subscriber that negotiated it.
///
/// ```
/// message:    'Z' (0x5A) | kind (1: a text message, 2: a binary envelope) | dictionary id (u32, BE; 0: none) | zstd frame
/// dictionary: 'Z' (0x5A) | 3 | dictionary id (u32, BE) | topic length (u8) | topic | dictionary bytes
/// ```
///
/// The zstd frame states its content size (a client checks it against its
/// own limit before it decompresses). The first byte tells these frames
/// from the binary envelope (version 1) a plain binary publish arrives in;
/// a message that did not compress smaller arrives uncompressed, as a plain
/// subscriber would get it.
public enum ZstdEnvelope {
    public static let subprotocol = "herald.zstd.v1"
    public static let magic: UInt8 = 0x5A
    public static let headerBytes = 6
    /// `zstd_dicts=`: ids a connection may say it holds (a client that
    /// follows more topics lets the server send the rest again).
    public static let heldDictionariesMax = 16

    public enum Kind: UInt8, Sendable {
        /// The compressed bytes are the text message (`{"type":"message",…}`).
        case text = 1
        /// The compressed bytes are a binary envelope (Docs/PROTOCOL.md).
        case binary = 2
        /// A dictionary for a topic's messages.
        case dictionary = 3
    }

    /// The frame payload of a compressed message.
    public static func message(kind: Kind, dictionaryID: UInt32, compressed: [UInt8]) -> [UInt8] {
        var out = header(kind, dictionaryID)
        out.reserveCapacity(headerBytes + compressed.count)
        out += compressed
        return out
    }

    /// The frame payload that delivers a dictionary for `topic`.
    public static func dictionary(id: UInt32, topic: String, bytes: [UInt8]) -> [UInt8] {
        precondition(topic.utf8.count <= TopicName.bytesMax, "topic names fit one byte of length")
        var out = header(.dictionary, id)
        out.reserveCapacity(headerBytes + 1 + topic.utf8.count + bytes.count)
        out.append(UInt8(topic.utf8.count))
        out += topic.utf8
        out += bytes
        return out
    }

    /// A received frame, read without copying (clients, the load generator).
    public enum Parsed {
        case message(kind: Kind, dictionaryID: UInt32, frame: UnsafeRawBufferPointer)
        case dictionary(id: UInt32, topic: UnsafeRawBufferPointer, bytes: UnsafeRawBufferPointer)
    }

    /// Nil when `payload` is not one of these frames (too short, another
    /// first byte, an unknown kind, a dictionary without its id).
    public static func parse(_ payload: UnsafeRawBufferPointer) -> Parsed? {
        guard payload.count >= headerBytes, payload[0] == magic, let kind = Kind(rawValue: payload[1]) else { return nil }
        let id = payload[2..<6].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard kind == .dictionary else {
            return .message(kind: kind, dictionaryID: id, frame: UnsafeRawBufferPointer(rebasing: payload[headerBytes...]))
        }
        guard id != 0, payload.count > headerBytes, payload.count >= headerBytes + 1 + Int(payload[headerBytes]) else {
            return nil
        }
        let topicEnd = headerBytes + 1 + Int(payload[headerBytes])
        return .dictionary(id: id, topic: UnsafeRawBufferPointer(rebasing: payload[(headerBytes + 1)..<topicEnd]),
                           bytes: UnsafeRawBufferPointer(rebasing: payload[topicEnd...]))
    }

    private static func header(_ kind: Kind, _ id: UInt32) -> [UInt8] {
        [magic, kind.rawValue, UInt8(truncatingIfNeeded: id >> 24), UInt8(truncatingIfNeeded: id >> 16),
         UInt8(truncatingIfNeeded: id >> 8), UInt8(truncatingIfNeeded: id)]
    }
}
