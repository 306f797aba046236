import Testing

@testable import HeraldProtocol

@Suite struct CloseCodeTests {
    @Test func validOnWire() {
        for code: UInt16 in [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999] {
            #expect(CloseCode.isValidOnWire(code), "\(code)")
        }
    }

    @Test func invalidOnWire() {
        for code: UInt16 in [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65_535] {
            #expect(!CloseCode.isValidOnWire(code), "\(code)")
        }
    }

    @Test func namedCodes() {
        #expect(CloseCode.normal.rawValue == 1000)
        #expect(CloseCode.protocolError.rawValue == 1002)
        #expect(CloseCode.noStatus.rawValue == 1005)
        #expect(CloseCode.abnormal.rawValue == 1006)
        #expect(CloseCode.invalidPayload.rawValue == 1007)
        #expect(CloseCode.messageTooBig.rawValue == 1009)
        #expect(CloseCode.internalError.rawValue == 1011)
        #expect(CloseCode(rawValue: 4000) == CloseCode(4000))
    }
}
