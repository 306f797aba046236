/// The server side of the opening handshake (RFC 6455 §4.2).
public enum WebSocketHandshake {
    /// RFC 6455 §1.3, §4.2.2 step 5.4.
    static let acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    /// The only protocol version this server speaks (RFC 6455 §4.1 item 9).
    public static let version = "13"
    /// The nonce is 16 random bytes, base64-encoded (§4.1 item 7).
    static let keyBytes = 16

    /// Validates an upgrade request already routed to a WebSocket path,
    /// in this order (RFC 6455 §4.2.1 items 1-6):
    /// not GET, or HTTP/1.0 → 400 (item 1 requires "HTTP/1.1 or higher");
    /// no `Upgrade: websocket` token → 400; no `upgrade` token in
    /// `Connection` → 400; no `Host` → 400; `Sec-WebSocket-Version` not
    /// exactly 13 → 426 (§4.2.2: the answer names the version we speak);
    /// `Sec-WebSocket-Key` missing or not base64 of 16 bytes → 400.
    public static func evaluate(_ head: HTTPRequestHead) -> HandshakeDecision {
        guard head.method == "GET", head.versionMinor >= 1 else { return .reject(.badRequest) }
        guard head.headerContainsToken("Upgrade", "websocket") else { return .reject(.badRequest) }
        guard head.headerContainsToken("Connection", "upgrade") else { return .reject(.badRequest) }
        guard head.hasHeader("Host") else { return .reject(.badRequest) }
        // Fields read in place (issue 12: the connect path). A repeated
        // version or key field is refused like a wrong one.
        guard head.withSoleValue(of: "Sec-WebSocket-Version", { $0.elementsEqual(version.utf8) }) == true else {
            return .reject(.upgradeRequired)
        }
        let accept = head.withSoleValue(of: "Sec-WebSocket-Key") { key in
            Base64.decodedCount(key) == keyBytes ? acceptValue(forKey: key) : nil
        }
        guard let accept = accept ?? nil else { return .reject(.badRequest) }
        let deflate = head.header("Sec-WebSocket-Extensions").flatMap(DeflateOffer.parse)
        return .upgrade(accept: accept, deflate: deflate)
    }

    static let acceptGUIDBytes: [UInt8] = Array(acceptGUID.utf8)

    /// base64(SHA-1(key + GUID)), RFC 6455 §4.2.2 step 5.4. The key is used
    /// as sent (its base64 text), not decoded.
    public static func acceptValue(forKey key: String) -> String {
        var key = key
        return key.withUTF8 { acceptValue(forKey: $0) }
    }

    static func acceptValue(forKey key: UnsafeBufferPointer<UInt8>) -> String {
        acceptGUIDBytes.withUnsafeBytes { guid in
            SHA1.withDigest(of: UnsafeRawBufferPointer(key), guid) { Base64.encode($0) }
        }
    }

    /// The 101 response (RFC 6455 §4.2.2 step 5). No body follows; frames
    /// start right after the blank line.
    /// Everything of a 101 before the accept value: the same for every
    /// connection, so written once.
    static let switchingProtocolsPrefix: [UInt8] = Array(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ".utf8)

    public static func switchingProtocolsResponse(accept: String, extensions: String?,
                                                  subprotocol: String? = nil) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(switchingProtocolsPrefix.count + 64 + (extensions?.utf8.count ?? 0) + 32)
        out.append(contentsOf: switchingProtocolsPrefix)
        // The accept value is base64 (RFC 6455 §4.2.2): no CR or LF to drop.
        out.append(contentsOf: accept.utf8)
        out.append(ASCII.cr)
        out.append(ASCII.lf)
        if let extensions {
            HTTPResponse.appendField("Sec-WebSocket-Extensions", extensions, to: &out)
        }
        if let subprotocol {
            // RFC 6455 §4.2.2 step 5.3: one of the client's offered protocols.
            HTTPResponse.appendField("Sec-WebSocket-Protocol", subprotocol, to: &out)
        }
        out.append(ASCII.cr)
        out.append(ASCII.lf)
        return out
    }

    /// The plain-HTTP answer to a rejected handshake, closing the connection.
    /// A 426 carries `Sec-WebSocket-Version: 13` (RFC 6455 §4.2.2 step 4); a
    /// 503 (the server is at capacity) carries `Retry-After: 1` so clients
    /// back off instead of reconnecting at once (RFC 9110 §10.2.3).
    public static func rejectResponse(_ status: HTTPStatus) -> [UInt8] {
        let headers: [(String, String)] = switch status {
        case .upgradeRequired: [("Sec-WebSocket-Version", version)]
        case .serviceUnavailable: [("Retry-After", "1")]
        default: []
        }
        return HTTPResponse.make(status: status, body: Array((status.reason + "\n").utf8), headers: headers, close: true)
    }
}
