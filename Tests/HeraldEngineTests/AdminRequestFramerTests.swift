import Testing
@testable import HeraldEngine

@Suite struct AdminRequestFramerTests {
    private let publish = "POST /v1/publish?topic=t HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"

    @Test func requestWithoutBody() throws {
        let text = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        let result = frameAdminRequest(text)
        let request = try #require(result.request)
        #expect(request.head.method == "GET")
        #expect(request.head.path == "/healthz")
        #expect(request.body.isEmpty)
        #expect(result.consumed == text.utf8.count)
    }

    @Test func contentLengthBody() throws {
        let result = frameAdminRequest(publish)
        let request = try #require(result.request)
        #expect(request.head.method == "POST")
        #expect(request.head.query == "topic=t")
        #expect(request.body == Array("hello".utf8))
        #expect(result.consumed == publish.utf8.count)
    }

    @Test func zeroContentLength() throws {
        let text = "POST /v1/publish HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
        let result = frameAdminRequest(text)
        #expect(try #require(result.request).body.isEmpty)
        #expect(result.consumed == text.utf8.count)
    }

    @Test func pipelinedRequestsAreTakenOneAtATime() throws {
        let second = "GET /v1/stats HTTP/1.1\r\nHost: x\r\n\r\n"
        let bytes = Array((publish + second).utf8)
        let first = frameAdminRequest(bytes)
        #expect(try #require(first.request).body == Array("hello".utf8))
        let consumed = try #require(first.consumed)
        #expect(consumed == publish.utf8.count)
        let next = frameAdminRequest(Array(bytes[consumed...]))
        #expect(try #require(next.request).head.path == "/v1/stats")
        #expect(next.consumed == second.utf8.count)
    }

    @Test func bytesBeyondTheBodyAreNotConsumed() {
        // The start of a second request must stay in the buffer.
        let result = frameAdminRequest(publish + "GET /hea")
        #expect(result.request?.body == Array("hello".utf8))
        #expect(result.consumed == publish.utf8.count)
    }

    @Test func everyStrictPrefixIsIncomplete() {
        let bytes = Array(publish.utf8)
        for end in 0..<bytes.count {
            #expect(frameAdminRequest(Array(bytes[..<end])).isIncomplete, "prefix of \(end) bytes")
        }
        #expect(frameAdminRequest(bytes).request != nil)
    }

    @Test func bodyOverTheLimitIsRefusedBeforeItArrives() {
        let head = "POST /v1/publish HTTP/1.1\r\nHost: x\r\nContent-Length: 1025\r\n\r\n"
        #expect(frameAdminRequest(head, bodyBytesMax: 1024).failureStatus == 413)
        let atLimit = "POST /v1/publish HTTP/1.1\r\nHost: x\r\nContent-Length: 1024\r\n\r\n"
        #expect(frameAdminRequest(atLimit, bodyBytesMax: 1024).isIncomplete)
        #expect(frameAdminRequest(atLimit + String(repeating: "x", count: 1024), bodyBytesMax: 1024).request?.body.count
                == 1024)
    }

    @Test(arguments: ["-1", "+5", "5 5", "abc", "5, 5", "0x10", "", "99999999999999999999999", "1234567890123456789"])
    func badContentLength(value: String) {
        let text = "POST /v1/publish HTTP/1.1\r\nHost: x\r\nContent-Length: \(value)\r\n\r\nhello"
        #expect(frameAdminRequest(text).failureStatus == 400)
    }

    /// The longest length read (18 digits) is a number, refused as too large.
    @Test func eighteenDigitsAreALength() {
        let text = "POST /v1/publish HTTP/1.1\r\nHost: x\r\nContent-Length: 123456789012345678\r\n\r\nhello"
        #expect(frameAdminRequest(text).failureStatus == 413)
    }

    @Test func duplicateContentLengthIsRefused() {
        // Two fields join as "5, 5" (RFC 9110 §5.3), which is not a number.
        let text = "POST /v1/publish HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"
        #expect(frameAdminRequest(text).failureStatus == 400)
    }

    @Test func headTooLargeAndMalformedHead() {
        let big = "GET /" + String(repeating: "a", count: 200) + " HTTP/1.1\r\nHost: x\r\n\r\n"
        #expect(frameAdminRequest(big, headBytesMax: 64).failureStatus == 431)
        #expect(frameAdminRequest("GET /\nHost: x\r\n\r\n").failureStatus == 400)
        #expect(frameAdminRequest("GET / HTTP/2.0\r\n\r\n").failureStatus == 400)
    }

    // MARK: Chunked transfer coding (RFC 9112 §7.1)

    private let chunkedHead = "POST /v1/publish?topic=t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"

    @Test func chunkedBodyOfSeveralChunks() throws {
        let text = chunkedHead + "5\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\n\r\n"
        let result = frameAdminRequest(text)
        #expect(try #require(result.request).body == Array("hello 0123456789".utf8))
        #expect(result.consumed == text.utf8.count)
    }

    @Test func chunkSizesAreHexInEitherCase() throws {
        let payload = String(repeating: "z", count: 26)
        let lower = frameAdminRequest(chunkedHead + "1a\r\n\(payload)\r\n0\r\n\r\n")
        let upper = frameAdminRequest(chunkedHead + "1A\r\n\(payload)\r\n0\r\n\r\n")
        #expect(try #require(lower.request).body.count == 26)
        #expect(try #require(upper.request).body.count == 26)
    }

    @Test func chunkExtensionsAreIgnored() throws {
        let text = chunkedHead + "5;name=value\r\nhello\r\n3 ; x\r\nabc\r\n0;last\r\n\r\n"
        let result = frameAdminRequest(text)
        #expect(try #require(result.request).body == Array("helloabc".utf8))
        #expect(result.consumed == text.utf8.count)
    }

    @Test func trailersAreSkipped() throws {
        let text = chunkedHead + "2\r\nhi\r\n0\r\nX-Checksum: 1\r\nX-Other: 2\r\n\r\n"
        let result = frameAdminRequest(text)
        #expect(try #require(result.request).body == Array("hi".utf8))
        #expect(result.consumed == text.utf8.count)
    }

    @Test func emptyChunkedBody() throws {
        let text = chunkedHead + "0\r\n\r\n"
        let result = frameAdminRequest(text)
        #expect(try #require(result.request).body.isEmpty)
        #expect(result.consumed == text.utf8.count)
    }

    @Test func pipelinedAfterChunkedBody() throws {
        let first = chunkedHead + "3\r\nabc\r\n0\r\n\r\n"
        let second = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        let bytes = Array((first + second).utf8)
        let result = frameAdminRequest(bytes)
        #expect(try #require(result.request).body == Array("abc".utf8))
        let consumed = try #require(result.consumed)
        #expect(consumed == first.utf8.count)
        #expect(frameAdminRequest(Array(bytes[consumed...])).request?.head.path == "/healthz")
    }

    @Test func transferEncodingNameIsCaseInsensitive() {
        let text = "POST /v1/publish HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"
        #expect(frameAdminRequest(text).request?.body == Array("hi".utf8))
    }

    @Test func chunkedWinsOverContentLength() {
        // RFC 9112 §6.3 item 3: Transfer-Encoding overrides Content-Length.
        let text = "POST /v1/publish HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"
        let result = frameAdminRequest(text)
        #expect(result.request?.body == Array("hi".utf8))
        #expect(result.consumed == text.utf8.count)
    }

    @Test func everyStrictPrefixOfAChunkedRequestIsIncomplete() {
        let bytes = Array((chunkedHead + "5;ext\r\nhello\r\n2\r\n!!\r\n0\r\nX-T: 1\r\n\r\n").utf8)
        for end in 0..<bytes.count {
            #expect(frameAdminRequest(Array(bytes[..<end])).isIncomplete, "prefix of \(end) bytes")
        }
        #expect(frameAdminRequest(bytes).request?.body == Array("hello!!".utf8))
    }

    @Test func chunkedOverTheLimitIs413() {
        // One chunk whose declared size alone is over the limit: refused at once.
        #expect(frameAdminRequest(chunkedHead + "401\r\n", bodyBytesMax: 1024).failureStatus == 413)
        #expect(frameAdminRequest(chunkedHead + "FFFFFFFFFFFFFFFFFFFFFFFF\r\n", bodyBytesMax: 1024).failureStatus == 413)
        // Chunks each under the limit whose sum is over it.
        let chunk = "200\r\n" + String(repeating: "a", count: 512) + "\r\n"
        let text = chunkedHead + chunk + chunk + "1\r\nb\r\n0\r\n\r\n"
        #expect(frameAdminRequest(text, bodyBytesMax: 1024).failureStatus == 413)
        // Exactly at the limit is fine.
        #expect(frameAdminRequest(chunkedHead + chunk + chunk + "0\r\n\r\n", bodyBytesMax: 1024).request?.body.count
                == 1024)
    }

    @Test(arguments: ["g\r\nhello\r\n0\r\n\r\n", ";x\r\n", "\r\n", "-5\r\nhello\r\n0\r\n\r\n"])
    func badChunkSize(chunks: String) {
        #expect(frameAdminRequest(chunkedHead + chunks).failureStatus == 400)
    }

    @Test func chunkDataNotFollowedByCRLF() {
        #expect(frameAdminRequest(chunkedHead + "2\r\nhiXX0\r\n\r\n").failureStatus == 400)
    }

    @Test func endlessChunkSizeLineIsRefused() {
        // No CRLF within 1 KiB of a chunk-size line: refuse rather than wait.
        let text = chunkedHead + "5" + String(repeating: " ", count: 2000)
        #expect(frameAdminRequest(text).failureStatus == 400)
    }

    @Test(arguments: ["gzip", "identity", "chunked, gzip"])
    func transferCodingNotEndingInChunkedIs400(coding: String) {
        // RFC 9112 §6.3 item 4: chunked must be a request's final coding.
        let text = "POST /v1/publish HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \(coding)\r\n\r\n"
        #expect(frameAdminRequest(text).failureStatus == 400)
    }

    @Test func otherCodingsBeforeChunkedAre501() {
        let text = "POST /v1/publish HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
        #expect(frameAdminRequest(text).failureStatus == 501)
    }

    @Test func contentLengthAndChunkedClosesAfterTheResponse() throws {
        // RFC 9112 §6.3 item 3: chunked wins, and the connection must close
        // after the response, so what follows the chunked body never runs
        // as a second request (smuggling).
        let text = "POST /v1/publish HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "2\r\nhi\r\n0\r\n\r\nGET /v1/stats HTTP/1.1\r\nHost: x\r\n\r\n"
        let request = try #require(frameAdminRequest(text).request)
        #expect(request.body == Array("hi".utf8))
        #expect(request.closeAfter)
        #expect(try #require(frameAdminRequest(publish).request).closeAfter == false)
    }

    @Test func transferEncodingInHTTP10Is400() {
        let text = "POST /v1/publish HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        #expect(frameAdminRequest(text).failureStatus == 400)
    }

    @Test(arguments: ["GET / HTTP/1.1\r\n\r\n", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
                      "GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n"])
    func hostMissingOrRepeatedIs400(text: String) {
        // RFC 9112 §3.2.
        #expect(frameAdminRequest(text).failureStatus == 400)
    }

    @Test func http10WithoutHostIsAccepted() {
        #expect(frameAdminRequest("GET /healthz HTTP/1.0\r\n\r\n").request?.head.path == "/healthz")
    }

    @Test func longChunkExtensionIsRefused() {
        let text = chunkedHead + "5;" + String(repeating: "e", count: 2048) + "\r\nhello\r\n0\r\n\r\n"
        #expect(frameAdminRequest(text).failureStatus == 400)
    }

    @Test func chunkedBodyFedOneByteAtATime() throws {
        // The reader keeps its place: each byte is consumed once.
        let bytes = Array((chunkedHead + "5;ext\r\nhello\r\n2\r\n!!\r\n0\r\nX-T: 1\r\n\r\n").utf8)
        var reader = AdminRequestReader()
        var pending: [UInt8] = []
        var request: AdminRequest?
        var consumedTotal = 0
        for byte in bytes {
            pending.append(byte)
            let (consumed, event) = pending.withUnsafeBytes {
                reader.read($0, headBytesMax: 8192, bodyBytesMax: 1024)
            }
            consumedTotal += consumed
            pending.removeFirst(consumed)
            if case .request(let done) = event { request = done }
            if case .failure = event { Issue.record("failed at byte \(consumedTotal)") }
        }
        #expect(try #require(request).body == Array("hello!!".utf8))
        #expect(consumedTotal == bytes.count)
        #expect(pending.isEmpty)
    }

    /// A body past what a Content-Length reserves up front arrives whole,
    /// in pieces, with the reservation bounded whatever the length says.
    @Test func aBodyLongerThanTheReservationArrivesWhole() throws {
        let length = AdminRequestReader.bodyReserveBytesMax * 2 + 7
        let body = (0..<length).map { UInt8(truncatingIfNeeded: $0 % 251) }
        let head = "POST /v1/publish/batch HTTP/1.1\r\nHost: x\r\nContent-Length: \(length)\r\n\r\n"
        var reader = AdminRequestReader()
        let first = Array(head.utf8).withUnsafeBytes {
            reader.read($0, headBytesMax: 8192, bodyBytesMax: 1024, batchBodyBytesMax: 1 << 20)
        }
        #expect(first.consumed == head.utf8.count)
        var request: AdminRequest?
        var offset = 0
        while offset < body.count {
            let piece = Array(body[offset..<min(body.count, offset + 10_000)])
            let (consumed, event) = piece.withUnsafeBytes {
                reader.read($0, headBytesMax: 8192, bodyBytesMax: 1024, batchBodyBytesMax: 1 << 20)
            }
            #expect(consumed == piece.count)
            offset += consumed
            if case .request(let done) = event { request = done }
        }
        #expect(try #require(request).body == body)
    }

    /// A body already behind its head completes the request in the same
    /// read (head and body consumed together), and the reader goes on to
    /// the next request, whose body arrives in pieces.
    @Test func aWholeBodyCompletesInOneRead() throws {
        var reader = AdminRequestReader()
        let first = Array((publish + "POST /v1/publish?topic=u HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nab").utf8)
        let (consumed, event) = first.withUnsafeBytes { reader.read($0, headBytesMax: 8192, bodyBytesMax: 1024) }
        #expect(consumed == publish.utf8.count)
        guard case .request(let request) = event else {
            Issue.record("expected the request, got \(event)")
            return
        }
        #expect(request.body == Array("hello".utf8))
        let rest = Array(first[consumed...])
        let head = rest.withUnsafeBytes { reader.read($0, headBytesMax: 8192, bodyBytesMax: 1024) }
        #expect(head.consumed == rest.count - 2)
        #expect(reader.isInBody)
        let tail = Array("abc".utf8)
        let second = tail.withUnsafeBytes {
            reader.read(UnsafeRawBufferPointer(rebasing: $0[0...]), headBytesMax: 8192, bodyBytesMax: 1024)
        }
        guard case .request(let next) = second.event else {
            Issue.record("expected the second request, got \(second.event)")
            return
        }
        #expect(next.head.query == "topic=u")
        #expect(next.body == Array("abc".utf8))
        #expect(second.consumed == 3)
    }

    @Test func expectContinueIsReportedOnceTheHeadIsIn() throws {
        let head = "POST /v1/publish?topic=t HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"
        var reader = AdminRequestReader()
        let first = Array(head.utf8).withUnsafeBytes { reader.read($0, headBytesMax: 8192, bodyBytesMax: 1024) }
        #expect(first.consumed == head.utf8.count)
        guard case .expectsContinue(let parsed) = first.event else {
            Issue.record("expected expectsContinue, got \(first.event)")
            return
        }
        #expect(parsed.path == "/v1/publish")
        let second = Array("hello".utf8).withUnsafeBytes { reader.read($0, headBytesMax: 8192, bodyBytesMax: 1024) }
        guard case .request(let request) = second.event else {
            Issue.record("expected the request")
            return
        }
        #expect(request.body == Array("hello".utf8))
        // The body already behind the head: no interim answer needed.
        #expect(frameAdminRequest(head + "hello").request?.body == Array("hello".utf8))
    }

    @Test func unknownExpectationIs417() {
        let text = "POST /v1/publish HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nContent-Length: 1\r\n\r\nx"
        #expect(frameAdminRequest(text).failureStatus == 417)
    }
}
