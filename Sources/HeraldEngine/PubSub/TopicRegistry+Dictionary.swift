import HeraldCompression
import HeraldProtocol

/// Trained zstd dictionaries (`herald.zstd.v1`, CONTRACT "zstd with
/// trained dictionaries"): one per topic, made from the topic's kept
/// messages, bounded in number (`--zstd-dictionaries-max`).
extension TopicRegistry {
    enum DictionaryOutcome {
        case installed(TopicDictionary, replaced: UInt32?)
        case noSuchTopic
        case atLimit
        /// zstd could not prepare the bytes as a dictionary.
        case unusable
    }

    /// The topic's kept messages as subscribers receive them (the frame's
    /// payload: the text message or the binary envelope), oldest first;
    /// nil when the topic is unknown.
    func dictionarySamples(topic: String, limit: Int) -> [[UInt8]]? {
        guard let page = history(topic: topic, since: 0, limit: limit) else { return nil }
        return page.entries.map { entry in
            defer { entry.plain.release() }
            return entry.plain._withUnsafeGuaranteedRef { Self.payload(of: UnsafeRawBufferPointer($0.bytes)) }
        }
    }

    /// An unmasked server frame's payload (RFC 6455 §5.2: 2, 4 or 10 header bytes).
    static func payload(of frame: UnsafeRawBufferPointer) -> [UInt8] {
        guard frame.count >= 2 else { return [] }
        let header = switch frame[1] & 0x7F {
        case 126: 4
        case 127: 10
        default: 2
        }
        return Array(frame[min(header, frame.count)...])
    }

    /// Gives `topic` a new dictionary made of `bytes` (its id the next one);
    /// the one it replaces stays alive while messages made with it are
    /// queued. Refused past `dictionariesMax` topics with one.
    func installDictionary(topic: String, bytes: [UInt8], level: Int32, dictionariesMax: Int) -> DictionaryOutcome {
        state.withLock { state in
            guard var record = state.records.removeValue(forKey: topic) else { return .noSuchTopic }
            defer { state.records[topic] = record }
            let previous = record.dictionary
            guard previous != nil || state.dictionaries < dictionariesMax else { return .atLimit }
            state.lastDictionaryID &+= 1
            if state.lastDictionaryID == 0 { state.lastDictionaryID = 1 }  // 0 means "none" on the wire
            guard let trained = ZstdDictionary(id: state.lastDictionaryID, bytes: bytes, level: level) else {
                return .unusable
            }
            let made = TopicDictionary(dictionary: trained, topic: topic)
            if let previous {
                state.dictionaryBytes -= previous.memoryBytes
            } else {
                state.dictionaries += 1
            }
            state.dictionaryBytes += made.memoryBytes
            record.dictionary = made
            return .installed(made, replaced: previous?.id)
        }
    }

    /// Topics with a dictionary, and the memory those hold.
    var dictionaryTotals: (count: Int, bytes: Int) {
        state.withLock { ($0.dictionaries, $0.dictionaryBytes) }
    }
}
