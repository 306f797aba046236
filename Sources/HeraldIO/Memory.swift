import CURing
import Glibc

/// Heap memory: blocks straight from malloc, and returning freed memory
/// to the kernel.
///
/// glibc keeps freed small blocks in its arenas (one per thread that ever
/// allocated, so one per shard) and only trims the top of the main heap by
/// itself; a flood that filled send queues with reply frames would leave
/// its resident memory behind long after the frames were freed.
/// `malloc_trim(0)` walks every arena and `madvise(MADV_DONTNEED)`s each
/// free page, wherever it is (glibc ≥ 2.8).
public enum Memory {
    /// `byteCount` bytes from malloc, aligned to 16 (glibc's malloc
    /// alignment on x86-64 and arm64). For blocks made and freed per
    /// message: Swift's `allocate` asks its runtime for 16-byte alignment,
    /// which on Linux goes through `posix_memalign`, dearer than malloc
    /// (the two blocks of each publish cost 111 instructions less from
    /// malloc; callgrind, issue 12). Freed with `deallocate`, never with
    /// Swift's.
    @inline(__always)
    public static func allocate(byteCount: Int) -> UnsafeMutableRawPointer {
        guard let block = malloc(max(byteCount, 1)) else { fatalError("out of memory: malloc(\(byteCount)) failed") }
        return block
    }

    /// Frees a block from `allocate`.
    @inline(__always)
    public static func deallocate(_ block: UnsafeMutableRawPointer) {
        free(block)
    }

    /// Gives every whole free page of every arena back to the kernel;
    /// true when some memory was released.
    @discardableResult
    public static func releaseFreePages() -> Bool {
        herald_malloc_trim(0) != 0
    }
}
