import HeraldCompression
import HeraldProtocol

/// A topic's trained zstd dictionary and the frame that delivers it
/// (`ZstdEnvelope.dictionary`), built once and shared by every subscriber
/// that needs it. Held by the topic's record and by each message
/// compressed with it (until every subscriber has it queued), so a newer
/// dictionary never pulls an older one from under a message.
final class TopicDictionary: @unchecked Sendable {
    // @unchecked: immutable after init.
    let dictionary: ZstdDictionary
    let frame: OutboundFrame

    init(dictionary: ZstdDictionary, topic: String) {
        self.dictionary = dictionary
        frame = Publisher.wrap(ZstdEnvelope.dictionary(id: dictionary.id, topic: topic, bytes: dictionary.bytes),
                               opcode: .binary, rsv1: false)
    }

    var id: UInt32 { dictionary.id }
    /// The dictionary's bytes, its prepared tables and its delivery frame.
    var memoryBytes: Int { dictionary.memoryBytes + frame.count }
}
