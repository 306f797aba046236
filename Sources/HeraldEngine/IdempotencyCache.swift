import HeraldProtocol
import Synchronization

/// Remembers the result of each publish sent with an `Idempotency-Key`
/// (CONTRACT: a repeat of the same key within `--idempotency-window` answers
/// the first result and publishes nothing). A publisher that lost a reply can
/// therefore retry without publishing twice.
///
/// Bounded: keys expire after the window, and at most `keysMax` are kept;
/// past that the oldest is forgotten (counted), so a flood of new keys costs
/// at most keysMax × (key ≤ 255 B + result ≈ 100 B + 32 B fingerprint).
/// Only successful results are remembered: a refused publish (503 while a
/// shard is behind) may be retried with the same key and then publishes.
/// Shared by the admin threads (`--admin-threads`): every use goes through
/// `serialized`, which holds its lock from the lookup through the publish to
/// the store, so two requests with one key on two threads cannot both miss
/// and both publish.
final class IdempotencyCache: @unchecked Sendable {
    // @unchecked: the mutable state is touched only inside `serialized`.
    private let lock = Mutex<Void>(())

    /// Runs `body` (a lookup, maybe a publish, a store) alone.
    func serialized<Result>(_ body: () -> Result) -> Result {
        lock.withLock { _ in body() }
    }

    struct Stored {
        let fingerprint: [UInt8]
        let response: AdminRouter.Response
        let expiresAtMilliseconds: UInt64
    }

    enum Lookup {
        case miss
        case replay(AdminRouter.Response)
        /// The key was used for a different request (RFC draft
        /// "The Idempotency-Key HTTP Header Field" §2.7: 422).
        case conflict
    }

    /// Keys are 1–255 bytes of visible ASCII.
    static let keyBytesMax = 255

    let windowMilliseconds: UInt64
    let keysMax: Int
    private var entries: [String: Stored] = [:]
    /// Keys in insertion order (so in expiry order: one window for all).
    private var order: [String] = []
    private var orderHead = 0
    private(set) var evictedTotal: UInt64 = 0
    /// The admin listener's counters (replays, evictions); nil in unit tests.
    let counters: ShardCounters?

    init(windowMilliseconds: UInt64, keysMax: Int, counters: ShardCounters? = nil) {
        self.windowMilliseconds = windowMilliseconds
        self.keysMax = max(1, keysMax)
        self.counters = counters
    }

    var count: Int { entries.count }

    static func isValidKey(_ key: String) -> Bool {
        !key.isEmpty && key.utf8.count <= keyBytesMax && key.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    /// What identifies a request beyond its key: method, target, media type, body.
    static func fingerprint(_ request: AdminRequest) -> [UInt8] {
        var bytes = Array(request.head.method.utf8) + [0] + Array(request.head.target.utf8) + [0]
        bytes += Array((request.head.header("Content-Type") ?? "").utf8) + [0]
        bytes += request.body
        return SHA256.hash(bytes)
    }

    func lookup(_ key: String, fingerprint: [UInt8], nowMilliseconds: UInt64) -> Lookup {
        expire(nowMilliseconds)
        guard let stored = entries[key] else { return .miss }
        guard stored.fingerprint == fingerprint else { return .conflict }
        counters?.add(.idempotentReplays)
        return .replay(stored.response)
    }

    func store(_ key: String, fingerprint: [UInt8], response: AdminRouter.Response, nowMilliseconds: UInt64) {
        expire(nowMilliseconds)
        guard entries[key] == nil else { return }
        while entries.count >= keysMax, let oldest = popOldest() {
            entries[oldest] = nil
            evictedTotal &+= 1
            counters?.add(.idempotencyKeysEvicted)
        }
        entries[key] = Stored(fingerprint: fingerprint, response: response,
                              expiresAtMilliseconds: nowMilliseconds + windowMilliseconds)
        order.append(key)
    }

    private func expire(_ now: UInt64) {
        while orderHead < order.count {
            let key = order[orderHead]
            if let stored = entries[key], stored.expiresAtMilliseconds > now { break }
            entries[key] = nil
            orderHead += 1
        }
        compact()
    }

    private func popOldest() -> String? {
        guard orderHead < order.count else { return nil }
        defer {
            orderHead += 1
            compact()
        }
        return order[orderHead]
    }

    /// Drops the consumed prefix of `order` once it is half the array.
    private func compact() {
        if orderHead > 1024 && orderHead * 2 > order.count {
            order.removeFirst(orderHead)
            orderHead = 0
        }
    }
}
