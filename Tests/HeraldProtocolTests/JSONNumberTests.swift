import Testing
@testable import HeraldProtocol

@Suite struct JSONNumberTests {
    @Test(arguments: [UInt64(0), 7, 10, 99, 100, 12_345, 1 << 32, UInt64.max])
    func writesTheDecimalDigits(value: UInt64) {
        var out: [UInt8] = Array("x".utf8)
        JSONNumber.append(value, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "x\(value)")
    }
}
