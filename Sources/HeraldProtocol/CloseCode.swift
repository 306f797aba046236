/// A close status code carried in the first two bytes of a close frame
/// (RFC 6455 §5.5.1, §7.4).
///
/// A struct over `UInt16` rather than an enum because peers may send any code
/// in the registered ranges (§7.4.2), including application codes 3000-4999
/// this module has no name for.
public struct CloseCode: RawRepresentable, Hashable, Sendable, BitwiseCopyable {
    public var rawValue: UInt16

    @inlinable
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    @inlinable
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    /// 1000: the purpose of the connection has been fulfilled (§7.4.1).
    public static let normal = CloseCode(1000)
    /// 1001: an endpoint is going away, e.g. the server shutting down (§7.4.1).
    public static let goingAway = CloseCode(1001)
    /// 1002: the peer violated the framing protocol (§7.4.1).
    public static let protocolError = CloseCode(1002)
    /// 1003: a data type the endpoint cannot accept (§7.4.1).
    public static let unsupportedData = CloseCode(1003)
    /// 1005: no status code was present. Reported locally, never sent (§7.4.1).
    public static let noStatus = CloseCode(1005)
    /// 1006: closed without a close frame. Reported locally, never sent (§7.4.1).
    public static let abnormal = CloseCode(1006)
    /// 1007: data inconsistent with the message type, e.g. non-UTF-8 text (§7.4.1).
    public static let invalidPayload = CloseCode(1007)
    /// 1008: a policy was violated (auth, abuse) (§7.4.1).
    public static let policyViolation = CloseCode(1008)
    /// 1009: a message too big to process (§7.4.1).
    public static let messageTooBig = CloseCode(1009)
    /// 1010: the client expected an extension the server did not negotiate (§7.4.1).
    public static let mandatoryExtension = CloseCode(1010)
    /// 1011: the server hit an unexpected condition (§7.4.1).
    public static let internalError = CloseCode(1011)
    /// 4001 (application range, §7.4.2): the connection token is missing or
    /// bad. Browsers never see an HTTP status of a failed upgrade, so the
    /// upgrade succeeds and this close says why (CONTRACT "Security").
    public static let unauthorized = CloseCode(4001)
    /// 4000: closed by the operator (`POST /v1/disconnect`, CONTRACT).
    public static let disconnectedByServer = CloseCode(4000)
    /// 4002: the connection token expired (at the upgrade, or while open).
    public static let tokenExpired = CloseCode(4002)

    /// Whether a peer may put `code` in a close frame.
    ///
    /// RFC 6455 §7.4.1 defines 1000-1011; 1004 is reserved and 1005, 1006 and
    /// 1015 are for local reporting only ("MUST NOT be set as a status code in
    /// a Close control frame"). The IANA "WebSocket Close Code Number Registry"
    /// has since added 1012-1014 (service restart, try again later, bad
    /// gateway). §7.4.2: 0-999 are unused, 1016-2999 are reserved for future
    /// RFCs, 3000-3999 are registered by libraries and 4000-4999 are private;
    /// 5000 and above are outside every range.
    @inlinable
    public static func isValidOnWire(_ code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1014, 3000...4999: return true
        default: return false
        }
    }
}
