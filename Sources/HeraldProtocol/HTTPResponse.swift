/// Builds complete HTTP/1.1 responses (RFC 9112 §4, §6).
public enum HTTPResponse {
    /// Status line, `Content-Length`, `Content-Type`, the extra `headers`,
    /// `Connection: close` or `keep-alive`, a blank line and the body.
    ///
    /// `omitBody` answers a HEAD: the same head as the GET, whose
    /// `Content-Length` it states, and no body (RFC 9110 §9.3.2, §8.6).
    ///
    /// CR and LF are dropped from header names and values: a value that came
    /// from a request must not be able to inject headers (RFC 9110 §5.5).
    public static func make(
        status: HTTPStatus, contentType: String = "text/plain; charset=utf-8", body: [UInt8],
        headers: [(String, String)] = [], close: Bool, omitBody: Bool = false
    ) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128 + body.count)
        append(status: status, contentType: contentType, body: body, headers: headers, close: close,
               omitBody: omitBody, to: &out)
        return out
    }

    /// `make`, written at the end of `out` (an admin connection's output:
    /// a pipelined burst's answers are written in place, not built and copied).
    public static func append(
        status: HTTPStatus, contentType: String = "text/plain; charset=utf-8", body: [UInt8],
        headers: [(String, String)] = [], close: Bool, omitBody: Bool = false, to out: inout [UInt8]
    ) {
        // No reserveCapacity here: `out` may collect a burst's answers, and
        // reserving for each would grow it one answer at a time (Array
        // reserves exactly what is asked); appends grow it geometrically.
        // herald's own names and values are written as they are; the
        // status reason, the content type and `headers` are sanitized
        // (an admin answer's head was ~9 % of a single publish's work on
        // the admin thread, most of it scanning constants; issue 12).
        guard !headers.isEmpty || !appendPlainHead(status: status, contentType: contentType, bodyCount: body.count,
                                                   close: close, to: &out) else {
            if !omitBody { out.append(contentsOf: body) }
            return
        }
        out.append(contentsOf: "HTTP/1.1 ".utf8)
        JSONNumber.append(UInt64(status.code), to: &out)
        out.append(ASCII.space)
        appendSanitized(status.reason, to: &out)
        out.append(contentsOf: "\r\nContent-Length: ".utf8)
        JSONNumber.append(UInt64(body.count), to: &out)
        out.append(contentsOf: "\r\nContent-Type: ".utf8)
        appendSanitized(contentType, to: &out)
        out.append(ASCII.cr)
        out.append(ASCII.lf)
        for (name, value) in headers {
            appendField(name, value, to: &out)
        }
        out.append(contentsOf: close ? "Connection: close\r\n\r\n".utf8 : "Connection: keep-alive\r\n\r\n".utf8)
        if !omitBody { out.append(contentsOf: body) }
    }


    /// The head of an answer with no fields of the caller's (every publish's
    /// 200), written whole and appended in one copy (`ByteWriter.append`) — the same
    /// bytes the general path writes piece by piece, which cost ~1,700
    /// instructions per single publish (callgrind; issue 12). False, with
    /// nothing written, when the reason or the content type holds a CR or
    /// LF to drop.
    private static func appendPlainHead(status: HTTPStatus, contentType: String, bodyCount: Int, close: Bool,
                                        to out: inout [UInt8]) -> Bool {
        var reason = status.reason
        var contentType = contentType
        return reason.withUTF8 { reason in
            contentType.withUTF8 { contentType -> Bool in
                let dropped = { (byte: UInt8) in byte == ASCII.cr || byte == ASCII.lf }
                guard !reason.contains(where: dropped), !contentType.contains(where: dropped) else { return false }
                let connection: StaticString = close ? "\r\nConnection: close\r\n\r\n" : "\r\nConnection: keep-alive\r\n\r\n"
                let count = statusPrefix.utf8CodeUnitCount + JSONNumber.digitCount(UInt64(status.code)) + 1 + reason.count
                    + lengthField.utf8CodeUnitCount + JSONNumber.digitCount(UInt64(bodyCount))
                    + typeField.utf8CodeUnitCount + contentType.count + connection.utf8CodeUnitCount
                ByteWriter.append(count: count, to: &out) { writer in
                    writer.write(statusPrefix)
                    JSONNumber.write(UInt64(status.code), to: &writer)
                    writer.write(ASCII.space)
                    writer.write(UnsafeRawBufferPointer(reason))
                    writer.write(lengthField)
                    JSONNumber.write(UInt64(bodyCount), to: &writer)
                    writer.write(typeField)
                    writer.write(UnsafeRawBufferPointer(contentType))
                    writer.write(connection)
                }
                return true
            }
        }
    }

    private static let statusPrefix: StaticString = "HTTP/1.1 "
    private static let lengthField: StaticString = "\r\nContent-Length: "
    private static let typeField: StaticString = "\r\nContent-Type: "

    /// An interim (1xx) response: status line and an empty field section.
    public static func interim(_ status: HTTPStatus) -> [UInt8] {
        var out: [UInt8] = []
        appendLine("HTTP/1.1 \(status.code) \(status.reason)", to: &out)
        out.append(ASCII.cr)
        out.append(ASCII.lf)
        return out
    }

    static func appendField(_ name: String, _ value: String, to out: inout [UInt8]) {
        appendSanitized(name, to: &out)
        out.append(ASCII.colon)
        out.append(ASCII.space)
        appendSanitized(value, to: &out)
        out.append(ASCII.cr)
        out.append(ASCII.lf)
    }

    static func appendLine(_ line: String, to out: inout [UInt8]) {
        appendSanitized(line, to: &out)
        out.append(ASCII.cr)
        out.append(ASCII.lf)
    }

    private static func appendSanitized(_ s: String, to out: inout [UInt8]) {
        // Common case (every header herald writes): nothing to drop, one copy.
        let copied = s.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
            guard !bytes.contains(where: { $0 == ASCII.cr || $0 == ASCII.lf }) else { return false }
            out.append(contentsOf: bytes)
            return true
        }
        if copied == true { return }
        for byte in s.utf8 where byte != ASCII.cr && byte != ASCII.lf {
            out.append(byte)
        }
    }
}
