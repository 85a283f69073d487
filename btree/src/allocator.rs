//! The page allocator of one write transaction: which page numbers it may
//! hand out (a pool refilled from the base snapshot's free tree, then the
//! end of the file), which it handed out, and which pages of earlier
//! commits the transaction gave up.
//!
//! The free tree itself (its keys, and how a commit records what it freed)
//! is `freelist.rs`; this module only reads it, oldest entry first, and
//! remembers which entries it consumed so commit can write back what it
//! did not use.
//!
//! Invariants: every page in `pool` is reachable from no snapshot that may
//! still be read; every page in `fresh` was handed out by this transaction
//! and is not in `pool`; `page_count` is above every page number handed out.

use std::collections::{BTreeSet, HashSet};
use std::ops::Bound;

use bytes::Bytes;

use crate::Result;
use crate::cursor::Cursor;
use crate::db::Snapshot;
use crate::freelist::{Region, free_key, key_txn};
use crate::node::malformed;
use crate::page;

/// Free-tree entries an overflow run's allocation takes, at most, looking
/// for that many consecutive free pages before it extends the file. Those it
/// does not use go back under their keys at commit.
const RUN_SEARCH_ENTRIES: usize = 32;

/// The first of `n` consecutive pages in `pool`, if it has them.
fn run_in(pool: &BTreeSet<u64>, n: u64) -> Option<u64> {
    let mut prev: Option<(u64, u64)> = None; // (run start, last)
    for &id in pool {
        prev = match prev {
            Some((s, last)) if last + 1 == id => Some((s, id)),
            _ => Some((id, id)),
        };
        if let Some((s, last)) = prev
            && last + 1 - s == n
        {
            return Some(s);
        }
    }
    None
}

/// Page numbers for one write transaction.
#[derive(Clone, Debug)]
pub(crate) struct Allocator {
    /// Next page number past every page in use.
    page_count: u64,
    /// Pages this transaction allocated (and has not freed again).
    fresh: HashSet<u64>,
    /// Pages of earlier commits this transaction no longer references, in
    /// the order it gave them up (commit records them in the free tree).
    freed: Vec<u64>,
    /// Free pages ready for reuse by this transaction.
    pool: BTreeSet<u64>,
    /// Free-tree keys whose pages were moved into `pool`.
    consumed: Vec<Bytes>,
    /// The last free-tree key consumed in each region (durable, recent):
    /// the next refill starts after it.
    consumed_upto: [Option<Bytes>; 2],
    /// The oldest snapshot that may still be read: free-tree entries of
    /// later transactions are not reused.
    oldest_live: u64,
    /// The oldest snapshot an open reader holds (or the base snapshot):
    /// free-tree entries of the recent region up to it are reused.
    oldest_reader: u64,
    /// Set while commit records freed pages: the pool is then not refilled
    /// and pages freed are not put back into it, so recording terminates.
    recording: bool,
}

impl Allocator {
    /// An allocator over a file of `page_count` pages in use, reusing
    /// free-tree entries of the durable region up to `oldest_live` and of
    /// the recent region up to `oldest_reader`.
    pub(crate) fn new(page_count: u64, oldest_live: u64, oldest_reader: u64) -> Allocator {
        Allocator {
            page_count,
            fresh: HashSet::new(),
            freed: Vec::new(),
            pool: BTreeSet::new(),
            consumed: Vec::new(),
            consumed_upto: [None, None],
            oldest_live,
            oldest_reader,
            recording: false,
        }
    }

    /// Next page number past every page in use.
    pub(crate) fn page_count(&self) -> u64 {
        self.page_count
    }

    /// Whether this transaction took or gave up no page at all.
    pub(crate) fn is_untouched(&self) -> bool {
        self.freed.is_empty() && self.consumed.is_empty() && self.pool.is_empty()
    }

    /// Pages of earlier commits given up so far, in order.
    pub(crate) fn freed(&self) -> &[u64] {
        &self.freed
    }

    /// Free pages still in the pool.
    pub(crate) fn pool_len(&self) -> usize {
        self.pool.len()
    }

    /// The pages this transaction allocated, handed over at commit.
    pub(crate) fn take_fresh(&mut self) -> HashSet<u64> {
        std::mem::take(&mut self.fresh)
    }

    /// Takes a page number: a free one if any may be reused, else a new one
    /// at the end of the file. `base` is the snapshot the transaction began
    /// from, whose free tree refills the pool.
    pub(crate) fn alloc(&mut self, base: &Snapshot) -> Result<u64> {
        let id = match self.pool.pop_first() {
            Some(id) => id,
            None => match self.refill(base)? {
                true => self.pool.pop_first().unwrap_or(self.page_count),
                false => self.page_count,
            },
        };
        if id == self.page_count {
            self.page_count += 1;
        }
        self.fresh.insert(id);
        Ok(id)
    }

    /// Takes `n` consecutive page numbers for an overflow run.
    pub(crate) fn alloc_run(&mut self, base: &Snapshot, n: u64) -> Result<u64> {
        if n == 1 {
            return self.alloc(base);
        }
        // Reuse a run of free pages if the pool has one. Else take more
        // free-tree entries (a freed run is listed in order, so it comes back
        // whole, perhaps over two entries) before extending the file: with
        // only the pool searched, runs came from the end of the file while
        // the pages they freed went to single-page copies, and a workload of
        // multi-page values grew the file by pages per commit, forever.
        let mut refills = 0;
        let found = loop {
            if let Some(s) = run_in(&self.pool, n) {
                break Some(s);
            }
            if refills == RUN_SEARCH_ENTRIES || !self.refill(base)? {
                break None;
            }
            refills += 1;
        };
        let start = match found {
            Some(s) => {
                for id in s..s + n {
                    self.pool.remove(&id);
                }
                s
            }
            None => {
                // Free pages just below the end of the file start the run.
                let mut s = self.page_count;
                while s > page::FIRST_DATA_PAGE
                    && s + n > self.page_count
                    && self.pool.remove(&(s - 1))
                {
                    s -= 1;
                }
                self.page_count = self.page_count.max(s + n);
                s
            }
        };
        self.fresh.extend(start..start + n);
        Ok(start)
    }

    /// Gives up page `id`: back to the pool at once if this transaction
    /// allocated it (and commit is not recording), else recorded as freed.
    pub(crate) fn free(&mut self, id: u64) {
        if self.fresh.remove(&id) && !self.recording {
            self.pool.insert(id);
        } else {
            self.freed.push(id);
        }
    }

    /// Takes back the pages given up so far that `referenced` says are
    /// referenced again (a persistent savepoint restored): they are no
    /// longer freed by this transaction.
    pub(crate) fn take_back(&mut self, referenced: impl Fn(u64) -> bool) {
        self.freed.retain(|&id| !referenced(id));
    }

    /// Moves the pages of the oldest reusable free-tree entry of `base` into
    /// the pool. Returns whether it found one.
    pub(crate) fn refill(&mut self, base: &Snapshot) -> Result<bool> {
        if self.recording {
            return Ok(false);
        }
        Ok(self.refill_from(base, Region::Durable)? || self.refill_from(base, Region::Recent)?)
    }

    fn refill_from(&mut self, base: &Snapshot, region: Region) -> Result<bool> {
        let (limit, i) = match region {
            Region::Durable => (self.oldest_live, 0),
            Region::Recent => (self.oldest_reader, 1),
        };
        let map = &base.map;
        let m = &base.meta;
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

    /// A consumed free-tree key the pool no longer needs (its pages, at
    /// `per_chunk` a key, fit the keys before it): commit removes it from
    /// the free tree.
    pub(crate) fn pop_surplus_key(&mut self, per_chunk: usize) -> Option<Bytes> {
        if self.consumed.len() > self.pool.len().div_ceil(per_chunk) {
            self.consumed.pop()
        } else {
            None
        }
    }

    /// Pages of the pool past what the consumed keys hold at `per_chunk` a
    /// key (pages this transaction allocated and freed again came to the
    /// pool without a key): moved to the freed pages, and returned.
    pub(crate) fn spill_unkeyed(&mut self, per_chunk: usize) -> Vec<u64> {
        let room = self.consumed.len() * per_chunk;
        let mut spilled = Vec::new();
        while self.pool.len() > room {
            if let Some(id) = self.pool.pop_last() {
                self.freed.push(id);
                spilled.push(id);
            }
        }
        spilled
    }

    /// Stops refilling the pool and putting freed pages back into it: from
    /// now on the pool only shrinks and the freed pages only grow, so
    /// commit's recording of its free-tree changes terminates.
    pub(crate) fn start_recording(&mut self) {
        self.recording = true;
    }

    /// The pool's pages at `per_chunk` a key under the consumed keys, in
    /// order (the caller removed surplus keys first).
    pub(crate) fn unused_chunks(&self, per_chunk: usize) -> Vec<(Bytes, Vec<u64>)> {
        let unused: Vec<u64> = self.pool.iter().copied().collect();
        self.consumed
            .iter()
            .cloned()
            .zip(unused.chunks(per_chunk).map(<[u64]>::to_vec))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_in_finds_the_first_run_long_enough() {
        let pool: BTreeSet<u64> = [3, 4, 6, 7, 8, 10].into_iter().collect();
        assert_eq!(run_in(&pool, 2), Some(3));
        assert_eq!(run_in(&pool, 3), Some(6));
        assert_eq!(run_in(&pool, 4), None);
    }
}
