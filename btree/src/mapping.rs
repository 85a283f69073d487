//! Verified page access over a read-only view of the file.
//!
//! The view comes from [`vfs::File::map`]: a shared memory map on a real
//! disk, a copy on a simulated one. Its safety argument lives in `vfs` (the
//! only crate with `unsafe`); this crate keeps its side of that contract: the
//! file is locked while open and never shrunk while mapped (compaction writes
//! a new file and renames it over), and a page reachable from a live
//! snapshot is never rewritten (see `freelist.rs`).
//!
//! Every page's checksum is checked the first time it is read through a view
//! and remembered in a bitmap, so hot pages cost one bit test, not a CRC.
//! Pages this process writes are marked verified as it writes them.
//!
//! # Concurrency
//!
//! A `Mapping` is shared by every snapshot taken while it was current; the
//! bytes are immutable for them and the bitmap is atomic.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use crate::node::{Child, RawNode, RawValue, malformed};
use crate::page::{self, AUX_OFFSET, FIRST_DATA_PAGE, HEADER_BYTES, Kind, Limits};
use crate::{Error, Result};

pub(crate) struct Mapping {
    bytes: Bytes,
    page_size: usize,
    file: PathBuf,
    verified: Box<[AtomicU64]>,
}

impl std::fmt::Debug for Mapping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mapping")
            .field("len", &self.bytes.len())
            .field("file", &self.file)
            .finish()
    }
}

/// Checks a page's (or overflow run's) checksum, number and kind.
pub(crate) fn verify(buf: &[u8], file: &Path, id: u64) -> Result<Kind> {
    let (expected, found) = page::checksums(buf);
    if expected != found {
        return Err(Error::Corruption {
            file: file.to_path_buf(),
            page: id,
            expected,
            found,
        });
    }
    if page::get_u64(buf, page::PAGE_ID_OFFSET) != id {
        return Err(malformed(file, id, "page holds another page's number"));
    }
    Kind::from_byte(buf[page::KIND_OFFSET]).ok_or_else(|| malformed(file, id, "unknown page kind"))
}

/// Checks that the page in `buf` (verified) is the one `child` refers to:
/// its stored CRC-32 is the one recorded for it, if one was.
pub(crate) fn check_recorded_crc(buf: &[u8], file: &Path, child: Child) -> Result<()> {
    let found = page::stored_crc(buf);
    match child.crc {
        Some(expected) if expected != found => Err(Error::Corruption {
            file: file.to_path_buf(),
            page: child.page,
            expected,
            found,
        }),
        _ => Ok(()),
    }
}

impl Mapping {
    /// Wraps a view; bits already verified in `previous` (a shorter view of
    /// the same file) carry over.
    pub(crate) fn new(
        bytes: Bytes,
        page_size: usize,
        file: &Path,
        previous: Option<&Mapping>,
    ) -> Mapping {
        let pages = bytes.len() / page_size;
        let words = pages.div_ceil(64);
        let verified: Box<[AtomicU64]> = (0..words)
            .map(|w| {
                let old = previous
                    .and_then(|p| p.verified.get(w))
                    .map_or(0, |a| a.load(Ordering::Relaxed));
                AtomicU64::new(old)
            })
            .collect();
        Mapping {
            bytes,
            page_size,
            file: file.to_path_buf(),
            verified,
        }
    }

    pub(crate) fn page_size(&self) -> usize {
        self.page_size
    }

    pub(crate) fn file(&self) -> &Path {
        &self.file
    }

    /// Whole pages the view covers.
    pub(crate) fn pages(&self) -> u64 {
        (self.bytes.len() / self.page_size) as u64
    }

    /// The raw bytes of pages `id..id + n` (no checks).
    pub(crate) fn raw(&self, id: u64, n: u64) -> Option<&[u8]> {
        let start = usize::try_from(id).ok()?.checked_mul(self.page_size)?;
        let end = start.checked_add(usize::try_from(n).ok()?.checked_mul(self.page_size)?)?;
        self.bytes.get(start..end)
    }

    /// Shares the bytes of pages `id..id + n` without copying.
    pub(crate) fn share(&self, id: u64, n: u64) -> Option<Bytes> {
        let sub = self.raw(id, n)?;
        Some(self.bytes.slice_ref(sub))
    }

    fn is_verified(&self, id: u64) -> bool {
        self.verified
            .get((id / 64) as usize)
            .is_some_and(|w| w.load(Ordering::Relaxed) & (1 << (id % 64)) != 0)
    }

    pub(crate) fn mark_verified(&self, id: u64) {
        if let Some(w) = self.verified.get((id / 64) as usize) {
            w.fetch_or(1 << (id % 64), Ordering::Relaxed);
        }
    }

    fn check_id(&self, id: u64, page_count: u64) -> Result<()> {
        if !(FIRST_DATA_PAGE..page_count).contains(&id) {
            return Err(malformed(&self.file, id, "page number out of range"));
        }
        Ok(())
    }

    /// Branch or leaf page `child` of a snapshot with `page_count` pages.
    ///
    /// # Errors
    ///
    /// [`Error::Corruption`] if the page's bytes fail its checksum, or if
    /// its checksum is not the one its parent (or the meta page) recorded
    /// for it: an older or another page's valid copy sits in its place
    /// (`expected` is the recorded CRC, `found` the page's). `Malformed` if
    /// its header or entries break the format.
    pub(crate) fn node(&self, child: Child, page_count: u64) -> Result<RawNode<'_>> {
        let id = child.page;
        self.check_id(id, page_count)?;
        let buf = self
            .raw(id, 1)
            .ok_or_else(|| malformed(&self.file, id, "page past the end of the file"))?;
        let first_read = !self.is_verified(id);
        if first_read {
            verify(buf, &self.file, id)?;
        }
        check_recorded_crc(buf, &self.file, child)?;
        let node = RawNode::new(buf, &self.file, id)?;
        if first_read {
            node.check_order()?;
            self.mark_verified(id);
        }
        Ok(node)
    }

    /// The bytes of a leaf value, reading its overflow run if it has one.
    pub(crate) fn value<'a>(&'a self, value: RawValue<'a>, page_count: u64) -> Result<&'a [u8]> {
        match value {
            RawValue::Inline(v) => Ok(v),
            RawValue::Overflow { page: id, len, crc } => {
                self.check_id(id, page_count)?;
                let limits = Limits::new(self.page_size);
                let n = limits.run_pages(len);
                if id + n > page_count {
                    return Err(malformed(&self.file, id, "overflow run past the last page"));
                }
                let run = self.raw(id, n).ok_or_else(|| {
                    malformed(&self.file, id, "overflow run past the end of the file")
                })?;
                if !self.is_verified(id) {
                    if verify(run, &self.file, id)? != Kind::Overflow {
                        return Err(malformed(
                            &self.file,
                            id,
                            "value points at a non-overflow page",
                        ));
                    }
                    self.mark_verified(id);
                }
                check_recorded_crc(run, &self.file, Child { page: id, crc })?;
                if page::get_u64(run, AUX_OFFSET) != len {
                    return Err(malformed(
                        &self.file,
                        id,
                        "overflow length differs from its leaf entry",
                    ));
                }
                Ok(&run[HEADER_BYTES..HEADER_BYTES + len as usize])
            }
        }
    }
}

impl Mapping {
    /// Shares `sub`, a slice of this view, as `Bytes` without copying.
    pub(crate) fn to_bytes(&self, sub: &[u8]) -> Bytes {
        if sub.is_empty() {
            return Bytes::new();
        }
        self.bytes.slice_ref(sub)
    }
}
