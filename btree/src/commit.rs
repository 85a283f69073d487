//! Commit: record freed pages, write every new page, then (if durable) sync,
//! write the next meta page and sync again; then publish the new snapshot.
//!
//! Crash argument: nothing the last durable meta page references is
//! overwritten (pages are reused only once freed before every live snapshot,
//! the durable one included), so until the new meta page is durable a crash
//! reopens the last durable commit. The meta page goes to the slot the
//! durable one is not in, so a torn meta write leaves the other slot whole;
//! its checksum tells which one to take.

use std::collections::HashMap;

use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::cursor::DEPTH_MAX;
use crate::db::{Inner, Snapshot, Writer};
use crate::mapping::{Mapping, Overlay};
use crate::meta::Meta;
use crate::node::{Child, Node, malformed};
use crate::write::WriteTxn;
use crate::{Durability, Result};

/// Adjacent pages are coalesced into one `write_all_at` up to this many
/// bytes. A trade-off measured on Linux 6.18 / ext4, which caches a write
/// as a folio of its size: with 1 MiB writes (large folios) later random
/// 4 KiB page rewrites and their writeback walk whole folios and random
/// inserts commit ~1.5x slower; with 4 KiB writes mapped reads were
/// ~1.5x slower. 16 KiB kept both near their best (`examples/insert_profile.rs`).
pub(crate) const WRITE_CHUNK_BYTES: usize = 16 * 1024;

/// A durable commit with at most this many pages written since the last
/// durable one (its own and those of the `Durability::None` commits before
/// it) writes them and its meta page under one sync; a larger one, or one
/// after the file grew, syncs its pages (and the file's new length) first,
/// so a meta page written under one sync never names pages past the end of
/// the file as the disk has it. One sync saves a disk flush per commit (redb's default
/// "1PC+C"), but a crash may then leave the meta page on disk without some
/// of the pages: open checks the pages stamped after the last durable commit
/// against the checksums their parents record (`recovery::verify_commit`),
/// reading each such page and the header of each of their children, so the
/// bound keeps that check to a few hundred page reads. 64 pages covers a
/// few single-key commits of a tree four levels deep.
pub(crate) const SINGLE_SYNC_PAGES_MAX: u64 = 64;

/// Makes `meta` (the last commit, whose pages are written) durable: with
/// one sync after the meta page if `one_sync` and few pages were written
/// since the last durable commit (see [`SINGLE_SYNC_PAGES_MAX`]), else with
/// a sync before it too. A durable commit passes `one_sync`; `Db::sync`
/// does not: it follows `Durability::None` commits (a bulk load), where one
/// flush more is nothing, and damage found later in the pages it made
/// durable is then reported as such instead of read as a torn commit.
pub(crate) fn make_durable(
    inner: &Inner,
    w: &mut Writer,
    meta: &Meta,
    one_sync: bool,
) -> Result<()> {
    if meta.txn <= w.durable_txn {
        return Ok(());
    }
    let ps = inner.limits.page_size;
    let mut meta = *meta;
    if one_sync && w.unsynced_pages <= SINGLE_SYNC_PAGES_MAX && !w.grown_since_sync {
        meta.synced_txn = w.durable_txn;
    } else {
        w.file.sync_data()?;
        meta.synced_txn = meta.txn;
    }
    let slot = w.durable_slot ^ 1;
    let mut buf = vec![0u8; ps];
    meta.encode(&mut buf, slot);
    // Odd while the meta page is written, for `Db::check` (recovery.rs).
    inner.meta_writes.fetch_add(1, Ordering::SeqCst);
    let written = w.file.write_all_at(&buf, slot * ps as u64);
    inner.meta_writes.fetch_add(1, Ordering::SeqCst);
    written?;
    w.file.sync_data()?;
    w.durable_txn = meta.txn;
    w.durable_slot = slot;
    w.unsynced_pages = 0;
    w.grown_since_sync = false;
    w.since_durable.clear();
    Ok(())
}

/// Writes `pages` (page number and bytes: a page, or an overflow run under
/// its first page), in page order, coalescing adjacent ones into writes of
/// up to [`WRITE_CHUNK_BYTES`].
pub(crate) fn write_pages(w: &mut Writer, page_size: usize, pages: &[(u64, Bytes)]) -> Result<()> {
    let bytes: usize = pages.iter().map(|(_, b)| b.len()).sum();
    w.unsynced_pages += (bytes / page_size) as u64;
    let mut buf: Vec<u8> = Vec::with_capacity(WRITE_CHUNK_BYTES);
    let mut start = 0u64;
    for (id, bytes) in pages {
        let next = start + (buf.len() / page_size) as u64;
        if !buf.is_empty() && (*id != next || buf.len() >= WRITE_CHUNK_BYTES) {
            w.file.write_all_at(&buf, start * page_size as u64)?;
            buf.clear();
        }
        if buf.is_empty() {
            start = *id;
        }
        buf.extend_from_slice(bytes);
    }
    if !buf.is_empty() {
        w.file.write_all_at(&buf, start * page_size as u64)?;
    }
    Ok(())
}

/// Writes the pages `snap`'s overlay holds (commits made with
/// `Durability::None`) to the file, and publishes `snap` again reading them
/// from there. Nothing to do without an overlay.
pub(crate) fn flush_overlay(inner: &Inner, w: &mut Writer, snap: &Arc<Snapshot>) -> Result<()> {
    let overlay = snap.map.overlay();
    if overlay.len() == 0 {
        return Ok(());
    }
    let ps = inner.limits.page_size;
    let pages = overlay.pages();
    write_pages(w, ps, &pages)?;
    let map = remap(inner, w, &snap.map, snap.meta.page_count)?;
    for (id, _) in &pages {
        map.mark_verified(*id);
    }
    inner.publish(Arc::new(Snapshot {
        meta: snap.meta,
        map,
        _lock: inner.lock.clone(),
    }));
    Ok(())
}

/// A mapping without overlay that shows every page below `page_count` as
/// written: `base`'s view if writes show through it and it covers them, else
/// a new one.
fn remap(inner: &Inner, w: &Writer, base: &Mapping, page_count: u64) -> Result<Arc<Mapping>> {
    Ok(Arc::new(
        if w.map_live == Some(true) && page_count <= base.pages() {
            base.with_overlay(Overlay::default())
        } else {
            Mapping::new(
                w.file.map_for(vfs::Access::Random)?.into_bytes(),
                inner.limits.page_size,
                &inner.path,
                Some(base),
            )
        },
    ))
}

/// Grows the file to hold `pages` pages, by at least an eighth of its
/// length so growth (and remapping) stays rare: about 30 steps from 64 MiB
/// to 2 GiB. The room grown into counts in the file's size on disk: by a
/// half each time, a file just grown was a third empty.
pub(crate) fn ensure_file_pages(w: &mut Writer, page_size: usize, pages: u64) -> Result<()> {
    if pages <= w.file_pages {
        return Ok(());
    }
    let target = pages.max(w.file_pages + w.file_pages / 8).max(16);
    w.file.set_len(target * page_size as u64)?;
    w.file_pages = target;
    w.grown_since_sync = true;
    Ok(())
}

/// Encoded pages of one commit, one slot per dirty node. Slots made
/// up front (in page order, for coalesced writes) are fixed; a buffer made
/// with [`PageBuf::growing`] adds a slot per page it is asked for, for the
/// named tables' trees, encoded before the catalogue records their roots.
pub(crate) struct PageBuf {
    page_size: usize,
    bytes: Vec<u8>,
    slots: HashMap<u64, usize>,
    grows: bool,
}

impl PageBuf {
    /// A buffer with one slot for each of `ids`, in that order.
    fn fixed(page_size: usize, ids: &[u64]) -> PageBuf {
        PageBuf {
            page_size,
            bytes: vec![0u8; ids.len() * page_size],
            slots: ids.iter().enumerate().map(|(i, &id)| (id, i)).collect(),
            grows: false,
        }
    }

    /// An empty buffer that makes a slot for each page asked for.
    pub(crate) fn growing(page_size: usize) -> PageBuf {
        PageBuf {
            page_size,
            bytes: Vec::new(),
            slots: HashMap::new(),
            grows: true,
        }
    }

    /// The page numbers this buffer holds.
    fn ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.slots.keys().copied()
    }

    /// The bytes of page `id`, if it has a slot.
    fn page(&self, id: u64) -> Option<&[u8]> {
        let at = *self.slots.get(&id)? * self.page_size;
        self.bytes.get(at..at + self.page_size)
    }

    /// The slot of page `id`, made if this buffer grows.
    fn page_mut(&mut self, id: u64) -> Option<&mut [u8]> {
        let slot = match self.slots.get(&id) {
            Some(&slot) => slot,
            None if self.grows => {
                let slot = self.slots.len();
                self.slots.insert(id, slot);
                self.bytes.resize((slot + 1) * self.page_size, 0);
                slot
            }
            None => return None,
        };
        let at = slot * self.page_size;
        self.bytes.get_mut(at..at + self.page_size)
    }
}

impl WriteTxn<'_> {
    fn unchanged(&self) -> bool {
        self.dirty.is_empty()
            && self.runs.is_empty()
            && self.written.is_empty()
            && self.alloc.is_untouched()
    }

    /// Commits: new readers see the changes once this returns `Ok`, and with
    /// [`Durability::Immediate`] they are durable. A transaction that
    /// deleted a persistent savepoint commits durably whatever its
    /// durability: the pages only the savepoint kept are reused from the
    /// next transaction on, so no commit a crash could return to may still
    /// name it.
    ///
    /// # Errors
    ///
    /// [`Error::Io`](crate::Error::Io) if a write or sync fails: the
    /// transaction is dropped, the database stays at the last commit (on
    /// disk: the last durable one, or this one if its meta page landed), and
    /// the handle's write side is poisoned ([`Error::Poisoned`](crate::Error::Poisoned)): reopen.
    pub fn commit(mut self) -> Result<()> {
        if self.savepoint_deleted {
            self.durability = Durability::Immediate;
        }
        if self.unchanged() {
            // Nothing to write, but a durable commit still promises that it
            // and every commit before it survive a crash.
            if self.durability == Durability::Immediate {
                let base = self.base.clone();
                let r = flush_overlay(self.db, &mut self.w, &base)
                    .and_then(|()| make_durable(self.db, &mut self.w, &base.meta, true));
                self.w.poisoned = r.is_err();
                return r;
            }
            return Ok(());
        }
        let r = self.commit_inner();
        // Pages may be written, and a meta page this handle does not know
        // about may reach the disk: later commits could overwrite what it
        // references. Only a reopen (which reads the meta pages) is safe.
        self.w.poisoned = r.is_err();
        r
    }

    /// Encodes dirty node `id` into its slot of `pages`, after its dirty
    /// children, so each branch entry records its child's CRC-32; returns
    /// the node's. Recursion is bounded by the tree's depth.
    fn encode_subtree(&mut self, id: u64, pages: &mut PageBuf, depth: usize) -> Result<u32> {
        if depth >= DEPTH_MAX {
            return Err(malformed(
                self.file_path(),
                id,
                "tree deeper than any valid tree",
            ));
        }
        // Taken out while its children are encoded; encoded once, as a
        // dirty child has exactly one parent.
        let Some(mut node) = self.dirty.remove(&id) else {
            return Err(malformed(self.file_path(), id, "page referenced twice"));
        };
        if let Node::Branch(es) = &mut node {
            for e in es.iter_mut() {
                if self.dirty.contains_key(&e.child) {
                    e.child_crc = Some(self.encode_subtree(e.child, pages, depth + 1)?);
                } else if e.child_crc.is_none() {
                    // A child of a format-1 page: record what it holds now.
                    e.child_crc = Some(self.clean_crc(e.child)?);
                }
            }
        }
        let txn = self.txn;
        let page = pages
            .page_mut(id)
            .ok_or_else(|| malformed(self.file_path(), id, "page not allocated by this commit"))?;
        Ok(node.encode(page, id, txn))
    }

    /// Encodes the root `root` of a tree and every dirty node below it;
    /// returns the root with its CRC-32.
    pub(crate) fn encode_tree(
        &mut self,
        root: Option<Child>,
        pages: &mut PageBuf,
    ) -> Result<Option<Child>> {
        let Some(root) = root else { return Ok(None) };
        let crc = if self.dirty.contains_key(&root.page) {
            self.encode_subtree(root.page, pages, 0)?
        } else {
            match root.crc {
                Some(crc) => crc,
                None => self.clean_crc(root.page)?,
            }
        };
        Ok(Some(Child {
            page: root.page,
            crc: Some(crc),
        }))
    }

    /// The meta page of this commit.
    fn meta(&self) -> Meta {
        Meta {
            txn: self.txn,
            page_size: self.db.limits.page_size as u32,
            root: self.root.map(|c| c.page),
            free_root: self.free_root.map(|c| c.page),
            root_crc: self.root.and_then(|c| c.crc),
            free_root_crc: self.free_root.and_then(|c| c.crc),
            catalog_root: self.catalog_root.map(|c| c.page),
            catalog_root_crc: self.catalog_root.and_then(|c| c.crc),
            savepoint_root: self.savepoint_root.map(|c| c.page),
            savepoint_root_crc: self.savepoint_root.and_then(|c| c.crc),
            page_count: self.alloc.page_count(),
            entry_count: self.len,
            // Set when the meta page is written (`make_durable`).
            synced_txn: self.txn,
        }
    }

    fn commit_inner(&mut self) -> Result<()> {
        let ps = self.db.limits.page_size;
        // Named tables first: their records in the catalogue hold their
        // roots' CRC-32s, and rewriting a record frees catalogue pages,
        // which the free tree then records.
        let mut table_pages = PageBuf::growing(ps);
        self.record_tables(&mut table_pages)?;
        self.record_frees()?;
        ensure_file_pages(&mut self.w, ps, self.alloc.page_count())?;

        // Encode the dirty nodes children first (a parent records its
        // children's checksums), each into its place in page order, then
        // write runs of adjacent pages at once.
        let mut ids: Vec<u64> = self
            .dirty
            .keys()
            .copied()
            .chain(table_pages.ids())
            .collect();
        ids.sort_unstable();
        let mut buf = PageBuf::fixed(ps, &ids);
        for id in table_pages.ids() {
            if let (Some(from), Some(to)) = (table_pages.page(id), buf.page_mut(id)) {
                to.copy_from_slice(from);
            }
        }
        drop(table_pages);
        self.root = self.encode_tree(self.root, &mut buf)?;
        self.free_root = self.encode_tree(self.free_root, &mut buf)?;
        self.catalog_root = self.encode_tree(self.catalog_root, &mut buf)?;
        self.savepoint_root = self.encode_tree(self.savepoint_root, &mut buf)?;
        // Every dirty node hangs below a root; encode any other as well, as
        // the pages were always written.
        while let Some(&id) = self.dirty.keys().next() {
            self.encode_subtree(id, &mut buf, 0)?;
        }
        let pages = buf.bytes;
        // Pages this commit freed are no longer the newest snapshot's: drop
        // them from its overlay (older snapshots keep theirs) unwritten.
        let mut overlay = self.base.map.overlay().clone();
        for &id in self.alloc.freed() {
            overlay.remove(id);
        }
        let new_bytes = pages.len() + self.runs.values().map(Vec::len).sum::<usize>();
        let budget = usize::try_from(self.db.options.write_buffer_bytes).unwrap_or(usize::MAX);
        if self.durability == Durability::None
            && overlay.bytes().saturating_add(new_bytes) <= budget
        {
            // Held in memory until the overlay fills or a sync: each page
            // copied out, so one kept page does not keep the whole buffer.
            for (i, &id) in ids.iter().enumerate() {
                overlay.insert(id, Bytes::copy_from_slice(&pages[i * ps..(i + 1) * ps]));
            }
            for (id, run) in std::mem::take(&mut self.runs) {
                overlay.insert(id, Bytes::from(run));
            }
            let meta = self.meta();
            let fresh = self.alloc.take_fresh();
            self.w.since_durable.extend(fresh);
            let map = Arc::new(self.base.map.with_overlay(overlay));
            self.db.publish(Arc::new(Snapshot {
                meta,
                map,
                _lock: self.db.lock.clone(),
            }));
            return Ok(());
        }
        // Write what the overlay holds first, then this commit's pages.
        write_pages(&mut self.w, ps, &overlay.pages())?;
        let flushed: Vec<u64> = overlay.pages().into_iter().map(|(id, _)| id).collect();
        let mut live_probe: Option<(u64, Vec<u8>)> = None;
        let mut run_start = 0;
        for (i, &id) in ids.iter().enumerate() {
            let page = &pages[i * ps..(i + 1) * ps];
            // A probe page must differ from what the view shows now: a page
            // rewritten with the same bytes (the same commit replayed after
            // a reopen lost it) would pass for "writes show through" on a
            // copied view, and later reads would see the copy's stale pages.
            if live_probe.is_none()
                && self.w.map_live.is_none()
                && id < self.base.map.pages()
                && self.base.map.file_raw(id, 1) != Some(page)
            {
                live_probe = Some((id, page.to_vec()));
            }
            let next_adjacent = ids.get(i + 1) == Some(&(id + 1));
            if !next_adjacent || (i + 1 - run_start) * ps >= WRITE_CHUNK_BYTES {
                let run = &pages[run_start * ps..(i + 1) * ps];
                self.w.file.write_all_at(run, ids[run_start] * ps as u64)?;
                run_start = i + 1;
            }
        }
        self.w.unsynced_pages += ids.len() as u64;
        let mut run_ids: Vec<u64> = Vec::with_capacity(self.runs.len());
        // Runs were sealed when made (`make_value`).
        for (&id, run) in self.runs.iter() {
            self.w.file.write_all_at(run, id * ps as u64)?;
            self.w.unsynced_pages += (run.len() / ps) as u64;
            run_ids.push(id);
        }

        let meta = self.meta();
        if self.durability == Durability::Immediate {
            make_durable(self.db, &mut self.w, &meta, true)?;
        } else {
            let fresh = self.alloc.take_fresh();
            self.w.since_durable.extend(fresh);
        }

        // Reuse the view if writes show through it and it covers every page.
        if self.w.map_live.is_none()
            && let Some((id, bytes)) = &live_probe
        {
            self.w.map_live = Some(self.base.map.file_raw(*id, 1) == Some(&bytes[..]));
        }
        let map = remap(self.db, &self.w, &self.base.map, self.alloc.page_count())?;
        for &id in ids.iter().chain(&run_ids).chain(&flushed) {
            map.mark_verified(id);
        }
        self.db.publish(Arc::new(Snapshot {
            meta,
            map,
            _lock: self.db.lock.clone(),
        }));
        Ok(())
    }
}
