/// The XOR masking transform of RFC 6455 §5.3, shared by the decoder
/// (unmasking client payloads in place) and `FrameEncoder.mask`.
///
/// `key` holds the four masking-key bytes in wire order, first byte in the
/// most significant bits (the value `UInt32(bigEndian:)` reads from the
/// frame). `offset` is the position of `bytes` within the payload: §5.3
/// masks octet i with key octet i mod 4, so a payload split across receive
/// buffers must resume at the right key byte.
@usableFromInline
enum FrameMask {
    /// Bytes handled per step of the wide loop.
    @usableFromInline
    static let wordBytes = 8

    @inlinable
    static func apply(_ bytes: UnsafeMutableRawBufferPointer, key: UInt32, offset: Int) {
        guard let base = bytes.baseAddress else { return }
        let count = bytes.count
        // Rotate the key so that its first byte is the one for bytes[0].
        let shift = UInt32(truncatingIfNeeded: (offset & 3) * 8)
        let rotated = shift == 0 ? key : (key << shift) | (key >> (32 - shift))
        // In memory order, so a native load XORed with it masks byte-wise
        // on any endianness; both halves equal, so UInt64's half order is moot.
        let memoryOrder = UInt64(truncatingIfNeeded: rotated.bigEndian)
        let wide = memoryOrder | (memoryOrder << 32)
        var index = 0
        // Safe: index + wordBytes ≤ count keeps every load inside `bytes`;
        // loadUnaligned/storeBytes have no alignment precondition (SE-0349).
        while count - index >= wordBytes {
            let word = base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            base.storeBytes(of: word ^ wide, toByteOffset: index, as: UInt64.self)
            index &+= wordBytes
        }
        // The tail starts at a multiple of 8 from the rotated key, so tail
        // byte j uses rotated key byte j mod 4.
        while index < count {
            let keyByte = UInt8(truncatingIfNeeded: rotated >> (24 - 8 * UInt32(truncatingIfNeeded: index & 3)))
            let byte = base.load(fromByteOffset: index, as: UInt8.self)
            base.storeBytes(of: byte ^ keyByte, toByteOffset: index, as: UInt8.self)
            index &+= 1
        }
    }
}
