import Testing

@testable import HeraldProtocol

@Suite struct DeflateOfferTests {
    @Test func chromeOffer() throws {
        let offer = try #require(DeflateOffer.parse("permessage-deflate; client_max_window_bits"))
        #expect(offer == DeflateOffer(clientNoContextTakeover: false, clientMaxWindowBits: nil, serverMaxWindowBits: nil))
        #expect(offer.responseHeaderValue == "permessage-deflate; server_no_context_takeover")
    }

    @Test func firefoxOffer() throws {
        let offer = try #require(DeflateOffer.parse("permessage-deflate"))
        #expect(offer == DeflateOffer())
        #expect(offer.responseHeaderValue == "permessage-deflate; server_no_context_takeover")
    }

    @Test func fullOfferIsEchoed() throws {
        let offer = try #require(
            DeflateOffer.parse("permessage-deflate; client_no_context_takeover; client_max_window_bits=10; server_max_window_bits=12; server_no_context_takeover"))
        #expect(offer == DeflateOffer(clientNoContextTakeover: true, clientMaxWindowBits: 10, serverMaxWindowBits: 12))
        #expect(
            offer.responseHeaderValue
                == "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=10")
    }

    @Test func quotedValuesAndSpacing() {
        #expect(DeflateOffer.parse("permessage-deflate ;client_max_window_bits = \"9\"") == DeflateOffer(clientMaxWindowBits: 9))
        #expect(DeflateOffer.parse("PerMessage-Deflate; Client_No_Context_Takeover") == DeflateOffer(clientNoContextTakeover: true))
    }

    /// RFC 7692 §5: the first acceptable offer wins; unacceptable ones are skipped.
    @Test func firstAcceptableOfferWins() {
        #expect(
            DeflateOffer.parse("permessage-deflate; unknown_param, permessage-deflate; client_max_window_bits=15")
                == DeflateOffer(clientMaxWindowBits: 15))
        #expect(DeflateOffer.parse("x-webkit-deflate-frame, permessage-deflate") == DeflateOffer())
        #expect(DeflateOffer.parse("permessage-deflate; server_max_window_bits=10, permessage-deflate") == DeflateOffer(serverMaxWindowBits: 10))
    }

    @Test(arguments: [
        "",
        "x-webkit-deflate-frame",
        "permessage-deflate; foo",
        "permessage-deflate; foo=1",
        "permessage-deflate; server_max_window_bits",  // needs a value
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; client_max_window_bits=08",
        "permessage-deflate; client_max_window_bits=abc",
        "permessage-deflate; client_no_context_takeover=1",
        "permessage-deflate; server_no_context_takeover=\"x\"",
        "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
        "permessage-deflate; client_max_window_bits=10; client_max_window_bits=11",
        "permessage-deflate; ; client_max_window_bits",  // grammar error
        "permessage-deflate; client_max_window_bits=\"10",  // unterminated quote
        "permessage-deflate client_max_window_bits",
    ])
    func unacceptable(header: String) {
        #expect(DeflateOffer.parse(header) == nil, "\(header)")
    }
}
