import HeraldProtocol

/// The complete HTTP responses of the public listener's pages (the demo,
/// both builds of the client, the zstd decoder), built once at start as
/// shared frames: every request queues a reference to the same bytes
/// instead of formatting the head and copying the body (57 KB for the
/// decoder) twice. Each still pays the frame's cost against its own
/// `--send-queue-bytes-max`, and its close timeout ends a client that does
/// not read it.
final class PublicPageResponses: Sendable {
    /// By `PublicPage.rawValue`: the GET response and the HEAD one.
    private let responses: [(get: OutboundFrame, head: OutboundFrame)?]

    /// `zstdDecoder`: the decoder's bytes (`ZstdDecoderFile`); nil: that page is not served.
    init(zstdDecoder: [UInt8]?) {
        var responses: [(get: OutboundFrame, head: OutboundFrame)?] = []
        for page in [PublicPage.demo, .clientModule, .clientScript, .zstdDecoder] {
            precondition(Int(page.rawValue) == responses.count, "PublicPage raw values are 0…3 in order")
            let body: [UInt8]? = switch page {
            case .demo: PublicAssets.demoPage
            case .clientModule: PublicAssets.clientModule
            case .clientScript: PublicAssets.clientScript
            case .zstdDecoder: zstdDecoder
            }
            guard let body else {
                responses.append(nil)
                continue
            }
            // The client and its decoder are public files an app on any
            // origin may load from here (no credentials involved).
            let headers: [(String, String)] = page == .demo ? [("Cache-Control", "no-cache")]
                : [("Cache-Control", "no-cache"), ("Access-Control-Allow-Origin", "*")]
            func response(omitBody: Bool) -> OutboundFrame {
                OutboundFrame(copying: HTTPResponse.make(status: .ok, contentType: page.contentType, body: body,
                                                         headers: headers, close: true, omitBody: omitBody),
                              shared: true)
            }
            responses.append((response(omitBody: false), response(omitBody: true)))
        }
        self.responses = responses
    }

    var servesZstdDecoder: Bool { responses[Int(PublicPage.zstdDecoder.rawValue)] != nil }

    /// Nil only for a page not served (the routing refuses those first).
    func response(_ page: PublicPage, headOnly: Bool) -> OutboundFrame? {
        responses[Int(page.rawValue)].map { headOnly ? $0.head : $0.get }
    }
}
