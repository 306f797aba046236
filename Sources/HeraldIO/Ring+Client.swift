import CURing
import Glibc

/// Client-side operations (the load generator plays a million clients): a
/// socket is created straight into the ring's file table (`IORING_OP_SOCKET`
/// direct, Linux ≥ 5.19), then connected and written through that fixed
/// file, so it never enters the process fd table (NOTES.md: 20,000 fds per
/// process). `linked` sets `IOSQE_IO_LINK`: the next SQE starts only after
/// this one succeeded, and is cancelled (`ECANCELED`) when it failed.
extension Ring {
    /// A TCP/IPv4 socket as direct descriptor `fileIndex` (chosen by the
    /// caller; liburing 2.3's `io_uring_prep_socket_direct` adds the kernel's
    /// 1-based offset itself for explicit indices — only `_ALLOC` is broken,
    /// NOTES.md). No SOCK_CLOEXEC: direct descriptors reject it (EINVAL).
    @inlinable
    public func prepareSocketDirect(fileIndex: UInt32, linked: Bool, userData: UserData) {
        let sqe = nextSQE()
        io_uring_prep_socket_direct(sqe, AF_INET, Int32(SOCK_STREAM.rawValue), 0, fileIndex, 0)
        if linked { sqe.pointee.flags |= herald_IOSQE_IO_LINK }
        sqe.pointee.user_data = userData.rawValue
    }

    /// `connect` on a direct descriptor. The kernel copies `address` when the
    /// SQE is prepared at submit time, but the caller keeps it alive for the
    /// whole run anyway (linked SQEs may be prepared later on some kernels).
    @inlinable
    public func prepareConnect(fixedFile: UInt32, address: UnsafePointer<sockaddr>, length: socklen_t,
                               linked: Bool, userData: UserData) {
        let sqe = nextSQE()
        io_uring_prep_connect(sqe, Int32(bitPattern: fixedFile), address, length)
        sqe.pointee.flags |= herald_IOSQE_FIXED_FILE
        if linked { sqe.pointee.flags |= herald_IOSQE_IO_LINK }
        sqe.pointee.user_data = userData.rawValue
    }

    /// One-shot poll on a direct descriptor: a client that stopped reading
    /// still learns when the server closes it (`POLLRDHUP`) without consuming
    /// the bytes queued on the socket.
    @inlinable
    public func preparePoll(fixedFile: UInt32, events: UInt32, userData: UserData) {
        let sqe = nextSQE()
        io_uring_prep_poll_add(sqe, Int32(bitPattern: fixedFile), events)
        sqe.pointee.flags |= herald_IOSQE_FIXED_FILE
        sqe.pointee.user_data = userData.rawValue
    }
}
