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

use bytes::Bytes;

use crate::Result;
use crate::node::Value;
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
        while self.alloc.pool_len() < RECORD_RESERVE_PAGES && self.alloc.refill(&self.base)? {}
        let per_chunk = self.chunk_pages_max();
        // Remove the consumed entries the unused pool will not fill again.
        // Removing may copy free-tree pages, which may consume more entries.
        while let Some(key) = self.alloc.pop_surplus_key(per_chunk) {
            self.tree_remove(Tree::Free, &key)?;
        }
        // Pages this transaction allocated and freed again came to the pool
        // without a key: past what the consumed keys hold, file them under
        // this transaction. No durable commit references them.
        for id in self.alloc.spill_unkeyed(per_chunk) {
            self.w.since_durable.insert(id);
        }
        self.alloc.start_recording();
        let mut recorded = 0;
        // Chunk numbers and the open chunk, per region.
        let mut chunk: [u32; 2] = [0, 0];
        let mut in_chunk: [Vec<u64>; 2] = [Vec::new(), Vec::new()];
        loop {
            let (pool_before, freed_before) = (self.alloc.pool_len(), self.alloc.freed().len());
            self.return_unused()?;
            let new: Vec<u64> = self.alloc.freed()[recorded..].to_vec();
            recorded = self.alloc.freed().len();
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
            if self.alloc.pool_len() == pool_before && self.alloc.freed().len() == freed_before {
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
        while let Some(key) = self.alloc.pop_surplus_key(per_chunk) {
            self.tree_remove(Tree::Free, &key)?;
        }
        for (key, pages) in self.alloc.unused_chunks(per_chunk) {
            self.write_chunk(key, &pages)?;
        }
        Ok(())
    }

    pub(crate) fn write_chunk(&mut self, key: Bytes, pages: &[u64]) -> Result<()> {
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
