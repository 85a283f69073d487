//! A global allocator that counts the work a hostile input causes: the
//! largest single allocation, the bytes allocated in all, and the peak of
//! bytes live at once. The hostile-input tests bound these by formulas of
//! the input's size instead of timing the code.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts every allocation request, then passes it to `System`.
pub(crate) struct Counting;

static LARGEST: AtomicUsize = AtomicUsize::new(0);
static TOTAL: AtomicUsize = AtomicUsize::new(0);
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn allocated(size: usize) {
    LARGEST.fetch_max(size, Ordering::Relaxed);
    TOTAL.fetch_add(size, Ordering::Relaxed);
    let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

fn freed(size: usize) {
    LIVE.fetch_sub(size, Ordering::Relaxed);
}

// SAFETY: every call is passed unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the counters have no effect on the memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        allocated(layout.size());
        // SAFETY: the caller's guarantees for `layout` are `System`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        allocated(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // A reallocation counts as a new block of `new_size` bytes.
        allocated(new_size);
        freed(layout.size());
        // SAFETY: `ptr` came from this allocator with `layout`, and the
        // caller's guarantees for `new_size` are `System`'s.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        freed(layout.size());
        // SAFETY: `ptr` came from `System.alloc` with this `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// What a closure allocated while it ran (every thread counts: a test
/// binary runs one such closure at a time).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Allocations {
    /// The largest single allocation request, in bytes.
    pub(crate) largest_bytes: usize,
    /// The sum of all allocation requests, in bytes.
    pub(crate) total_bytes: usize,
    /// The most bytes live at once above what was live at the start.
    pub(crate) peak_bytes: usize,
}

/// Runs `decode` and returns whether it failed and what it allocated.
pub(crate) fn allocations(decode: impl FnOnce() -> bool) -> (bool, Allocations) {
    let base = LIVE.load(Ordering::Relaxed);
    LARGEST.store(0, Ordering::Relaxed);
    TOTAL.store(0, Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let failed = decode();
    let seen = Allocations {
        largest_bytes: LARGEST.load(Ordering::Relaxed),
        total_bytes: TOTAL.load(Ordering::Relaxed),
        peak_bytes: PEAK.load(Ordering::Relaxed).saturating_sub(base),
    };
    (failed, seen)
}
