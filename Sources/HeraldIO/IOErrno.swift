import CURing
import Glibc

/// A typed errno (the idea of swift-system's `Errno`, without the dependency).
/// io_uring reports failures as `-errno` in `cqe.res`; `IOErrno(result:)`
/// turns that back into a value the engine can switch over.
public struct IOErrno: Error, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32

    public init(_ rawValue: Int32) { self.rawValue = rawValue }

    /// From a negative completion result.
    public init(result: Int32) { self.rawValue = -result }

    /// The calling thread's errno after a failed libc call.
    public static var current: IOErrno { IOErrno(herald_errno()) }

    public static let again = IOErrno(EAGAIN)
    public static let interrupted = IOErrno(EINTR)
    public static let noBuffers = IOErrno(ENOBUFS)
    public static let connectionReset = IOErrno(ECONNRESET)
    public static let brokenPipe = IOErrno(EPIPE)
    public static let canceled = IOErrno(ECANCELED)
    public static let timedOut = IOErrno(ETIME)
    public static let busy = IOErrno(EBUSY)
    public static let tooManyFiles = IOErrno(EMFILE)
    public static let fileTableFull = IOErrno(ENFILE)
    public static let badFile = IOErrno(EBADF)
    public static let invalid = IOErrno(EINVAL)
    public static let notFound = IOErrno(ENOENT)
    public static let alreadyInProgress = IOErrno(EALREADY)
    public static let notConnected = IOErrno(ENOTCONN)
    public static let connectionAborted = IOErrno(ECONNABORTED)
    public static let connectionRefused = IOErrno(ECONNREFUSED)
    public static let addressInUse = IOErrno(EADDRINUSE)
    public static let notSupported = IOErrno(EOPNOTSUPP)
    public static let noSystem = IOErrno(ENOSYS)

    /// Errors only a bug of ours can cause on a socket operation (a wrong
    /// descriptor, buffer, flag or opcode), never a peer: EBADF, EFAULT,
    /// EINVAL, ENOTSOCK, EOPNOTSUPP, EMSGSIZE, EDESTADDRREQ, EISCONN. They
    /// are logged loudly and counted, not taken for a peer going away.
    public var isProgrammerError: Bool {
        switch rawValue {
        case EBADF, EFAULT, EINVAL, ENOTSOCK, EOPNOTSUPP, EMSGSIZE, EDESTADDRREQ, EISCONN: true
        default: false
        }
    }

    public var description: String {
        guard let text = strerror(rawValue) else { return "errno \(rawValue)" }
        return String(cString: text) + " (errno \(rawValue))"
    }
}
