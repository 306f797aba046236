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
