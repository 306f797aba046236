import Testing

@testable import HeraldProtocol

@Suite struct UTF8ValidatorTests {
    func isValid(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { UTF8Validator.isValid($0) }
    }

    /// The standard library's decoder as the reference.
    func reference(_ bytes: [UInt8]) -> Bool {
        String(validating: bytes, as: UTF8.self) != nil
    }

    /// Feeds one byte at a time; returns (no failure so far, at boundary).
    func streamed(_ bytes: [UInt8]) -> Bool {
        var validator = UTF8Validator()
        for byte in bytes where ![byte].withUnsafeBytes({ validator.validate($0) }) {
            return false
        }
        return validator.isAtCharacterBoundary
    }

    @Test(arguments: [
        [],
        bytes("Hello-µ@ßöäüàá-UTF-8!!"),
        [0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF, 0x83, 0xCE, 0xBC, 0xCE, 0xB5],  // κόσμε (Autobahn 6.2)
        [0xC2, 0x80], [0xDF, 0xBF],  // U+0080, U+07FF
        [0xE0, 0xA0, 0x80], [0xEF, 0xBF, 0xBF],  // U+0800, U+FFFF
        [0xED, 0x9F, 0xBF], [0xEE, 0x80, 0x80],  // U+D7FF, U+E000 around the surrogates
        [0xF0, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF],  // U+10000, U+10FFFF
        [0xEF, 0xBF, 0xBE],  // U+FFFE is a noncharacter but valid UTF-8
        [0x00, 0x7F],
    ] as [[UInt8]])
    func validSequences(sequence: [UInt8]) {
        #expect(isValid(sequence))
        #expect(streamed(sequence))
    }

    @Test(arguments: [
        [0x80], [0xBF], [0x80, 0xBF],  // lone continuation bytes (Autobahn 6.6-6.8)
        [0xC0, 0x80], [0xC1, 0xBF],  // overlong 2-byte
        [0xE0, 0x80, 0x80], [0xE0, 0x9F, 0xBF],  // overlong 3-byte
        [0xF0, 0x80, 0x80, 0x80], [0xF0, 0x8F, 0xBF, 0xBF],  // overlong 4-byte
        [0xF8, 0x88, 0x80, 0x80, 0x80], [0xFC, 0x84, 0x80, 0x80, 0x80, 0x80],  // 5/6-byte forms
        [0xED, 0xA0, 0x80], [0xED, 0xAD, 0xBF], [0xED, 0xBF, 0xBF],  // surrogates
        [0xED, 0xA0, 0x80, 0xED, 0xB0, 0x80],  // a CESU-8 pair
        [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xF7, 0xBF, 0xBF, 0xBF],  // > U+10FFFF
        [0xFE], [0xFF], [0xFE, 0xFE, 0xFF, 0xFF],
        [0xC2, 0x41], [0xE1, 0x80, 0x41],  // lead byte followed by ASCII
        [0xC2], [0xE1, 0x80], [0xF0, 0x90, 0x80],  // truncated at the end
    ] as [[UInt8]])
    func invalidSequences(sequence: [UInt8]) {
        #expect(!isValid(sequence))
        #expect(!streamed(sequence))
    }

    /// Autobahn 6.4.x: the server must fail at the first impossible byte,
    /// not at the end of the message.
    @Test func failsFastAtTheFirstImpossibleByte() {
        let kosme: [UInt8] = [0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF, 0x83, 0xCE, 0xBC, 0xCE, 0xB5]
        var validator = UTF8Validator()
        #expect((kosme + [0xF4]).withUnsafeBytes { validator.validate($0) })
        #expect(!validator.isAtCharacterBoundary)
        #expect(![UInt8(0x90)].withUnsafeBytes { validator.validate($0) })
        // Rejection is sticky until reset.
        #expect(!bytes("abc").withUnsafeBytes { validator.validate($0) })
        validator.reset()
        #expect(bytes("abc").withUnsafeBytes { validator.validate($0) })
        #expect(validator.isAtCharacterBoundary)
    }

    @Test func truncatedMessageIsNotAtBoundary() {
        var validator = UTF8Validator()
        #expect([UInt8(0xE2), 0x82].withUnsafeBytes { validator.validate($0) })
        #expect(!validator.isAtCharacterBoundary)
        #expect([UInt8(0xAC)].withUnsafeBytes { validator.validate($0) })  // completes €
        #expect(validator.isAtCharacterBoundary)
    }

    /// Every one- and two-byte input agrees with the standard library.
    @Test func allTwoByteInputsMatchReference() {
        for first in 0...255 {
            for second in 0...255 {
                let input: [UInt8] = [UInt8(first), UInt8(second)]
                #expect(isValid(input) == reference(input), "\(hex(input))")
            }
            #expect(isValid([UInt8(first)]) == reference([UInt8(first)]))
        }
    }

    /// Three- and four-byte inputs around every interesting boundary agree
    /// with the standard library, one-shot and streamed.
    @Test func multiByteBoundariesMatchReference() {
        let edges: [UInt8] = [0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xFF]
        var checked = 0
        for lead in 0xE0...0xF5 {
            for second in edges {
                for third in edges {
                    let three: [UInt8] = [UInt8(lead), second, third]
                    #expect(isValid(three) == reference(three), "\(hex(three))")
                    #expect(streamed(three) == reference(three), "\(hex(three))")
                    for fourth in [0x80, 0xBF, 0x41, 0xC0] as [UInt8] {
                        let four = three + [fourth]
                        #expect(isValid(four) == reference(four), "\(hex(four))")
                        checked += 1
                    }
                }
            }
        }
        #expect(checked > 10_000)
    }

    /// Random mixes of ASCII runs (which take the 8-byte path) and
    /// multi-byte scalars, some corrupted, in random stream splits.
    @Test func randomStreamsMatchReferenceAndOneShot() {
        var random = SplitMix64(seed: 2024)
        let pieces: [[UInt8]] = [
            bytes("plain ascii text "), bytes("é"), bytes("€"), bytes("😀"), bytes("x"),
            [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0x80],
        ]
        for round in 0..<2000 {
            var input: [UInt8] = []
            for _ in 0..<Int.random(in: 0...12, using: &random) {
                let index = Int.random(in: 0..<pieces.count, using: &random)
                // Corrupt pieces are rarer, so most inputs are long and valid.
                input += index >= 5 && Bool.random(using: &random) ? pieces[0] : pieces[index]
            }
            let expected = reference(input)
            #expect(isValid(input) == expected, "round \(round): \(hex(input))")
            var validator = UTF8Validator()
            var ok = true
            var offset = 0
            while offset < input.count && ok {
                let size = min(Int.random(in: 1...9, using: &random), input.count - offset)
                ok = Array(input[offset..<offset + size]).withUnsafeBytes { validator.validate($0) }
                offset += size
            }
            #expect((ok && validator.isAtCharacterBoundary) == expected, "round \(round) streamed")
        }
    }

    /// A bad byte at every position of a long ASCII run is found, so the
    /// 8-byte fast path skips nothing.
    @Test func asciiFastPathMissesNothing() {
        for position in 0..<40 {
            var input = Array(repeating: UInt8(ascii: "a"), count: 40)
            input[position] = 0xFF
            #expect(!isValid(input), "position \(position)")
            input[position] = 0xC3
            if position + 1 < input.count {
                input[position + 1] = 0xA9
                #expect(isValid(input), "é at \(position)")
            }
        }
    }
}
