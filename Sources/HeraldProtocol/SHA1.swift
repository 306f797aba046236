/// SHA-1 (FIPS 180-4 §6.1), needed only for the WebSocket accept value
/// (RFC 6455 §4.2.2 step 5.4). SHA-1 is broken for collision resistance;
/// the handshake uses it as a fixed transform, not for security, so a small
/// portable implementation is enough and keeps the module free of C.
public enum SHA1 {
    /// Digest size in bytes (FIPS 180-4 §1).
    public static let digestBytes = 20
    /// Message block size in bytes.
    static let blockBytes = 64

    /// The 20-byte digest of `bytes`.
    public static func hash(_ bytes: some Collection<UInt8>) -> [UInt8] {
        let message = MessageBlocks.padded(bytes)

        // FIPS 180-4 §5.3.1 initial hash value.
        var h0: UInt32 = 0x6745_2301
        var h1: UInt32 = 0xEFCD_AB89
        var h2: UInt32 = 0x98BA_DCFE
        var h3: UInt32 = 0x1032_5476
        var h4: UInt32 = 0xC3D2_E1F0
        var schedule = [UInt32](repeating: 0, count: 80)

        for blockStart in stride(from: 0, to: message.count, by: blockBytes) {
            // §6.1.2 step 1: the message schedule.
            MessageBlocks.loadWords(message, blockStart: blockStart, into: &schedule)
            for t in 16..<80 {
                schedule[t] = rotl(schedule[t - 3] ^ schedule[t - 8] ^ schedule[t - 14] ^ schedule[t - 16], 1)
            }
            // §6.1.2 steps 2-4, with the §4.1.1 functions and §4.2.1 constants.
            var a = h0, b = h1, c = h2, d = h3, e = h4
            for t in 0..<80 {
                let f: UInt32
                let k: UInt32
                switch t {
                case 0..<20:
                    f = (b & c) | (~b & d)
                    k = 0x5A82_7999
                case 20..<40:
                    f = b ^ c ^ d
                    k = 0x6ED9_EBA1
                case 40..<60:
                    f = (b & c) | (b & d) | (c & d)
                    k = 0x8F1B_BCDC
                default:
                    f = b ^ c ^ d
                    k = 0xCA62_C1D6
                }
                let temp = rotl(a, 5) &+ f &+ e &+ k &+ schedule[t]
                e = d
                d = c
                c = rotl(b, 30)
                b = a
                a = temp
            }
            h0 = h0 &+ a
            h1 = h1 &+ b
            h2 = h2 &+ c
            h3 = h3 &+ d
            h4 = h4 &+ e
        }

        var digest: [UInt8] = []
        digest.reserveCapacity(digestBytes)
        for word in [h0, h1, h2, h3, h4] {
            digest.append(UInt8(truncatingIfNeeded: word >> 24))
            digest.append(UInt8(truncatingIfNeeded: word >> 16))
            digest.append(UInt8(truncatingIfNeeded: word >> 8))
            digest.append(UInt8(truncatingIfNeeded: word))
        }
        return digest
    }

    private static func rotl(_ x: UInt32, _ n: UInt32) -> UInt32 {
        (x << n) | (x >> (32 - n))
    }
}
