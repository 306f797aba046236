/// How subscribers ask the server to compress what it sends (`--codec`):
/// the header the upgrade request carries and the one the 101 must answer
/// with. The load generator decodes every message it receives either way,
/// so a codec can never hide a lost, duplicated or reordered message.
public enum Codec: String, Sendable, CaseIterable {
    case plain
    /// permessage-deflate (RFC 7692), no context takeover either way.
    case deflate
    /// Herald's `herald.zstd.v1` subprotocol (trained dictionaries).
    case zstd

    /// The upgrade request's extra header line ("" for plain).
    var requestHeader: String {
        switch self {
        case .plain: ""
        case .deflate: "\r\nSec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; server_no_context_takeover"
        case .zstd: "\r\nSec-WebSocket-Protocol: herald.zstd.v1"
        }
    }

    /// Whether a 101's header (lower-cased name, value) says it was agreed.
    func agreed(name: String, value: Substring) -> Bool {
        switch self {
        case .plain: false
        case .deflate: name == "sec-websocket-extensions" && value.lowercased().hasPrefix("permessage-deflate")
        case .zstd: name == "sec-websocket-protocol" && value == "herald.zstd.v1"
        }
    }
}
