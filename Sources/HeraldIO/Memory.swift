import CURing

/// Returning freed heap memory to the kernel.
///
/// glibc keeps freed small blocks in its arenas (one per thread that ever
/// allocated, so one per shard) and only trims the top of the main heap by
/// itself; a flood that filled send queues with reply frames would leave
/// its resident memory behind long after the frames were freed.
/// `malloc_trim(0)` walks every arena and `madvise(MADV_DONTNEED)`s each
/// free page, wherever it is (glibc ≥ 2.8).
public enum Memory {
    /// Gives every whole free page of every arena back to the kernel;
    /// true when some memory was released.
    @discardableResult
    public static func releaseFreePages() -> Bool {
        herald_malloc_trim(0) != 0
    }
}
