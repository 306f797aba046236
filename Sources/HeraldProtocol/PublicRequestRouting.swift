/// The paths of the public listener.
public enum PublicRoute: UInt8, Sendable, Equatable {
    /// `/ws`: the pub/sub WebSocket (CONTRACT "Messages on the socket").
    case webSocket
    /// `/echo`: the diagnostics echo WebSocket (`--enable-echo`).
    case echo
}

/// What the public listener serves as plain HTTP besides `/healthz`
/// (unless `--disable-demo`): a demo page and the JavaScript client.
public enum PublicPage: UInt8, Sendable, Equatable {
    /// `/`: a page that subscribes with the client and shows messages live.
    case demo
    /// `/herald.js`: the client as an ES module.
    case clientModule
    /// `/herald.global.js`: the client for a plain `<script>`.
    case clientScript
    /// `/herald-zstd.wasm`: the client's zstd decoder (WebAssembly), when
    /// the server has one (`PublicRoutingPolicy.serveZstdDecoder`).
    case zstdDecoder

    public init?(path: String) {
        switch path {
        case "/": self = .demo
        case "/herald.js": self = .clientModule
        case "/herald.global.js": self = .clientScript
        case "/herald-zstd.wasm": self = .zstdDecoder
        default: return nil
        }
    }

    public var contentType: String {
        switch self {
        case .demo: "text/html; charset=utf-8"
        case .clientModule, .clientScript: "text/javascript; charset=utf-8"
        case .zstdDecoder: "application/wasm"
        }
    }
}

/// Why a public request was refused (one `handshakes_failed_total` reason each).
public enum PublicRefusal: Sendable, Equatable {
    case badRequest
    case version
    case notFound
    case capacity
    case unauthorized
    /// `Origin` outside `--allowed-origins` (403).
    case origin
}

/// What the public listener does with one complete request head: a pure
/// decision next to `WebSocketHandshake.evaluate`, so every status has a
/// unit test and the reactor only carries it out.
public enum PublicRequestDecision: Sendable, Equatable {
    /// Answer plain HTTP with `status` and close.
    case refuse(HTTPStatus, PublicRefusal)
    /// `/healthz`: 200 "ok" (a HEAD gets the GET's head without its body).
    case health(headOnly: Bool)
    /// `/healthz` (or a page) with a method other than GET or HEAD: 405.
    case methodNotAllowed
    /// A page (GET or HEAD, not an upgrade).
    case page(PublicPage, headOnly: Bool)
    case upgrade(PublicUpgrade)
}

/// An accepted upgrade: what the 101 says and what the connection starts with.
public struct PublicUpgrade: Sendable, Equatable {
    public let route: PublicRoute
    public let accept: String
    public let deflate: DeflateOffer?
    /// `topics=` names, each once, in the order first given.
    public let topics: [String]
    /// The verified connection token (connection auth on).
    public let token: ConnectionToken?
    /// The client offered `herald.zstd.v1` (`Sec-WebSocket-Protocol`):
    /// published messages reach it as zstd frames (`ZstdEnvelope`), and
    /// permessage-deflate is not negotiated alongside.
    public var zstd = false
    /// `zstd_dicts=ID,…`: dictionary ids the client already holds (at most
    /// `ZstdEnvelope.heldDictionariesMax`); they are not sent to it again.
    public var heldDictionaries: [UInt32] = []
    /// Connection auth refused the token: the upgrade goes through so a
    /// browser can read why, then the connection closes at once with this
    /// code (4001 missing or bad, 4002 expired).
    public var authFailure: CloseCode? = nil

    public init(route: PublicRoute, accept: String, deflate: DeflateOffer?, topics: [String], token: ConnectionToken?,
                authFailure: CloseCode? = nil) {
        self.route = route
        self.accept = accept
        self.deflate = deflate
        self.topics = topics
        self.token = token
        self.authFailure = authFailure
    }
}

/// The settings the decision depends on.
public struct PublicRoutingPolicy: Sendable {
    public var enableEcho: Bool
    public var topicsPerConnectionMax: Int
    /// HS256 key when connection auth is on.
    public var jwtSecret: [UInt8]?
    /// Serve the demo page and the client (`PublicPage`).
    public var servePages: Bool
    /// `--allowed-origins`; nil: every origin.
    public var allowedOrigins: OriginPolicy?
    /// The server holds the zstd decoder for browsers (`/herald-zstd.wasm`;
    /// without it that path is a 404 and the client keeps deflate).
    public var serveZstdDecoder = false

    public init(enableEcho: Bool, topicsPerConnectionMax: Int, jwtSecret: [UInt8]?, servePages: Bool = false,
                allowedOrigins: OriginPolicy? = nil) {
        self.allowedOrigins = allowedOrigins
        self.enableEcho = enableEcho
        self.topicsPerConnectionMax = topicsPerConnectionMax
        self.jwtSecret = jwtSecret
        self.servePages = servePages
    }
}

public enum PublicRequestRouting {
    /// Decides, in order: at capacity → 503; Host missing or repeated →
    /// 400 (RFC 9112 §3.2); the path (`/healthz`, `/ws`, `/echo` when
    /// enabled, else 404); a body on an upgrade → 400 (its bytes would be
    /// read as frames); the RFC 6455 checks (`WebSocketHandshake.evaluate`);
    /// for `/ws`, the query (`topics=` valid, each counted once, at most
    /// `topicsPerConnectionMax`) and, with connection auth, the token (an
    /// upgrade that closes at once with 4001 or 4002).
    public static func decide(_ head: HTTPRequestHead, overCapacity: Bool, policy: PublicRoutingPolicy,
                              nowSeconds: Int64) -> PublicRequestDecision {
        if overCapacity {
            // At --connections-max: a prompt 503 lets clients back off and
            // load balancers route elsewhere (RFC 9110 §15.6.4).
            return .refuse(.serviceUnavailable, .capacity)
        }
        guard head.hasValidHost else { return .refuse(.badRequest, .badRequest) }
        if policy.servePages, !head.hasHeader("Upgrade"), let page = PublicPage(path: head.path),
           page != .zstdDecoder || policy.serveZstdDecoder {
            // A plain request for a page (an upgrade to these paths is a 404).
            switch head.method {
            case "GET": return .page(page, headOnly: false)
            case "HEAD": return .page(page, headOnly: true)
            default: return .methodNotAllowed
            }
        }
        let route: PublicRoute
        switch head.path {
        case "/healthz":
            switch head.method {
            case "GET": return .health(headOnly: false)
            case "HEAD": return .health(headOnly: true)
            default: return .methodNotAllowed
            }
        case "/ws": route = .webSocket
        case "/echo" where policy.enableEcho: route = .echo
        default: return .refuse(.notFound, .notFound)
        }
        // A body on an upgrade request (anything but one `Content-Length: 0`).
        if head.hasHeader("Transfer-Encoding")
            || (head.hasHeader("Content-Length")
                && head.withSoleValue(of: "Content-Length", { $0.elementsEqual("0".utf8) }) != true) {
            return .refuse(.badRequest, .badRequest)
        }
        let accept: String
        let deflate: DeflateOffer?
        switch WebSocketHandshake.evaluate(head) {
        case .reject(let status):
            return .refuse(status, status == .upgradeRequired ? .version : .badRequest)
        case .upgrade(let value, let offer):
            accept = value
            deflate = offer
        }
        // CONTRACT "zstd": herald's own clients offer the subprotocol (RFC
        // 6455 §1.9, §4.2.2 step 5.3); it replaces permessage-deflate.
        let zstd = route == .webSocket && head.headerContainsToken("Sec-WebSocket-Protocol", ZstdEnvelope.subprotocol)
        var upgrade = routeUpgrade(head, route: route, accept: accept, deflate: zstd ? nil : deflate,
                                   policy: policy, nowSeconds: nowSeconds)
        if case .upgrade(var accepted) = upgrade, route == .webSocket {
            accepted.zstd = zstd
            upgrade = .upgrade(accepted)
        }
        return upgrade
    }

    /// Topic lists up to this long are de-duplicated by search, longer
    /// ones through a set (`topicsPerConnectionMax` may be large).
    static let linearDeduplicationMax = 16

    private static func routeUpgrade(_ head: HTTPRequestHead, route: PublicRoute, accept: String,
                                     deflate: DeflateOffer?, policy: PublicRoutingPolicy,
                                     nowSeconds: Int64) -> PublicRequestDecision {
        if let origins = policy.allowedOrigins, !origins.allows(head.header("Origin")) {
            // RFC 6455 §4.2.2: a server that does not accept the origin
            // answers 403 Forbidden.
            return .refuse(.forbidden, .origin)
        }
        guard route == .webSocket else {
            return .upgrade(PublicUpgrade(route: route, accept: accept, deflate: deflate, topics: [], token: nil))
        }
        // CONTRACT: `topics=a,b` subscribes on open; a bad name or too many
        // topics is a 400 before the upgrade, not a surprise after.
        // The query read in one pass, without an array of its pairs (this
        // runs for every handshake): a malformed pair, a bad topic list or
        // a bad dictionary list refuses the request, wherever it comes.
        var topics: [String] = []
        // Names already taken, for lists past a few (a short list is
        // searched: no hashing and no set for the one topic most
        // connections name).
        var seen: Set<String>?
        var held: [UInt32] = []
        var tokenText = ""
        var valid = true
        let wellFormed = QueryString.forEachPair(of: head.query) { name, value in
            guard valid else { return }
            switch name {
            case "topics":
                valid = ASCII.forEachElement(of: value, separatedBy: ASCII.comma) { part in
                    let topic = String(decoding: part, as: UTF8.self)
                    guard TopicName.isValid(topic) else { return false }
                    // A name given twice is one subscription, and counts once.
                    if topics.count < Self.linearDeduplicationMax {
                        if !topics.contains(topic) { topics.append(topic) }
                    } else {
                        if seen == nil { seen = Set(topics) }
                        if seen!.insert(topic).inserted { topics.append(topic) }
                    }
                    return topics.count <= policy.topicsPerConnectionMax
                }
            case "zstd_dicts":
                valid = ASCII.forEachElement(of: value, separatedBy: ASCII.comma) { part in
                    guard let id = UInt32(String(decoding: part, as: UTF8.self)), id > 0 else { return false }
                    held.append(id)
                    return held.count <= ZstdEnvelope.heldDictionariesMax
                }
            case "token":
                // The last one given counts.
                tokenText = value
            default:
                break
            }
        }
        guard wellFormed, valid else { return .refuse(.badRequest, .badRequest) }
        var token: ConnectionToken?
        if let secret = policy.jwtSecret {
            // CONTRACT "Security": a missing, bad or expired token upgrades
            // and is closed at once with 4001 or 4002 (a browser sees only
            // close codes). URL topics outside the grant get a `forbidden`
            // error after the upgrade, like any subscribe.
            switch ConnectionToken.verify(tokenText, secret: secret, nowSeconds: nowSeconds) {
            case .success(let verified):
                token = verified
            case .failure(let failure):
                return .upgrade(PublicUpgrade(route: route, accept: accept, deflate: deflate, topics: [], token: nil,
                                              authFailure: failure.isExpiry ? .tokenExpired : .unauthorized))
            }
        }
        var upgrade = PublicUpgrade(route: route, accept: accept, deflate: deflate, topics: topics, token: token)
        upgrade.heldDictionaries = held
        return .upgrade(upgrade)
    }
}
