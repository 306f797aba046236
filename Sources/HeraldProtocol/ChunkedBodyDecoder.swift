/// Decodes a chunked request body (RFC 9112 §7.1) incrementally: each call
/// consumes what it is given and keeps its place, so a body that trickles in
/// one byte at a time costs O(bytes) in all, never a re-parse from the start.
///
///     chunked-body = *chunk last-chunk trailer-section CRLF
///     chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
///
/// Limits: the body (`bodyBytesMax`), one chunk-size line with its
/// extensions (`lineBytesMax`; extensions are ignored, and an unbounded one
/// is a known resource attack), the trailer section (`trailerBytesMax`).
public struct ChunkedBodyDecoder: Sendable {
    /// A chunk-size line, extensions included. llhttp and nginx cap these
    /// too; nothing legitimate needs more than a size and a short extension.
    public static let lineBytesMax = 256
    /// Trailer fields are ignored; this only bounds what is read past them.
    public static let trailerBytesMax = 8 * 1024

    public enum Step: Equatable, Sendable {
        /// Every given byte was consumed; the body continues.
        case needMore
        /// The body ended after `consumed` bytes of the input.
        case done(consumed: Int)
        case failure(HTTPStatus, String)
    }

    private enum Phase: Sendable {
        case size, sizeLineEnd, data, dataCR, dataLF, trailerLine, trailerLineEnd
    }

    private var phase = Phase.size
    private var size = 0
    private var digits = 0
    private var inExtension = false
    private var lineBytes = 0
    private var trailerBytes = 0
    private var remaining = 0
    private var failed = false

    public init() {}

    /// Consumes `bytes`, appending chunk data to `body`.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, into body: inout [UInt8], bodyBytesMax: Int) -> Step {
        guard !failed else { return .failure(.badRequest, "bad chunked body") }
        var position = 0
        while position < bytes.count {
            let byte = bytes[position]
            switch phase {
            case .size:
                position += 1
                lineBytes += 1
                guard lineBytes <= Self.lineBytesMax else { return fail(.badRequest, "chunk-size line too long") }
                if byte == ASCII.cr {
                    guard digits > 0 else { return fail(.badRequest, "bad chunk size") }
                    phase = .sizeLineEnd
                } else if inExtension {
                    // chunk-ext text: visible ASCII, SP and HTAB only (§7.1.1).
                    guard byte == ASCII.tab || (byte >= ASCII.space && byte != ASCII.del) else {
                        return fail(.badRequest, "bad chunk extension")
                    }
                } else if let digit = QueryString.hexValue(byte).map(Int.init) {
                    size = size * 16 + digit
                    digits += 1
                    guard size <= bodyBytesMax, body.count + size <= bodyBytesMax else {
                        return fail(.payloadTooLarge, "body over \(bodyBytesMax) bytes")
                    }
                } else if (byte == UInt8(ascii: ";") || byte == ASCII.space || byte == ASCII.tab) && digits > 0 {
                    inExtension = true
                } else {
                    return fail(.badRequest, "bad chunk size")
                }
            case .sizeLineEnd:
                position += 1
                guard byte == ASCII.lf else { return fail(.badRequest, "bad chunk size line") }
                if size == 0 {
                    phase = .trailerLine
                    lineBytes = 0
                } else {
                    remaining = size
                    phase = .data
                }
                size = 0
                digits = 0
                inExtension = false
                lineBytes = 0
            case .data:
                let take = min(remaining, bytes.count - position)
                body.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[position..<(position + take)]))
                position += take
                remaining -= take
                if remaining == 0 { phase = .dataCR }
            case .dataCR:
                position += 1
                guard byte == ASCII.cr else { return fail(.badRequest, "chunk data longer than its size") }
                phase = .dataLF
            case .dataLF:
                position += 1
                guard byte == ASCII.lf else { return fail(.badRequest, "bad chunk") }
                phase = .size
            case .trailerLine:
                position += 1
                trailerBytes += 1
                guard trailerBytes <= Self.trailerBytesMax else {
                    return fail(.requestHeaderFieldsTooLarge, "trailers too large")
                }
                if byte == ASCII.cr {
                    phase = .trailerLineEnd
                } else if byte == ASCII.lf {
                    return fail(.badRequest, "bare LF in trailers")
                } else {
                    lineBytes += 1
                }
            case .trailerLineEnd:
                position += 1
                guard byte == ASCII.lf else { return fail(.badRequest, "bare CR in trailers") }
                if lineBytes == 0 {
                    // The empty line that ends the trailer section: done.
                    return .done(consumed: position)
                }
                lineBytes = 0
                phase = .trailerLine
            }
        }
        return .needMore
    }

    private mutating func fail(_ status: HTTPStatus, _ message: String) -> Step {
        failed = true
        return .failure(status, message)
    }
}
