/// Splits a `Sec-WebSocket-Extensions` value into offers (RFC 6455 §9.1):
/// `1#( token *( ";" token [ "=" ( token / quoted-string ) ] ) )`.
enum ExtensionListParser {
    struct Offer {
        var name: String
        var parameters: [(name: String, value: String?)]
    }

    static func parse(_ value: String) -> [Offer]? {
        let bytes = Array(value.utf8)
        var index = 0
        var offers: [Offer] = []

        func skipWhitespace() {
            while index < bytes.count && ASCII.isWhitespace(bytes[index]) { index += 1 }
        }
        func token() -> String? {
            let start = index
            while index < bytes.count && ASCII.isTokenChar(bytes[index]) { index += 1 }
            return index > start ? String(decoding: bytes[start..<index], as: UTF8.self) : nil
        }
        // RFC 9110 §5.6.4 quoted-string with quoted-pair.
        func quotedString() -> String? {
            index += 1
            var out: [UInt8] = []
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                if byte == UInt8(ascii: "\"") { return String(decoding: out, as: UTF8.self) }
                if byte == UInt8(ascii: "\\") {
                    guard index < bytes.count else { return nil }
                    out.append(bytes[index])
                    index += 1
                } else if byte < ASCII.space && byte != ASCII.tab {
                    return nil
                } else {
                    out.append(byte)
                }
            }
            return nil
        }

        while true {
            skipWhitespace()
            if index == bytes.count { break }
            // Empty list elements are allowed (RFC 9110 §5.6.1.2).
            if bytes[index] == ASCII.comma {
                index += 1
                continue
            }
            guard let name = token() else { return nil }
            var offer = Offer(name: name, parameters: [])
            skipWhitespace()
            while index < bytes.count && bytes[index] == UInt8(ascii: ";") {
                index += 1
                skipWhitespace()
                guard let parameter = token() else { return nil }
                skipWhitespace()
                var parameterValue: String?
                if index < bytes.count && bytes[index] == UInt8(ascii: "=") {
                    index += 1
                    skipWhitespace()
                    if index < bytes.count && bytes[index] == UInt8(ascii: "\"") {
                        guard let quoted = quotedString() else { return nil }
                        parameterValue = quoted
                    } else {
                        guard let plain = token() else { return nil }
                        parameterValue = plain
                    }
                    skipWhitespace()
                }
                offer.parameters.append((parameter, parameterValue))
            }
            offers.append(offer)
            if index == bytes.count { break }
            guard bytes[index] == ASCII.comma else { return nil }
            index += 1
        }
        return offers
    }
}
