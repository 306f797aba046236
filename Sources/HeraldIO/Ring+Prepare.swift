import CURing
import Glibc

/// The operations Herald issues. Each takes the `UserData` its completion
/// will carry; "fixed" descriptors are indices into the ring's file table.
extension Ring {
    /// Accepts one connection straight into file-table slot `fileIndex`
    /// (chosen by the caller, so slot index == file index; no
    /// IORING_FILE_INDEX_ALLOC and its liburing 2.3 off-by-one, NOTES.md).
    ///
    /// `pollFirst` (IORING_ACCEPT_POLL_FIRST, Linux 6.10+) waits for a
    /// connection before trying: a try on an empty queue builds and frees a
    /// whole socket file in the kernel. Older kernels complete it with
    /// EINVAL.
    @inlinable
    public func prepareAcceptDirect(listener: Int32, fileIndex: UInt32, pollFirst: Bool, userData: UserData) {
        let sqe = nextSQE()
        herald_prep_accept_direct_at(sqe, listener, fileIndex, pollFirst)
        sqe.pointee.user_data = userData.rawValue
    }

    /// The same, with the peer's address written to `address` (which must
    /// stay valid until the completion): direct descriptors have no
    /// getpeername, so this is where a connection's source is learnt.
    public func prepareAcceptDirect(listener: Int32, fileIndex: UInt32, address: PeerAddress, pollFirst: Bool,
                                    userData: UserData) {
        let sqe = nextSQE()
        address.length.pointee = socklen_t(MemoryLayout<sockaddr_storage>.size)
        herald_prep_accept_direct_at_address(sqe, listener, fileIndex,
                                             UnsafeMutableRawPointer(address.storage).assumingMemoryBound(to: sockaddr.self),
                                             address.length, pollFirst)
        sqe.pointee.user_data = userData.rawValue
    }

    /// Multishot receive into the provided-buffer group: one SQE serves the
    /// connection until it ends; an idle connection holds no buffer.
    @inlinable
    public func prepareReceiveMultishot(fixedFile: UInt32, bufferGroup: UInt16, userData: UserData) {
        let sqe = nextSQE()
        io_uring_prep_recv_multishot(sqe, Int32(bitPattern: fixedFile), nil, 0, 0)
        sqe.pointee.flags |= herald_IOSQE_FIXED_FILE | herald_IOSQE_BUFFER_SELECT
        sqe.pointee.buf_group = bufferGroup
        sqe.pointee.user_data = userData.rawValue
    }

    /// One `sendmsg` of a gathered iovec: several queued frames leave in one
    /// syscall-free submission. `MSG_NOSIGNAL`: a closed peer is EPIPE, never SIGPIPE.
    /// `MSG_DONTWAIT`: a socket with no room completes at once with EAGAIN
    /// (the kernel marks the request REQ_F_NOWAIT and never parks it on a
    /// poll), so a peer that stops reading never holds the message's iovecs;
    /// the caller waits for room with `preparePollOnce(…POLLOUT…)` instead.
    @inlinable
    public func prepareSendMessage(fixedFile: UInt32, message: UnsafePointer<msghdr>, userData: UserData) {
        let sqe = nextSQE()
        io_uring_prep_sendmsg(sqe, Int32(bitPattern: fixedFile), message, UInt32(MSG_NOSIGNAL | MSG_DONTWAIT))
        sqe.pointee.flags |= herald_IOSQE_FIXED_FILE
        sqe.pointee.user_data = userData.rawValue
    }

    /// Closes a direct descriptor and frees its file-table slot.
    @inlinable
    public func prepareCloseDirect(fileIndex: UInt32, userData: UserData) {
        let sqe = nextSQE()
        io_uring_prep_close_direct(sqe, fileIndex)
        sqe.pointee.user_data = userData.rawValue
    }

    /// `shutdown(how)` on a direct descriptor. The server half-closes with
    /// `SHUT_WR` (FIN after queued data, so a close frame is delivered before
    /// the TCP close); the load generator links it ahead of a close.
    @inlinable
    public func prepareShutdown(fixedFile: UInt32, how: Int32, linked: Bool = false, userData: UserData) {
        let sqe = nextSQE()
        io_uring_prep_shutdown(sqe, Int32(bitPattern: fixedFile), how)
        sqe.pointee.flags |= herald_IOSQE_FIXED_FILE
        if linked { sqe.pointee.flags |= herald_IOSQE_IO_LINK }
        sqe.pointee.user_data = userData.rawValue
    }

    /// `send` of one contiguous buffer on a direct descriptor, optionally the
    /// head of a link. The server uses it unlinked when a connection has one
    /// frame queued: cheaper than `sendmsg` (no msghdr/iovec import).
    /// `nonBlocking` adds `MSG_DONTWAIT` (see `prepareSendMessage`).
    @inlinable
    public func prepareSend(fixedFile: UInt32, bytes: UnsafeRawBufferPointer, linked: Bool, nonBlocking: Bool = false,
                            userData: UserData) {
        let sqe = nextSQE()
        let flags = nonBlocking ? MSG_NOSIGNAL | MSG_DONTWAIT : MSG_NOSIGNAL
        io_uring_prep_send(sqe, Int32(bitPattern: fixedFile), bytes.baseAddress, bytes.count, Int32(flags))
        sqe.pointee.flags |= herald_IOSQE_FIXED_FILE
        if linked { sqe.pointee.flags |= herald_IOSQE_IO_LINK }
        sqe.pointee.user_data = userData.rawValue
    }

    /// Cancels every request whose user_data equals `target`.
    @inlinable
    public func prepareCancel(target: UserData, userData: UserData) {
        let sqe = nextSQE()
        io_uring_prep_cancel64(sqe, target.rawValue, Int32(IORING_ASYNC_CANCEL_ALL))
        sqe.pointee.user_data = userData.rawValue
    }

    /// Cancels every request on a fixed file (all of a connection's I/O).
    @inlinable
    public func prepareCancelFixedFile(_ fixedFile: UInt32, userData: UserData) {
        let sqe = nextSQE()
        io_uring_prep_cancel_fd(sqe, Int32(bitPattern: fixedFile),
                                UInt32(IORING_ASYNC_CANCEL_ALL) | UInt32(IORING_ASYNC_CANCEL_FD_FIXED))
        sqe.pointee.user_data = userData.rawValue
    }

    /// A completion after `milliseconds` (a back-off without blocking the
    /// loop). At most one may be prepared per submission: the timespec is
    /// kept in the ring until the kernel reads it at submit.
    @inlinable
    public func prepareTimeout(milliseconds: UInt64, userData: UserData) {
        timeoutStorage.pointee = __kernel_timespec(tv_sec: Int64(milliseconds / 1000),
                                                   tv_nsec: Int64(milliseconds % 1000) * 1_000_000)
        let sqe = nextSQE()
        io_uring_prep_timeout(sqe, timeoutStorage, 0, 0)
        sqe.pointee.user_data = userData.rawValue
        submit()
    }

    /// One-shot `POLLOUT` on a direct descriptor: the server waits for room
    /// this way when a socket refused bytes, holding nothing but the poll
    /// itself (POLLERR and POLLHUP are always reported too).
    @inlinable
    public func preparePollWritable(fixedFile: UInt32, userData: UserData) {
        let sqe = nextSQE()
        io_uring_prep_poll_add(sqe, Int32(bitPattern: fixedFile), UInt32(POLLOUT))
        sqe.pointee.flags |= herald_IOSQE_FIXED_FILE
        sqe.pointee.user_data = userData.rawValue
    }

    /// Multishot readiness poll on a regular descriptor (an eventfd).
    @inlinable
    public func preparePollMultishot(descriptor: Int32, userData: UserData) {
        let sqe = nextSQE()
        io_uring_prep_poll_multishot(sqe, descriptor, UInt32(POLLIN))
        sqe.pointee.user_data = userData.rawValue
    }

    /// Plain receive into a caller buffer on a regular descriptor (admin listener).
    @inlinable
    public func prepareReceive(descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, userData: UserData) {
        let sqe = nextSQE()
        io_uring_prep_recv(sqe, descriptor, buffer.baseAddress, buffer.count, 0)
        sqe.pointee.user_data = userData.rawValue
    }

    /// Plain send on a regular descriptor (admin listener).
    @inlinable
    public func prepareSend(descriptor: Int32, bytes: UnsafeRawBufferPointer, userData: UserData) {
        let sqe = nextSQE()
        io_uring_prep_send(sqe, descriptor, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
        sqe.pointee.user_data = userData.rawValue
    }

    /// Accept into the process fd table (admin listener: few connections).
    @inlinable
    public func prepareAccept(listener: Int32, userData: UserData) {
        let sqe = nextSQE()
        io_uring_prep_accept(sqe, listener, nil, nil, Int32(SOCK_CLOEXEC.rawValue))
        sqe.pointee.user_data = userData.rawValue
    }

}
