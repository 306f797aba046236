/// Parses the body of a close frame (RFC 6455 §5.5.1, §7.1.5).
public enum ClosePayload {
    /// Empty → `.ok(code: nil, reasonLength: 0)`. Otherwise the first two
    /// bytes are the code in network byte order and the rest a UTF-8 reason.
    /// A 1-byte body cannot hold a code (1002); a code peers may not send
    /// (`CloseCode.isValidOnWire`) is a protocol error (1002, §7.4); a
    /// reason that is not UTF-8 is 1007 (§5.5.1: "the data ... is not
    /// guaranteed to be human readable" but MUST be UTF-8, and §8.1).
    public static func parse(_ payload: UnsafeRawBufferPointer) -> ClosePayloadResult {
        let count = payload.count
        if count == 0 { return .ok(code: nil, reasonLength: 0) }
        if count == 1 { return .failure(.protocolError) }
        let code = UInt16(payload[0]) << 8 | UInt16(payload[1])
        guard CloseCode.isValidOnWire(code) else { return .failure(.protocolError) }
        let reason = UnsafeRawBufferPointer(rebasing: payload[2...])
        guard UTF8Validator.isValid(reason) else { return .failure(.invalidPayload) }
        return .ok(code: CloseCode(code), reasonLength: count - 2)
    }
}
