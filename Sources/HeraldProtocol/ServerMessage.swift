/// The JSON bytes of server-to-client messages (CONTRACT "Messages on the
/// socket"). Each is sent as one text frame.
public enum ServerMessage {
    /// `{"type":"pong"}`, the answer to `{"type":"ping"}`.
    public static func pong() -> [UInt8] {
        Array(#"{"type":"pong"}"#.utf8)
    }

    /// `{"type":"error","code":…,"message":…}`, with `"topic":T` when the
    /// request named one (CONTRACT: so a client knows which subscribe failed).
    public static func error(code: String, message: String, topic: String? = nil) -> [UInt8] {
        var out = Array(#"{"type":"error","code":"#.utf8)
        JSONString.append(code.utf8, to: &out)
        out.append(contentsOf: #","message":"#.utf8)
        JSONString.append(message.utf8, to: &out)
        if let topic {
            out.append(contentsOf: #","topic":"#.utf8)
            JSONString.append(topic.utf8, to: &out)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// `{"type":"subscribed","topic":…,"seq":N,"epoch":E}`; N is the
    /// topic's last published sequence number (0 if none) in epoch E, and
    /// `"recovered":true|false` is added when the subscribe carried `since`.
    public static func subscribed(topic: String, seq: UInt64, epoch: String, recovered: Bool? = nil) -> [UInt8] {
        var out = Array(#"{"type":"subscribed","topic":"#.utf8)
        JSONString.append(topic.utf8, to: &out)
        out.append(contentsOf: #","seq":"#.utf8)
        JSONNumber.append(seq, to: &out)
        out.append(contentsOf: #","epoch":"#.utf8)
        JSONString.append(epoch.utf8, to: &out)
        if let recovered { out.append(contentsOf: (recovered ? #","recovered":true"# : #","recovered":false"#).utf8) }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// `{"type":"gap","topic":…,"epoch":E,"from":A,"to":B}`: seqs A…B of
    /// epoch E were dropped for this subscriber (policy `drop`).
    public static func gap(topic: String, epoch: String, from: UInt64, to: UInt64) -> [UInt8] {
        var out = Array(#"{"type":"gap","topic":"#.utf8)
        JSONString.append(topic.utf8, to: &out)
        out.append(contentsOf: #","epoch":"#.utf8)
        JSONString.append(epoch.utf8, to: &out)
        out.append(contentsOf: #","from":\#(from),"to":\#(to)}"#.utf8)
        return out
    }

    /// `{"type":"refreshed","exp":T}`: the connection now lives until T
    /// (seconds since 1970), or `null` for a token without `exp`.
    public static func refreshed(expiresAt: Int64?) -> [UInt8] {
        Array(#"{"type":"refreshed","exp":\#(expiresAt.map(String.init) ?? "null")}"#.utf8)
    }

    /// `{"type":"unsubscribed","topic":…}`.
    public static func unsubscribed(topic: String) -> [UInt8] {
        var out = Array(#"{"type":"unsubscribed","topic":"#.utf8)
        JSONString.append(topic.utf8, to: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// `{"type":"message","topic":…,"seq":N,"data":D}` where `data` is
    /// already JSON text (a validated `application/json` body, or a string
    /// literal from `JSONString.append`); it is copied as is.
    ///
    /// Takes an array, not any collection: from the engine's module a
    /// generic `jsonData` ran unspecialized, appending byte by byte through
    /// witness tables (~1/20 of the admin thread's time per publish, issue 12).
    public static func message(topic: String, seq: UInt64, jsonData: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(48 + topic.utf8.count + jsonData.count)
        messageHead.withUTF8Buffer { out.append(contentsOf: $0) }
        JSONString.append(topic.utf8, to: &out)
        messageSeqKey.withUTF8Buffer { out.append(contentsOf: $0) }
        JSONNumber.append(seq, to: &out)
        messageDataKey.withUTF8Buffer { out.append(contentsOf: $0) }
        out.append(contentsOf: jsonData)
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// The length of `message(topic:seq:jsonData:)` with `jsonDataCount`
    /// bytes of data, when `topic` needs no JSON escaping (every valid topic
    /// name: `TopicName` allows no quote, backslash or control byte); nil
    /// otherwise, and the caller builds it with `message`.
    public static func messageLength(topic: String, seq: UInt64, jsonDataCount: Int) -> Int? {
        var topic = topic
        let plain = topic.withUTF8 { !$0.contains(where: JSONString.needsEscape) }
        guard plain else { return nil }
        return messageHead.utf8CodeUnitCount + 2 + topic.utf8.count + messageSeqKey.utf8CodeUnitCount
            + JSONNumber.digitCount(seq) + messageDataKey.utf8CodeUnitCount + jsonDataCount + 1
    }

    /// Writes `message(topic:seq:jsonData:)` into `out`, which holds exactly
    /// `messageLength` bytes: the publish path builds the envelope inside
    /// its frame's buffer, with no array in between (one allocation and
    /// one copy less per publish).
    public static func writeMessage(topic: String, seq: UInt64, jsonData: UnsafeRawBufferPointer,
                                    to out: UnsafeMutableRawBufferPointer) {
        var topic = topic
        var writer = ByteWriter(out)
        writer.write(messageHead)
        writer.write(JSONLexer.quote)
        topic.withUTF8 { writer.write(UnsafeRawBufferPointer($0)) }
        writer.write(JSONLexer.quote)
        writer.write(messageSeqKey)
        JSONNumber.write(seq, to: &writer)
        writer.write(messageDataKey)
        writer.write(jsonData)
        writer.write(UInt8(ascii: "}"))
        precondition(writer.isFull, "a message envelope's buffer must be exactly messageLength bytes")
    }

    static let messageHead: StaticString = #"{"type":"message","topic":"#
    static let messageSeqKey: StaticString = #","seq":"#
    static let messageDataKey: StaticString = #","data":"#
}
