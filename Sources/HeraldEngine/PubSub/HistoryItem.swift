import HeraldProtocol

/// One kept message as the history endpoint shows it, taken from the frame
/// built at publish (no second copy of the data is kept).
enum HistoryItem {
    /// Appends `{"seq":N,"data":D}` for a plain frame: a text frame's
    /// envelope is `{"type":"message","topic":T,"seq":N,"data":D}`, so D is
    /// the bytes after that prefix up to the closing brace; a binary frame's
    /// envelope ends with the published bytes, shown as base64 with
    /// `"binary":true` (Docs/PROTOCOL.md, "Binary envelope").
    static func append(frame: UnsafeRawBufferPointer, topic: String, seq: UInt64, to body: inout [UInt8]) {
        guard frame.count >= 2 else { return }
        let opcode = frame[0] & 0x0F
        var headerLength = 2
        switch frame[1] & 0x7F {
        case 126: headerLength = 4
        case 127: headerLength = 10
        default: break
        }
        let payload = UnsafeRawBufferPointer(rebasing: frame[min(headerLength, frame.count)...])
        body += Array(#"{"seq":\#(seq),"data":"#.utf8)
        if opcode == Opcode.binary.rawValue {
            // version (1) | topic length (1) | topic | seq (8) | data
            let start = min(payload.count, 2 + topic.utf8.count + 8)
            JSONString.append(Base64.encode(Array(payload[start...])).utf8, to: &body)
            body += Array(#","binary":true}"#.utf8)
            return
        }
        let prefix = ServerMessage.message(topic: topic, seq: seq, jsonData: [UInt8]()).count - 1
        // Safe: the envelope is prefix + data + "}", built by ServerMessage.message.
        if payload.count > prefix {
            body += payload[prefix..<(payload.count - 1)]
        } else {
            body += Array("null".utf8)
        }
        body.append(UInt8(ascii: "}"))
    }
}
