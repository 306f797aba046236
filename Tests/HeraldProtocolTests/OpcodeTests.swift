import Testing

@testable import HeraldProtocol

@Suite struct OpcodeTests {
    @Test func controlOpcodesHaveTheHighBit() {
        #expect(Opcode.close.isControl && Opcode.ping.isControl && Opcode.pong.isControl)
        #expect(!Opcode.continuation.isControl && !Opcode.text.isControl && !Opcode.binary.isControl)
    }

    @Test func reservedOpcodesAreNotRepresentable() {
        for raw in [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] as [UInt8] {
            #expect(Opcode(rawValue: raw) == nil)
        }
        #expect(Opcode(rawValue: 9) == .ping)
    }
}
