// The liburing shim: the one C header Herald imports (only HeraldIO imports it).
//
// Clean-build trap (see shared NOTES.md): liburing.h defines _XOPEN_SOURCE /
// _GNU_SOURCE before including glibc headers. Inside a Clang module that
// changes `fd_set`, and a clean build fails with "'fds_bits' ... is not present
// in definition of 'fd_set' in module 'SwiftGlibc'". Including the glibc
// headers first, exactly as SwiftGlibc sees them, avoids it.
#ifndef HERALD_CURING_SHIM_H
#define HERALD_CURING_SHIM_H

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/select.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/eventfd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <inttypes.h>
#include <time.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <malloc.h>
#include <liburing.h>

// IOSQE_* are macros over the *_BIT enum; Swift cannot import function-like
// or expression macros, so these re-export them as constants.
static const uint8_t herald_IOSQE_FIXED_FILE = IOSQE_FIXED_FILE;
static const uint8_t herald_IOSQE_IO_LINK = IOSQE_IO_LINK;
static const uint8_t herald_IOSQE_CQE_SKIP_SUCCESS = IOSQE_CQE_SKIP_SUCCESS;
static const uint8_t herald_IOSQE_BUFFER_SELECT = IOSQE_BUFFER_SELECT;

// IO_URING_READ_ONCE is a macro; the SQ flags word is written by the kernel
// (IORING_SQ_TASKRUN, IORING_SQ_CQ_OVERFLOW), so it must be read volatile.
static inline unsigned herald_sq_kflags(const struct io_uring *ring) {
    return __atomic_load_n(ring->sq.kflags, __ATOMIC_RELAXED);
}

// `io_uring_prep_accept_direct(..., IORING_FILE_INDEX_ALLOC)` in liburing 2.3
// adds one to the index and so wraps (NOTES.md); Herald picks the slot itself,
// and this sets `file_index` exactly as given (1-based in the SQE, per the
// kernel's io_accept_prep). No SOCK_CLOEXEC: the kernel rejects it with
// EINVAL for direct descriptors (they are never in the fd table to leak).
//
// `poll_first` sets IORING_ACCEPT_POLL_FIRST (Linux 6.10; liburing 2.3 has
// no name for it): the kernel arms a poll on the listener instead of trying
// the accept at once. A try on an empty queue is not free: the kernel builds
// a whole socket file (inode, dentry, file) before it learns the queue is
// empty, then frees it (do_accept in net/socket.c). Older kernels refuse the
// flag with EINVAL.
#define HERALD_ACCEPT_POLL_FIRST (1U << 2)
static inline void herald_prep_accept_direct_at(struct io_uring_sqe *sqe, int fd, unsigned slot, bool poll_first) {
    io_uring_prep_accept(sqe, fd, NULL, NULL, 0);
    sqe->file_index = slot + 1;
    if (poll_first) sqe->ioprio |= HERALD_ACCEPT_POLL_FIRST;
}

// The same, writing the peer's address (a single-shot accept owns its
// buffer until it completes).
static inline void herald_prep_accept_direct_at_address(struct io_uring_sqe *sqe, int fd, unsigned slot,
                                                        struct sockaddr *address, socklen_t *length,
                                                        bool poll_first) {
    io_uring_prep_accept(sqe, fd, address, length, 0);
    sqe->file_index = slot + 1;
    if (poll_first) sqe->ioprio |= HERALD_ACCEPT_POLL_FIRST;
}

// prctl is variadic and pthread_setname_np needs _GNU_SOURCE (which must not
// be defined for Swift, NOTES.md): a fixed-signature wrapper.
static inline void herald_set_thread_name(const char *name) {
    prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0);
}

// malloc.h is not part of Swift's Glibc module: the one call Herald needs
// (returning free arena pages after a flood, HeraldIO/Memory.swift).
static inline int herald_malloc_trim(size_t pad) { return malloc_trim(pad); }

// errno is a thread-local macro in glibc.
static inline int herald_errno(void) { return errno; }

#endif
