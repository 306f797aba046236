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
    public static func message(topic: String, seq: UInt64, jsonData: some Collection<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(48 + topic.utf8.count + jsonData.count)
        out.append(contentsOf: #"{"type":"message","topic":"#.utf8)
        JSONString.append(topic.utf8, to: &out)
        out.append(contentsOf: #","seq":"#.utf8)
        JSONNumber.append(seq, to: &out)
        out.append(contentsOf: #","data":"#.utf8)
        out.append(contentsOf: jsonData)
        out.append(UInt8(ascii: "}"))
        return out
    }
}
