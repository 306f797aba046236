/// One reply of the Redis protocol (RESP2), copied out of hiredis's reply
/// tree so no C memory outlives the call that read it.
public enum RedisReply: Equatable, Sendable {
    case string([UInt8])
    case integer(Int64)
    case array([RedisReply])
    case null
    case status(String)
    case error(String)

    public var bytes: [UInt8]? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var text: String? {
        switch self {
        case .string(let value): String(decoding: value, as: UTF8.self)
        case .status(let value): value
        default: nil
        }
    }

    public var integer: Int64? {
        switch self {
        case .integer(let value): value
        case .string(let value): Int64(String(decoding: value, as: UTF8.self))
        default: nil
        }
    }

    public var elements: [RedisReply]? {
        if case .array(let value) = self { return value }
        return nil
    }

    public var errorMessage: String? {
        if case .error(let value) = self { return value }
        return nil
    }
}
