import Testing

@testable import HeraldProtocol

@Suite struct HTTPRequestHeadParserTests {
    static let request =
        "GET /ws?topics=a%2Cb&token=x HTTP/1.1\r\n"
        + "Host: example.com\r\n"
        + "Upgrade: websocket\r\n"
        + "Connection: keep-alive, Upgrade\r\n"
        + "X-Multi: one\r\n"
        + "x-multi:  two \t\r\n"
        + "Empty:\r\n"
        + "\r\n"

    func parse(_ text: String, max: Int = 8192) -> HTTPHeadParseResult {
        Array(text.utf8).withUnsafeBytes { HTTPRequestHeadParser.parse($0, maxHeadBytes: max) }
    }

    func parsedHead(_ text: String) -> HTTPRequestHead? {
        guard case .complete(let head, _) = parse(text) else { return nil }
        return head
    }

    func isMalformed(_ text: String) -> Bool {
        if case .malformed = parse(text) { return true }
        return false
    }

    @Test func parsesACompleteHead() throws {
        guard case .complete(let head, let length) = parse(Self.request + "trailing frame bytes") else {
            Issue.record("not complete")
            return
        }
        #expect(length == Self.request.utf8.count)
        #expect(head.method == "GET")
        #expect(head.target == "/ws?topics=a%2Cb&token=x")
        #expect(head.path == "/ws")
        #expect(head.query == "topics=a%2Cb&token=x")
        #expect(head.versionMinor == 1)
        #expect(head.headers.map(\.name) == ["Host", "Upgrade", "Connection", "X-Multi", "x-multi", "Empty"])
        #expect(head.headers[4].value == "two")
        #expect(head.headers[5].value == "")
    }

    @Test func headerLookupIsCaseInsensitiveAndJoinsRepeats() throws {
        let head = try #require(parsedHead(Self.request))
        #expect(head.header("HOST") == "example.com")
        #expect(head.header("x-MULTI") == "one, two")
        #expect(head.header("Missing") == nil)
        #expect(head.header("Empty") == "")
    }

    @Test func presenceAndSoleValues() throws {
        let head = try #require(parsedHead(Self.request))
        #expect(head.hasHeader("host") && head.hasHeader("EMPTY") && !head.hasHeader("Missing"))
        #expect(head.withSoleValue(of: "HOST") { String(decoding: $0, as: UTF8.self) } == "example.com")
        #expect(head.withSoleValue(of: "Empty") { $0.count } == 0)
        // Absent or repeated: no sole value, and a repeated field's body never sees the second.
        #expect(head.withSoleValue(of: "Missing") { _ in true } == nil)
        #expect(head.withSoleValue(of: "X-Multi") { _ in true } == nil)
    }

    /// Many fields (past any capacity the ranges are reserved with) all kept, in order.
    @Test func manyFieldsAreAllKept() throws {
        let fields = (0..<40).map { "F\($0): v\($0)\r\n" }.joined()
        let head = try #require(parsedHead("GET / HTTP/1.1\r\nHost: h\r\n" + fields + "\r\n"))
        #expect(head.headers.count == 41)
        #expect(head.header("f39") == "v39")
        #expect(head.headers.last?.name == "F39")
    }

    @Test func tokenLookup() throws {
        let head = try #require(parsedHead(Self.request))
        #expect(head.headerContainsToken("connection", "upgrade"))
        #expect(head.headerContainsToken("Connection", "KEEP-ALIVE"))
        #expect(!head.headerContainsToken("Connection", "close"))
        #expect(!head.headerContainsToken("Connection", "upgrad"))
        #expect(head.headerContainsToken("X-Multi", "two"))
        #expect(!head.headerContainsToken("Nope", "x"))
    }

    @Test func targetWithoutQuery() throws {
        let head = try #require(parsedHead("GET /healthz HTTP/1.0\r\n\r\n"))
        #expect(head.path == "/healthz")
        #expect(head.query == "")
        #expect(head.versionMinor == 0)
        #expect(head.headers.isEmpty)
    }

    /// The target reads back exactly as sent, whatever its form: an
    /// origin-form one is kept as its path and query only.
    @Test(arguments: [
        ("/v1/publish?topic=chat.room.42", "/v1/publish", "topic=chat.room.42"),
        ("/ws?", "/ws", ""),
        ("/ws??a=1", "/ws", "?a=1"),
        ("/a/very/long/path/without/any/query/at/all", "/a/very/long/path/without/any/query/at/all", ""),
        ("http://example.com/ws?topics=x", "/ws", "topics=x"),
        ("http://example.com", "/", ""),
        ("*", "*", ""),
        ("example.com:443", "example.com:443", ""),
    ])
    func targetReadsBackAsSent(target: String, path: String, query: String) throws {
        let head = try #require(parsedHead("OPTIONS \(target) HTTP/1.1\r\nHost: h\r\n\r\n"))
        #expect(head.target == target)
        #expect(head.path == path)
        #expect(head.query == query)
        let built = HTTPRequestHead(method: "OPTIONS", target: target, versionMinor: 1, headers: [])
        #expect(built.target == target && built.path == path && built.query == query)
    }

    /// The request line is read in one pass: each part's rule still holds.
    @Test(arguments: [
        "GET  / HTTP/1.1", "GET /  HTTP/1.1", "GET / HTTP/1.1 ", " GET / HTTP/1.1", "GET / HTTP/1.2",
        "GET / HTTP/1.10", "GET / HTTP/1.", "GET / http/1.1", "G(T / HTTP/1.1", "GET /\u{7F} HTTP/1.1",
        "GET /\t HTTP/1.1", "GET\t/ HTTP/1.1", "GET /", "GET", "/ HTTP/1.1",
    ])
    func malformedRequestLines(line: String) {
        #expect(isMalformed(line + "\r\nHost: h\r\n\r\n"))
    }

    @Test func everyProperPrefixIsIncomplete() {
        let full = Array(Self.request.utf8)
        for length in 0..<full.count {
            let result = Array(full.prefix(length)).withUnsafeBytes { HTTPRequestHeadParser.parse($0, maxHeadBytes: 8192) }
            guard case .incomplete = result else {
                Issue.record("prefix \(length): \(result)")
                continue
            }
        }
    }

    @Test func leadingEmptyLinesAreSkipped() {
        guard case .complete(let head, let length) = parse("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n") else {
            Issue.record("not complete")
            return
        }
        #expect(head.path == "/")
        #expect(length == 4 + 16 + 9 + 2)
    }

    @Test func tooLarge() {
        let head = "GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 100) + "\r\n\r\n"
        if case .tooLarge = parse(head, max: 50) {} else { Issue.record("complete head over the limit") }
        if case .tooLarge = parse(String(decoding: head.utf8.prefix(60), as: UTF8.self), max: 50) {} else { Issue.record("partial head over the limit") }
        if case .incomplete = parse(String(decoding: head.utf8.prefix(49), as: UTF8.self), max: 50) {} else { Issue.record("partial head under the limit") }
        if case .complete = parse(head, max: head.utf8.count) {} else { Issue.record("head exactly at the limit") }
        if case .tooLarge = parse(head, max: head.utf8.count - 1) {} else { Issue.record("head one over the limit") }
    }

    @Test(arguments: [
        "GET / HTTP/1.1\nHost: a\n\n",  // bare LF
        "GET / HTTP/1.1\r\nHost: a\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",  // bare CR
        "GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",  // obs-fold
        "GET / HTTP/1.1\r\n Host: a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost : a\r\n\r\n",  // space before colon
        "GET / HTTP/1.1\r\n: a\r\n\r\n",  // empty name
        "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
        "GET / HTTP/1.1\r\nX: a\u{01}b\r\n\r\n",  // control character
        "GET / HTTP/1.1\r\nX: a\u{7F}\r\n\r\n",
        "GET /\r\n\r\n",  // no version
        "GET HTTP/1.1\r\n\r\n",
        " / HTTP/1.1\r\n\r\n",  // no method
        "GET  / HTTP/1.1\r\n\r\n",  // double space
        "GET / HTTP/1.1 \r\n\r\n",
        "GET / HTTP/2.0\r\n\r\n",
        "GET / HTTP/1.2\r\n\r\n",
        "GET / http/1.1\r\n\r\n",
        "GET / HTTP/1.11\r\n\r\n",  // the version read as 8 bytes
        "GET / HTTP/1.\r\n\r\n",
        "GET / HTTP/1.x\r\n\r\n",
        "GET / HTTQ/1.1\r\n\r\n",
        "GET / HTTP/1,1\r\n\r\n",
        "GET / XHTTP/1.1\r\n\r\n",
        "G(T / HTTP/1.1\r\n\r\n",  // method not a token
        "GET /a\u{01} HTTP/1.1\r\n\r\n",
    ])
    func malformed(text: String) {
        #expect(isMalformed(text), "\(text.debugDescription)")
    }

    @Test func versionPrefixIsHTTP1Dot() {
        var bytes: [UInt8] = []
        var value = HTTPRequestHeadParser.versionPrefix
        for _ in 0..<7 {
            bytes.append(UInt8(truncatingIfNeeded: value))
            value >>= 8
        }
        #expect(bytes == Array("HTTP/1.".utf8) && value == 0)
    }

    @Test func obsTextInValuesIsKept() throws {
        let head = try #require(parsedHead("GET / HTTP/1.1\r\nX-Name: caf\u{E9}\r\n\r\n"))
        #expect(head.header("x-name") == "café")
    }

    /// Content-Type is read from the field's bytes: case, parameters and
    /// OWS do not matter; an absent or repeated field names no type.
    @Test func mediaTypeComparesWithoutParametersOrCase() {
        func head(_ values: [String]) -> HTTPRequestHead {
            HTTPRequestHead(method: "POST", target: "/", versionMinor: 1,
                            headers: [(name: "Host", value: "h")] + values.map { (name: "content-TYPE", value: $0) })
        }
        #expect(head(["application/json"]).hasMediaType("application/json"))
        #expect(head(["Application/JSON; charset=utf-8"]).hasMediaType("application/json"))
        #expect(head([" application/json ;x=1"]).hasMediaType("application/json"))
        #expect(!head(["application/jsonx"]).hasMediaType("application/json"))
        #expect(!head(["application/json", "application/json"]).hasMediaType("application/json"))
        #expect(!head([]).hasMediaType("application/json"))
        #expect(!head([";application/json"]).hasMediaType("application/json"))
        #expect(head(["APPLICATION/OCTET-STREAM"]).hasMediaType("application/octet-stream"))
    }
}
