import Testing

@testable import HeraldProtocol

@Suite struct HTTPResponseTests {
    @Test func closingResponse() {
        let response = HTTPResponse.make(status: .notFound, body: bytes("nope\n"), close: true)
        #expect(
            String(decoding: response, as: UTF8.self)
                == "HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nnope\n")
    }

    @Test func keepAliveResponseWithHeaders() {
        let response = HTTPResponse.make(
            status: .ok, contentType: "application/json", body: bytes("{}"), headers: [("X-A", "1"), ("X-B", "2")], close: false)
        #expect(
            String(decoding: response, as: UTF8.self)
                == "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\nX-A: 1\r\nX-B: 2\r\nConnection: keep-alive\r\n\r\n{}")
    }

    /// A burst's answers are written one after another into one buffer,
    /// each exactly what `make` gives.
    @Test func appendWritesAfterWhatIsThere() {
        var out: [UInt8] = []
        let bodies = [bytes("{}"), [UInt8](repeating: 0x61, count: 12_345), []]
        for body in bodies { HTTPResponse.append(status: .ok, body: body, close: false, to: &out) }
        let expected = bodies.flatMap { HTTPResponse.make(status: .ok, body: $0, close: false) }
        #expect(out == expected)
        #expect(String(decoding: out, as: UTF8.self).contains("Content-Length: 12345\r\n"))
        #expect(String(decoding: HTTPResponse.make(status: .notFound, body: [], close: true), as: UTF8.self)
            .hasPrefix("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"))
    }

    /// An answer with no fields of the caller's is written whole: the
    /// same bytes, field by field, as one with fields, for every status,
    /// body length (digit count) and connection.
    @Test func answersWithoutFieldsAreTheSameBytes() {
        let statuses: [HTTPStatus] = [.ok, .badRequest, .notFound, .payloadTooLarge, .serviceUnavailable]
        for status in statuses {
            for length in [0, 9, 10, 99_999, 100_000] {
                for close in [false, true] {
                    let body = [UInt8](repeating: 0x7A, count: length)
                    let text = String(decoding: HTTPResponse.make(status: status, contentType: "application/json",
                                                                  body: body, close: close), as: UTF8.self)
                    let head = "HTTP/1.1 \(status.code) \(status.reason)\r\nContent-Length: \(length)\r\n"
                        + "Content-Type: application/json\r\nConnection: \(close ? "close" : "keep-alive")\r\n\r\n"
                    #expect(text == head + String(decoding: body, as: UTF8.self), "\(status.code) \(length) \(close)")
                    let omitted = HTTPResponse.make(status: status, body: body, close: close, omitBody: true)
                    #expect(String(decoding: omitted, as: UTF8.self).hasSuffix("\r\n\r\n"))
                }
            }
        }
    }

    /// A content type with a CR or LF in it takes the sanitizing path.
    @Test func aContentTypeWithALineBreakIsSanitized() {
        let text = String(decoding: HTTPResponse.make(status: .ok, contentType: "text/plain\r\nX-Evil: 1", body: [],
                                                      close: false), as: UTF8.self)
        #expect(text == "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nContent-Type: text/plainX-Evil: 1\r\n"
                + "Connection: keep-alive\r\n\r\n")
    }

    @Test func headerInjectionIsStripped() {
        let response = HTTPResponse.make(status: .ok, body: [], headers: [("X", "a\r\nSet-Cookie: b")], close: true)
        let text = String(decoding: response, as: UTF8.self)
        #expect(text.contains("X: aSet-Cookie: b\r\n"))
        #expect(!text.contains("\r\nSet-Cookie"))
    }

    @Test func statusCodes() {
        let expected: [(HTTPStatus, Int)] = [
            (.switchingProtocols, 101), (.ok, 200), (.badRequest, 400), (.unauthorized, 401), (.notFound, 404),
            (.methodNotAllowed, 405), (.payloadTooLarge, 413), (.upgradeRequired, 426),
            (.requestHeaderFieldsTooLarge, 431), (.internalServerError, 500), (.serviceUnavailable, 503),
        ]
        for (status, code) in expected {
            #expect(status.code == code)
            #expect(!status.reason.isEmpty)
        }
    }
}
