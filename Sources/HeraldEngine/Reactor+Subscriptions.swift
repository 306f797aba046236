import HeraldProtocol

/// Topic subscriptions (pub/sub lands with issue 3; until then the in-band
/// commands answer a clear error and the socket stays open).
extension Reactor {
    func subscribe(_ index: UInt32, topic: String) {
        counters.add(.clientErrorsSent)
        sendText(index, ServerMessage.error(code: "unavailable", message: "pub/sub is not available in this build"))
    }

    func unsubscribe(_ index: UInt32, topic: String) {
        counters.add(.clientErrorsSent)
        sendText(index, ServerMessage.error(code: "unavailable", message: "pub/sub is not available in this build"))
    }

    func leaveAllTopics(_ index: UInt32) {}
}
