import HeraldProtocol

/// One complete admin HTTP request: head plus body (by Content-Length or
/// chunked transfer coding, RFC 9112 §6–7).
struct AdminRequest {
    let head: HTTPRequestHead
    let body: [UInt8]
}

/// Splits a keep-alive byte stream into requests (pipelining included).
enum AdminRequestFramer {
    enum Result {
        case incomplete
        case request(AdminRequest, consumed: Int)
        /// An error to answer before closing the connection.
        case failure(HTTPStatus, String)
    }

    static func next(_ bytes: UnsafeRawBufferPointer, headBytesMax: Int, bodyBytesMax: Int) -> Result {
        switch HTTPRequestHeadParser.parse(bytes, maxHeadBytes: headBytesMax) {
        case .incomplete:
            return .incomplete
        case .tooLarge:
            return .failure(.requestHeaderFieldsTooLarge, "request head too large")
        case .malformed:
            return .failure(.badRequest, "malformed request")
        case .complete(let head, let headLength):
            let rest = UnsafeRawBufferPointer(rebasing: bytes[headLength...])
            if let coding = head.header("Transfer-Encoding") {
                guard coding.lowercased() == "chunked" else {
                    return .failure(.badRequest, "unsupported transfer coding")
                }
                switch dechunk(rest, bodyBytesMax: bodyBytesMax) {
                case .incomplete: return .incomplete
                case .failure(let status, let message): return .failure(status, message)
                case .done(let body, let used):
                    return .request(AdminRequest(head: head, body: body), consumed: headLength + used)
                }
            }
            var length = 0
            if let text = head.header("Content-Length") {
                // RFC 9110 §8.6: digits only (Int() would take "+2").
                guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let value = Int(text) else {
                    return .failure(.badRequest, "bad Content-Length")
                }
                length = value
            }
            if length > bodyBytesMax {
                return .failure(.payloadTooLarge, "body over \(bodyBytesMax) bytes")
            }
            guard rest.count >= length else { return .incomplete }
            return .request(AdminRequest(head: head, body: Array(rest[0..<length])), consumed: headLength + length)
        }
    }

    private enum Dechunked {
        case incomplete
        case failure(HTTPStatus, String)
        case done([UInt8], Int)
    }

    /// RFC 9112 §7.1: hex size, optional extensions, CRLF, data, CRLF; a
    /// zero-size chunk, optional trailers, CRLF ends the body.
    private static func dechunk(_ bytes: UnsafeRawBufferPointer, bodyBytesMax: Int) -> Dechunked {
        var body: [UInt8] = []
        var position = 0
        func line() -> (start: Int, end: Int)? {
            var cursor = position
            while cursor + 1 < bytes.count {
                if bytes[cursor] == 13 && bytes[cursor + 1] == 10 { return (position, cursor) }
                cursor += 1
            }
            return nil
        }
        while true {
            guard let sizeLine = line() else { return bytes.count - position > 1024 ? .failure(.badRequest, "bad chunk") : .incomplete }
            var size = 0
            var digits = 0
            for offset in sizeLine.start..<sizeLine.end {
                let byte = bytes[offset]
                guard let digit = hexValue(byte) else {
                    if byte == UInt8(ascii: ";") || byte == UInt8(ascii: " ") { break }
                    return .failure(.badRequest, "bad chunk size")
                }
                size = size * 16 + digit
                digits += 1
                if size > bodyBytesMax { return .failure(.payloadTooLarge, "body over \(bodyBytesMax) bytes") }
            }
            guard digits > 0 else { return .failure(.badRequest, "bad chunk size") }
            position = sizeLine.end + 2
            if size == 0 {
                // Trailers (ignored) up to an empty line, bounded like a head.
                while true {
                    guard let trailer = line() else {
                        return bytes.count - position > trailerBytesMax
                            ? .failure(.requestHeaderFieldsTooLarge, "trailers too large") : .incomplete
                    }
                    if trailer.end - sizeLine.end > trailerBytesMax {
                        return .failure(.requestHeaderFieldsTooLarge, "trailers too large")
                    }
                    position = trailer.end + 2
                    if trailer.start == trailer.end { return .done(body, position) }
                }
            }
            guard bytes.count - position >= size + 2 else { return .incomplete }
            guard body.count + size <= bodyBytesMax else { return .failure(.payloadTooLarge, "body over \(bodyBytesMax) bytes") }
            body.append(contentsOf: bytes[position..<(position + size)])
            position += size
            guard bytes[position] == 13, bytes[position + 1] == 10 else { return .failure(.badRequest, "bad chunk") }
            position += 2
        }
    }

    /// Trailer section limit (they are ignored; this only bounds buffering).
    static let trailerBytesMax = 8 * 1024

    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }
}
