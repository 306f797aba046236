/// What to do with a WebSocket upgrade request (RFC 6455 §4.2.2).
public enum HandshakeDecision: Equatable, Sendable {
    /// Answer 101 with this `Sec-WebSocket-Accept`, and with permessage-deflate
    /// when the client offered an acceptable configuration.
    case upgrade(accept: String, deflate: DeflateOffer?)
    /// Answer with this status and close (see `WebSocketHandshake.rejectResponse`).
    case reject(HTTPStatus)
}
