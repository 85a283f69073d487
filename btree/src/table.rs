//! Handles on named tables: [`Table`] inside a write transaction,
//! [`ReadTable`] inside a snapshot. Each table is its own tree, found
//! through the catalogue (`catalog.rs`).

use std::ops::RangeBounds;

use bytes::Bytes;

use crate::Result;
use crate::catalog::{self, TableKind, check_name};
use crate::db::Snapshot;
use crate::node::Child;
use crate::read::{Range, ReadTxn, get_in};
use crate::txn_range::WriteRange;
use crate::write::{Tree, WriteTxn, owned_bounds};

/// A named table open in a write transaction: changes are visible through
/// it at once and to others after the transaction commits, together with
/// every other table it changed.
///
/// It borrows the transaction mutably: open one table at a time, and open
/// it again (a cheap lookup) after using another.
pub struct Table<'t, 'db> {
    txn: &'t mut WriteTxn<'db>,
    index: usize,
}

impl std::fmt::Debug for Table<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table").field("name", &self.name()).finish()
    }
}

impl<'db> WriteTxn<'db> {
    /// Opens table `name`, creating it empty if it does not exist (as
    /// redb's `open_table` and LMDB's `MDB_CREATE` do). The table is part
    /// of this transaction: dropped with it if it aborts, committed with it.
    ///
    /// # Errors
    ///
    /// [`Error::TableNameLength`](crate::Error::TableNameLength) for an
    /// empty name or one over [`TABLE_NAME_LEN_MAX`](crate::TABLE_NAME_LEN_MAX)
    /// bytes, [`Error::TableKind`](crate::Error::TableKind) if `name` is a
    /// multimap table, or a corruption error from a page of the catalogue.
    pub fn open_table(&mut self, name: &str) -> Result<Table<'_, 'db>> {
        let index = self.open_table_index(name, TableKind::Plain)?;
        Ok(Table { txn: self, index })
    }
}

impl<'db> Table<'_, 'db> {
    fn tree(&self) -> Tree {
        Tree::Table(self.index)
    }

    /// The transaction and the tree of this table.
    pub(crate) fn parts(&mut self) -> (&mut WriteTxn<'db>, Tree) {
        let tree = self.tree();
        (self.txn, tree)
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        self.txn
            .tables
            .get(self.index)
            .map_or("", |t| t.name.as_str())
    }

    /// Inserts or replaces `key`'s value; returns whether the key was new.
    ///
    /// # Errors
    ///
    /// As [`WriteTxn::insert`].
    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<bool> {
        self.txn.insert_in(self.tree(), key, value)
    }

    /// Removes `key`; returns its value if it was there.
    ///
    /// # Errors
    ///
    /// As [`WriteTxn::remove`].
    pub fn remove(&mut self, key: &[u8]) -> Result<Option<Bytes>> {
        self.txn.remove_in(self.tree(), key)
    }

    /// The value of `key` as this transaction sees it.
    ///
    /// # Errors
    ///
    /// A corruption error from a page on the way.
    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        self.txn.get_in(self.tree(), key)
    }

    /// Removes every entry whose key is in `range`; returns how many. See
    /// [`WriteTxn::remove_range`].
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
        self.txn.remove_range_in(self.tree(), start, end)
    }

    /// Keeps the entries for which `keep(key, value)` returns `true`;
    /// returns how many it removed. See [`WriteTxn::retain`].
    ///
    /// # Errors
    ///
    /// A corruption error from a page on the way.
    pub fn retain<F>(&mut self, keep: F) -> Result<u64>
    where
        F: FnMut(&[u8], &[u8]) -> bool,
    {
        self.txn.retain_in(self.tree(), keep)
    }

    /// Entries in the table as this transaction sees it.
    pub fn len(&self) -> u64 {
        self.txn.len_of(self.tree())
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entries in `range`, lazily, from either end; see
    /// [`WriteTxn::range`].
    pub fn range<K, R>(&self, range: R) -> WriteRange<'_>
    where
        K: AsRef<[u8]> + ?Sized,
        R: RangeBounds<K>,
    {
        let (start, end) = owned_bounds(&range);
        self.txn.range_of(self.tree(), start, end)
    }

    /// Every entry, in key order.
    pub fn iter(&self) -> WriteRange<'_> {
        self.range::<[u8], _>(..)
    }
}

/// A named table as of a read snapshot.
///
/// # Concurrency
///
/// `Send + Sync`; every method takes `&self`. It borrows its [`ReadTxn`],
/// which keeps the snapshot's pages from reuse.
pub struct ReadTable<'r> {
    snap: &'r Snapshot,
    root: Option<Child>,
    len: u64,
}

impl std::fmt::Debug for ReadTable<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadTable").field("len", &self.len).finish()
    }
}

impl ReadTxn {
    /// Opens table `name` as of this snapshot; `None` if it did not exist.
    ///
    /// # Errors
    ///
    /// [`Error::TableNameLength`](crate::Error::TableNameLength),
    /// [`Error::TableKind`](crate::Error::TableKind) for a multimap table,
    /// or a corruption error from a page of the catalogue.
    pub fn open_table(&self, name: &str) -> Result<Option<ReadTable<'_>>> {
        Ok(self
            .find_table(name, TableKind::Plain)?
            .map(|(snap, root, len)| ReadTable { snap, root, len }))
    }

    /// Table `name` of this snapshot, checked to be of `kind`: its root
    /// and entry count.
    pub(crate) fn find_table(
        &self,
        name: &str,
        kind: TableKind,
    ) -> Result<Option<(&Snapshot, Option<Child>, u64)>> {
        check_name(name)?;
        let snap = self.snapshot();
        match catalog::find_in_snapshot(snap, name)? {
            Some(r) if r.kind != kind => Err(crate::Error::TableKind {
                name: name.to_owned(),
                multimap: r.kind == TableKind::Multimap,
            }),
            Some(r) => Ok(Some((snap, r.root, r.len))),
            None => Ok(None),
        }
    }

    /// The names of the named tables in this snapshot, in byte order.
    ///
    /// # Errors
    ///
    /// A corruption error from a page of the catalogue.
    pub fn list_tables(&self) -> Result<Vec<String>> {
        catalog::names_in_snapshot(self.snapshot())
    }
}

impl ReadTable<'_> {
    /// Entries in the table.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The value stored under `key`, sharing the file's bytes.
    ///
    /// # Errors
    ///
    /// A corruption error from a page on the way.
    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        Ok(self.get_ref(key)?.map(|v| self.snap.map.to_bytes(v)))
    }

    /// Like [`get`](Self::get), borrowing the value from the snapshot.
    ///
    /// # Errors
    ///
    /// A corruption error from a page on the way.
    pub fn get_ref(&self, key: &[u8]) -> Result<Option<&[u8]>> {
        get_in(self.snap, self.root, key)
    }

    /// The entries whose keys fall in `range`, in key order, from either end.
    pub fn range<K, R>(&self, range: R) -> Range<'_>
    where
        K: AsRef<[u8]> + ?Sized,
        R: RangeBounds<K>,
    {
        let (start, end) = owned_bounds(&range);
        Range::new(self.snap, self.root, start, end)
    }

    /// Every entry, in key order.
    pub fn iter(&self) -> Range<'_> {
        self.range::<[u8], _>(..)
    }
}
