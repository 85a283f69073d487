//! The one place this crate uses `unsafe`: memory-mapping a real file.
//!
//! # Safety argument
//!
//! `memmap2::Mmap::map` is unsafe because the bytes behind the `&[u8]` it
//! hands out live in a file, which can change or shrink while the slice is
//! alive. The view is handed out as [`Bytes`], immutable bytes, so it is
//! sound only while:
//!
//! 1. **the file is not shrunk below the mapped length** while any clone of
//!    the view is alive. A read of a mapped page past the end of the file
//!    raises `SIGBUS` and kills the process. Within this process the crate
//!    enforces it: the view holds a lease on its length in the file's
//!    [`Views`](crate::views::Views) until its last clone is dropped, and
//!    every call of this crate that can shrink a file (`File::set_len`,
//!    `OpenMode::Truncate`) checks the leases under the same lock and fails
//!    with [`Error::ViewAlive`](crate::Error::ViewAlive) instead. Renaming
//!    over or removing a mapped file is harmless: the mapping keeps the old
//!    file's bytes.
//!
//!    What this crate cannot see, it cannot stop. As with LMDB, whose map
//!    has the same hazard and whose lock file is the guard every process
//!    is expected to honour, another process truncating the file, or this
//!    process truncating it through `std::fs` rather than `vfs`, still turns
//!    a read of the view into `SIGBUS`. The engines hold their lock file (`Fs::lock`)
//!    for as long as they have a directory open, so other engine processes
//!    stay out; a process that ignores the lock file can crash them. So can
//!    the device: a read error while paging in a mapped page raises `SIGBUS`
//!    where `read_at` would return `EIO`.
//! 2. **bytes a reader can reach are not rewritten** while the view is alive:
//!    Rust lets the compiler assume the bytes behind a `&[u8]` do not change,
//!    so a `File::write_all_at` inside a view's range, by this or another
//!    process, is outside the language's rules, not merely a torn read. The
//!    crate does not enforce this (it cannot know which bytes a reader will
//!    reach; a copy-on-write tree rightly rewrites pages no reader can reach
//!    any more). The engines keep it by construction: a copy-on-write tree
//!    never overwrites a page that a live snapshot references, an SSTable is
//!    immutable once written, and a log is only appended to. Checksums are
//!    no part of this argument: they find damage at rest, they cannot make a
//!    change under a live reference sound.
#![allow(unsafe_code)]

use std::fs;
use std::sync::Arc;

use bytes::Bytes;

use crate::Access;

/// A memory map and what must outlive it.
struct Mapped<L: Lease> {
    /// `None` only once dropped: unmapped inside the lease's release.
    map: Option<memmap2::Mmap>,
    lease: L,
}

/// What a view holds on its file's length (see the module doc, point 1).
pub(crate) trait Lease: Send + Sync + 'static {
    /// Runs `unmap`, then gives the lease up, as one step for every check
    /// of the leases: in between, a deleted file's inode may be free and
    /// taken by a new file, whose truncation the stale lease must not
    /// refuse.
    fn unmap_then_release(&mut self, unmap: &mut dyn FnMut());
}

impl<L: Lease> Drop for Mapped<L> {
    fn drop(&mut self) {
        let map = &mut self.map;
        self.lease.unmap_then_release(&mut || drop(map.take()));
    }
}

/// The owner a view's [`Bytes`] hold: one map shared with the
/// [`Advise`] handle of its [`View`](crate::View), so a prefetch can name
/// the map's pages while any clone of the bytes keeps it alive.
struct Shared<L: Lease>(Arc<Mapped<L>>);

impl<L: Lease> AsRef<[u8]> for Shared<L> {
    fn as_ref(&self) -> &[u8] {
        self.0.map.as_deref().unwrap_or_default()
    }
}

/// Advice on ranges of one live map (`madvise`). Only advice that cannot
/// change the bytes a reader sees is offered (memmap2's safe `Advice`).
pub(crate) trait Advise: Send + Sync {
    /// Asks the kernel to read `len` bytes at `offset` into the page cache
    /// now (`MADV_WILLNEED`; the start is rounded down to a page). The
    /// caller keeps `offset + len` within the map.
    fn will_need(&self, offset: usize, len: usize) -> std::io::Result<()>;
}

impl<L: Lease> Advise for Mapped<L> {
    fn will_need(&self, offset: usize, len: usize) -> std::io::Result<()> {
        let Some(map) = &self.map else {
            return Ok(());
        };
        // Safe advice: WILLNEED starts reads, it never changes a mapped byte.
        map.advise_range(memmap2::Advice::WillNeed, offset, len)
    }
}

/// Maps `file` read-only and shared, `len` bytes long, advised for
/// `access`. `lease` is given up when the last clone of the view and the
/// returned [`Advise`] handle are dropped, with the unmap
/// ([`Lease::unmap_then_release`]). An empty file
/// has no map and no handle.
///
/// The caller must hold, from the moment it read `len` until `lease` is
/// dropped, whatever keeps this crate from shrinking the file below `len`
/// (see the module doc, point 1).
pub(crate) fn map<L: Lease>(
    file: &fs::File,
    len: u64,
    lease: L,
    access: Access,
) -> std::io::Result<(Bytes, Option<Arc<dyn Advise>>)> {
    if len == 0 {
        // A zero-length mapping is an error on Linux (`EINVAL`), and an empty
        // view has no byte a truncation could take away.
        return Ok((Bytes::new(), None));
    }
    let len = usize::try_from(len)
        .map_err(|_| std::io::Error::other(format!("file of {len} bytes is too large to map")))?;
    // SAFETY: point 1 of the module doc holds within this process: the
    // caller registered `len` (`lease`) in the file's views under the lock
    // every shrink of this crate takes, so none cuts the file below `len`
    // until the lease is given up, which `Mapped` does only after unmapping.
    // Other processes, and point 2, are the contract `File::map` states.
    let map = unsafe { memmap2::MmapOptions::new().len(len).map(file)? };
    // Safe advice: RANDOM and SEQUENTIAL only tune the kernel's readahead
    // for faults on this map; the bytes read are the same.
    match access {
        Access::Default => {}
        Access::Random => map.advise(memmap2::Advice::Random)?,
        Access::Sequential => map.advise(memmap2::Advice::Sequential)?,
    }
    let shared = Arc::new(Mapped {
        map: Some(map),
        lease,
    });
    let advise: Arc<dyn Advise> = shared.clone();
    Ok((Bytes::from_owner(Shared(shared)), Some(advise)))
}
