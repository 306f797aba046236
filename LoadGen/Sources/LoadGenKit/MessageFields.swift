/// Pulls the load generator's own fields out of a delivered message without
/// a JSON parser (per delivery, so no allocation): the published data is
/// `{"i":INDEX,"t":MONOTONIC_NS,"p":"…"}`, wrapped by the server in its
/// envelope (`{"type":"message",…,"data":{…}}` for Herald).
public enum MessageFields {
    public static let indexKey: [UInt8] = Array(#""i":"#.utf8)
    public static let timeKey: [UInt8] = Array(#""t":"#.utf8)
    public static let errorMarker: [UInt8] = Array(#""type":"error""#.utf8)
    /// Herald's envelope: `"seq":N` comes before `"data"`, so the first match is the envelope's.
    public static let seqKey: [UInt8] = Array(#""seq":"#.utf8)
    /// Herald's announcement of messages a subscriber missed (policy drop).
    public static let gapMarker: [UInt8] = Array(#""type":"gap""#.utf8)
    public static let fromKey: [UInt8] = Array(#""from":"#.utf8)
    public static let toKey: [UInt8] = Array(#""to":"#.utf8)
    /// Herald's subscribe reply, its epoch and (after `since`) its verdict.
    public static let subscribedMarker: [UInt8] = Array(#""type":"subscribed""#.utf8)
    public static let epochKey: [UInt8] = Array(#""epoch":""#.utf8)
    public static let recoveredTrue: [UInt8] = Array(#""recovered":true"#.utf8)

    /// The bytes of the JSON string that starts right after `key` (which
    /// ends with its opening quote), up to the closing quote; nil if none.
    /// Epochs are plain ASCII, so escapes are not decoded.
    public static func string(after key: [UInt8], in bytes: UnsafeRawBufferPointer) -> [UInt8]? {
        guard let start = find(key, in: bytes) else { return nil }
        var index = start + key.count
        let first = index
        while index < bytes.count, bytes[index] != 34 { index += 1 }
        guard index < bytes.count else { return nil }
        return Array(bytes[first..<index])
    }

    /// The unsigned integer after the first `key` (whitespace allowed), if any.
    public static func integer(after key: [UInt8], in bytes: UnsafeRawBufferPointer) -> UInt64? {
        guard let start = find(key, in: bytes) else { return nil }
        var index = start + key.count
        while index < bytes.count, bytes[index] == 32 { index += 1 }
        var value: UInt64 = 0
        var digits = 0
        while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57, digits < 19 {
            value = value * 10 + UInt64(bytes[index] - 48)
            index += 1
            digits += 1
        }
        return digits > 0 ? value : nil
    }

    public static func find(_ needle: [UInt8], in bytes: UnsafeRawBufferPointer) -> Int? {
        guard !needle.isEmpty, bytes.count >= needle.count else { return nil }
        let first = needle[0]
        var index = 0
        let last = bytes.count - needle.count
        outer: while index <= last {
            if bytes[index] == first {
                for offset in 1..<needle.count where bytes[index + offset] != needle[offset] {
                    index += 1
                    continue outer
                }
                return index
            }
            index += 1
        }
        return nil
    }

    /// The published body for message `index` sent at `nanoseconds`;
    /// `chat`: with the fields of a chat application's event (~200 B of
    /// JSON whose values vary from message to message, as in
    /// LoadGen/scripts/zstd_sizes.py) — what compression is measured on.
    public static func body(index: Int, nanoseconds: UInt64, paddingBytes: Int, chat: Bool = false) -> [UInt8] {
        var text = #"{"i":\#(index),"t":\#(nanoseconds)"#
        if chat {
            let user = index % chatUsers.count
            text += #","event":"message.created","room":"general","user":{"id":\#(1000 + user),"#
                + #""name":"\#(chatUsers[user])"},"text":"\#(chatTexts[(index * 7) % chatTexts.count])","#
                + #""ts":\#(1_764_300_000 + index * 13),"reactions":[],"edited":false"#
        }
        if paddingBytes > 0 { text += #","p":""# + String(repeating: "x", count: paddingBytes) + "\"" }
        text += "}"
        return Array(text.utf8)
    }

    static let chatUsers = ["alice", "bob", "carol", "dave", "erin"]
    static let chatTexts = ["on my way", "sounds good to me", "can we move the meeting to 3pm?", "lol", "see you tomorrow"]
}
