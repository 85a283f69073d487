//! Persistent savepoints: commits the file keeps, to restore the database
//! to later (redb's persistent savepoints).
//!
//! A fourth copy-on-write B+ tree, rooted in the meta page (format 6), maps
//! each savepoint's id (`u64` big-endian: the id of the transaction that
//! created it) to a record of the commit it keeps: the commit's
//! transaction id, the default table's root and entry count, the table
//! catalogue's root and the page count.
//!
//! Free pages: a savepoint holds its commit's pages as a reader of that
//! snapshot would. Pages freed by transaction `T` were reachable from
//! snapshot `T - 1` and no later one, and a write transaction reuses only
//! free-tree entries of transactions at most the oldest savepoint's commit
//! (`WriteTxn::new`), so every page a savepoint references is referenced
//! by the current commit or listed in the free tree under a later
//! transaction, and is not reused. Deleting the savepoint lifts the bound:
//! the next write transaction reuses those pages.
//!
//! A savepoint keeps a durable commit: creating one makes the last commit
//! durable first if it is not, because a commit made with
//! `Durability::None` may hold its pages in memory, and a later commit
//! drops the pages it frees from there unwritten.
//!
//! Deleting a savepoint (or restoring an older one, which deletes the
//! newer) makes the transaction's commit durable whatever its durability:
//! the next transaction reuses the pages only that savepoint kept, and a
//! crash must not return to a commit that still names it. (Found by the
//! `stress` soak with sync off: a deletion in a `Durability::None` commit,
//! pages reused after it, a kill, and the durable commit's savepoint read
//! overwritten pages.)
//!
//! Restoring, in a write transaction, puts back the savepoint's roots: the
//! pages only the current state references are freed by the transaction,
//! and the pages only the savepoint references (listed in free-tree entries
//! of later transactions) are taken out of those entries. It reads every
//! page of both states once, a cost of the database's size paid only on
//! restore, as redb's restore walks its trees.

use std::collections::HashSet;
use std::ops::Bound;
use std::path::Path;

use bytes::Bytes;

use crate::catalog::TableRecord;
use crate::commit::{flush_overlay, make_durable};
use crate::cursor::{Cursor, DEPTH_MAX};
use crate::db::Snapshot;
use crate::freelist::key_txn;
use crate::meta::NO_PAGE;
use crate::node::{Child, Node, Value, malformed};
use crate::page::{self, FIRST_DATA_PAGE, HEADER_BYTES};
use crate::savepoint::Savepoint;
use crate::txn_range::WriteRange;
use crate::write::{Tree, WriteTxn};
use crate::{Error, Result};

/// Bytes of a savepoint tree key: the savepoint's id, big-endian.
pub(crate) const KEY_BYTES: usize = 8;
/// Bytes of a savepoint record (the savepoint tree's value).
pub(crate) const RECORD_BYTES: usize = 48;
/// The transaction id of the commit the savepoint keeps.
const RECORD_TXN_OFFSET: usize = 0;
/// The default table's root page, `NO_PAGE` if it was empty.
const RECORD_ROOT_OFFSET: usize = RECORD_TXN_OFFSET + 8;
/// The CRC-32 that root page was written with (0 if none).
const RECORD_ROOT_CRC_OFFSET: usize = RECORD_ROOT_OFFSET + 8;
/// The CRC-32 the catalogue's root page was written with (0 if none).
const RECORD_CATALOG_ROOT_CRC_OFFSET: usize = RECORD_ROOT_CRC_OFFSET + 4;
/// The table catalogue's root page, `NO_PAGE` if there was none.
const RECORD_CATALOG_ROOT_OFFSET: usize = RECORD_CATALOG_ROOT_CRC_OFFSET + 4;
/// Entries in the default table.
const RECORD_LEN_OFFSET: usize = RECORD_CATALOG_ROOT_OFFSET + 8;
/// The commit's page count: its pages are below it.
const RECORD_PAGE_COUNT_OFFSET: usize = RECORD_LEN_OFFSET + 8;
const _: () = assert!(RECORD_PAGE_COUNT_OFFSET + 8 == RECORD_BYTES);

/// The fewest bytes a leaf entry takes in its page: its slot and header.
const LEAF_ENTRY_BYTES_MIN: u64 =
    (crate::node::SLOT_BYTES + crate::node::LEAF_ENTRY_HEADER_BYTES) as u64;

/// What a persistent savepoint records of the commit it keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SavepointRecord {
    pub(crate) txn: u64,
    pub(crate) root: Option<Child>,
    pub(crate) catalog_root: Option<Child>,
    pub(crate) len: u64,
    pub(crate) page_count: u64,
}

/// The numbers a record is checked against: the commit it is read from.
#[derive(Clone, Copy)]
pub(crate) struct Bounds {
    /// The reading commit's (or write transaction's) id: no savepoint's id
    /// is above it.
    pub(crate) txn: u64,
    /// The reading commit's page count.
    pub(crate) page_count: u64,
    pub(crate) page_size: usize,
}

impl SavepointRecord {
    pub(crate) fn encode(&self) -> [u8; RECORD_BYTES] {
        let mut b = [0u8; RECORD_BYTES];
        page::put_u64(&mut b, RECORD_TXN_OFFSET, self.txn);
        page::put_u64(
            &mut b,
            RECORD_ROOT_OFFSET,
            self.root.map_or(NO_PAGE, |c| c.page),
        );
        page::put_u32(
            &mut b,
            RECORD_ROOT_CRC_OFFSET,
            self.root.and_then(|c| c.crc).unwrap_or(0),
        );
        page::put_u32(
            &mut b,
            RECORD_CATALOG_ROOT_CRC_OFFSET,
            self.catalog_root.and_then(|c| c.crc).unwrap_or(0),
        );
        page::put_u64(
            &mut b,
            RECORD_CATALOG_ROOT_OFFSET,
            self.catalog_root.map_or(NO_PAGE, |c| c.page),
        );
        page::put_u64(&mut b, RECORD_LEN_OFFSET, self.len);
        page::put_u64(&mut b, RECORD_PAGE_COUNT_OFFSET, self.page_count);
        b
    }

    /// Decodes the record of savepoint `id` found in page `at` of `file`.
    /// A CRC proves the bytes are the ones written, not that the writer was
    /// right: every number is checked against `bounds`.
    pub(crate) fn decode(
        b: &[u8],
        file: &Path,
        at: u64,
        id: u64,
        bounds: Bounds,
    ) -> Result<SavepointRecord> {
        if b.len() != RECORD_BYTES {
            return Err(malformed(file, at, "savepoint record of the wrong length"));
        }
        let txn = page::get_u64(b, RECORD_TXN_OFFSET);
        if txn >= id || id > bounds.txn {
            return Err(malformed(
                file,
                at,
                "savepoint of a commit not before the one that recorded it",
            ));
        }
        let page_count = page::get_u64(b, RECORD_PAGE_COUNT_OFFSET);
        if !(FIRST_DATA_PAGE..=bounds.page_count).contains(&page_count) {
            return Err(malformed(file, at, "savepoint page count out of range"));
        }
        let root_at = |offset: usize, crc_offset: usize| -> Result<Option<Child>> {
            let page = page::get_u64(b, offset);
            if page == NO_PAGE {
                return Ok(None);
            }
            if !(FIRST_DATA_PAGE..page_count).contains(&page) {
                return Err(malformed(file, at, "savepoint root past its page count"));
            }
            Ok(Some(Child {
                page,
                crc: Some(page::get_u32(b, crc_offset)),
            }))
        };
        let root = root_at(RECORD_ROOT_OFFSET, RECORD_ROOT_CRC_OFFSET)?;
        let catalog_root = root_at(RECORD_CATALOG_ROOT_OFFSET, RECORD_CATALOG_ROOT_CRC_OFFSET)?;
        let len = page::get_u64(b, RECORD_LEN_OFFSET);
        let per_page = (bounds.page_size - HEADER_BYTES) as u64 / LEAF_ENTRY_BYTES_MIN;
        let len_max = (page_count - FIRST_DATA_PAGE).saturating_mul(per_page);
        if len > len_max || (root.is_none() && len != 0) {
            return Err(malformed(file, at, "savepoint entry count out of range"));
        }
        Ok(SavepointRecord {
            txn,
            root,
            catalog_root,
            len,
            page_count,
        })
    }
}

/// The savepoint tree's key for savepoint `id`.
pub(crate) fn key(id: u64) -> [u8; KEY_BYTES] {
    id.to_be_bytes()
}

/// The savepoint id a key of the savepoint tree names.
fn id_of(key: &[u8], file: &Path, at: u64) -> Result<u64> {
    let b: [u8; KEY_BYTES] = key
        .try_into()
        .map_err(|_| malformed(file, at, "savepoint key of the wrong length"))?;
    Ok(u64::from_be_bytes(b))
}

fn snapshot_bounds(snap: &Snapshot) -> Bounds {
    Bounds {
        txn: snap.meta.txn,
        page_count: snap.meta.page_count,
        page_size: snap.map.page_size(),
    }
}

/// The commit the oldest persistent savepoint of `snap` keeps, if it has
/// one: the first record (ids and their commits rise together, which
/// [`records_in_snapshot`] checks).
pub(crate) fn oldest_in_snapshot(snap: &Snapshot) -> Result<Option<u64>> {
    let m = &snap.meta;
    if m.savepoint_root.is_none() {
        return Ok(None);
    }
    let cursor = Cursor::seek(
        &snap.map,
        m.page_count,
        m.savepoint_ref(),
        Bound::Unbounded,
        true,
    )?;
    let Some((k, v)) = cursor.current_value()? else {
        return Ok(None);
    };
    let at = cursor.page().unwrap_or(0);
    let id = id_of(k, snap.map.file(), at)?;
    let record = SavepointRecord::decode(v, snap.map.file(), at, id, snapshot_bounds(snap))?;
    Ok(Some(record.txn))
}

/// Every persistent savepoint of `snap`, by id, with its record.
///
/// # Errors
///
/// `Malformed` if a record is out of range, or if a later savepoint keeps
/// an earlier commit (the pages of the oldest commit are what is kept).
pub(crate) fn records_in_snapshot(snap: &Snapshot) -> Result<Vec<(u64, SavepointRecord)>> {
    let m = &snap.meta;
    let mut cursor = Cursor::seek(
        &snap.map,
        m.page_count,
        m.savepoint_ref(),
        Bound::Unbounded,
        true,
    )?;
    let mut out: Vec<(u64, SavepointRecord)> = Vec::new();
    while let Some((k, v)) = cursor.current_value()? {
        let at = cursor.page().unwrap_or(0);
        let id = id_of(k, snap.map.file(), at)?;
        let record = SavepointRecord::decode(v, snap.map.file(), at, id, snapshot_bounds(snap))?;
        if out.last().is_some_and(|(_, r)| r.txn >= record.txn) {
            return Err(malformed(
                snap.map.file(),
                at,
                "savepoints not in commit order",
            ));
        }
        out.push((id, record));
        cursor.next()?;
    }
    Ok(out)
}

/// Pages of one state of the database: nodes, and overflow runs by their
/// first page and length in pages.
#[derive(Default)]
struct Pages {
    all: HashSet<u64>,
    nodes: Vec<u64>,
    runs: Vec<(u64, u64)>,
}

impl WriteTxn<'_> {
    fn bounds(&self) -> Bounds {
        Bounds {
            txn: self.txn,
            page_count: self.alloc.page_count(),
            page_size: self.db.limits.page_size,
        }
    }

    /// The record of savepoint `id` as this transaction sees it.
    fn savepoint_record(&self, id: u64) -> Result<Option<SavepointRecord>> {
        let at = self.savepoint_root.map_or(0, |c| c.page);
        match self.lookup(Tree::Savepoints, &key(id))? {
            None => Ok(None),
            Some(Value::Inline(v)) => Ok(Some(SavepointRecord::decode(
                &v,
                self.file_path(),
                at,
                id,
                self.bounds(),
            )?)),
            Some(Value::Overflow { .. }) => Err(malformed(
                self.file_path(),
                at,
                "savepoint record in an overflow run",
            )),
        }
    }

    /// Makes the commit this transaction began from durable, if it is not.
    fn make_base_durable(&mut self) -> Result<()> {
        if self.base.meta.txn <= self.w.durable_txn {
            return Ok(());
        }
        // As `Db::sync`: two syncs, as it follows `Durability::None` commits.
        let base = self.base.clone();
        let r = flush_overlay(self.db, &mut self.w, &base)
            .and_then(|()| make_durable(self.db, &mut self.w, &base.meta, false));
        if r.is_err() {
            // As a failed commit: what reached the disk is unknown.
            self.w.poisoned = true;
            return r;
        }
        // The same commit, published again reading its pages from the file
        // (this transaction holds the writer, so no other was published).
        self.base = self.db.current();
        Ok(())
    }

    /// Creates a persistent savepoint of the last commit (the state this
    /// transaction began from, before its own changes), recorded when this
    /// transaction commits; returns its id. Restore it in a later write
    /// transaction with [`get_persistent_savepoint`](Self::get_persistent_savepoint)
    /// and [`restore_savepoint`](Self::restore_savepoint). Until it is
    /// deleted, the pages of that commit are not reused: the file grows by
    /// the pages later commits replace. One transaction creates at most one
    /// (they would keep the same commit): a second call returns the same id.
    ///
    /// If the last commit was made with [`Durability::None`](crate::Durability::None),
    /// it is made durable first (a sync, as [`Db::sync`](crate::Db::sync)):
    /// a savepoint keeps a commit a crash keeps. The savepoint itself is
    /// durable when this transaction's commit is.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if that sync fails (the handle is then poisoned, as by
    /// a failed commit); a corruption error from a page on the way.
    pub fn persistent_savepoint(&mut self) -> Result<u64> {
        let id = self.txn;
        if self.savepoint_record(id)?.is_some() {
            return Ok(id);
        }
        self.make_base_durable()?;
        let m = self.base.meta;
        let root = match m.root_ref() {
            // A format-1 root records no CRC-32: take the one it holds now.
            Some(c) if c.crc.is_none() => Some(Child {
                page: c.page,
                crc: Some(self.clean_crc(c.page)?),
            }),
            root => root,
        };
        let record = SavepointRecord {
            txn: m.txn,
            root,
            catalog_root: m.catalog_ref(),
            len: m.entry_count,
            page_count: m.page_count,
        };
        self.tree_insert(
            Tree::Savepoints,
            Bytes::copy_from_slice(&key(id)),
            Value::Inline(Bytes::copy_from_slice(&record.encode())),
        )?;
        Ok(id)
    }

    /// Persistent savepoint `id`, to pass to
    /// [`restore_savepoint`](Self::restore_savepoint) in this transaction.
    ///
    /// # Errors
    ///
    /// [`Error::SavepointNotFound`] if there is none of that id; a
    /// corruption error from a page of the savepoint tree.
    pub fn get_persistent_savepoint(&self, id: u64) -> Result<Savepoint> {
        match self.savepoint_record(id)? {
            Some(record) => Ok(Savepoint::persistent(self.owner, id, record)),
            None => Err(Error::SavepointNotFound { id }),
        }
    }

    /// Deletes persistent savepoint `id`; returns whether it existed. Once
    /// this transaction commits, later ones reuse the pages only it kept,
    /// so the commit is durable whatever its
    /// [`Durability`](crate::Durability) (a crash must not return to a
    /// commit that still names the savepoint after its pages were reused).
    ///
    /// # Errors
    ///
    /// A corruption error from a page of the savepoint tree.
    pub fn delete_persistent_savepoint(&mut self, id: u64) -> Result<bool> {
        let existed = self.tree_remove(Tree::Savepoints, &key(id))?.is_some();
        self.savepoint_deleted |= existed;
        Ok(existed)
    }

    /// The ids of the persistent savepoints as this transaction sees them,
    /// oldest first.
    ///
    /// # Errors
    ///
    /// A corruption error from a page of the savepoint tree.
    pub fn list_persistent_savepoints(&self) -> Result<Vec<u64>> {
        let at = self.savepoint_root.map_or(0, |c| c.page);
        self.range_of(Tree::Savepoints, Bound::Unbounded, Bound::Unbounded)
            .map(|kv| kv.and_then(|(k, _)| id_of(&k, self.file_path(), at)))
            .collect()
    }

    /// Puts every table back as persistent savepoint `id` (`record`) keeps
    /// them (see the module doc).
    pub(crate) fn restore_persistent(&mut self, id: u64, record: &SavepointRecord) -> Result<()> {
        if self.savepoint_record(id)?.is_none() {
            return Err(Error::SavepointNotFound { id });
        }
        let mut now = Pages::default();
        self.collect_state(self.root, self.catalog_root, true, &mut now)?;
        let mut then = Pages::default();
        self.collect_state(record.root, record.catalog_root, false, &mut then)?;
        // Pages of the savepoint this transaction gave up: referenced again.
        self.alloc.take_back(|p| then.all.contains(&p));
        self.unfree(&then.all, record.txn)?;
        for &(first, n) in &now.runs {
            if !then.all.contains(&first) {
                self.runs.remove(&first);
                for p in first..first + n {
                    self.free_page(p);
                }
            }
        }
        for &p in &now.nodes {
            if !then.all.contains(&p) {
                self.free_page(p);
            }
        }
        self.root = record.root;
        self.len = record.len;
        self.catalog_root = record.catalog_root;
        self.tables.clear();
        // Savepoints of later commits are of another timeline now.
        for later in self.list_persistent_savepoints()? {
            if later > id {
                self.tree_remove(Tree::Savepoints, &key(later))?;
                self.savepoint_deleted = true;
            }
        }
        Ok(())
    }

    /// Collects the pages of a state: the default table under `root`, the
    /// catalogue under `catalog_root` and every table it records (as this
    /// transaction has them open, if `current`).
    fn collect_state(
        &self,
        root: Option<Child>,
        catalog_root: Option<Child>,
        current: bool,
        out: &mut Pages,
    ) -> Result<()> {
        self.collect_tree(root, out)?;
        self.collect_tree(catalog_root, out)?;
        let at = catalog_root.map_or(0, |c| c.page);
        let mut roots = Vec::new();
        for kv in WriteRange::new(self, catalog_root, Bound::Unbounded, Bound::Unbounded) {
            let (name, v) = kv?;
            let record = TableRecord::decode(&v, self.file_path(), at, self.alloc.page_count())?;
            let open = current
                .then(|| self.tables.iter().find(|t| t.name.as_bytes() == &name[..]))
                .flatten();
            roots.push(open.map_or(record.root, |t| t.root));
        }
        for root in roots {
            self.collect_tree(root, out)?;
        }
        Ok(())
    }

    /// Collects the pages of the tree under `root`: its nodes (this
    /// transaction's dirty ones included) and overflow runs. Bounded: a
    /// page met twice is an error, and there are finitely many.
    fn collect_tree(&self, root: Option<Child>, out: &mut Pages) -> Result<()> {
        let Some(root) = root else { return Ok(()) };
        let mut stack = vec![(root, 0usize)];
        while let Some((child, depth)) = stack.pop() {
            if depth >= DEPTH_MAX {
                return Err(malformed(
                    self.file_path(),
                    child.page,
                    "tree deeper than any valid tree",
                ));
            }
            if !out.all.insert(child.page) {
                return Err(malformed(
                    self.file_path(),
                    child.page,
                    "page referenced twice",
                ));
            }
            out.nodes.push(child.page);
            match &*self.node(child)? {
                Node::Branch(es) => stack.extend(es.iter().map(|e| (e.child_ref(), depth + 1))),
                Node::Leaf(es) => {
                    for e in es {
                        if let Value::Overflow {
                            page: first, len, ..
                        } = e.value
                        {
                            let n = self.db.limits.run_pages(len);
                            for p in first..first + n {
                                if !out.all.insert(p) {
                                    return Err(malformed(
                                        self.file_path(),
                                        p,
                                        "page referenced twice",
                                    ));
                                }
                            }
                            out.runs.push((first, n));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Takes the pages of `pages` out of the free tree: they are referenced
    /// again. Only entries of transactions after `txn` (the savepoint's
    /// commit) may list them; one of an earlier transaction that does is
    /// damage (the page may have been reused already).
    fn unfree(&mut self, pages: &HashSet<u64>, txn: u64) -> Result<()> {
        let at = self.free_root.map_or(0, |c| c.page);
        let mut edits: Vec<(Bytes, Vec<u64>)> = Vec::new();
        for kv in self.range_of(Tree::Free, Bound::Unbounded, Bound::Unbounded) {
            let (k, v) = kv?;
            let Some((_, freed_by)) = key_txn(&k) else {
                return Err(malformed(self.file_path(), at, "short free-tree key"));
            };
            if v.len() % 8 != 0 {
                return Err(malformed(
                    self.file_path(),
                    at,
                    "free-tree value not a list of page numbers",
                ));
            }
            let listed: Vec<u64> = v.chunks_exact(8).map(|c| page::get_u64(c, 0)).collect();
            if let Some(&p) = listed.iter().find(|p| pages.contains(p)) {
                if freed_by <= txn {
                    return Err(malformed(
                        self.file_path(),
                        p,
                        "page of a savepoint listed as free before the savepoint's commit",
                    ));
                }
                edits.push((
                    k,
                    listed.into_iter().filter(|p| !pages.contains(p)).collect(),
                ));
            }
        }
        for (k, rest) in edits {
            if rest.is_empty() {
                self.tree_remove(Tree::Free, &k)?;
            } else {
                self.write_chunk(k, &rest)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds() -> Bounds {
        Bounds {
            txn: 10,
            page_count: 20,
            page_size: 512,
        }
    }

    fn record() -> SavepointRecord {
        SavepointRecord {
            txn: 6,
            root: Some(Child {
                page: 9,
                crc: Some(0xdead_beef),
            }),
            catalog_root: Some(Child {
                page: 11,
                crc: Some(0x1234_5678),
            }),
            len: 40,
            page_count: 15,
        }
    }

    #[test]
    fn savepoint_record_round_trips_and_bad_numbers_are_rejected() {
        let file = Path::new("/db");
        let b = record().encode();
        assert_eq!(
            SavepointRecord::decode(&b, file, 3, 7, bounds()).unwrap(),
            record()
        );
        let bad = |offset: usize, value: u64| {
            let mut b = record().encode();
            page::put_u64(&mut b, offset, value);
            SavepointRecord::decode(&b, file, 3, 7, bounds()).is_err()
        };
        assert!(bad(RECORD_TXN_OFFSET, 7), "commit not before its id");
        assert!(bad(RECORD_ROOT_OFFSET, 15), "root past the page count");
        assert!(bad(RECORD_ROOT_OFFSET, 1), "root on a meta page");
        assert!(bad(RECORD_CATALOG_ROOT_OFFSET, 15));
        assert!(bad(RECORD_PAGE_COUNT_OFFSET, 21), "past the file's pages");
        assert!(bad(RECORD_PAGE_COUNT_OFFSET, 1));
        assert!(bad(RECORD_LEN_OFFSET, 1 << 40));
        assert!(
            SavepointRecord::decode(&b, file, 3, 11, bounds()).is_err(),
            "id past the reading commit"
        );
        assert!(SavepointRecord::decode(&b[..40], file, 3, 7, bounds()).is_err());
        let empty = SavepointRecord {
            root: None,
            catalog_root: None,
            len: 0,
            ..record()
        };
        assert_eq!(
            SavepointRecord::decode(&empty.encode(), file, 3, 7, bounds()).unwrap(),
            empty
        );
        let mut counted = empty.encode();
        page::put_u64(&mut counted, RECORD_LEN_OFFSET, 1);
        assert!(SavepointRecord::decode(&counted, file, 3, 7, bounds()).is_err());
    }
}
