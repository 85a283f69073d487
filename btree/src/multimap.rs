//! Multimap tables: many values per key, kept sorted, on the same pages as
//! every other table (redb's `MultimapTable`). Each (key, value) pair is
//! one key of the table's tree, with an empty value:
//!
//! ```text
//! key, each 0x00 byte written 0x00 0xFF | 0x00 0x00 | value
//! ```
//!
//! The escape keeps pairs in (key, value) order: a key that ends sorts
//! before any longer key sharing its prefix (0x00 0x00 is below 0x00 0xFF
//! and every other byte), and the values of one key follow its terminator
//! in byte order. So a key's values are one key range of the tree, and
//! `remove_all` is a range removal. A pair's encoding is limited to the
//! tree's key maximum (an eighth of a page).

use std::ops::Bound;

use bytes::Bytes;

use crate::catalog::TableKind;
use crate::db::Snapshot;
use crate::node::Child;
use crate::read::{Range, ReadTxn};
use crate::write::{Tree, WriteTxn};
use crate::{Error, Result};

/// Escapes `key` and appends the terminator: the prefix of every pair of
/// `key`.
fn key_prefix(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 2);
    for &b in key {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0, 0]);
    out
}

/// Whether `encoded` is a pair's encoding: the key with each `0x00`
/// followed by `0xFF`, then the terminator `0x00 0x00`, then any value.
pub(crate) fn is_pair(encoded: &[u8]) -> bool {
    let mut i = 0;
    while let Some(&b) = encoded.get(i) {
        if b == 0 {
            match encoded.get(i + 1) {
                Some(0xFF) => i += 2,
                Some(0) => return true,
                _ => return false,
            }
        } else {
            i += 1;
        }
    }
    false
}

/// The tree key of pair (`key`, `value`).
fn pair(key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = key_prefix(key);
    out.extend_from_slice(value);
    out
}

/// The tree-key range of every pair of `key`: from its prefix to the
/// prefix with its last byte raised (`.. 0x00 0x00` to `.. 0x00 0x01`).
fn key_range(key: &[u8]) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let from = key_prefix(key);
    let mut to = from.clone();
    if let Some(last) = to.last_mut() {
        *last = 1;
    }
    (Bound::Included(from), Bound::Excluded(to))
}

impl WriteTxn<'_> {
    fn check_pair(&self, encoded: &[u8]) -> Result<()> {
        let len_max = self.db.limits.key_len_max;
        if encoded.len() > len_max {
            return Err(Error::KeyTooLarge {
                len: encoded.len(),
                len_max,
            });
        }
        Ok(())
    }
}

/// A multimap table open in a write transaction: many values per key,
/// sorted. It borrows the transaction mutably, as [`Table`](crate::Table).
pub struct MultimapTable<'t, 'db> {
    txn: &'t mut WriteTxn<'db>,
    index: usize,
}

impl std::fmt::Debug for MultimapTable<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultimapTable")
            .field("index", &self.index)
            .finish()
    }
}

impl<'db> WriteTxn<'db> {
    /// Opens multimap table `name`, creating it empty if it does not exist.
    ///
    /// # Errors
    ///
    /// [`Error::TableNameLength`], [`Error::TableKind`] if `name` is a
    /// plain table, or a corruption error from a page of the catalogue.
    pub fn open_multimap_table(&mut self, name: &str) -> Result<MultimapTable<'_, 'db>> {
        let index = self.open_table_index(name, TableKind::Multimap)?;
        Ok(MultimapTable { txn: self, index })
    }
}

impl MultimapTable<'_, '_> {
    fn tree(&self) -> Tree {
        Tree::Table(self.index)
    }

    /// Adds `value` to `key`'s values; returns whether the pair was new.
    ///
    /// # Errors
    ///
    /// [`Error::KeyTooLarge`] if the pair's encoding (the key with each
    /// zero byte doubled, two bytes, the value) exceeds the key maximum;
    /// a corruption error from a page on the way.
    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<bool> {
        let p = pair(key, value);
        self.txn.check_pair(&p)?;
        if self.txn.lookup(self.tree(), &p)?.is_some() {
            return Ok(false);
        }
        self.txn.insert_in(self.tree(), &p, b"")
    }

    /// Removes one pair; returns whether it was there.
    ///
    /// # Errors
    ///
    /// As [`insert`](Self::insert).
    pub fn remove(&mut self, key: &[u8], value: &[u8]) -> Result<bool> {
        let p = pair(key, value);
        self.txn.check_pair(&p)?;
        Ok(self.txn.remove_in(self.tree(), &p)?.is_some())
    }

    /// Removes every value of `key` (one range removal); returns how many.
    ///
    /// # Errors
    ///
    /// A corruption error from a page on the way.
    pub fn remove_all(&mut self, key: &[u8]) -> Result<u64> {
        let (start, end) = key_range(key);
        self.txn.remove_range_in(self.tree(), start, end)
    }

    /// The values of `key` in byte order, lazily, from either end.
    pub fn get(&self, key: &[u8]) -> impl DoubleEndedIterator<Item = Result<Bytes>> + use<'_> {
        let (start, end) = key_range(key);
        let skip = match &start {
            Bound::Included(p) => p.len(),
            _ => 0,
        };
        self.txn
            .range_of(self.tree(), start, end)
            .map(move |kv| kv.map(|(k, _)| k.slice(skip.min(k.len())..)))
    }

    /// Pairs in the table.
    pub fn len(&self) -> u64 {
        self.txn.len_of(self.tree())
    }

    /// Whether the table has no pair.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A multimap table as of a read snapshot.
///
/// # Concurrency
///
/// `Send + Sync`; every method takes `&self`.
pub struct ReadMultimapTable<'r> {
    snap: &'r Snapshot,
    root: Option<Child>,
    len: u64,
}

impl std::fmt::Debug for ReadMultimapTable<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadMultimapTable")
            .field("len", &self.len)
            .finish()
    }
}

impl ReadTxn {
    /// Opens multimap table `name` as of this snapshot; `None` if it did
    /// not exist.
    ///
    /// # Errors
    ///
    /// [`Error::TableNameLength`], [`Error::TableKind`] if `name` is a
    /// plain table, or a corruption error from a page of the catalogue.
    pub fn open_multimap_table(&self, name: &str) -> Result<Option<ReadMultimapTable<'_>>> {
        Ok(self
            .find_table(name, TableKind::Multimap)?
            .map(|(snap, root, len)| ReadMultimapTable { snap, root, len }))
    }
}

impl ReadMultimapTable<'_> {
    /// The values of `key` in byte order, from either end, borrowed from
    /// the snapshot.
    pub fn get(&self, key: &[u8]) -> impl DoubleEndedIterator<Item = Result<&[u8]>> + use<'_> {
        let (start, end) = key_range(key);
        let skip = match &start {
            Bound::Included(p) => p.len(),
            _ => 0,
        };
        Range::new(self.snap, self.root, start, end)
            .map(move |kv| kv.map(|(k, _)| k.get(skip..).unwrap_or(&[])))
    }

    /// Pairs in the table.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the table has no pair.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_sort_by_key_then_value_whatever_the_bytes() {
        let keys: [&[u8]; 6] = [b"", b"\x00", b"\x00\x00", b"\x00\x01", b"a", b"a\x00"];
        let values: [&[u8]; 3] = [b"", b"\x00", b"z"];
        let mut want = Vec::new();
        for k in keys {
            for v in values {
                want.push((k, v));
            }
        }
        let mut got = want.clone();
        got.sort_by_key(|(k, v)| pair(k, v));
        assert_eq!(got, want);
        for k in keys {
            let (Bound::Included(lo), Bound::Excluded(hi)) = key_range(k) else {
                unreachable!("key_range gives an included start and an excluded end");
            };
            for (k2, v) in &want {
                let p = pair(k2, v);
                assert_eq!(p >= lo && p < hi, k2 == &k, "{k:?} {k2:?} {v:?}");
            }
        }
    }

    #[test]
    fn pairs_are_recognized_and_other_keys_are_not() {
        for (k, v) in [
            (&b""[..], &b""[..]),
            (b"a\x00b", b"x"),
            (b"\x00", b"\x00\x00"),
        ] {
            assert!(is_pair(&pair(k, v)), "{k:?} {v:?}");
        }
        for bad in [&b""[..], b"abc", b"a\x00", b"a\x00b", b"\x00\x01"] {
            assert!(!is_pair(bad), "{bad:?}");
        }
    }
}
