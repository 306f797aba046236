/// The outcome of parsing a close frame's payload (RFC 6455 §5.5.1).
public enum ClosePayloadResult: Equatable, Sendable {
    /// A valid payload: the status code (nil when the payload was empty,
    /// which §7.1.5 reports as 1005) and the reason's byte count, which
    /// follows the 2-byte code.
    case ok(code: CloseCode?, reasonLength: Int)
    /// An invalid payload; close with this code.
    case failure(CloseCode)
}
