/// Why a Redis connection failed: it cannot be used any more (connect,
/// I/O, protocol or timeout errors all end the connection in hiredis).
public struct RedisError: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
