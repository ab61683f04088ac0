#if canImport(Glibc)
import CLibPQ
#endif

/// Process-wide allocator settings for a COPY-heavy run (the backfill calls it once at start).
package enum AllocatorTuning {
    /// glibc serves blocks above a moving threshold (128 KiB at first) with mmap and returns
    /// them with munmap on free, so each new page buffer, column buffer and compression output
    /// is fresh memory that the kernel faults in and zeroes again. A backfill frees and
    /// allocates such blocks all the time; keeping blocks up to 32 MiB in the heap (trimmed
    /// once 128 MiB at its top are free) saves that system time. Memory stays bounded: the
    /// same blocks are reused. Elsewhere than glibc this does nothing.
    package static func keepLargeBlocksInHeap() {
        #if canImport(Glibc)
        _ = mallopt(M_MMAP_THRESHOLD, 32 << 20)
        _ = mallopt(M_TRIM_THRESHOLD, 128 << 20)
        #endif
    }
}
