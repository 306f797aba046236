import Glibc
import Testing

@testable import HeraldIO

/// An admin answer awaited without blocking: the last party to report
/// rings the eventfd, and the sum is read without waiting.
@Suite struct CountdownNotifyTests {
    @Test func theLastArrivalRingsTheEventfdAndPeekReadsTheSum() throws {
        let descriptor = try Socket.eventDescriptor()
        defer { Socket.close(descriptor) }
        let countdown = Countdown(count: 2, notifying: descriptor)
        #expect(countdown.peek() == (0, false))
        countdown.arrive(adding: 3)
        #expect(readEvent(descriptor) == nil)  // not yet: nothing to read
        #expect(countdown.peek() == (3, false))
        countdown.arrive(adding: 4)
        #expect(readEvent(descriptor) == 1)
        #expect(countdown.peek() == (7, true))
    }
}

/// An eventfd's count, read without blocking (nil while it is zero).
func readEvent(_ descriptor: Int32) -> UInt64? {
    var value: UInt64 = 0
    return Glibc.read(descriptor, &value, 8) == 8 ? value : nil
}
