//! The free tree: which pages each transaction freed, kept as a second
//! copy-on-write B+ tree in the same file (as LMDB's free DB).
//!
//! Key: the freeing transaction's id (`u64` big-endian) then a chunk number
//! (`u32` big-endian); value: page numbers (`u64` little-endian each), as
//! as many as fit `page_size / 8 - 32` bytes. Pages freed by transaction `T` were
//! reachable from snapshot `T - 1` and no later one, so they may be reused
//! once every snapshot that may still be read (open readers, and the last
//! durable commit a crash would return to) is at least `T`.
//!
//! Pages that were allocated after the last durable commit cannot be
//! reachable from it, so when they are freed again the durable commit does
//! not hold them: they are recorded in a second region of keys (the top bit
//! of the transaction id set) and may be reused once every open reader is at
//! least `T`, without waiting for a sync. A stream of non-durable commits
//! (`Durability::None`) then recycles its own pages, as redb does, instead of
//! growing the file until the next sync. A crash returns to the durable
//! commit, whose free tree knows nothing of that region's later entries.
//!
//! A commit touches only the entries it consumes (the oldest, leftmost) and
//! the one it adds (the newest, rightmost): never the whole list, so the
//! cost of tracking free pages does not grow with the file (bbolt rewrites
//! its whole free list on every commit). Pages it consumed but did not use
//! go back under the keys they came from, so they stay reusable at once.
//!
//! Writing those entries copies free-tree pages too; they come from the
//! pool, topped up before recording starts, and not from the end of the
//! file. Recording terminates: while it runs the pool is not refilled and
//! only shrinks, and the pages to record only grow, by pages of the old free
//! tree copied on the first touch of each or by pages the pool gave.

use std::ops::Bound;

use bytes::Bytes;

use crate::Result;
use crate::cursor::Cursor;
use crate::node::{Value, malformed};
use crate::page;
use crate::write::{Tree, WriteTxn};

/// Reusable pages a commit takes into its pool (when the free tree has
/// them) before it records its free-tree changes, so the pages that
/// recording copies are reused ones rather than new ones at the end of the
/// file. A few paths of the free tree: those it did not use go back under
/// the keys they came from.
pub(crate) const RECORD_RESERVE_PAGES: usize = 16;

/// Bytes of a free-tree key.
pub(crate) const FREE_KEY_BYTES: usize = 12;

/// The top bit of a free-tree key's transaction field: the pages were
/// allocated after the last durable commit before they were freed.
pub(crate) const RECENT_BIT: u64 = 1 << 63;

/// Which pages a free-tree entry holds, and so when they may be reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Region {
    /// Pages a durable commit may reference: reused once open readers and
    /// the last durable commit are all at least the freeing transaction.
    Durable,
    /// Pages allocated after the last durable commit: reused once open
    /// readers are at least the freeing transaction.
    Recent,
}

pub(crate) fn free_key(region: Region, txn: u64, chunk: u32) -> Bytes {
    let field = match region {
        Region::Durable => txn,
        Region::Recent => txn | RECENT_BIT,
    };
    let mut k = Vec::with_capacity(FREE_KEY_BYTES);
    k.extend_from_slice(&field.to_be_bytes());
    k.extend_from_slice(&chunk.to_be_bytes());
    Bytes::from(k)
}

/// The region and transaction id of a free-tree key.
pub(crate) fn key_txn(key: &[u8]) -> Option<(Region, u64)> {
    let b: [u8; 8] = key.get(..8)?.try_into().ok()?;
    let field = u64::from_be_bytes(b);
    Some(if field & RECENT_BIT == 0 {
        (Region::Durable, field)
    } else {
        (Region::Recent, field & !RECENT_BIT)
    })
}

impl WriteTxn<'_> {
    /// Page numbers one free-tree value holds.
    fn chunk_pages_max(&self) -> usize {
        self.db.limits.free_chunk_bytes_max / 8
    }

    /// Moves the pages of the oldest reusable free-tree entry into the pool.
    /// Returns whether it found one.
    pub(crate) fn refill_pool(&mut self) -> Result<bool> {
        if self.recording {
            return Ok(false);
        }
        Ok(self.refill_from(Region::Durable)? || self.refill_from(Region::Recent)?)
    }

    fn refill_from(&mut self, region: Region) -> Result<bool> {
        let (limit, i) = match region {
            Region::Durable => (self.oldest_live, 0),
            Region::Recent => (self.oldest_reader, 1),
        };
        let map = &self.base.map;
        let m = &self.base.meta;
        // Bounded: each round takes a key strictly greater than the last one
        // consumed (checked below, as a damaged tree whose CRCs hold may
        // hand back a key already taken, forever), and the base snapshot's
        // free tree, which is all this reads, has finitely many.
        loop {
            let start = match region {
                Region::Durable => None,
                Region::Recent => Some(free_key(Region::Recent, 0, 0)),
            };
            let bound = match (&self.consumed_upto[i], &start) {
                (Some(k), _) => Bound::Excluded(&k[..]),
                (None, Some(k)) => Bound::Included(&k[..]),
                (None, None) => Bound::Unbounded,
            };
            let cursor = Cursor::seek(map, m.page_count, m.free_root_ref(), bound, true)?;
            let Some((key, value)) = cursor.current_value()? else {
                return Ok(false);
            };
            let leaf = cursor.page().unwrap_or(0);
            if let Some(last) = &self.consumed_upto[i]
                && key <= &last[..]
            {
                return Err(malformed(
                    map.file(),
                    leaf,
                    "free-tree keys not strictly increasing",
                ));
            }
            let (found, txn) =
                key_txn(key).ok_or_else(|| malformed(map.file(), leaf, "short free-tree key"))?;
            if found != region || txn > limit {
                return Ok(false);
            }
            if value.len() % 8 != 0 {
                return Err(malformed(
                    map.file(),
                    leaf,
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
            self.consumed_upto[i] = Some(key.clone());
            self.consumed.push(key);
            // An entry of no new pages still counts: try the next one.
            if added {
                return Ok(true);
            }
        }
    }

    /// Records the free-tree changes of this transaction: every page it
    /// freed goes under its own id, and the reusable pages it took but did
    /// not use go back under the keys they came from.
    ///
    /// Writing the free tree copies its pages too (the rightmost path, where
    /// the new entries go, and splits), so those allocations come from the
    /// pool like any other: first the pool is topped up with
    /// [`RECORD_RESERVE_PAGES`] reusable pages (when the free tree has
    /// them), then entries are rewritten until a pass changes nothing.
    /// Before, every page allocated while recording extended the file, and
    /// once the free tree was more than one leaf (its oldest and newest
    /// entries on different pages) that was a few pages per commit that
    /// were freed again and never caught up with: a file of 1,600 used
    /// 512-byte pages grew past 100,000.
    ///
    /// Terminates: while recording, the pool only shrinks (it is not
    /// refilled, and pages freed go to `freed_old`) and `freed_old` only
    /// grows, by pages of the old free tree copied on their first touch or
    /// by pages the pool gave, so each pass that changes something takes a
    /// pool page or frees one of finitely many pages.
    pub(crate) fn record_frees(&mut self) -> Result<()> {
        while self.pool.len() < RECORD_RESERVE_PAGES && self.refill_pool()? {}
        let per_chunk = self.chunk_pages_max();
        // Remove the consumed entries the unused pool will not fill again.
        // Removing may copy free-tree pages, which may consume more entries.
        while self.consumed.len() > self.pool.len().div_ceil(per_chunk) {
            if let Some(key) = self.consumed.pop() {
                self.tree_remove(Tree::Free, &key)?;
            }
        }
        // Pages this transaction allocated and freed again came to the pool
        // without a key: past what the consumed keys hold, file them under
        // this transaction. No durable commit references them.
        let room = self.consumed.len() * per_chunk;
        while self.pool.len() > room {
            if let Some(id) = self.pool.pop_last() {
                self.w.since_durable.insert(id);
                self.freed_old.push(id);
            }
        }
        self.recording = true;
        let mut recorded = 0;
        // Chunk numbers and the open chunk, per region.
        let mut chunk: [u32; 2] = [0, 0];
        let mut in_chunk: [Vec<u64>; 2] = [Vec::new(), Vec::new()];
        loop {
            let (pool_before, freed_before) = (self.pool.len(), self.freed_old.len());
            self.return_unused()?;
            let new: Vec<u64> = self.freed_old[recorded..].to_vec();
            recorded = self.freed_old.len();
            let mut touched = [false, false];
            for id in new {
                let (region, i) = if self.w.since_durable.contains(&id) {
                    (Region::Recent, 1)
                } else {
                    (Region::Durable, 0)
                };
                if in_chunk[i].len() == per_chunk {
                    let full = std::mem::take(&mut in_chunk[i]);
                    self.write_chunk(free_key(region, self.txn, chunk[i]), &full)?;
                    chunk[i] += 1;
                }
                in_chunk[i].push(id);
                touched[i] = true;
            }
            for (i, region) in [(0, Region::Durable), (1, Region::Recent)] {
                if touched[i] {
                    let open = in_chunk[i].clone();
                    self.write_chunk(free_key(region, self.txn, chunk[i]), &open)?;
                }
            }
            if self.pool.len() == pool_before && self.freed_old.len() == freed_before {
                return Ok(());
            }
        }
    }

    /// Writes the pool's pages back under the consumed keys (removing the
    /// keys left over). They were reusable by this transaction, so they are
    /// reachable from no snapshot that is or will be open, nor from the last
    /// durable commit: any key already reusable may list them, and the next
    /// transaction reuses them at once. Filing them under this
    /// transaction's id instead would hold them back until every reader (and,
    /// for the durable region, a sync) had passed it.
    fn return_unused(&mut self) -> Result<()> {
        let per_chunk = self.chunk_pages_max();
        while self.consumed.len() > self.pool.len().div_ceil(per_chunk) {
            if let Some(key) = self.consumed.pop() {
                self.tree_remove(Tree::Free, &key)?;
            }
        }
        let unused: Vec<u64> = self.pool.iter().copied().collect();
        let keys = self.consumed.clone();
        for (key, pages) in keys.into_iter().zip(unused.chunks(per_chunk)) {
            self.write_chunk(key, pages)?;
        }
        Ok(())
    }

    fn write_chunk(&mut self, key: Bytes, pages: &[u64]) -> Result<()> {
        let mut v = Vec::with_capacity(pages.len() * 8);
        for p in pages {
            v.extend_from_slice(&p.to_le_bytes());
        }
        self.tree_insert(Tree::Free, key, Value::Inline(Bytes::from(v)))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_keys_sort_by_region_then_transaction_then_chunk() {
        let keys = [
            free_key(Region::Durable, 1, 5),
            free_key(Region::Durable, 2, 0),
            free_key(Region::Durable, 2, 1),
            free_key(Region::Durable, 256, 0),
            free_key(Region::Durable, RECENT_BIT - 1, 0),
            free_key(Region::Recent, 0, 0),
            free_key(Region::Recent, 3, 0),
            free_key(Region::Recent, 3, 7),
        ];
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(
            keys.iter().map(|k| key_txn(k)).collect::<Vec<_>>(),
            [
                (Region::Durable, 1),
                (Region::Durable, 2),
                (Region::Durable, 2),
                (Region::Durable, 256),
                (Region::Durable, RECENT_BIT - 1),
                (Region::Recent, 0),
                (Region::Recent, 3),
                (Region::Recent, 3),
            ]
            .map(Some)
        );
        assert_eq!(key_txn(b"short"), None);
    }
}
