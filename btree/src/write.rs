//! The write transaction: its private copy-on-write state and its API.
//!
//! A write transaction never touches a page a snapshot can see: the first
//! change to a page copies it into `dirty` under a newly allocated number,
//! and the old number joins the pages this transaction frees. Nothing is
//! written to the file before `commit` (except what `bulk_load` streams to
//! pages no snapshot references).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::MutexGuard;

use crate::allocator::Allocator;
use crate::catalog::OpenTable;
use crate::cursor::DEPTH_MAX;
use crate::db::{Inner, Snapshot, Writer};
use crate::mapping::{check_recorded_crc, verify};
use crate::node::{self, Child, Node, Value, malformed};
use crate::page::{self, VALUE_LEN_MAX};
use crate::txn_range::WriteRange;
use crate::{Durability, Error, Result};

/// Which of the file's trees an operation works on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tree {
    /// The default table: the user's keys and values outside named tables.
    Main,
    /// Pages freed per transaction (see `freelist.rs`).
    Free,
    /// Named tables' records (see `catalog.rs`).
    Catalog,
    /// The named table at this index of `WriteTxn::tables`.
    Table(usize),
    /// Persistent savepoints' records (see `persistent.rs`).
    Savepoints,
}

/// The one open write transaction. Changes are visible to it at once and to
/// others after [`commit`](Self::commit); dropping it aborts.
pub struct WriteTxn<'db> {
    pub(crate) db: &'db Inner,
    pub(crate) w: MutexGuard<'db, Writer>,
    pub(crate) base: Arc<Snapshot>,
    pub(crate) txn: u64,
    /// The tree's root, with the CRC-32 recorded for it while it is a page
    /// of an earlier commit (commit computes it for a dirty root).
    pub(crate) root: Option<Child>,
    /// The free tree's root, as `root`.
    pub(crate) free_root: Option<Child>,
    /// The table catalogue's root, as `root`.
    pub(crate) catalog_root: Option<Child>,
    /// The persistent savepoint tree's root, as `root`.
    pub(crate) savepoint_root: Option<Child>,
    /// Named tables this transaction opened.
    pub(crate) tables: Vec<OpenTable>,
    pub(crate) len: u64,
    /// Nodes changed by this transaction, by their new page number.
    pub(crate) dirty: HashMap<u64, Node>,
    /// Overflow runs created by this transaction: header and value bytes.
    pub(crate) runs: HashMap<u64, Vec<u8>>,
    /// Fresh pages already written to the file (by `bulk_load`): read back
    /// with `read_at`, as the view may not show them.
    pub(crate) written: HashSet<u64>,
    /// Page numbers: taken, given up, reused.
    pub(crate) alloc: Allocator,
    /// Tells this transaction's savepoints from another's.
    pub(crate) owner: u64,
    /// When this transaction's commit is durable.
    pub(crate) durability: Durability,
    /// A persistent savepoint of an earlier commit was deleted (or
    /// restored over): the commit is durable whatever `durability` says
    /// (see `persistent.rs`).
    pub(crate) savepoint_deleted: bool,
}

impl std::fmt::Debug for WriteTxn<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteTxn").field("txn", &self.txn).finish()
    }
}

/// A node to read: the transaction's own copy, or one decoded from a page.
pub(crate) type NodeRef<'a> = Cow<'a, Node>;

impl<'db> WriteTxn<'db> {
    /// # Errors
    ///
    /// A corruption error from the page holding the oldest persistent
    /// savepoint's record.
    pub(crate) fn new(db: &'db Inner, w: MutexGuard<'db, Writer>) -> Result<WriteTxn<'db>> {
        let base = db.current();
        // A persistent savepoint holds its commit's pages as a reader would.
        let pinned = crate::persistent::oldest_in_snapshot(&base)?.unwrap_or(u64::MAX);
        let oldest_live = db.oldest_live(w.durable_txn).min(pinned);
        let m = base.meta;
        let oldest_reader = db.oldest_live(m.txn).min(pinned);
        Ok(WriteTxn {
            db,
            w,
            txn: m.txn + 1,
            root: m.root_ref(),
            free_root: m.free_root_ref(),
            catalog_root: m.catalog_ref(),
            savepoint_root: m.savepoint_ref(),
            tables: Vec::new(),
            len: m.entry_count,
            base,
            dirty: HashMap::new(),
            runs: HashMap::new(),
            written: HashSet::new(),
            alloc: Allocator::new(m.page_count, oldest_live, oldest_reader),
            owner: crate::savepoint::next_owner(),
            durability: db.options.durability,
            savepoint_deleted: false,
        })
    }

    pub(crate) fn file_path(&self) -> &std::path::Path {
        &self.db.path
    }

    pub(crate) fn root_of(&self, tree: Tree) -> Option<Child> {
        match tree {
            Tree::Main => self.root,
            Tree::Free => self.free_root,
            Tree::Catalog => self.catalog_root,
            Tree::Savepoints => self.savepoint_root,
            Tree::Table(i) => self.tables.get(i).and_then(|t| t.root),
        }
    }

    /// Sets a tree's root; a named table's record is then rewritten at commit.
    pub(crate) fn set_root(&mut self, tree: Tree, root: Option<Child>) {
        match tree {
            Tree::Main => self.root = root,
            Tree::Free => self.free_root = root,
            Tree::Catalog => self.catalog_root = root,
            Tree::Savepoints => self.savepoint_root = root,
            Tree::Table(i) => {
                if let Some(t) = self.tables.get_mut(i) {
                    t.root = root;
                    t.changed = true;
                }
            }
        }
    }

    /// Entries in a table (`Tree::Main` or `Tree::Table`).
    pub(crate) fn len_of(&self, tree: Tree) -> u64 {
        match tree {
            Tree::Table(i) => self.tables.get(i).map_or(0, |t| t.len),
            _ => self.len,
        }
    }

    pub(crate) fn set_len_of(&mut self, tree: Tree, len: u64) {
        match tree {
            Tree::Table(i) => {
                if let Some(t) = self.tables.get_mut(i) {
                    t.len = len;
                    t.changed = true;
                }
            }
            _ => self.len = len,
        }
    }

    /// Reads `n` pages at `id` from the file itself (pages this transaction
    /// wrote early).
    pub(crate) fn read_pages(&self, id: u64, n: u64) -> Result<Bytes> {
        let ps = self.db.limits.page_size as u64;
        let mut buf = vec![0u8; (n * ps) as usize];
        self.w.file.read_exact_at(&mut buf, id * ps)?;
        Ok(Bytes::from(buf))
    }

    /// Decodes page `child` (not a dirty one), checking it is the page its
    /// referrer recorded.
    pub(crate) fn load(&self, child: Child) -> Result<Node> {
        let id = child.page;
        if self.written.contains(&id) {
            let bytes = self.read_pages(id, 1)?;
            verify(&bytes, self.file_path(), id)?;
            check_recorded_crc(&bytes, self.file_path(), child)?;
            return Node::decode(&bytes, self.file_path(), id);
        }
        let map = &self.base.map;
        map.node(child, self.base.meta.page_count)?;
        let bytes = map
            .share(id, 1)
            .ok_or_else(|| malformed(self.file_path(), id, "page past the end of the file"))?;
        Node::decode(&bytes, self.file_path(), id)
    }

    /// The CRC-32 a page of an earlier commit (not a dirty one) was written
    /// with, after checking its bytes: for a reference that does not record
    /// it (format 1).
    pub(crate) fn clean_crc(&self, id: u64) -> Result<u32> {
        if self.written.contains(&id) {
            let bytes = self.read_pages(id, 1)?;
            verify(&bytes, self.file_path(), id)?;
            return Ok(page::stored_crc(&bytes));
        }
        let map = &self.base.map;
        map.node(
            Child {
                page: id,
                crc: None,
            },
            self.base.meta.page_count,
        )?;
        let buf = map
            .raw(id, 1)
            .ok_or_else(|| malformed(self.file_path(), id, "page past the end of the file"))?;
        Ok(page::stored_crc(buf))
    }

    /// The node at `child`, borrowed if dirty.
    pub(crate) fn node(&self, child: Child) -> Result<NodeRef<'_>> {
        match self.dirty.get(&child.page) {
            Some(n) => Ok(Cow::Borrowed(n)),
            None => Ok(Cow::Owned(self.load(child)?)),
        }
    }

    /// Takes a page number (see [`Allocator::alloc`]).
    pub(crate) fn alloc(&mut self) -> Result<u64> {
        self.alloc.alloc(&self.base)
    }

    /// Takes `n` consecutive page numbers for an overflow run.
    pub(crate) fn alloc_run(&mut self, n: u64) -> Result<u64> {
        self.alloc.alloc_run(&self.base, n)
    }

    /// Gives up page `id`: back to the pool at once if this transaction
    /// allocated it, else recorded as freed by this transaction.
    pub(crate) fn free_page(&mut self, id: u64) {
        self.dirty.remove(&id);
        self.written.remove(&id);
        self.alloc.free(id);
    }

    fn check_key(&self, key: &[u8]) -> Result<()> {
        let len_max = self.db.limits.key_len_max;
        if key.len() > len_max {
            return Err(Error::KeyTooLarge {
                len: key.len(),
                len_max,
            });
        }
        Ok(())
    }

    /// Inserts or replaces `key`'s value in the default table; returns
    /// whether the key was new.
    ///
    /// # Errors
    ///
    /// [`Error::KeyTooLarge`] or [`Error::ValueTooLarge`] (nothing changed),
    /// or a corruption error from a page on the way.
    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<bool> {
        self.insert_in(Tree::Main, key, value)
    }

    /// Removes `key` from the default table; returns its value if it was there.
    ///
    /// # Errors
    ///
    /// [`Error::KeyTooLarge`], or a corruption error from a page on the way.
    pub fn remove(&mut self, key: &[u8]) -> Result<Option<Bytes>> {
        self.remove_in(Tree::Main, key)
    }

    pub(crate) fn insert_in(&mut self, tree: Tree, key: &[u8], value: &[u8]) -> Result<bool> {
        self.check_key(key)?;
        if value.len() > VALUE_LEN_MAX {
            return Err(Error::ValueTooLarge {
                len: value.len(),
                len_max: VALUE_LEN_MAX,
            });
        }
        let value = self.make_value(key.len(), value)?;
        let old = self.tree_insert(tree, Bytes::copy_from_slice(key), value)?;
        match old {
            Some(old) => {
                self.free_value(&old);
                Ok(false)
            }
            None => {
                self.set_len_of(tree, self.len_of(tree) + 1);
                Ok(true)
            }
        }
    }

    pub(crate) fn remove_in(&mut self, tree: Tree, key: &[u8]) -> Result<Option<Bytes>> {
        self.check_key(key)?;
        let Some(old) = self.tree_remove(tree, key)? else {
            return Ok(None);
        };
        let bytes = self.value_bytes(&old)?;
        self.free_value(&old);
        self.set_len_of(tree, self.len_of(tree).saturating_sub(1));
        Ok(Some(bytes))
    }

    pub(crate) fn get_in(&self, tree: Tree, key: &[u8]) -> Result<Option<Bytes>> {
        match self.lookup(tree, key)? {
            Some(v) => Ok(Some(self.value_bytes(&v)?)),
            None => Ok(None),
        }
    }

    /// A lazy range over `tree` as this transaction sees it.
    pub(crate) fn range_of(
        &self,
        tree: Tree,
        start: Bound<Vec<u8>>,
        end: Bound<Vec<u8>>,
    ) -> WriteRange<'_> {
        WriteRange::new(self, self.root_of(tree), start, end)
    }

    /// Finds the leaf value of `key` in `tree`.
    pub(crate) fn lookup(&self, tree: Tree, key: &[u8]) -> Result<Option<Value>> {
        let Some(mut child) = self.root_of(tree) else {
            return Ok(None);
        };
        for _ in 0..DEPTH_MAX {
            let node = self.node(child)?;
            match &*node {
                Node::Leaf(es) => {
                    return Ok(node::leaf_search(es, key).ok().map(|i| es[i].value.clone()));
                }
                Node::Branch(es) => child = es[node::branch_child_index(es, key)].child_ref(),
            }
        }
        Err(malformed(
            self.file_path(),
            child.page,
            "tree deeper than any valid tree",
        ))
    }

    /// The value of `key` in the default table as this transaction sees it.
    ///
    /// # Errors
    ///
    /// A corruption error from a page on the way.
    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        self.get_in(Tree::Main, key)
    }

    /// Entries in the default table as this transaction sees it.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the tree is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The entries in `range` as this transaction sees them, in key order;
    /// iterate from either end (`rev()`). Lazy: it reads nodes as it goes,
    /// so a scan of a million keys holds one root-to-leaf path, not the
    /// million entries. It borrows the transaction, so nothing changes
    /// while it lives.
    pub fn range<K, R>(&self, range: R) -> WriteRange<'_>
    where
        K: AsRef<[u8]> + ?Sized,
        R: RangeBounds<K>,
    {
        let (start, end) = owned_bounds(&range);
        self.range_of(Tree::Main, start, end)
    }

    /// Every entry, in key order; see [`range`](Self::range).
    pub fn iter(&self) -> WriteRange<'_> {
        WriteRange::new(self, self.root, Bound::Unbounded, Bound::Unbounded)
    }

    /// Removes every entry of the default table whose key is in `range`;
    /// returns how many. Subtrees the range covers whole are freed as they
    /// stand, without a removal per entry (see `range_remove.rs`).
    ///
    /// # Errors
    ///
    /// A corruption error from a page on the way.
    pub fn remove_range<K, R>(&mut self, range: R) -> Result<u64>
    where
        K: AsRef<[u8]> + ?Sized,
        R: RangeBounds<K>,
    {
        let (start, end) = owned_bounds(&range);
        self.remove_range_in(Tree::Main, start, end)
    }

    /// Keeps the entries of the default table for which `keep(key, value)`
    /// returns `true` and removes the others; returns how many it removed.
    /// Every entry is read; each run of consecutive removed entries goes as
    /// one [`remove_range`](Self::remove_range).
    ///
    /// # Errors
    ///
    /// A corruption error from a page on the way.
    pub fn retain<F>(&mut self, keep: F) -> Result<u64>
    where
        F: FnMut(&[u8], &[u8]) -> bool,
    {
        self.retain_in(Tree::Main, keep)
    }

    /// Sets when this transaction's commit is durable, overriding
    /// [`Options::durability`](crate::Options::durability).
    pub fn set_durability(&mut self, durability: Durability) {
        self.durability = durability;
    }

    /// Drops every change. The same as dropping the transaction.
    pub fn abort(self) {}
}

/// The bounds of `range`, owned.
pub(crate) fn owned_bounds<K, R>(range: &R) -> (Bound<Vec<u8>>, Bound<Vec<u8>>)
where
    K: AsRef<[u8]> + ?Sized,
    R: RangeBounds<K>,
{
    let own = |b: Bound<&K>| match b {
        Bound::Included(k) => Bound::Included(k.as_ref().to_vec()),
        Bound::Excluded(k) => Bound::Excluded(k.as_ref().to_vec()),
        Bound::Unbounded => Bound::Unbounded,
    };
    (own(range.start_bound()), own(range.end_bound()))
}
