/// What one `FrameDecoder.next` call found.
///
/// Not `Sendable`: `.payload` points into the caller's receive buffer, which
/// is only valid until the caller recycles it.
public enum FrameEvent {
    /// Everything handed in was consumed; partial header bytes (at most 13)
    /// are kept inside the decoder, so the caller may discard its input.
    case needMore
    /// A complete header was parsed and passed every RFC 6455 §5 check.
    case frameStart(FrameHeader)
    /// Unmasked payload bytes, a slice of the caller's buffer. `frameComplete`
    /// is true on the frame's last chunk; a zero-length frame yields one empty
    /// chunk with `frameComplete == true`.
    case payload(UnsafeMutableRawBufferPointer, frameComplete: Bool)
    /// A protocol violation; the connection must close with this code. The
    /// decoder stays failed.
    case failure(CloseCode)
}
