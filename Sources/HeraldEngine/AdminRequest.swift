import HeraldProtocol

/// One complete admin HTTP request: head plus body (by Content-Length or
/// chunked transfer coding, RFC 9112 §6–7).
struct AdminRequest {
    let head: HTTPRequestHead
    let body: [UInt8]
    /// The connection must close after the response (the request carried
    /// both Content-Length and Transfer-Encoding, RFC 9112 §6.3 item 3).
    var closeAfter = false
}

/// Reads admin requests off a keep-alive byte stream, one at a time and
/// incrementally: what it has parsed is consumed from the connection's
/// input, and a body is decoded as it arrives, so no byte is parsed twice
/// however slowly a request trickles in (the head, bounded by
/// `headBytesMax`, is re-scanned until complete; the head deadline bounds that).
struct AdminRequestReader {
    enum Event {
        /// Everything given was consumed or is an incomplete head; read more.
        case needMore
        /// The head asked `Expect: 100-continue` and its body is not here
        /// yet: the server answers 100 (or a final status) before reading on.
        case expectsContinue(HTTPRequestHead)
        case request(AdminRequest)
        /// An error to answer before closing the connection.
        case failure(HTTPStatus, String)
    }

    /// Payloads are structs, not tuples: a tuple payload holding the head
    /// was copied in and out through the runtime's generic tuple witnesses,
    /// twice per request (callgrind; issue 12).
    private enum Phase {
        case head
        case contentLength(ContentLengthBody)
        case chunked(ChunkedBody)
    }

    private struct ContentLengthBody {
        let head: HTTPRequestHead
        var remaining: Int
    }

    private struct ChunkedBody {
        let head: HTTPRequestHead
        let closeAfter: Bool
        let bodyBytesMax: Int
    }

    /// What a Content-Length reserves before its bytes arrive: a client
    /// that announces megabytes and sends nothing holds no more than this.
    static let bodyReserveBytesMax = 64 * 1024

    /// The path whose body may be `batchBodyBytesMax` long.
    static let batchPath = "/v1/publish/batch"

    private var phase = Phase.head
    private var body: [UInt8] = []
    private var chunks = ChunkedBodyDecoder()

    /// True between a complete head and the end of its body.
    var isInBody: Bool {
        if case .head = phase { return false }
        return true
    }

    /// Reads from the start of `bytes` (the input not yet consumed); the
    /// caller drops `consumed` bytes from its buffer whatever the event.
    /// A body is bounded by `bodyBytesMax`, or `batchBodyBytesMax` (when
    /// given) for `POST /v1/publish/batch`.
    mutating func read(_ bytes: UnsafeRawBufferPointer, headBytesMax: Int,
                       bodyBytesMax: Int, batchBodyBytesMax: Int? = nil) -> (consumed: Int, event: Event) {
        switch phase {
        case .head:
            return readHead(bytes, headBytesMax: headBytesMax, bodyBytesMax: bodyBytesMax,
                            batchBodyBytesMax: batchBodyBytesMax)
        case .contentLength(var pending):
            let take = min(pending.remaining, bytes.count)
            body.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[0..<take]))
            guard take == pending.remaining else {
                pending.remaining -= take
                phase = .contentLength(pending)
                return (take, .needMore)
            }
            return (take, .request(finish(pending.head, closeAfter: false)))
        case .chunked(let pending):
            switch chunks.feed(bytes, into: &body, bodyBytesMax: pending.bodyBytesMax) {
            case .needMore: return (bytes.count, .needMore)
            case .failure(let status, let message): return (bytes.count, .failure(status, message))
            case .done(let consumed): return (consumed, .request(finish(pending.head, closeAfter: pending.closeAfter)))
            }
        }
    }

    private mutating func readHead(_ bytes: UnsafeRawBufferPointer, headBytesMax: Int,
                                   bodyBytesMax: Int, batchBodyBytesMax: Int?) -> (consumed: Int, event: Event) {
        switch HTTPRequestHeadParser.parse(bytes, maxHeadBytes: headBytesMax) {
        case .incomplete:
            return (0, .needMore)
        case .tooLarge:
            return (0, .failure(.requestHeaderFieldsTooLarge, "request head too large"))
        case .malformed:
            return (0, .failure(.badRequest, "malformed request"))
        case .complete(let head, let headLength):
            guard head.hasValidHost else {
                return (headLength, .failure(.badRequest, "exactly one Host header is required (RFC 9112 §3.2)"))
            }
            let limit = head.path == Self.batchPath ? batchBodyBytesMax ?? bodyBytesMax : bodyBytesMax
            let framing: HTTPBodyFraming
            switch HTTPBodyFraming.of(head, bodyBytesMax: limit) {
            case .failure(let refusal): return (headLength, .failure(refusal.status, refusal.message))
            case .success(let value): framing = value
            }
            var expectsContinue = false
            if let expectation = head.expectsContinue {
                guard expectation else {
                    return (headLength, .failure(.expectationFailed, "only Expect: 100-continue is supported"))
                }
                // RFC 9110 §10.1.1: an HTTP/1.0 client never waits for a 100.
                expectsContinue = head.versionMinor >= 1
            }
            body = []
            switch framing {
            case .none:
                return (headLength, .request(finish(head, closeAfter: false)))
            case .contentLength(let length):
                // The whole body already here (a pipelined publish, nearly
                // always): the request is complete in this call.
                if length > 0 && bytes.count - headLength >= length {
                    body = Array(UnsafeRawBufferPointer(rebasing: bytes[headLength..<(headLength + length)]))
                    return (headLength + length, .request(finish(head, closeAfter: false)))
                }
                // The body's room taken at once, up to `bodyReserveBytesMax`
                // (growing a batch's 20 KB by doubling was six allocations;
                // a larger promised length is not trusted before it arrives).
                body.reserveCapacity(min(length, Self.bodyReserveBytesMax))
                phase = .contentLength(ContentLengthBody(head: head, remaining: length))
            case .chunked(let closeAfter):
                chunks = ChunkedBodyDecoder()
                phase = .chunked(ChunkedBody(head: head, closeAfter: closeAfter, bodyBytesMax: limit))
            }
            if expectsContinue && bytes.count == headLength { return (headLength, .expectsContinue(head)) }
            return (headLength, .needMore)
        }
    }

    private mutating func finish(_ head: HTTPRequestHead, closeAfter: Bool) -> AdminRequest {
        phase = .head
        let request = AdminRequest(head: head, body: body, closeAfter: closeAfter)
        body = []
        return request
    }
}

/// The whole-buffer view of `AdminRequestReader` (tests and fuzzing): the
/// first request in `bytes`, if complete.
enum AdminRequestFramer {
    enum Result {
        case incomplete
        case request(AdminRequest, consumed: Int)
        /// An error to answer before closing the connection.
        case failure(HTTPStatus, String)
    }

    static func next(_ bytes: UnsafeRawBufferPointer, headBytesMax: Int, bodyBytesMax: Int,
                     batchBodyBytesMax: Int? = nil) -> Result {
        var reader = AdminRequestReader()
        var offset = 0
        while true {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            let (consumed, event) = reader.read(rest, headBytesMax: headBytesMax, bodyBytesMax: bodyBytesMax,
                                                batchBodyBytesMax: batchBodyBytesMax)
            offset += consumed
            switch event {
            case .needMore, .expectsContinue:
                if consumed == 0 || offset == bytes.count { return .incomplete }
            case .request(let request):
                return .request(request, consumed: offset)
            case .failure(let status, let message):
                return .failure(status, message)
            }
        }
    }
}
