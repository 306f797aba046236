import HeraldProtocol

/// Checks the server's answer to the upgrade request (RFC 6455 §4.1, §4.2.2).
public enum HandshakeResponse {
    public enum Verdict: Equatable, Sendable {
        case needMore
        /// Upgraded; frames start at `headLength`.
        case accepted(headLength: Int)
        case rejected(String)
    }

    /// A head larger than this is not a WebSocket upgrade answer.
    public static let headBytesMax = 8_192

    public static func check(_ bytes: UnsafeRawBufferPointer, expectedAccept: String, codec: Codec = .plain) -> Verdict {
        guard let end = headEnd(bytes) else {
            return bytes.count > headBytesMax ? .rejected("response head over \(headBytesMax) bytes") : .needMore
        }
        let head = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[0..<end]), as: UTF8.self)
        let lines = head.split(separator: "\r\n", omittingEmptySubsequences: true)
        guard let status = lines.first else { return .rejected("empty response") }
        let statusParts = status.split(separator: " ", maxSplits: 2)
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/1.1") else {
            return .rejected("not HTTP/1.1: \(status.prefix(40))")
        }
        guard statusParts[1] == "101" else { return .rejected("status \(statusParts[1])") }
        var upgrade = false
        var connectionUpgrade = false
        var accept: Substring?
        var codecAgreed = codec == .plain
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].drop(while: { $0 == " " || $0 == "\t" })
            switch name {
            case "upgrade": upgrade = value.lowercased() == "websocket"
            case "connection": connectionUpgrade = value.lowercased().contains("upgrade")
            case "sec-websocket-accept": accept = value
            default: if codec.agreed(name: name, value: value) { codecAgreed = true }
            }
        }
        guard upgrade, connectionUpgrade else { return .rejected("missing Upgrade/Connection headers") }
        guard let accept, accept == expectedAccept else { return .rejected("wrong Sec-WebSocket-Accept") }
        // A run that asked for a codec measures it or fails: never plain in its name.
        guard codecAgreed else { return .rejected("--codec \(codec.rawValue) not agreed by the server") }
        return .accepted(headLength: end + 4)
    }

    /// Offset of the "\r\n\r\n" that ends the head.
    static func headEnd(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 0...(bytes.count - 4)
        where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
            return index
        }
        return nil
    }

    /// The Sec-WebSocket-Key of client `id`: 16 bytes derived from the id
    /// (§4.1 asks for a random nonce; a derived one lets the expected accept
    /// be recomputed on arrival instead of stored for a million clients).
    public static func key(for id: UInt64) -> String {
        var bytes = [UInt8](repeating: 0, count: 16)
        var state = id &* 0x9E37_79B9_7F4A_7C15 &+ 0x6A09_E667_F3BC_C909
        for index in 0..<16 {
            // splitmix64 steps: distinct keys for distinct ids.
            state = (state ^ (state >> 30)) &* 0xBF58_476D_1CE4_E5B9
            bytes[index] = UInt8(truncatingIfNeeded: state >> 56)
        }
        return Base64.encode(bytes)
    }

    public static func expectedAccept(for id: UInt64) -> String {
        WebSocketHandshake.acceptValue(forKey: key(for: id))
    }
}
