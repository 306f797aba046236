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
    /// `io_uring_enter` calls that failed, and the last errno. EBUSY and
    /// EAGAIN (a CQ overflow backlog, or no memory for requests) are states:
    /// the SQEs stay queued and go out after the next reap.
    public private(set) var submitErrorCount: UInt64 = 0
    public private(set) var lastSubmitError: IOErrno?
    /// SQEs prepared while the SQ was full and the kernel would not take a
    /// submit (TigerBeetle's overflow queue): kept in order here, moved into
    /// the SQ by the next `submit`. Grows by doubling; bounded by what one
    /// loop turn prepares (each connection issues at most a few SQEs a turn).
    @usableFromInline var overflow: UnsafeMutablePointer<io_uring_sqe>
    @usableFromInline var overflowCount = 0
    @usableFromInline var overflowCapacity = 64
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
        overflow = .allocate(capacity: overflowCapacity)
    }

    deinit {
        io_uring_queue_exit(ring)
        ring.deallocate()
        reaped.deallocate()
        timeoutStorage.deallocate()
        overflow.deallocate()
    }

    // MARK: Submission

    /// A free SQE. When the SQ is full the pending batch is submitted first
    /// (counted); when even that leaves no room (the kernel refused the
    /// submit, e.g. EBUSY while completions back up), the SQE goes to the
    /// overflow queue. A full SQ is a slower turn, never a crash.
    @inlinable
    func nextSQE() -> UnsafeMutablePointer<io_uring_sqe> {
        if overflowCount == 0 {
            if let sqe = io_uring_get_sqe(ring) { return sqe }
            noteFullSubmissionQueue()
            _ = enter()
            if let sqe = io_uring_get_sqe(ring) { return sqe }
        }
        return overflowSQE()
    }

    @usableFromInline func noteFullSubmissionQueue() { submissionQueueFullCount &+= 1 }

    /// A zeroed slot at the end of the overflow queue.
    @usableFromInline func overflowSQE() -> UnsafeMutablePointer<io_uring_sqe> {
        if overflowCount == overflowCapacity {
            let grown = UnsafeMutablePointer<io_uring_sqe>.allocate(capacity: overflowCapacity * 2)
            grown.moveInitialize(from: overflow, count: overflowCount)
            overflow.deallocate()
            overflow = grown
            overflowCapacity *= 2
        }
        // Safe: overflowCount < overflowCapacity after the growth above.
        let sqe = overflow + overflowCount
        sqe.initialize(to: io_uring_sqe())
        overflowCount += 1
        return sqe
    }

    /// Moves overflowed SQEs, oldest first, into free SQ entries.
    @usableFromInline func moveOverflow() {
        var moved = 0
        while moved < overflowCount, let sqe = io_uring_get_sqe(ring) {
            sqe.pointee = overflow[moved]
            moved += 1
        }
        guard moved > 0 else { return }
        let rest = overflowCount - moved
        if rest > 0 { overflow.update(from: overflow + moved, count: rest) }
        overflowCount = rest
    }

    /// One `io_uring_submit`, EINTR retried; failures counted.
    @usableFromInline func enter() -> Int32 {
        var result = io_uring_submit(ring)
        if result == -EINTR { result = io_uring_submit(ring) }
        if result < 0 {
            submitErrorCount &+= 1
            lastSubmitError = IOErrno(result: result)
        }
        return result
    }

    /// Submits everything queued, the overflow queue included; returns SQEs
    /// consumed by the last call or a negative errno (then counted, and the
    /// SQEs stay queued for the next turn).
    @discardableResult
    public func submit() -> Int32 {
        moveOverflow()
        var result = enter()
        while overflowCount > 0 && result > 0 {
            moveOverflow()
            result = enter()
        }
        return result
    }

    /// Submits and blocks until at least one completion or `timeoutNanoseconds`.
    /// Uses `IORING_ENTER_EXT_ARG` (no timeout SQE needed).
    public func submitAndWait(timeoutNanoseconds: UInt64?) {
        if overflowCount > 0 { submit() }
        guard let timeoutNanoseconds else {
            _ = io_uring_submit_and_wait(ring, 1)
            return
        }
        var timeout = __kernel_timespec(tv_sec: Int64(timeoutNanoseconds / 1_000_000_000),
                                        tv_nsec: Int64(timeoutNanoseconds % 1_000_000_000))
        var cqe: UnsafeMutablePointer<io_uring_cqe>?
        _ = io_uring_submit_and_wait_timeout(ring, &cqe, 1, &timeout, nil)
    }

    /// SQEs queued but not yet submitted (the overflow queue included).
    public var pendingSubmissions: UInt32 { io_uring_sq_ready(ring) + UInt32(overflowCount) }

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
