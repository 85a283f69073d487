//! Optimistic transactions ([`Db::transaction`]), as RocksDB's
//! `OptimisticTransactionDB` and fjall's: reads from a snapshot taken at
//! begin, writes buffered in the transaction, and a commit that checks,
//! under the write lock (the serialization that hands out sequence
//! numbers), that no key the transaction read or writes has a version
//! newer than its snapshot, then applies the writes as one [`WriteBatch`]
//! through the ordinary commit path (same log record, same recovery).
//!
//! # What the check looks at
//!
//! The newest version of each tracked key anywhere: the memtable, the
//! immutable memtables, then the tables a point lookup would probe
//! (skipping a table whose largest sequence number is at or below the
//! snapshot's, or whose filter rules the key out). The transaction holds
//! its snapshot registered, and compaction keeps every version newer than
//! the oldest registered snapshot (tombstones included, LevelDB's rule),
//! so every write after the snapshot is still there to be found: the check
//! is exact, not a window (RocksDB's optimistic transactions check the
//! memtables only, and return `TryAgain` when their history is too short).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::{Bound, RangeBounds};

use bytes::Bytes;

use crate::batch::WriteBatch;
use crate::db::{Db, Inner};
use crate::filter;
use crate::key::{SeqNo, ValueKind};
use crate::read::{Snapshot, bounds};
use crate::{Error, Result};

/// An optimistic transaction: snapshot-isolated reads that see its own
/// writes, writes buffered until [`Transaction::commit`], which fails with
/// [`Error::Conflict`] (and writes nothing) if a key it read or writes was
/// written by anyone else after it began. Dropping it without `commit`
/// rolls it back: nothing was written.
///
/// # Concurrency
///
/// A transaction is `Send` and used from one thread at a time (reads
/// record what they saw, so they take `&mut self`); any number run at
/// once, beside plain writes on other clones of the [`Db`]. Commits
/// serialize with every other write on the write lock, check included.
///
/// What is tracked: every key passed to [`Transaction::get`], every key a
/// [`Transaction::range`] returned, and every key written. Not tracked: a
/// key inserted by another writer into a range this transaction scanned
/// (a phantom), as in RocksDB's optimistic transactions; read such a key
/// with `get` (absent keys are tracked too) to make it conflict.
///
/// The `_in` methods read and write any keyspace of the database
/// ([`Db::keyspace`](crate::Db::keyspace)); the commit applies the writes
/// of every keyspace as one atomic batch.
///
/// Merges ([`Db::merge`]) are not offered: the buffered writes are values
/// or deletes. Reads see merged values, and another writer's merge of a
/// tracked key is a conflict like any write.
#[derive(Debug)]
pub struct Transaction {
    db: Db,
    snapshot: Snapshot,
    /// Keys read (keyspace id, key), checked at commit.
    reads: BTreeSet<(u64, Bytes)>,
    /// The buffered writes: `None` is a delete. The last write of a key wins.
    writes: BTreeMap<(u64, Bytes), Option<Bytes>>,
}

impl Db {
    /// Begins an optimistic transaction reading at a snapshot of the
    /// current state (see [`Transaction`]).
    ///
    /// # Errors
    ///
    /// [`Error::ReadOnly`] on a handle opened read-only; [`Error::Closed`]
    /// once the database is closed or stopped by a failure.
    pub fn transaction(&self) -> Result<Transaction> {
        self.check_writable()?;
        self.inner().state.check()?;
        Ok(Transaction {
            db: self.clone(),
            snapshot: self.snapshot(),
            reads: BTreeSet::new(),
            writes: BTreeMap::new(),
        })
    }
}

impl Transaction {
    /// The value of `key`: this transaction's own write of it if any, else
    /// the value at its snapshot. The key is tracked: a write of it by
    /// another writer after the snapshot makes `commit` fail.
    ///
    /// # Errors
    ///
    /// As [`Db::get`].
    pub fn get(&mut self, key: &[u8]) -> Result<Option<Bytes>> {
        let tree = std::sync::Arc::clone(&self.db.shared.inner);
        self.get_tree(&tree, key)
    }

    /// [`Transaction::get`] in keyspace `ks`.
    ///
    /// # Errors
    ///
    /// As [`Keyspace::get`](crate::Keyspace::get).
    pub fn get_in(&mut self, ks: &crate::Keyspace, key: &[u8]) -> Result<Option<Bytes>> {
        self.get_tree(ks.tree(), key)
    }

    fn get_tree(&mut self, tree: &Inner, key: &[u8]) -> Result<Option<Bytes>> {
        let k = (tree.id, Bytes::copy_from_slice(key));
        if let Some(w) = self.writes.get(&k) {
            return Ok(w.clone());
        }
        tree.state.check_readable()?;
        tree.check_live()?;
        let v = tree.get_at(key, Some(self.snapshot.seq))?;
        self.reads.insert(k);
        Ok(v)
    }

    /// The live pairs in `range`, in key order: the snapshot's with this
    /// transaction's own writes applied over them. Every key returned is
    /// tracked (keys inserted into the range by others are not: see
    /// [`Transaction`]). Read eagerly, so keep the range small.
    ///
    /// # Errors
    ///
    /// As [`Db::get`].
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(
        &mut self,
        range: R,
    ) -> Result<Vec<(Bytes, Bytes)>> {
        let tree = std::sync::Arc::clone(&self.db.shared.inner);
        self.range_tree(&tree, bounds(&range))
    }

    /// [`Transaction::range`] in keyspace `ks`.
    ///
    /// # Errors
    ///
    /// As [`Transaction::range`].
    pub fn range_in<K: AsRef<[u8]>, R: RangeBounds<K>>(
        &mut self,
        ks: &crate::Keyspace,
        range: R,
    ) -> Result<Vec<(Bytes, Bytes)>> {
        self.range_tree(ks.tree(), bounds(&range))
    }

    fn range_tree(
        &mut self,
        tree: &Inner,
        (lo, hi): (Bound<Bytes>, Bound<Bytes>),
    ) -> Result<Vec<(Bytes, Bytes)>> {
        if is_empty_range(&lo, &hi) {
            return Ok(Vec::new());
        }
        let mut merged: BTreeMap<Bytes, Bytes> = BTreeMap::new();
        for r in tree.range_at((lo.clone(), hi.clone()), Some(self.snapshot.seq)) {
            let (k, v) = r?;
            merged.insert(k, v);
        }
        let id = tree.id;
        let at = |b: Bound<Bytes>, end: bool| match b {
            Bound::Included(k) => Bound::Included((id, k)),
            Bound::Excluded(k) => Bound::Excluded((id, k)),
            // The keyspace's keys lie between (id, "") and (id + 1, "").
            Bound::Unbounded if end => Bound::Excluded((id + 1, Bytes::new())),
            Bound::Unbounded => Bound::Included((id, Bytes::new())),
        };
        for ((_, k), w) in self.writes.range((at(lo, false), at(hi, true))) {
            match w {
                Some(v) => merged.insert(k.clone(), v.clone()),
                None => merged.remove(k),
            };
        }
        for k in merged.keys() {
            let k = (id, k.clone());
            if !self.writes.contains_key(&k) {
                self.reads.insert(k);
            }
        }
        Ok(merged.into_iter().collect())
    }

    /// Buffers a put of `key` to `value`; visible to this transaction's
    /// reads at once, to others after `commit`.
    pub fn put(&mut self, key: impl Into<Bytes>, value: impl Into<Bytes>) {
        self.writes.insert((0, key.into()), Some(value.into()));
    }

    /// [`Transaction::put`] in keyspace `ks`.
    pub fn put_in(&mut self, ks: &crate::Keyspace, key: impl Into<Bytes>, value: impl Into<Bytes>) {
        self.writes
            .insert((ks.id(), key.into()), Some(value.into()));
    }

    /// [`Transaction::delete`] in keyspace `ks`.
    pub fn delete_in(&mut self, ks: &crate::Keyspace, key: impl Into<Bytes>) {
        self.writes.insert((ks.id(), key.into()), None);
    }

    /// Buffers a delete of `key`.
    pub fn delete(&mut self, key: impl Into<Bytes>) {
        self.writes.insert((0, key.into()), None);
    }

    /// Checks that no key this transaction read or writes was written by
    /// another writer after its snapshot, and if none was, applies its
    /// writes atomically as one [`WriteBatch`] (with the database's
    /// [`Durability`](crate::Durability); under `Group` it syncs on its
    /// own). The check and the write happen under the lock that orders all
    /// writes, so no other write slips between them: the first committer
    /// wins. A transaction that wrote nothing commits without a check (its
    /// reads were all of one snapshot).
    ///
    /// # Errors
    ///
    /// [`Error::Conflict`] naming the smallest conflicting key, with
    /// nothing written (begin a new transaction and retry);
    /// [`Error::KeyTooLarge`] or [`Error::ValueTooLarge`]; otherwise as
    /// [`Db::write`].
    pub fn commit(self) -> Result<()> {
        if self.writes.is_empty() {
            return Ok(());
        }
        let inner = self.db.inner();
        inner.state.check()?;
        let mut batch = WriteBatch::new();
        for ((id, k), w) in &self.writes {
            match w {
                Some(v) => batch.push(*id, ValueKind::Inline, k.clone(), v.clone()),
                None => batch.push(*id, ValueKind::Delete, k.clone(), Bytes::new()),
            }
        }
        let seq = self.snapshot.seq;
        let (reads, writes) = (&self.reads, &self.writes);
        inner.write_checked(batch, |inner| {
            // Both sets are sorted: walk their union in key order, so the
            // key named is the smallest conflicting one.
            let mut keys: Vec<&(u64, Bytes)> = reads.iter().chain(writes.keys()).collect();
            keys.sort();
            keys.dedup();
            for (id, k) in keys {
                // Under the write lock: a keyspace live now stays live
                // until this commit is applied (a drop takes the lock).
                let Some(tree) = inner.tree(*id) else {
                    return Err(Error::InvalidKeyspace(format!(
                        "the transaction used keyspace id {id}, dropped since"
                    )));
                };
                if tree.written_after(k, seq)? {
                    return Err(Error::Conflict { key: k.to_vec() });
                }
            }
            Ok(())
        })
    }
}

impl Inner {
    /// Whether the newest version of `key` anywhere (memtables, then the
    /// tables a lookup probes, newest first) has a sequence number above
    /// `seq`. The caller holds the write lock, so every published write is
    /// in the memtables or tables read here.
    pub(crate) fn written_after(&self, key: &[u8], seq: SeqNo) -> Result<bool> {
        let sv = self.super_version();
        if crate::range_del::deleted_after(&sv, key, seq) {
            return Ok(true);
        }
        if let Some(s) = sv.mem.newest_seq(key) {
            return Ok(s > seq);
        }
        for (m, _) in sv.imm.iter().rev() {
            if let Some(s) = m.newest_seq(key) {
                return Ok(s > seq);
            }
        }
        let hash = filter::key_hash(key);
        for t in sv.version.candidates(key) {
            // Each table is read only if it holds writes newer than `seq`;
            // a version found in an older one is older still, so the key
            // is newer than `seq` only if a table that may be is found
            // to hold it.
            if let Some(s) = t.newest_seq_above(key, hash, seq)? {
                return Ok(s > seq);
            }
        }
        Ok(false)
    }
}

/// Whether no key lies between `lo` and `hi` (`BTreeMap::range` panics on
/// such bounds; a transaction's range returns nothing for them).
fn is_empty_range(lo: &Bound<Bytes>, hi: &Bound<Bytes>) -> bool {
    match (lo, hi) {
        (Bound::Included(a), Bound::Included(b)) => a > b,
        (Bound::Included(a) | Bound::Excluded(a), Bound::Excluded(b))
        | (Bound::Excluded(a), Bound::Included(b)) => a >= b,
        _ => false,
    }
}
