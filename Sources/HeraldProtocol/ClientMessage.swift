/// A control message a client sends as a text frame (CONTRACT "Messages on
/// the socket"): one JSON object with a string `type`.
public enum ClientMessage: Equatable, Sendable {
    /// `since`: where the client was (`{"seq":N,"epoch":"E"}`), to recover
    /// what it missed (CONTRACT "History and recovery").
    case subscribe(topic: String, since: Recovery.Position?)
    case unsubscribe(topic: String)
    case ping
    /// `{"type":"refresh","token":"JWT"}`: a new token for the same `sub`
    /// extends the connection's life (CONTRACT "Messages on the socket").
    case refresh(token: String)

    /// A connection token travels in a URL too: 4 KiB is far more than any.
    static let tokenBytesMax = 4096

    /// Epochs are short opaque strings; a longer one cannot be ours.
    static let epochBytesMax = 64

    /// Parses one text message. Not a JSON object → `.badJSON`; `type`
    /// missing, not a string or unknown → `.unknownType`; subscribe or
    /// unsubscribe without a valid string `topic` → `.badTopic`. Extra
    /// members are ignored so clients can add fields without breaking.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> Result<ClientMessage, ClientMessageError> {
        guard let value = JSONValue.parse(bytes), case .object = value else { return .failure(.badJSON) }
        guard let type = value["type"]?.stringValue else { return .failure(.unknownType) }
        switch type {
        case "ping":
            return .success(.ping)
        case "refresh":
            guard let token = value["token"]?.stringValue, !token.isEmpty, token.utf8.count <= Self.tokenBytesMax else {
                return .failure(.badToken)
            }
            return .success(.refresh(token: token))
        case "subscribe", "unsubscribe":
            guard let topic = value["topic"]?.stringValue, TopicName.isValid(topic) else {
                return .failure(.badTopic)
            }
            guard type == "subscribe" else { return .success(.unsubscribe(topic: topic)) }
            guard let since = value["since"] else { return .success(.subscribe(topic: topic, since: nil)) }
            guard let seq = since["seq"]?.unsignedValue, let epoch = since["epoch"]?.stringValue,
                  epoch.utf8.count <= Self.epochBytesMax else {
                return .failure(.badSince)
            }
            return .success(.subscribe(topic: topic, since: Recovery.Position(seq: seq, epoch: epoch)))
        default:
            return .failure(.unknownType)
        }
    }
}
