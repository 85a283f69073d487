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
//! Pages of commits made with `Durability::None` are not written at once:
//! they wait in an [`Overlay`], an immutable map from page number to bytes
//! that each snapshot holds its own version of, and are written together
//! (once each) when the overlay outgrows its budget, at a durable commit or
//! at `Db::sync`. A page rewritten by a later commit before then (the root
//! and branches of every commit, the leaves a workload keeps changing) is
//! freed from the overlay without ever being written: redb and LMDB keep
//! dirty pages in memory the same way.
//!
//! # Concurrency
//!
//! A `View` is shared by every snapshot taken while it was current; the
//! bytes are immutable for them and the bitmap is atomic. An overlay is
//! never changed once a snapshot holds it: a commit copies the few nodes of
//! the radix tree it changes.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use crate::node::{Child, RawNode, RawValue, malformed, touch_lines};
use crate::page::{self, AUX_OFFSET, FIRST_DATA_PAGE, HEADER_BYTES, Kind, Limits};
use crate::{Error, Result};

/// The file's bytes as mapped, and which pages were verified.
struct View {
    bytes: Bytes,
    page_size: usize,
    file: PathBuf,
    verified: Box<[AtomicU64]>,
}

/// What a snapshot reads: the file's view, and the pages of non-durable
/// commits not written yet.
pub(crate) struct Mapping {
    view: Arc<View>,
    overlay: Overlay,
}

impl std::fmt::Debug for Mapping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mapping")
            .field("len", &self.view.bytes.len())
            .field("file", &self.view.file)
            .field("overlay_pages", &self.overlay.len)
            .finish()
    }
}

/// Bits of a page number each level of the overlay's radix tree takes.
const RADIX_BITS: u32 = 4;
const RADIX_FAN: usize = 1 << RADIX_BITS;

#[derive(Clone)]
enum RadixNode {
    Inner(Vec<Option<Arc<RadixNode>>>),
    Leaf(Vec<Option<Bytes>>),
}

/// Pages of non-durable commits not yet written to the file, by page
/// number (an overflow run under its first page): a persistent radix tree,
/// so a commit shares every node it does not change with the snapshots
/// before it.
#[derive(Clone, Default)]
pub(crate) struct Overlay {
    root: Option<Arc<RadixNode>>,
    /// Levels below the root: the tree holds page numbers below
    /// `16^(height + 1)`.
    height: u32,
    len: usize,
    bytes: usize,
}

impl Overlay {
    /// Pages (and runs) held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Bytes held.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    fn covers(&self, id: u64) -> bool {
        let bits = RADIX_BITS * (self.height + 1);
        bits >= 64 || id >> bits == 0
    }

    /// The bytes of page (or run) `id`, if held.
    pub(crate) fn get(&self, id: u64) -> Option<&Bytes> {
        if !self.covers(id) {
            return None;
        }
        let mut node = self.root.as_deref()?;
        let mut level = self.height;
        loop {
            let i = ((id >> (RADIX_BITS * level)) as usize) & (RADIX_FAN - 1);
            match node {
                RadixNode::Inner(children) => node = children[i].as_deref()?,
                RadixNode::Leaf(pages) => return pages[i].as_ref(),
            }
            level = level.checked_sub(1)?;
        }
    }

    /// Holds `bytes` as page (or run) `id`.
    pub(crate) fn insert(&mut self, id: u64, bytes: Bytes) {
        while !self.covers(id) {
            let mut children = vec![None; RADIX_FAN];
            children[0] = self.root.take();
            self.root = Some(Arc::new(RadixNode::Inner(children)));
            self.height += 1;
        }
        let height = self.height;
        let root = self.root.get_or_insert_with(|| Arc::new(new_node(height)));
        let added = bytes.len();
        if let Some(old) = slot(root, id, height).replace(bytes) {
            self.bytes -= old.len();
        } else {
            self.len += 1;
        }
        self.bytes += added;
    }

    /// Drops page (or run) `id`; returns whether it was held.
    pub(crate) fn remove(&mut self, id: u64) -> bool {
        if self.get(id).is_none() {
            return false;
        }
        let height = self.height;
        let Some(root) = self.root.as_mut() else {
            return false;
        };
        if let Some(old) = slot(root, id, height).take() {
            self.len -= 1;
            self.bytes -= old.len();
        }
        if self.len == 0 {
            *self = Overlay::default();
        }
        true
    }

    /// Every page held, in page order.
    pub(crate) fn pages(&self) -> Vec<(u64, Bytes)> {
        fn walk(node: &RadixNode, base: u64, level: u32, out: &mut Vec<(u64, Bytes)>) {
            let shift = RADIX_BITS * level;
            match node {
                RadixNode::Inner(children) => {
                    for (i, c) in children.iter().enumerate() {
                        if let Some(c) = c {
                            walk(c, base | ((i as u64) << shift), level - 1, out);
                        }
                    }
                }
                RadixNode::Leaf(pages) => {
                    for (i, p) in pages.iter().enumerate() {
                        if let Some(p) = p {
                            out.push((base | i as u64, p.clone()));
                        }
                    }
                }
            }
        }
        let mut out = Vec::with_capacity(self.len);
        if let Some(root) = &self.root {
            walk(root, 0, self.height, &mut out);
        }
        out
    }
}

fn new_node(level: u32) -> RadixNode {
    if level == 0 {
        RadixNode::Leaf(vec![None; RADIX_FAN])
    } else {
        RadixNode::Inner(vec![None; RADIX_FAN])
    }
}

/// The slot of page `id` in the tree under `node` (`level` levels below
/// it), copying the nodes on the way that a snapshot shares.
fn slot(node: &mut Arc<RadixNode>, id: u64, level: u32) -> &mut Option<Bytes> {
    let i = ((id >> (RADIX_BITS * level)) as usize) & (RADIX_FAN - 1);
    match Arc::make_mut(node) {
        RadixNode::Inner(children) => {
            let child = children[i].get_or_insert_with(|| Arc::new(new_node(level - 1)));
            slot(child, id, level - 1)
        }
        RadixNode::Leaf(pages) => &mut pages[i],
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
    /// Wraps a view, with no overlay; bits already verified in `previous`
    /// (a shorter view of the same file) carry over.
    pub(crate) fn new(
        bytes: Bytes,
        page_size: usize,
        file: &Path,
        previous: Option<&Mapping>,
    ) -> Mapping {
        Mapping {
            view: Arc::new(View::new(
                bytes,
                page_size,
                file,
                previous.map(|p| &*p.view),
            )),
            overlay: Overlay::default(),
        }
    }

    /// The same view with `overlay`.
    pub(crate) fn with_overlay(&self, overlay: Overlay) -> Mapping {
        Mapping {
            view: self.view.clone(),
            overlay,
        }
    }

    /// Pages not written to the file yet.
    pub(crate) fn overlay(&self) -> &Overlay {
        &self.overlay
    }

    pub(crate) fn page_size(&self) -> usize {
        self.view.page_size
    }

    pub(crate) fn file(&self) -> &Path {
        &self.view.file
    }

    /// Whole pages the view of the file covers.
    pub(crate) fn pages(&self) -> u64 {
        self.view.pages()
    }

    /// The raw bytes of pages `id..id + n` in the file's view (no checks).
    pub(crate) fn file_raw(&self, id: u64, n: u64) -> Option<&[u8]> {
        self.view.raw(id, n)
    }

    /// The raw bytes of pages `id..id + n` (no checks): a page or run the
    /// overlay holds, else the file's.
    pub(crate) fn raw(&self, id: u64, n: u64) -> Option<&[u8]> {
        self.fetch(id, n).map(|(b, _)| b)
    }

    /// The bytes of pages `id..id + n`, and whether they need no checksum
    /// check: held in the overlay (this process built them, as it builds the
    /// pages it writes) or verified in the view. One overlay lookup, none
    /// while the overlay is empty.
    fn fetch(&self, id: u64, n: u64) -> Option<(&[u8], bool)> {
        if self.overlay.len > 0
            && let Some(b) = self.overlay.get(id)
        {
            let end = usize::try_from(n).ok()?.checked_mul(self.view.page_size)?;
            return Some((b.get(..end)?, true));
        }
        Some((self.view.raw(id, n)?, self.view.is_verified(id)))
    }

    /// Shares the bytes of pages `id..id + n` without copying.
    pub(crate) fn share(&self, id: u64, n: u64) -> Option<Bytes> {
        match self.overlay.get(id) {
            Some(b) => {
                let end = usize::try_from(n).ok()?.checked_mul(self.view.page_size)?;
                (end <= b.len()).then(|| b.slice(..end))
            }
            None => self.view.share(id, n),
        }
    }

    pub(crate) fn mark_verified(&self, id: u64) {
        self.view.mark_verified(id);
    }

    fn check_id(&self, id: u64, page_count: u64) -> Result<()> {
        if !(FIRST_DATA_PAGE..page_count).contains(&id) {
            return Err(malformed(&self.view.file, id, "page number out of range"));
        }
        Ok(())
    }
}

impl View {
    fn new(bytes: Bytes, page_size: usize, file: &Path, previous: Option<&View>) -> View {
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
        View {
            bytes,
            page_size,
            file: file.to_path_buf(),
            verified,
        }
    }

    /// Whole pages the view covers.
    fn pages(&self) -> u64 {
        (self.bytes.len() / self.page_size) as u64
    }

    /// The raw bytes of pages `id..id + n` (no checks).
    fn raw(&self, id: u64, n: u64) -> Option<&[u8]> {
        let start = usize::try_from(id).ok()?.checked_mul(self.page_size)?;
        let end = start.checked_add(usize::try_from(n).ok()?.checked_mul(self.page_size)?)?;
        self.bytes.get(start..end)
    }

    /// Shares the bytes of pages `id..id + n` without copying.
    fn share(&self, id: u64, n: u64) -> Option<Bytes> {
        let sub = self.raw(id, n)?;
        Some(self.bytes.slice_ref(sub))
    }

    fn is_verified(&self, id: u64) -> bool {
        self.verified
            .get((id / 64) as usize)
            .is_some_and(|w| w.load(Ordering::Relaxed) & (1 << (id % 64)) != 0)
    }

    fn mark_verified(&self, id: u64) {
        if let Some(w) = self.verified.get((id / 64) as usize) {
            w.fetch_or(1 << (id % 64), Ordering::Relaxed);
        }
    }
}

/// Bytes at the start of a branch or leaf page fetched as soon as the page
/// is located: four cache lines.
const EARLY_TOUCH_BYTES: usize = 256;

impl Mapping {
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
        let file = &self.view.file;
        let (buf, verified) = self
            .fetch(id, 1)
            .ok_or_else(|| malformed(file, id, "page past the end of the file"))?;
        // The lines after the header, where a slot array of up to about 37
        // entries (a leaf's, with 100-byte values) lies: asked for with the
        // header, not after it. `RawNode::new` touches the rest it needs.
        touch_lines(&buf[..buf.len().min(EARLY_TOUCH_BYTES)]);
        let first_read = !verified;
        if first_read {
            verify(buf, file, id)?;
        }
        check_recorded_crc(buf, file, child)?;
        let node = RawNode::new(buf, file, id)?;
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
                let file = &self.view.file;
                let limits = Limits::new(self.view.page_size);
                let n = limits.run_pages(len);
                if id + n > page_count {
                    return Err(malformed(file, id, "overflow run past the last page"));
                }
                let (run, verified) = self
                    .fetch(id, n)
                    .ok_or_else(|| malformed(file, id, "overflow run past the end of the file"))?;
                if !verified {
                    if verify(run, file, id)? != Kind::Overflow {
                        return Err(malformed(file, id, "value points at a non-overflow page"));
                    }
                    self.mark_verified(id);
                }
                check_recorded_crc(run, file, Child { page: id, crc })?;
                if page::get_u64(run, AUX_OFFSET) != len {
                    return Err(malformed(
                        file,
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
    /// A slice of the overlay's pages is copied.
    pub(crate) fn to_bytes(&self, sub: &[u8]) -> Bytes {
        if sub.is_empty() {
            return Bytes::new();
        }
        let range = self.view.bytes.as_ptr_range();
        let inside = range.start <= sub.as_ptr() && sub.as_ptr_range().end <= range.end;
        if inside {
            self.view.bytes.slice_ref(sub)
        } else {
            Bytes::copy_from_slice(sub)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_versions_are_independent_and_list_pages_in_order() {
        let mut a = Overlay::default();
        let ids = [5u64, 2, 17, 300, 70_000, 1 << 40, 16];
        for &id in &ids {
            a.insert(id, Bytes::from(vec![id as u8; 8]));
        }
        let b = a.clone();
        a.insert(2, Bytes::from_static(b"replaced"));
        assert!(a.remove(300));
        assert!(!a.remove(301));
        assert!(!a.remove(u64::MAX));
        assert_eq!(a.get(2).map(|b| &b[..]), Some(&b"replaced"[..]));
        assert_eq!(b.get(2).map(|b| &b[..]), Some(&[2u8; 8][..]));
        assert!(a.get(300).is_none() && b.get(300).is_some());
        assert_eq!((a.len(), a.bytes()), (6, 48));
        assert_eq!((b.len(), b.bytes()), (7, 56));
        let mut sorted = ids.to_vec();
        sorted.sort_unstable();
        let listed: Vec<u64> = b.pages().into_iter().map(|(id, _)| id).collect();
        assert_eq!(listed, sorted);
        for id in sorted {
            a.remove(id);
        }
        assert_eq!((a.len(), a.bytes()), (0, 0));
        assert!(a.pages().is_empty() && a.get(5).is_none());
    }
}
