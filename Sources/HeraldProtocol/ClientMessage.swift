/// A control message a client sends as a text frame (CONTRACT "Messages on
/// the socket"): one JSON object with a string `type`.
public enum ClientMessage: Equatable, Sendable {
    case subscribe(topic: String)
    case unsubscribe(topic: String)
    case ping

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
        case "subscribe", "unsubscribe":
            guard let topic = value["topic"]?.stringValue, TopicName.isValid(topic) else {
                return .failure(.badTopic)
            }
            return .success(type == "subscribe" ? .subscribe(topic: topic) : .unsubscribe(topic: topic))
        default:
            return .failure(.unknownType)
        }
    }
}
