import HeraldCore
import HeraldRedis
import HeraldIO

/// What the broker and the cluster publishers need from the configuration.
struct ClusterSettings: Sendable {
    let endpoints: [RedisEndpoint]
    let timeoutMilliseconds: Int
    /// `--history-size`: stream length (MAXLEN ~) and entries read per sync.
    let historySize: Int
    let historyTTLMilliseconds: UInt64
    let topicTTLMilliseconds: UInt64
    /// How a message received through Redis is compressed on this node.
    let compression: Publisher.Compression

    init(_ config: Config) {
        endpoints = config.redis
        timeoutMilliseconds = Int(config.redisTimeoutSeconds * 1000)
        historySize = config.historySize
        historyTTLMilliseconds = UInt64(config.historyTTLSeconds * 1000)
        topicTTLMilliseconds = UInt64(config.redisTopicTTLSeconds * 1000)
        compression = Publisher.Compression(config)
    }

    /// The instance holding `topic` (stable across nodes and restarts).
    func instance(of topic: String) -> Int { JumpHash.bucket(name: topic, buckets: endpoints.count) }

    /// A fresh epoch for a topic whose sequence (re)starts in Redis: wall
    /// milliseconds and randomness, so no two sequences share one. Only
    /// used when the script finds no epoch.
    static func newEpoch() -> String {
        var random = SystemRandomNumberGenerator()
        return "r" + String(UInt64(max(0, SystemClock.wallMilliseconds())), radix: 36) + "." + String(random.next() & 0xFF_FFFF, radix: 36)
    }

    func connect(_ instance: Int) throws(RedisError) -> RedisConnection {
        let endpoint = endpoints[instance]
        return try RedisConnection(host: endpoint.host, port: endpoint.port, username: endpoint.username,
                                   password: endpoint.password, database: endpoint.database,
                                   timeoutMilliseconds: timeoutMilliseconds)
    }

    /// Loads a script; its SHA1 for EVALSHA.
    static func load(_ script: String, on connection: RedisConnection) throws(RedisError) -> [UInt8] {
        let reply = try connection.command([Array("SCRIPT".utf8), Array("LOAD".utf8), Array(script.utf8)])
        guard let sha = reply.bytes, sha.count == 40 else {
            throw RedisError("SCRIPT LOAD: \(reply.errorMessage ?? "unexpected reply")")
        }
        return sha
    }
}
