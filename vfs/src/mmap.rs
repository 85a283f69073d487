//! The one place this crate uses `unsafe`: memory-mapping a real file.
//!
//! # Safety argument
//!
//! `memmap2::Mmap::map` is unsafe because the mapped bytes can change or
//! vanish underneath a `&[u8]`: another writer can modify them, and a
//! truncation makes reads past the new end raise `SIGBUS`. The view is
//! handed out as [`Bytes`], i.e. as immutable bytes, so the contract that makes
//! this sound is the one [`File::map`](crate::File::map) states for callers:
//!
//! 1. the file is not truncated below the mapped length while any clone of
//!    the view is alive (the engines hold an exclusive lock file for as long
//!    as they have the directory open, and never shrink a file they map);
//! 2. bytes inside the view that a reader can reach are not rewritten while
//!    it can reach them (a copy-on-write tree never overwrites a page that a
//!    live snapshot references; an SSTable is immutable once written).
//!
//! A caller that breaks (2) reads torn bytes, which its checksums catch; one
//! that breaks (1) crashes the process. Neither can be prevented from inside
//! this crate, as with every memory-mapped database (LMDB, redb, bbolt).
#![allow(unsafe_code)]

use std::fs;

use bytes::Bytes;

/// Maps `file` read-only and shared, `len` bytes long.
pub(crate) fn map(file: &fs::File, len: u64) -> std::io::Result<Bytes> {
    if len == 0 {
        // A zero-length mapping is an error on Linux (`EINVAL`).
        return Ok(Bytes::new());
    }
    let len = usize::try_from(len)
        .map_err(|_| std::io::Error::other(format!("file of {len} bytes is too large to map")))?;
    // SAFETY: the caller keeps the contract in this module's doc: the file is
    // not truncated below `len` and reachable bytes are not rewritten while
    // the returned view is alive.
    let map = unsafe { memmap2::MmapOptions::new().len(len).map(file)? };
    Ok(Bytes::from_owner(map))
}
