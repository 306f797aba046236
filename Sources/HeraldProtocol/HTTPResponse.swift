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
        // The head's length is counted first, then it is written whole and
        // appended in one copy (`ByteWriter.append`): written piece by piece
        // it cost ~1,700 instructions of a single publish (callgrind; issue
        // 12). herald's own names and values are written as they are; the
        // status reason, the content type and `headers` are sanitized.
        let connection: StaticString = close ? "Connection: close\r\n\r\n" : "Connection: keep-alive\r\n\r\n"
        var count = statusPrefix.utf8CodeUnitCount + JSONNumber.digitCount(UInt64(status.code)) + 1
            + keptCount(status.reason) + lengthField.utf8CodeUnitCount + JSONNumber.digitCount(UInt64(body.count))
            + typeField.utf8CodeUnitCount + keptCount(contentType) + 2 + connection.utf8CodeUnitCount
        for (name, value) in headers { count += keptCount(name) + 2 + keptCount(value) + 2 }
        ByteWriter.append(count: count, to: &out) { writer in
            writer.write(statusPrefix)
            JSONNumber.write(UInt64(status.code), to: &writer)
            writer.write(ASCII.space)
            writeKept(status.reason, to: &writer)
            writer.write(lengthField)
            JSONNumber.write(UInt64(body.count), to: &writer)
            writer.write(typeField)
            writeKept(contentType, to: &writer)
            writer.write(lineEnd)
            for (name, value) in headers {
                writeKept(name, to: &writer)
                writer.write(fieldSeparator)
                writeKept(value, to: &writer)
                writer.write(lineEnd)
            }
            writer.write(connection)
        }
        if !omitBody { out.append(contentsOf: body) }
    }

    private static let statusPrefix: StaticString = "HTTP/1.1 "
    private static let lengthField: StaticString = "\r\nContent-Length: "
    private static let typeField: StaticString = "\r\nContent-Type: "
    private static let fieldSeparator: StaticString = ": "
    private static let lineEnd: StaticString = "\r\n"

    /// CR and LF are dropped from whatever goes into a head.
    @inline(__always)
    private static func isDropped(_ byte: UInt8) -> Bool { byte == ASCII.cr || byte == ASCII.lf }

    /// The bytes of `s` a head keeps.
    private static func keptCount(_ s: String) -> Int {
        var s = s
        return s.withUTF8 { bytes in
            guard bytes.contains(where: isDropped) else { return bytes.count }
            return bytes.count - bytes.reduce(0) { $0 + (isDropped($1) ? 1 : 0) }
        }
    }

    /// Writes `s` without its CR and LF (in one copy when it has none).
    private static func writeKept(_ s: String, to writer: inout ByteWriter) {
        var s = s
        s.withUTF8 { bytes in
            if !bytes.contains(where: isDropped) {
                writer.write(UnsafeRawBufferPointer(bytes))
            } else {
                for byte in bytes where !isDropped(byte) { writer.write(byte) }
            }
        }
    }

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
            guard !bytes.contains(where: isDropped) else { return false }
            out.append(contentsOf: bytes)
            return true
        }
        if copied == true { return }
        for byte in s.utf8 where !isDropped(byte) {
            out.append(byte)
        }
    }
}
