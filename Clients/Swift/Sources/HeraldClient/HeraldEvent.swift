import Foundation

/// What a `HeraldClient` reports, in order, on `events`.
public enum HeraldEvent: Sendable, Equatable {
    /// A published message of a subscribed topic.
    case message(HeraldMessage)
    /// Messages `from...to` of `topic` will not arrive (the server's
    /// slow-consumer policy, or a cluster node that lost them): announced,
    /// never silent.
    case gap(topic: String, from: UInt64, to: UInt64)
    /// What was missed cannot be recovered (`reason`: "epoch" when the
    /// topic's sequence restarted, "not_recovered" when the messages are no
    /// longer kept): reload the topic's state from your application; live
    /// messages follow from `seq + 1`.
    case reset(topic: String, reason: String, epoch: String, seq: UInt64)
    /// The server refused a request (`code` as in Docs/PROTOCOL.md "Errors").
    case error(code: String, message: String, topic: String?)
    /// The connection's state changed.
    case state(HeraldConnectionState)
}

/// One published message.
public struct HeraldMessage: Sendable, Equatable {
    public let topic: String
    public let seq: UInt64
    public let payload: Payload

    public enum Payload: Sendable, Equatable {
        /// The `data` of a text message, as JSON text (an object, array,
        /// string, number, … exactly as published).
        case json(Data)
        /// The bytes of an `application/octet-stream` publish.
        case binary(Data)
    }

    public init(topic: String, seq: UInt64, payload: Payload) {
        self.topic = topic
        self.seq = seq
        self.payload = payload
    }

    /// The JSON data decoded as `type`.
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        guard case .json(let data) = payload else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "a binary message"))
        }
        return try JSONDecoder().decode(type, from: data)
    }
}

public enum HeraldConnectionState: Sendable, Equatable {
    case connecting(attempt: Int)
    case connected
    /// The connection ended; the client reconnects unless it was closed,
    /// or the server refused the token (4001) or the token expired without
    /// a provider to renew it (4002).
    case disconnected(code: UInt16?, reason: String?)
    /// `close()` was called, or the client gave up for good (4001).
    case closed
}
