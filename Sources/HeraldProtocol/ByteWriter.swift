/// Fills a buffer whose size was computed beforehand, front to back (a
/// frame's payload built in place). Every write checks the room left: a
/// size computed wrong stops the process rather than writing past the end.
struct ByteWriter {
    private let buffer: UnsafeMutableRawBufferPointer
    private var offset = 0

    init(_ buffer: UnsafeMutableRawBufferPointer) {
        self.buffer = buffer
    }

    /// Whether every byte of the buffer has been written.
    var isFull: Bool { offset == buffer.count }

    mutating func write(_ byte: UInt8) {
        precondition(offset < buffer.count, "ByteWriter: write past the buffer's end")
        buffer[offset] = byte
        offset += 1
    }

    mutating func write(_ bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count <= buffer.count - offset, "ByteWriter: write past the buffer's end")
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        // Safe: room checked above; the source and the buffer are distinct allocations.
        (buffer.baseAddress! + offset).copyMemory(from: source, byteCount: bytes.count)
        offset += bytes.count
    }

    mutating func write(_ text: StaticString) {
        text.withUTF8Buffer { write(UnsafeRawBufferPointer($0)) }
    }

    /// `count` bytes written by `fill` on the stack, then appended to `out`
    /// in one copy: a short text of known length (an answer's head, a
    /// publish result) costs one append instead of one per piece. `fill`
    /// must write exactly `count` bytes; the process stops otherwise.
    @inline(__always)
    static func append(count: Int, to out: inout [UInt8], _ fill: (inout ByteWriter) -> Void) {
        withUnsafeTemporaryAllocation(byteCount: count, alignment: 1) { buffer in
            var writer = ByteWriter(buffer)
            fill(&writer)
            precondition(writer.isFull, "ByteWriter.append: the length must be computed exactly")
            out.append(contentsOf: UnsafeRawBufferPointer(buffer))
        }
    }
}
