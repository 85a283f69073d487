//! `extract_if`: removes the entries a predicate selects and yields them
//! (redb's `extract_if` and `extract_from_if`).
//!
//! The iterator holds the write transaction mutably. Each step scans
//! forward from just past the last key it yielded (a lazy range, so a
//! step holds one root-to-leaf path) to the next entry the predicate
//! selects, removes it as `remove` does, and yields it: an entry is
//! removed only when it is yielded, so stopping early (or dropping the
//! iterator) leaves the rest, as in redb. Each step seeks from the root
//! again, as the removal may have rewritten the path.

use std::ops::{Bound, RangeBounds};

use bytes::Bytes;

use crate::Result;
use crate::table::Table;
use crate::write::{Tree, WriteTxn, owned_bounds};

/// The entries of one table for which a predicate returned `true`, each
/// removed as it is yielded, in key order: from
/// [`WriteTxn::extract_if`], [`WriteTxn::extract_from_if`] and the same
/// methods of [`Table`].
pub struct ExtractIf<'t, 'db, F> {
    txn: &'t mut WriteTxn<'db>,
    tree: Tree,
    /// Just past the last key yielded (or the range's start).
    start: Bound<Vec<u8>>,
    end: Bound<Vec<u8>>,
    select: F,
    done: bool,
}

impl<F> std::fmt::Debug for ExtractIf<'_, '_, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExtractIf")
            .field("start", &self.start)
            .field("end", &self.end)
            .field("done", &self.done)
            .finish()
    }
}

impl<'t, 'db, F> ExtractIf<'t, 'db, F>
where
    F: FnMut(&[u8], &[u8]) -> bool,
{
    pub(crate) fn new(
        txn: &'t mut WriteTxn<'db>,
        tree: Tree,
        (start, end): (Bound<Vec<u8>>, Bound<Vec<u8>>),
        select: F,
    ) -> Self {
        ExtractIf {
            txn,
            tree,
            start,
            end,
            select,
            done: false,
        }
    }

    /// The next selected key at or after `start`.
    fn find(&mut self) -> Result<Option<Bytes>> {
        let ExtractIf {
            txn,
            tree,
            start,
            end,
            select,
            ..
        } = self;
        for kv in txn.range_of(*tree, start.clone(), end.clone()) {
            let (k, v) = kv?;
            if select(&k, &v) {
                return Ok(Some(k));
            }
        }
        Ok(None)
    }
}

impl<F> Iterator for ExtractIf<'_, '_, F>
where
    F: FnMut(&[u8], &[u8]) -> bool,
{
    type Item = Result<(Bytes, Bytes)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let step = self.find().and_then(|found| {
            let Some(key) = found else { return Ok(None) };
            self.start = Bound::Excluded(key.to_vec());
            // The key is in the tree (just read), so `None` cannot happen
            // unless the tree is damaged; then there is nothing to yield.
            Ok(self.txn.remove_in(self.tree, &key)?.map(|v| (key, v)))
        });
        match step {
            Ok(Some(kv)) => Some(Ok(kv)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl<'db> WriteTxn<'db> {
    /// Removes and yields, in key order, the entries of the default table
    /// for which `select(key, value)` returns `true`. Lazy: an entry is
    /// removed when the iterator yields it, so entries after the point
    /// where iteration stops stay. For removing without reading the
    /// values, [`retain`](Self::retain) and
    /// [`remove_range`](Self::remove_range) free whole subtrees instead.
    ///
    /// Each item is `Err` (and the last) if a page on the way is damaged.
    pub fn extract_if<F>(&mut self, select: F) -> ExtractIf<'_, 'db, F>
    where
        F: FnMut(&[u8], &[u8]) -> bool,
    {
        ExtractIf::new(
            self,
            Tree::Main,
            (Bound::Unbounded, Bound::Unbounded),
            select,
        )
    }

    /// As [`extract_if`](Self::extract_if), over the keys in `range` only.
    pub fn extract_from_if<K, R, F>(&mut self, range: R, select: F) -> ExtractIf<'_, 'db, F>
    where
        K: AsRef<[u8]> + ?Sized,
        R: RangeBounds<K>,
        F: FnMut(&[u8], &[u8]) -> bool,
    {
        let bounds = owned_bounds(&range);
        ExtractIf::new(self, Tree::Main, bounds, select)
    }
}

impl<'db> Table<'_, 'db> {
    /// As [`WriteTxn::extract_if`], on this table.
    pub fn extract_if<F>(&mut self, select: F) -> ExtractIf<'_, 'db, F>
    where
        F: FnMut(&[u8], &[u8]) -> bool,
    {
        let (txn, tree) = self.parts();
        ExtractIf::new(txn, tree, (Bound::Unbounded, Bound::Unbounded), select)
    }

    /// As [`WriteTxn::extract_from_if`], on this table.
    pub fn extract_from_if<K, R, F>(&mut self, range: R, select: F) -> ExtractIf<'_, 'db, F>
    where
        K: AsRef<[u8]> + ?Sized,
        R: RangeBounds<K>,
        F: FnMut(&[u8], &[u8]) -> bool,
    {
        let bounds = owned_bounds(&range);
        let (txn, tree) = self.parts();
        ExtractIf::new(txn, tree, bounds, select)
    }
}
