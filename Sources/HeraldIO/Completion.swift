import CURing

/// One reaped CQE, copied out of the kernel-shared ring so handlers run after
/// the CQ has been advanced (TigerBeetle's "reap first, handle after").
public struct Completion: Sendable {
    public let userData: UserData
    /// Bytes or a new descriptor index on success, `-errno` on failure.
    public let result: Int32
    public let flags: UInt32

    @inlinable
    public init(userData: UserData, result: Int32, flags: UInt32) {
        self.userData = userData
        self.result = result
        self.flags = flags
    }

    /// More completions will follow for this (multishot) request.
    @inlinable public var hasMore: Bool { flags & IORING_CQE_F_MORE != 0 }

    /// The provided buffer the kernel picked, when it picked one.
    @inlinable public var bufferID: UInt16? {
        // Safe: the buffer id lives in the upper 16 bits of `flags`
        // (IORING_CQE_BUFFER_SHIFT) whenever IORING_CQE_F_BUFFER is set.
        flags & IORING_CQE_F_BUFFER != 0 ? UInt16(truncatingIfNeeded: flags >> IORING_CQE_BUFFER_SHIFT) : nil
    }

    @inlinable public var error: IOErrno? { result < 0 ? IOErrno(result: result) : nil }
}
