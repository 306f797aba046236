import HeraldCompression
import HeraldCore
import HeraldIO
import HeraldProtocol
import Synchronization

/// A message's shared frames: the plain one every subscriber can take, and
/// the compressed ones for connections that negotiated a codec, when it paid.
struct PublishFrames {
    var plain: OutboundFrame
    /// permessage-deflate (RSV1 set).
    var compressed: OutboundFrame? = nil
    /// `herald.zstd.v1` (a binary frame, `ZstdEnvelope`).
    var zstd: OutboundFrame? = nil
    /// The dictionary `zstd` was made with.
    var zstdDictionary: TopicDictionary? = nil
}

/// Turns a publish into one wire-ready frame — WebSocket header and
/// envelope in a single buffer — built once per publish and shared by every
/// subscriber on every shard (CONTRACT "Messages on the socket").
final class Publisher: Sendable {
    let registry: TopicRegistry
    /// A deflater and a zstd compressor per publish in progress: a publish
    /// compresses before it takes the registry's lock, so publishes from
    /// several admin threads compress at once. Bound: one pair per thread
    /// publishing at the same time (the admin threads), made on demand and
    /// kept for the next publish.
    private let compressors: Mutex<[Compressors]>
    /// How messages are compressed: `--compress-min-bytes` (messages
    /// shorter go out uncompressed with deflate and with zstd without a
    /// dictionary: those rarely win on a few dozen bytes and cost the
    /// receiver a decode), `--deflate-level`, `--zstd-level`.
    struct Compression: Sendable {
        var minBytes = 128
        var deflateLevel: Int32 = 6
        var zstdLevel: Int32 = 3
    }
    let compression: Compression

    /// `--zstd-dictionary-bytes`, `--zstd-dictionaries-max`, `--zstd-train-after`.
    struct DictionarySettings {
        var bytes = 16_384
        var topicsMax = 1_000
        /// Train a topic's dictionary when its seq reaches this (0: never by itself).
        var trainAfter = 0
    }
    let dictionaries: DictionarySettings

    /// Trainings for `trainQueued` to run on its own thread: topics whose
    /// `--zstd-train-after`th message was published, and `POST
    /// /v1/topics/T/dictionary` requests. A training takes tens of
    /// milliseconds (~40 ms for 1,000 kept messages, ~90 ms for 5,000);
    /// run on the serving admin thread it held up every request behind
    /// it, and many topics reaching N together held it up for seconds.
    let training: DictionaryTraining

    /// The queued trainings and what became of them (`/metrics`).
    final class DictionaryTraining: Sendable {
        /// Trainings waiting at most. Past it a topic's automatic training
        /// is skipped (counted, logged): it stays untrained until `POST
        /// /v1/topics/T/dictionary`; a requested one is refused (503).
        static let queueMax = 1_024
        let queue = WorkQueue<TrainingJob>(capacity: DictionaryTraining.queueMax)
        /// Automatic trainings (`--zstd-train-after`) skipped, done, failed.
        let skipped = Atomic<UInt64>(0)
        let trained = Atomic<UInt64>(0)
        let failed = Atomic<UInt64>(0)
        /// Whether a thread runs `trainQueued` (set by the engine before it
        /// starts one): only then may a request hand its training over.
        let hasWorker = Atomic(false)
    }

    /// What the trainer thread is given: a topic whose Nth message was
    /// published, or a `POST /v1/topics/T/dictionary` waiting for its result.
    enum TrainingJob: Sendable {
        case due(String)
        case requested(TrainingRequest)
    }

    /// A requested training: the trainer thread stores its outcome and
    /// rings `notify` (the requesting admin server's eventfd), which then
    /// answers the request (`AdminRouter.AwaitedAnswer`).
    final class TrainingRequest: Sendable {
        let topic: String
        let notify: Int32
        private let result = Mutex<TrainingOutcome?>(nil)

        init(topic: String, notify: Int32) {
            self.topic = topic
            self.notify = notify
        }

        /// The outcome, or nil while the training is queued or running.
        var outcome: TrainingOutcome? { result.withLock { $0 } }

        func finish(_ outcome: TrainingOutcome) {
            result.withLock { $0 = outcome }
            Socket.signalEvent(notify)
        }
    }

    /// Hands a requested training to the trainer thread; false when
    /// `DictionaryTraining.queueMax` trainings already wait (or the queue
    /// is closed at shutdown).
    func requestTraining(_ request: TrainingRequest) -> Bool {
        training.queue.push(.requested(request))
    }

    init(registry: TopicRegistry, compression: Compression = Compression(),
         dictionaries: DictionarySettings = DictionarySettings()) {
        self.registry = registry
        self.compression = compression
        self.dictionaries = dictionaries
        compressors = Mutex([Compressors(compression)])
        training = DictionaryTraining()
    }

    /// A deflater and a zstd compressor, used by one publish at a time.
    final class Compressors: @unchecked Sendable {
        // @unchecked: taken from and put back into `Publisher.compressors`
        // (or owned by the cluster broker's one thread).
        let deflater: MessageDeflater
        let zstd: ZstdCompressor
        init(_ compression: Compression) {
            deflater = MessageDeflater(level: compression.deflateLevel)
            zstd = ZstdCompressor(level: compression.zstdLevel)
        }
    }

    enum Payload: Equatable {
        /// Valid JSON text, embedded as is: `"data":<json>`.
        case json([UInt8])
        /// Text that becomes a JSON string: `"data":"<escaped>"`.
        case text([UInt8])
        /// Bytes for a binary frame (layout in Docs/PROTOCOL.md).
        case binary([UInt8])
    }

    /// Binary envelope version byte (Docs/PROTOCOL.md).
    static let binaryEnvelopeVersion: UInt8 = 1

    /// The seq, or nil when the publish was refused (`attempt` says why).
    func publish(topic: String, payload: Payload) -> UInt64? {
        attempt(topic: topic, payload: payload).seq
    }

    /// `attempt` with JSON `data` read where it lies (a request body) for
    /// the plain frame, which is all that is built when no connection
    /// negotiated compression: no copy of the data into a payload of its
    /// own (a batch made one per line; issue 12). With compression on,
    /// the data is copied and published as `.json`.
    func attempt(topic: String, json data: UnsafeRawBufferPointer, wakes: ShardWakes? = nil) -> TopicRegistry.PublishOutcome {
        guard registry.deflateConnections.load(ordering: .relaxed) == 0,
              registry.zstdConnections.load(ordering: .relaxed) == 0 else {
            return attempt(topic: topic, payload: .json(Array(data)), wakes: wakes)
        }
        let outcome = registry.attempt(topic: topic, wakes: wakes) { seq, _ in
            Publisher.jsonFrame(topic: topic, seq: seq, data: data).map { PublishFrames(plain: $0) }
                ?? Publisher.frames(topic: topic, seq: seq, payload: .json(Array(data)), deflater: nil)
        }
        trainIfDue(topic: topic, outcome)
        return outcome
    }

    /// `wakes`: the calling thread's deferred shard wake-ups (see `ShardWakes`).
    func attempt(topic: String, payload: Payload, wakes: ShardWakes? = nil) -> TopicRegistry.PublishOutcome {
        let deflate = registry.deflateConnections.load(ordering: .relaxed) > 0
        let zstd = registry.zstdConnections.load(ordering: .relaxed) > 0
        let outcome: TopicRegistry.PublishOutcome
        if deflate || zstd {
            let pair = compressors.withLock { $0.popLast() } ?? Compressors(compression)
            defer { compressors.withLock { $0.append(pair) } }
            let build = { (seq: UInt64, dictionary: TopicDictionary?) in
                Publisher.frames(topic: topic, seq: seq, payload: payload, deflater: deflate ? pair.deflater : nil,
                                 zstd: zstd ? pair.zstd : nil, dictionary: dictionary,
                                 compressMinBytes: self.compression.minBytes)
            }
            // Built (and compressed) before the lock for the seq the topic
            // will give; the registry builds again inside only if that moved.
            let prebuilt = registry.nextPublish(of: topic).flatMap { next in
                next.builds ? (seq: next.seq, dictionary: next.dictionary, frames: build(next.seq, next.dictionary)) : nil
            }
            outcome = registry.attempt(topic: topic, prebuilt: prebuilt, wakes: wakes, build: build)
        } else {
            // Nothing to compress: the plain frame is built inside, as cheap
            // as a look-ahead's second lock would be.
            outcome = registry.attempt(topic: topic, wakes: wakes) { seq, _ in
                Publisher.frames(topic: topic, seq: seq, payload: payload, deflater: nil)
            }
        }
        trainIfDue(topic: topic, outcome)
        return outcome
    }

    /// `--zstd-train-after N`: after the topic's Nth message its
    /// dictionary is queued for training (once per topic and epoch), and
    /// `trainQueued` trains it on its own thread. Never blocks.
    private func trainIfDue(topic: String, _ outcome: TopicRegistry.PublishOutcome) {
        guard dictionaries.trainAfter > 0, outcome.seq == UInt64(dictionaries.trainAfter) else { return }
        if !training.queue.push(.due(topic)) {
            let skipped = training.skipped.add(1, ordering: .relaxed).newValue
            // A burst of skips logs a bounded number of lines: the 1st,
            // 2nd, 4th, 8th… (the counter has every one).
            if skipped & (skipped - 1) == 0 {
                Log.warning("zstd dictionary training skipped: the training queue is full",
                            ["topic": topic, "queue-max": "\(DictionaryTraining.queueMax)",
                             "skipped-total": "\(skipped)"])
            }
        }
    }

    /// Trains the queued topics' dictionaries, one at a time, until the
    /// queue is closed (the engine's trainer thread runs this).
    func trainQueued() {
        while let job = training.queue.pop() {
            switch job {
            case .requested(let request): request.finish(trainDictionary(topic: request.topic))
            case .due(let topic): trainDue(topic)
            }
        }
    }

    /// An automatic training, counted (`/metrics`).
    private func trainDue(_ topic: String) {
        switch trainDictionary(topic: topic) {
        case .trained:
            training.trained.add(1, ordering: .relaxed)
        case .untrainable(let reason):
            training.failed.add(1, ordering: .relaxed)
            Log.info("zstd dictionary not trained", ["topic": topic, "reason": reason])
        case .noSuchTopic, .tooFewSamples, .atLimit:
            // Collected since, too little history kept, or at
            // --zstd-dictionaries-max: nothing to train, as before.
            training.failed.add(1, ordering: .relaxed)
        }
    }

    enum TrainingOutcome: Sendable {
        case trained(id: UInt32, bytes: Int, samples: Int, replaced: UInt32?)
        case noSuchTopic
        case tooFewSamples(Int)
        case untrainable(String)
        case atLimit(Int)
    }

    /// zstd cannot learn much from fewer messages (ZDICT asks for many
    /// samples; with a handful it fails or learns noise).
    static let dictionarySamplesMin = 16
    /// Messages trained on at most (the topic's kept history).
    static let dictionarySamplesMax = 100_000

    /// Trains a dictionary from the topic's kept messages (outside the
    /// registry lock) and makes it the topic's.
    func trainDictionary(topic: String) -> TrainingOutcome {
        guard let samples = registry.dictionarySamples(topic: topic, limit: Self.dictionarySamplesMax) else {
            return .noSuchTopic
        }
        guard samples.count >= Self.dictionarySamplesMin else { return .tooFewSamples(samples.count) }
        let trained: [UInt8]
        switch ZstdDictionary.train(samples: samples, capacity: dictionaries.bytes) {
        case .success(let bytes): trained = bytes
        case .failure(let error): return .untrainable(error.description)
        }
        switch registry.installDictionary(topic: topic, bytes: trained, level: compression.zstdLevel,
                                          dictionariesMax: dictionaries.topicsMax) {
        case .installed(let dictionary, let replaced):
            return .trained(id: dictionary.id, bytes: trained.count, samples: samples.count, replaced: replaced)
        case .noSuchTopic: return .noSuchTopic
        case .atLimit: return .atLimit(dictionaries.topicsMax)
        case .unusable: return .untrainable("zstd could not prepare the trained dictionary")
        }
    }

    /// A message's frames: plain, compressed with `deflater` when one is
    /// given (permessage-deflate connections exist) and it pays, and as a
    /// `herald.zstd.v1` frame with `zstd` likewise.
    static func frames(topic: String, seq: UInt64, payload: Payload,
                       deflater: MessageDeflater?, zstd: ZstdCompressor? = nil,
                       dictionary: TopicDictionary? = nil, compressMinBytes: Int = 128) -> PublishFrames {
        if deflater == nil, zstd == nil, case .json(let data) = payload,
           let frame = jsonFrame(topic: topic, seq: seq, data: data) {
            return PublishFrames(plain: frame)
        }
        let envelope = envelope(topic: topic, seq: seq, payload: payload)
        var frames = PublishFrames(plain: wrap(envelope.bytes, opcode: envelope.opcode, rsv1: false))
        if let zstd, let dictionary, envelope.bytes.count >= ZstdEnvelope.headerBytes * 2,
           let compressed = envelope.bytes.withUnsafeBytes({ zstd.compress($0, dictionary: dictionary.dictionary) }),
           compressed.count + ZstdEnvelope.headerBytes < envelope.bytes.count {
            // With the topic's dictionary even short messages shrink.
            frames.zstd = zstdFrame(compressed, envelope: envelope, dictionaryID: dictionary.id)
            frames.zstdDictionary = dictionary
        }
        guard envelope.bytes.count >= compressMinBytes else { return frames }
        if let deflater, let deflated = envelope.bytes.withUnsafeBytes({ deflater.compress($0) }) {
            // The same message for permessage-deflate connections: RSV1 on
            // the (only) frame marks it compressed (RFC 7692 §6).
            frames.compressed = wrap(deflated, opcode: envelope.opcode, rsv1: true)
        }
        if frames.zstd == nil, let zstd, let compressed = envelope.bytes.withUnsafeBytes({ zstd.compress($0) }),
           compressed.count + ZstdEnvelope.headerBytes < envelope.bytes.count {
            frames.zstd = zstdFrame(compressed, envelope: envelope, dictionaryID: 0)
        }
        return frames
    }

    private static func zstdFrame(_ compressed: [UInt8], envelope: (opcode: Opcode, bytes: [UInt8]),
                                  dictionaryID: UInt32) -> OutboundFrame {
        let kind: ZstdEnvelope.Kind = envelope.opcode == .binary ? .binary : .text
        return wrap(ZstdEnvelope.message(kind: kind, dictionaryID: dictionaryID, compressed: compressed),
                    opcode: .binary, rsv1: false)
    }

    /// The whole frame of a publish, as every plain subscriber gets it.
    static func frame(topic: String, seq: UInt64, payload: Payload) -> OutboundFrame {
        let envelope = envelope(topic: topic, seq: seq, payload: payload)
        return wrap(envelope.bytes, opcode: envelope.opcode, rsv1: false)
    }

    /// The message a subscriber receives (the frame's payload) and its opcode.
    static func envelope(topic: String, seq: UInt64, payload: Payload) -> (opcode: Opcode, bytes: [UInt8]) {
        switch payload {
        case .json(let data):
            return (.text, ServerMessage.message(topic: topic, seq: seq, jsonData: data))
        case .text(let text):
            var quoted: [UInt8] = []
            quoted.reserveCapacity(text.count + 2)
            JSONString.append(text, to: &quoted)
            return (.text, ServerMessage.message(topic: topic, seq: seq, jsonData: quoted))
        case .binary(let data):
            // version (1) | topic length (1) | topic | seq (8, big-endian) | payload
            var bytes: [UInt8] = [binaryEnvelopeVersion, UInt8(topic.utf8.count)]
            bytes.reserveCapacity(2 + topic.utf8.count + 8 + data.count)
            bytes += topic.utf8
            for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: seq >> UInt64(shift))) }
            bytes += data
            return (.binary, bytes)
        }
    }

    /// The plain frame of JSON data with its envelope written in place:
    /// the frame's one buffer is the only copy (`wrap` copies an envelope
    /// built in an array first, which compression needs). Nil for a topic
    /// the envelope would have to escape (never a valid name).
    static func jsonFrame(topic: String, seq: UInt64, data: [UInt8]) -> OutboundFrame? {
        data.withUnsafeBytes { jsonFrame(topic: topic, seq: seq, data: $0) }
    }

    static func jsonFrame(topic: String, seq: UInt64, data: UnsafeRawBufferPointer) -> OutboundFrame? {
        guard let length = ServerMessage.messageLength(topic: topic, seq: seq, jsonDataCount: data.count) else {
            return nil
        }
        return frame(opcode: .text, rsv1: false, payloadLength: length) { payload in
            ServerMessage.writeMessage(topic: topic, seq: seq, jsonData: data, to: payload)
        }
    }

    /// Header and payload in one buffer: the unit the send path shares.
    static func wrap(_ payload: [UInt8], opcode: Opcode, rsv1: Bool) -> OutboundFrame {
        frame(opcode: opcode, rsv1: rsv1, payloadLength: payload.count) { out in
            payload.withUnsafeBytes { out.copyMemory(from: $0) }
        }
    }

    /// A shared frame of one final fragment: its header written here,
    /// its `payloadLength` bytes by `fill`.
    private static func frame(opcode: Opcode, rsv1: Bool, payloadLength: Int,
                              _ fill: (UnsafeMutableRawBufferPointer) -> Void) -> OutboundFrame {
        let header = FrameEncoder.headerLength(payloadLength: payloadLength, masked: false)
        return OutboundFrame(count: header + payloadLength, shared: true) { out in
            let at = FrameEncoder.writeHeader(opcode: opcode, fin: true, rsv1: rsv1, payloadLength: payloadLength,
                                              to: out.baseAddress!)
            // Safe: the buffer was sized header + payloadLength.
            fill(UnsafeMutableRawBufferPointer(rebasing: out[at...]))
        }
    }
}

extension Publisher.Compression {
    init(_ config: Config) {
        minBytes = config.compressMinBytes
        deflateLevel = Int32(config.deflateLevel)
        zstdLevel = Int32(config.zstdLevel)
    }
}
