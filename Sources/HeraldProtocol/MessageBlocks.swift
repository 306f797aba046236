/// The message preparation SHA-1 and SHA-256 share (FIPS 180-4 §5.1.1,
/// §5.2.1, §6.1.2 step 1, §6.2.2 step 1): 64-byte blocks of big-endian words.
enum MessageBlocks {
    static let blockBytes = 64

    /// Appends 0x80, zeros to 56 mod 64, then the bit length as a 64-bit
    /// big-endian integer.
    static func padded(_ bytes: some Collection<UInt8>) -> [UInt8] {
        var message = [UInt8](bytes)
        let bitLength = UInt64(message.count) &* 8
        message.append(0x80)
        while message.count % blockBytes != blockBytes - 8 { message.append(0) }
        for shift in stride(from: 56, through: 0, by: -8) {
            message.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift)))
        }
        return message
    }

    /// Writes the block's 16 big-endian words into `schedule[0..<16]`.
    static func loadWords(_ message: [UInt8], blockStart: Int, into schedule: inout [UInt32]) {
        for t in 0..<16 {
            let i = blockStart + t * 4
            schedule[t] = UInt32(message[i]) << 24 | UInt32(message[i + 1]) << 16
                | UInt32(message[i + 2]) << 8 | UInt32(message[i + 3])
        }
    }
}
