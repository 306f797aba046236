/// Base64 with the standard alphabet and padding (RFC 4648 §4).
public enum Base64 {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let padding = UInt8(ascii: "=")
    /// Marks bytes outside the alphabet in `decodeTable`.
    private static let notInAlphabet: UInt8 = 0xFF

    private static let decodeTable: [UInt8] = {
        var table = [UInt8](repeating: notInAlphabet, count: 256)
        for (value, symbol) in alphabet.enumerated() {
            table[Int(symbol)] = UInt8(value)
        }
        return table
    }()

    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        if let text = bytes.withContiguousStorageIfAvailable({ encode($0) }) { return text }
        return Array(bytes).withUnsafeBufferPointer { encode($0) }
    }

    /// Written straight into the String's storage: one allocation (none up
    /// to 15 characters). The accept value of every handshake comes here.
    public static func encode(_ input: UnsafeBufferPointer<UInt8>) -> String {
        alphabet.withUnsafeBufferPointer { alphabet in
            String(unsafeUninitializedCapacity: (input.count + 2) / 3 * 4) { out in
                func symbol(_ bits: UInt32) -> UInt8 { alphabet[Int(bits & 0x3F)] }
                var written = 0
                func put(_ symbol: UInt8) {
                    out[written] = symbol
                    written += 1
                }
                var index = 0
                while index + 3 <= input.count {
                    let group = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
                    put(symbol(group >> 18))
                    put(symbol(group >> 12))
                    put(symbol(group >> 6))
                    put(symbol(group))
                    index += 3
                }
                switch input.count - index {
                case 1:
                    let group = UInt32(input[index]) << 16
                    put(symbol(group >> 18))
                    put(symbol(group >> 12))
                    put(padding)
                    put(padding)
                case 2:
                    let group = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8
                    put(symbol(group >> 18))
                    put(symbol(group >> 12))
                    put(symbol(group >> 6))
                    put(padding)
                default:
                    break
                }
                return written
            }
        }
    }

    /// Strict decoding: the length must be a multiple of 4, padding is
    /// required, `=` may appear only at the end, no whitespace, and the
    /// unused bits before padding must be zero (RFC 4648 §3.5 permits
    /// rejecting them), so every byte string has exactly one accepted
    /// encoding. Returns nil otherwise.
    public static func decode(_ s: String) -> [UInt8]? {
        var s = s
        return s.withUTF8 { input in
            var out: [UInt8] = []
            out.reserveCapacity(input.count / 4 * 3)
            return decode(input, { out.append($0) }) ? out : nil
        }
    }

    /// How many bytes `input` decodes to under the rules of `decode`, nil
    /// when it is not such an encoding; decodes nothing into memory (the
    /// `Sec-WebSocket-Key` check of every handshake).
    public static func decodedCount(_ input: UnsafeBufferPointer<UInt8>) -> Int? {
        var count = 0
        return decode(input, { _ in count += 1 }) ? count : nil
    }

    /// The strict decoder: passes each decoded byte to `emit`; false (having
    /// emitted some) when `input` breaks a rule of `decode`.
    private static func decode(_ input: UnsafeBufferPointer<UInt8>, _ emit: (UInt8) -> Void) -> Bool {
        guard input.count % 4 == 0 else { return false }
        return decodeTable.withUnsafeBufferPointer { decodeTable in
            var index = 0
            while index < input.count {
                let isLast = index + 4 == input.count
                var group: UInt32 = 0
                var pads = 0
                for offset in 0..<4 {
                    let symbol = input[index + offset]
                    if symbol == padding {
                        // Only the last two positions of the last group may be padding.
                        guard isLast, offset >= 2 else { return false }
                        pads += 1
                        group <<= 6
                        continue
                    }
                    let value = decodeTable[Int(symbol)]
                    guard value != notInAlphabet, pads == 0 else { return false }
                    group = group << 6 | UInt32(value)
                }
                switch pads {
                case 0:
                    emit(UInt8(truncatingIfNeeded: group >> 16))
                    emit(UInt8(truncatingIfNeeded: group >> 8))
                    emit(UInt8(truncatingIfNeeded: group))
                case 1:
                    guard group & 0xFF == 0 else { return false }
                    emit(UInt8(truncatingIfNeeded: group >> 16))
                    emit(UInt8(truncatingIfNeeded: group >> 8))
                default:
                    guard group & 0xFFFF == 0 else { return false }
                    emit(UInt8(truncatingIfNeeded: group >> 16))
                }
                index += 4
            }
            return true
        }
    }
}
