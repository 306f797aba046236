import CZlib

/// Decompresses client messages sent with permessage-deflate. The server
/// always negotiates `client_no_context_takeover`, so each message inflates
/// from a fresh window and one inflater per ring serves all its connections —
/// no per-connection zlib state (which would cost ~40 KiB a connection).
public final class MessageInflater {
    private let stream: UnsafeMutablePointer<z_stream>
    private var output: UnsafeMutableRawBufferPointer

    public enum Failure: Error, Equatable {
        /// The inflated message is larger than allowed (close 1009).
        case tooLarge
        /// Not valid DEFLATE data (close 1007, RFC 7692 §8.2.2... a payload
        /// the endpoint cannot decode).
        case corrupt
    }

    public init() {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let result = herald_inflate_init_raw(stream, 15)
        precondition(result == Z_OK, "inflateInit2 failed: \(result)")
        output = .allocate(byteCount: 64 * 1024, alignment: 16)
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
        output.deallocate()
    }

    /// Inflates one whole message (all its frames' payloads concatenated).
    /// The returned buffer is valid until the next call.
    public func decompress(_ input: UnsafeRawBufferPointer, bytesMax: Int) -> Result<UnsafeRawBufferPointer, Failure> {
        inflateReset(stream)
        if output.count < bytesMax + 1 {
            output.deallocate()
            output = .allocate(byteCount: bytesMax + 1, alignment: 16)
        }
        // RFC 7692 §7.2.2: append 00 00 FF FF to the payload before inflating.
        let tail: [UInt8] = [0x00, 0x00, 0xFF, 0xFF]
        stream.pointee.next_out = output.baseAddress!.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_out = uInt(bytesMax + 1)
        for part in 0..<2 {
            let status: Int32 = part == 0
                ? feed(input)
                : tail.withUnsafeBytes { feed($0) }
            if status == Z_STREAM_END { break }
            guard status == Z_OK || status == Z_BUF_ERROR else { return .failure(.corrupt) }
            if stream.pointee.avail_out == 0 { return .failure(.tooLarge) }
        }
        let produced = bytesMax + 1 - Int(stream.pointee.avail_out)
        guard produced <= bytesMax else { return .failure(.tooLarge) }
        return .success(UnsafeRawBufferPointer(rebasing: output[0..<produced]))
    }

    private func feed(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        guard bytes.count > 0 else { return Z_OK }
        stream.pointee.next_in = UnsafeMutablePointer(mutating: bytes.baseAddress!.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(bytes.count)
        var status = Z_OK
        while stream.pointee.avail_in > 0 && stream.pointee.avail_out > 0 {
            status = inflate(stream, Z_SYNC_FLUSH)
            if status != Z_OK { break }
        }
        return status
    }
}
