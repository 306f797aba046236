import CURing
import Glibc

/// One io_uring instance, owned by exactly one thread (single issuer).
///
/// A `final class` rather than a `~Copyable` struct because a shard keeps
/// several rings in an array, and arrays need copyable elements; the
/// `struct io_uring` itself is heap-allocated so its address never moves
/// (liburing keeps pointers into it; NOTES.md "stable address").
///
/// Set-up flags (see Docs/IO_URING.md):
/// - `SINGLE_ISSUER`: only the shard thread submits — lets the kernel skip locking.
/// - `COOP_TASKRUN` + `TASKRUN_FLAG`: no IPIs to interrupt the loop; the kernel
///   raises `IORING_SQ_TASKRUN` when work is waiting, which the loop reads as
///   "not idle" before it blocks. `DEFER_TASKRUN` is avoided: with an
///   eventfd-driven multi-ring loop it stalled linked work (NOTES.md).
/// - `SUBMIT_ALL`: one bad SQE does not strand the rest of the batch.
/// - `CQSIZE`: a CQ four times the SQ absorbs multishot bursts without overflow.
public final class Ring {
    @usableFromInline let ring: UnsafeMutablePointer<io_uring>
    /// The ring's own descriptor (for fdinfo and diagnostics).
    public let descriptor: Int32
    public let submissionEntries: UInt32
    /// Times `nextSQE` found the SQ full and submitted early to make room.
    public private(set) var submissionQueueFullCount: UInt64 = 0
    @usableFromInline var reaped: UnsafeMutablePointer<UnsafeMutablePointer<io_uring_cqe>?>
    /// The kernel reads a timeout's timespec when the SQE is submitted, so
    /// it lives here until then (one timeout per submission; see `prepareTimeout`).
    @usableFromInline let timeoutStorage: UnsafeMutablePointer<__kernel_timespec>
    @usableFromInline let reapBatchMax: Int

    public struct SetupError: Error, CustomStringConvertible {
        public let description: String
    }

    public init(entries: UInt32, completionEntries: UInt32) throws {
        ring = .allocate(capacity: 1)
        ring.initialize(to: io_uring())
        var params = io_uring_params()
        params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG
            | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE
        params.cq_entries = completionEntries
        let result = io_uring_queue_init_params(entries, ring, &params)
        guard result == 0 else {
            ring.deallocate()
            throw SetupError(description: "io_uring_queue_init_params(\(entries)) failed: \(IOErrno(result: result))"
                + " — io_uring needs Linux ≥ 6.0 with io_uring enabled (sysctl kernel.io_uring_disabled=0)")
        }
        let required: [(UInt32, String)] = [
            (IORING_FEAT_NODROP, "IORING_FEAT_NODROP"),
            (IORING_FEAT_EXT_ARG, "IORING_FEAT_EXT_ARG"),
            (IORING_FEAT_FAST_POLL, "IORING_FEAT_FAST_POLL"),
        ]
        for (bit, name) in required where params.features & bit == 0 {
            io_uring_queue_exit(ring)
            ring.deallocate()
            throw SetupError(description: "the kernel's io_uring lacks \(name); Herald needs Linux ≥ 6.0")
        }
        descriptor = ring.pointee.ring_fd
        submissionEntries = entries
        reapBatchMax = Int(completionEntries)
        reaped = .allocate(capacity: Int(completionEntries))
        timeoutStorage = .allocate(capacity: 1)
        timeoutStorage.initialize(to: __kernel_timespec())
    }

    deinit {
        io_uring_queue_exit(ring)
        ring.deallocate()
        reaped.deallocate()
        timeoutStorage.deallocate()
    }

    // MARK: Submission

    /// A free SQE. When the SQ is full the pending batch is submitted first
    /// (counted), so a full SQ is a slower turn, never an error.
    @inlinable
    func nextSQE() -> UnsafeMutablePointer<io_uring_sqe> {
        if let sqe = io_uring_get_sqe(ring) { return sqe }
        noteFullSubmissionQueue()
        _ = io_uring_submit(ring)
        guard let sqe = io_uring_get_sqe(ring) else {
            // The kernel consumed the whole SQ in the submit above unless it
            // failed outright (EBUSY with a CQ overflow backlog): reap is
            // the caller's next step, so this is a programmer error to hit.
            preconditionFailure("io_uring SQ still full after submit")
        }
        return sqe
    }

    @usableFromInline func noteFullSubmissionQueue() { submissionQueueFullCount &+= 1 }

    /// Submits everything queued; returns SQEs consumed or a negative errno.
    @discardableResult
    public func submit() -> Int32 { io_uring_submit(ring) }

    /// Submits and blocks until at least one completion or `timeoutNanoseconds`.
    /// Uses `IORING_ENTER_EXT_ARG` (no timeout SQE needed).
    public func submitAndWait(timeoutNanoseconds: UInt64?) {
        guard let timeoutNanoseconds else {
            _ = io_uring_submit_and_wait(ring, 1)
            return
        }
        var timeout = __kernel_timespec(tv_sec: Int64(timeoutNanoseconds / 1_000_000_000),
                                        tv_nsec: Int64(timeoutNanoseconds % 1_000_000_000))
        var cqe: UnsafeMutablePointer<io_uring_cqe>?
        _ = io_uring_submit_and_wait_timeout(ring, &cqe, 1, &timeout, nil)
    }

    /// SQEs queued but not yet submitted.
    public var pendingSubmissions: UInt32 { io_uring_sq_ready(ring) }

    /// True when the kernel has task work queued for this ring (completions
    /// that need a kernel transition to post): the loop must not block.
    public var hasPendingTaskWork: Bool {
        herald_sq_kflags(ring) & IORING_SQ_TASKRUN != 0
    }

    public var hasCompletions: Bool { io_uring_cq_ready(ring) > 0 }

    // MARK: Completion

    /// Copies up to `into.count` ready completions out of the CQ and advances
    /// it, so handlers run on a stable batch and can submit freely.
    @inlinable
    public func reap(into batch: UnsafeMutableBufferPointer<Completion>) -> Int {
        let count = Int(io_uring_peek_batch_cqe(ring, reaped, UInt32(min(batch.count, reapBatchMax))))
        for slot in 0..<count {
            // Safe: peek_batch_cqe filled `count` valid pointers.
            let cqe = reaped[slot]!.pointee
            batch[slot] = Completion(userData: UserData(rawValue: cqe.user_data), result: cqe.res, flags: cqe.flags)
        }
        io_uring_cq_advance(ring, UInt32(count))
        return count
    }

    // MARK: Registration

    /// A sparse registered file table: connections accepted as direct
    /// descriptors live here, never in the process fd table (NOTES.md).
    public func registerSparseFiles(count: UInt32) throws {
        let result = io_uring_register_files_sparse(ring, count)
        guard result == 0 else {
            throw SetupError(description: "registering a \(count)-entry file table failed: \(IOErrno(result: result))")
        }
    }

    /// Signals `eventDescriptor` whenever this ring posts a completion; a
    /// shard's secondary rings use it to wake the primary one.
    public func registerCompletionEventDescriptor(_ eventDescriptor: Int32) throws {
        let result = io_uring_register_eventfd(ring, eventDescriptor)
        guard result == 0 else {
            throw SetupError(description: "io_uring_register_eventfd failed: \(IOErrno(result: result))")
        }
    }

    /// Registers the ring fd itself so each `io_uring_enter` skips an fd lookup.
    public func registerRingDescriptor() {
        _ = io_uring_register_ring_fd(ring)
    }

    @usableFromInline var raw: UnsafeMutablePointer<io_uring> { ring }
}
