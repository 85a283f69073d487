//! The free tree: which pages each transaction freed, kept as a second
//! copy-on-write B+ tree in the same file (as LMDB's free DB).
//!
//! Key: the freeing transaction's id (`u64` big-endian) then a chunk number
//! (`u32` big-endian); value: page numbers (`u64` little-endian each), as
//! many as fit an inline value. Pages freed by transaction `T` were
//! reachable from snapshot `T - 1` and no later one, so they may be reused
//! once every snapshot that may still be read (open readers, and the last
//! durable commit a crash would return to) is at least `T`.
//!
//! A commit touches only the entries it consumes (the oldest, leftmost) and
//! the one it adds (the newest, rightmost): never the whole list, so the
//! cost of tracking free pages does not grow with the file (bbolt rewrites
//! its whole free list on every commit).
//!
//! Recording terminates: while the new entry is written, allocation only
//! extends the file, so the set of pages to record only grows, and it grows
//! only by pages of the old free tree copied on the first touch of each.

use std::ops::Bound;

use bytes::Bytes;

use crate::Result;
use crate::cursor::Cursor;
use crate::node::{Value, malformed};
use crate::page;
use crate::write::{Tree, WriteTxn};

/// Bytes of a free-tree key.
pub(crate) const FREE_KEY_BYTES: usize = 12;

pub(crate) fn free_key(txn: u64, chunk: u32) -> Bytes {
    let mut k = Vec::with_capacity(FREE_KEY_BYTES);
    k.extend_from_slice(&txn.to_be_bytes());
    k.extend_from_slice(&chunk.to_be_bytes());
    Bytes::from(k)
}

/// The transaction id in a free-tree key.
pub(crate) fn key_txn(key: &[u8]) -> Option<u64> {
    let b: [u8; 8] = key.get(..8)?.try_into().ok()?;
    Some(u64::from_be_bytes(b))
}

impl WriteTxn<'_> {
    /// Page numbers one free-tree value holds.
    fn chunk_pages_max(&self) -> usize {
        self.db.limits.inline_value_len_max / 8
    }

    /// Moves the pages of the oldest reusable free-tree entry into the pool.
    /// Returns whether it found one.
    pub(crate) fn refill_pool(&mut self) -> Result<bool> {
        if self.recording {
            return Ok(false);
        }
        let map = &self.base.map;
        let m = &self.base.meta;
        let after = self.consumed_upto.clone();
        let bound = match &after {
            Some(k) => Bound::Excluded(&k[..]),
            None => Bound::Unbounded,
        };
        let cursor = Cursor::seek(map, m.page_count, m.free_root, bound, true)?;
        let Some((key, value)) = cursor.current_value()? else {
            return Ok(false);
        };
        let txn = key_txn(key).ok_or_else(|| malformed(map.file(), 0, "short free-tree key"))?;
        if txn > self.oldest_live {
            return Ok(false);
        }
        if value.len() % 8 != 0 {
            return Err(malformed(
                map.file(),
                0,
                "free-tree value not a list of page numbers",
            ));
        }
        let mut added = false;
        for chunk in value.chunks_exact(8) {
            let id = page::get_u64(chunk, 0);
            if !(page::FIRST_DATA_PAGE..m.page_count).contains(&id) {
                return Err(malformed(map.file(), id, "free page number out of range"));
            }
            added |= self.pool.insert(id);
        }
        let key = Bytes::copy_from_slice(key);
        self.consumed_upto = Some(key.clone());
        self.consumed.push(key);
        // An entry of no new pages still counts: try the next one.
        if !added {
            return self.refill_pool();
        }
        Ok(true)
    }

    /// Removes consumed entries and records every page this transaction
    /// freed (and every pooled page it did not use) under its own id.
    pub(crate) fn record_frees(&mut self) -> Result<()> {
        // Removing may copy free-tree pages, which may consume more entries:
        // remove until none is left.
        while let Some(key) = self.consumed.pop() {
            self.tree_remove(Tree::Free, &key)?;
        }
        self.recording = true;
        let pooled: Vec<u64> = std::mem::take(&mut self.pool).into_iter().collect();
        self.freed_old.extend(pooled);
        let per_chunk = self.chunk_pages_max();
        let mut recorded = 0;
        let mut chunk: u32 = 0;
        let mut in_chunk: Vec<u64> = Vec::new();
        while recorded < self.freed_old.len() {
            let new: Vec<u64> = self.freed_old[recorded..].to_vec();
            recorded = self.freed_old.len();
            let mut touched = false;
            for id in new {
                if in_chunk.len() == per_chunk {
                    self.write_chunk(chunk, &in_chunk)?;
                    chunk += 1;
                    in_chunk.clear();
                }
                in_chunk.push(id);
                touched = true;
            }
            if touched {
                self.write_chunk(chunk, &in_chunk)?;
            }
        }
        Ok(())
    }

    fn write_chunk(&mut self, chunk: u32, pages: &[u64]) -> Result<()> {
        let mut v = Vec::with_capacity(pages.len() * 8);
        for p in pages {
            v.extend_from_slice(&p.to_le_bytes());
        }
        let key = free_key(self.txn, chunk);
        self.tree_insert(Tree::Free, key, Value::Inline(Bytes::from(v)))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_keys_sort_by_transaction_then_chunk() {
        let keys = [
            free_key(1, 5),
            free_key(2, 0),
            free_key(2, 1),
            free_key(256, 0),
            free_key(u64::MAX, 0),
        ];
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(
            keys.iter().map(|k| key_txn(k)).collect::<Vec<_>>(),
            [1, 2, 2, 256, u64::MAX].map(Some)
        );
        assert_eq!(key_txn(b"short"), None);
    }
}
