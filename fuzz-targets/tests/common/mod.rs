//! A global allocator that records the largest single allocation, for the
//! hostile-input tests.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Records the largest single allocation request.
pub(crate) struct Largest;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the counter has no effect on the memory.
unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's guarantees for `layout` are `System`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Runs `decode` and returns whether it failed and the largest allocation
/// it made.
pub(crate) fn largest_allocation(decode: impl FnOnce() -> bool) -> (bool, usize) {
    LARGEST.store(0, Ordering::Relaxed);
    let failed = decode();
    (failed, LARGEST.load(Ordering::Relaxed))
}
