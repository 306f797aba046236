/// Why a client's text message was not understood. Sent back as
/// `{"type":"error","code":…,"message":…}`; the socket stays open
/// (CONTRACT "Messages on the socket").
public struct ClientMessageError: Error, Equatable, Sendable {
    /// Stable machine-readable code; clients switch on it.
    public var code: String
    /// Human-readable detail; may change between versions.
    public var message: String

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }

    public static let badJSON = ClientMessageError(code: "bad_json", message: "message is not a JSON object")
    public static let unknownType = ClientMessageError(
        code: "unknown_type", message: "\"type\" must be one of subscribe, unsubscribe, ping, refresh")
    public static let badToken = ClientMessageError(
        code: "unauthorized", message: "\"token\" must be a non-empty string of at most 4096 bytes")
    public static let badSince = ClientMessageError(
        code: "bad_since", message: "\"since\" must be {\"seq\": non-negative integer, \"epoch\": string}")
    public static let badTopic = ClientMessageError(
        code: "bad_topic", message: "\"topic\" must be 1-128 bytes of A-Z a-z 0-9 . _ - : @ /")
}
