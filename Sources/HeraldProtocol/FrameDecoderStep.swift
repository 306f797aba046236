/// The result of one `FrameDecoder.next` call: how many input bytes were
/// used and at most one event. The caller drops `consumed` bytes from the
/// front of its buffer and calls again until `.needMore` (or `.failure`).
public struct FrameDecoderStep {
    public var consumed: Int
    public var event: FrameEvent

    @inlinable
    public init(consumed: Int, event: FrameEvent) {
        self.consumed = consumed
        self.event = event
    }
}
