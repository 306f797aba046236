/// The Lua scripts every node runs in Redis (CONTRACT "Multi-node"). A
/// script runs atomically, so the seq a publish takes, the stream entry
/// and the PUBLISH to the topic's channel happen as one step: every node
/// sees one seq sequence per topic whichever node published.
///
/// Keys per topic T (Docs/SCALING.md "What lives in Redis"):
/// `herald:t:T` a hash {epoch, seq}; `herald:s:T` the history stream, one
/// entry per message with id `seq-0` and fields k (kind), t (ms), d (data);
/// channel `herald:m:T` carries every message as
/// `seq \n epoch \n ms \n kind data` (`ClusterMessage`).
enum ClusterScripts {
    static func metaKey(_ topic: String) -> [UInt8] { Array(("herald:t:" + topic).utf8) }
    static func streamKey(_ topic: String) -> [UInt8] { Array(("herald:s:" + topic).utf8) }
    static func channel(_ topic: String) -> [UInt8] { Array(("herald:m:" + topic).utf8) }
    static let channelPrefix = Array("herald:m:".utf8)
    static func idempotencyKey(_ key: String) -> [UInt8] { Array(("herald:i:" + key).utf8) }

    /// KEYS: meta, stream. ARGV: channel, epoch for a new sequence, kind,
    /// data, history size, history TTL ms, meta TTL ms. Returns {seq, epoch}.
    ///
    /// A topic whose meta is gone (never used, expired, flushed, a Redis
    /// restarted without persistence) starts a new epoch at seq 1 and its
    /// old stream goes: a seq is never reused within an epoch. The stream is
    /// capped with `MAXLEN ~` (Redis trims whole macro nodes, so it may hold
    /// up to ~100 entries more than asked) and expires with the history TTL.
    static let publish = """
    local epoch = redis.call('HGET', KEYS[1], 'epoch')
    if not epoch then
      epoch = ARGV[2]
      redis.call('DEL', KEYS[1], KEYS[2])
      redis.call('HSET', KEYS[1], 'epoch', epoch, 'seq', 0)
    end
    local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
    redis.call('PEXPIRE', KEYS[1], ARGV[7])
    local now = redis.call('TIME')
    local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
    if tonumber(ARGV[5]) > 0 then
      redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], seq .. '-0', 'k', ARGV[3], 't', ms, 'd', ARGV[4])
      redis.call('PEXPIRE', KEYS[2], ARGV[6])
    end
    redis.call('PUBLISH', ARGV[1], seq .. '\\n' .. epoch .. '\\n' .. ms .. '\\n' .. ARGV[3] .. ARGV[4])
    return {seq, epoch}
    """

    /// KEYS: meta, stream. ARGV: epoch for a new sequence, first seq wanted
    /// (0: the newest), entries at most, meta TTL ms, the epoch and seq the
    /// node knows ('' and 0 for none). Returns {seq, epoch, entries}, the
    /// entries as XRANGE gives them, ascending, ending at seq.
    ///
    /// Read in one atomic step, the position and the stream agree. A topic
    /// with no meta gets one (a new epoch at seq 0), so the subscribers a
    /// node answers now and the next publish share an epoch. A meta whose
    /// seq went back within the epoch the node knows (a Redis restored from
    /// an older snapshot) also gets a new epoch: the seqs after it would
    /// otherwise be reused for different messages.
    static let sync = """
    local epoch = redis.call('HGET', KEYS[1], 'epoch')
    local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
    if (not epoch) or (epoch == ARGV[5] and seq < tonumber(ARGV[6])) then
      epoch = ARGV[1]
      seq = 0
      redis.call('DEL', KEYS[1], KEYS[2])
      redis.call('HSET', KEYS[1], 'epoch', epoch, 'seq', 0)
      redis.call('PEXPIRE', KEYS[1], ARGV[4])
    end
    local entries = {}
    local count = tonumber(ARGV[3])
    if count > 0 and seq > 0 then
      local from = tonumber(ARGV[2])
      if from == 0 or seq - from + 1 > count then from = seq - count + 1 end
      if from < 1 then from = 1 end
      if from <= seq then
        entries = redis.call('XRANGE', KEYS[2], from .. '-0', seq .. '-0')
      end
    end
    return {seq, epoch, entries}
    """
}
