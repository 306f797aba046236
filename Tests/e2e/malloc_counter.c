/*
 * LD_PRELOAD allocation counter for test_allocations.py.
 *
 * Counts every call into the C allocator (malloc, calloc, realloc and the
 * aligned variants Swift uses for alignment > 16) and writes the running
 * total to $HERALD_MALLOC_COUNT_FILE every 20 ms, so a test can read the
 * count of a live process between two phases of load. The real work is
 * forwarded to glibc's __libc_* entry points (dlsym would itself allocate).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static atomic_ullong allocations;

void *malloc(size_t size) {
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return __libc_malloc(size);
}

void *calloc(size_t count, size_t size) {
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return __libc_calloc(count, size);
}

void *realloc(void *pointer, size_t size) {
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return __libc_realloc(pointer, size);
}

void *memalign(size_t alignment, size_t size) {
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return __libc_memalign(alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size) {
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return __libc_memalign(alignment, size);
}

int posix_memalign(void **out, size_t alignment, size_t size) {
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    void *pointer = __libc_memalign(alignment, size);
    if (pointer == NULL) return ENOMEM;
    *out = pointer;
    return 0;
}

/* Plain syscalls and a stack buffer: the reporter must not allocate, or it
 * would count itself. */
static void *reporter(void *path) {
    char temporary[4096];
    char line[32];
    snprintf(temporary, sizeof temporary, "%s.tmp", (const char *)path);
    for (;;) {
        int fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0) {
            int length = snprintf(line, sizeof line, "%llu\n", (unsigned long long)atomic_load(&allocations));
            if (write(fd, line, (size_t)length) == length) rename(temporary, (const char *)path);
            close(fd);
        }
        usleep(20000);
    }
    return NULL;
}

__attribute__((constructor)) static void start_reporter(void) {
    const char *path = getenv("HERALD_MALLOC_COUNT_FILE");
    if (path == NULL) return;
    pthread_t thread;
    pthread_create(&thread, NULL, reporter, strdup(path));
    pthread_detach(thread);
}
