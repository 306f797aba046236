import Testing

@testable import HeraldProtocol

@Suite struct ClosePayloadTests {
    func parse(_ payload: [UInt8]) -> ClosePayloadResult {
        payload.withUnsafeBytes { ClosePayload.parse($0) }
    }

    @Test func emptyPayloadHasNoCode() {
        #expect(parse([]) == .ok(code: nil, reasonLength: 0))
    }

    @Test func oneBytePayloadIsProtocolError() {
        #expect(parse([0x03]) == .failure(.protocolError))
    }

    @Test func codeAndReason() {
        #expect(parse([0x03, 0xE8]) == .ok(code: .normal, reasonLength: 0))
        #expect(parse([0x0F, 0xA0] + bytes("héllo")) == .ok(code: CloseCode(4000), reasonLength: 6))
    }

    @Test(arguments: [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65_535] as [UInt16])
    func codesPeersMayNotSend(code: UInt16) {
        #expect(parse([UInt8(code >> 8), UInt8(code & 0xFF)]) == .failure(.protocolError))
    }

    @Test func invalidUTF8ReasonIs1007() {
        #expect(parse([0x03, 0xE8, 0xCE, 0xBA, 0xE1, 0xBD]) == .failure(.invalidPayload))
        #expect(parse([0x03, 0xE8, 0xED, 0xA0, 0x80]) == .failure(.invalidPayload))
    }
}
