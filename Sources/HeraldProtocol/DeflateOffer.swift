/// A client's permessage-deflate offer (RFC 7692 §7.1), as accepted.
///
/// The server always answers `server_no_context_takeover` (§7.1.1.1): it
/// compresses each published message once, with a fresh context, and sends
/// the same bytes to every subscriber.
public struct DeflateOffer: Sendable, Equatable {
    /// The client promised to reset its compressor after each message
    /// (§7.1.1.2), so the server may drop its inflate context between messages.
    public var clientNoContextTakeover: Bool
    /// The client's LZ77 window for messages it sends (§7.1.2.2); nil when
    /// the client sent the parameter without a value, or not at all
    /// (then the server's inflater must accept a 15-bit window).
    public var clientMaxWindowBits: Int?
    /// The largest window the server may compress with (§7.1.2.1); nil when
    /// not given (15). The response echoes it, which is how §7.1.2.1 says a
    /// server accepts it, so the server's compressor must honour it.
    public var serverMaxWindowBits: Int?

    /// RFC 7692 §7.1.2.1-2: window sizes are 2^8 ... 2^15 bytes.
    public static let windowBitsRange = 8...15
    static let extensionName = "permessage-deflate"

    public init(clientNoContextTakeover: Bool = false, clientMaxWindowBits: Int? = nil, serverMaxWindowBits: Int? = nil) {
        self.clientNoContextTakeover = clientNoContextTakeover
        self.clientMaxWindowBits = clientMaxWindowBits
        self.serverMaxWindowBits = serverMaxWindowBits
    }

    /// The `Sec-WebSocket-Extensions` value of the 101 response (RFC 7692 §5).
    public var responseHeaderValue: String {
        var value = Self.extensionName + "; server_no_context_takeover"
        if clientNoContextTakeover { value += "; client_no_context_takeover" }
        if let serverMaxWindowBits { value += "; server_max_window_bits=\(serverMaxWindowBits)" }
        if let clientMaxWindowBits { value += "; client_max_window_bits=\(clientMaxWindowBits)" }
        return value
    }

    /// The first acceptable permessage-deflate offer in a
    /// `Sec-WebSocket-Extensions` value (RFC 7692 §5: offers are in the
    /// client's order of preference), or nil when there is none or the
    /// value does not follow the RFC 6455 §9.1 grammar. An offer with an
    /// unknown or repeated parameter, or a window size outside 8-15, is
    /// skipped (§7: "a server MUST decline an extension negotiation offer"
    /// with such parameters).
    public static func parse(_ headerValue: String) -> DeflateOffer? {
        guard let offers = ExtensionListParser.parse(headerValue) else { return nil }
        for offer in offers where ASCII.equalsIgnoringCase(offer.name, extensionName) {
            if let accepted = accept(offer.parameters) { return accepted }
        }
        return nil
    }

    static func accept(_ parameters: [(name: String, value: String?)]) -> DeflateOffer? {
        var offer = DeflateOffer()
        var seen: Set<String> = []
        for (name, value) in parameters {
            let key = String(decoding: name.utf8.map(ASCII.lowercased), as: UTF8.self)
            guard seen.insert(key).inserted else { return nil }
            switch key {
            case "server_no_context_takeover":
                // We send it regardless; the client asking for it changes nothing.
                guard value == nil else { return nil }
            case "client_no_context_takeover":
                guard value == nil else { return nil }
                offer.clientNoContextTakeover = true
            case "server_max_window_bits":
                guard let value, let bits = windowBits(value) else { return nil }
                offer.serverMaxWindowBits = bits
            case "client_max_window_bits":
                // §7.1.2.2: may come without a value ("I can limit it").
                if let value {
                    guard let bits = windowBits(value) else { return nil }
                    offer.clientMaxWindowBits = bits
                }
            default:
                return nil
            }
        }
        return offer
    }

    /// §7.1.2.1: 1*DIGIT without leading zeros, 8 to 15.
    static func windowBits(_ value: String) -> Int? {
        guard let first = value.utf8.first, first != UInt8(ascii: "0"),
            value.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            value.utf8.count <= 2, let bits = Int(value), windowBitsRange.contains(bits)
        else { return nil }
        return bits
    }
}
