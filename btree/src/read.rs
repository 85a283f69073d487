//! Read transactions: a snapshot of the last commit, searched in place.

use std::ops::{Bound, RangeBounds};

use std::sync::Arc;

use bytes::Bytes;

use crate::Result;
use crate::cursor::{Cursor, DEPTH_MAX};
use crate::db::Snapshot;
use crate::node::{Child, malformed};

/// A read-only view of the database as of the last commit when it began.
///
/// Any number may be open at once, alongside the writer. Pages the snapshot
/// can reach are not reused while it is open, so a long-lived reader makes
/// the file grow instead of reusing freed pages: drop it when done.
///
/// # Concurrency
///
/// `Send + Sync`; every method takes `&self`.
pub struct ReadTxn {
    /// Holding it keeps its pages from reuse (see `db::Published`) and the
    /// file locked (see `Snapshot::_lock`).
    snap: Arc<Snapshot>,
}

impl std::fmt::Debug for ReadTxn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadTxn")
            .field("txn", &self.snap.meta.txn)
            .finish()
    }
}

impl ReadTxn {
    pub(crate) fn new(snap: Arc<Snapshot>) -> ReadTxn {
        ReadTxn { snap }
    }

    pub(crate) fn snapshot(&self) -> &Snapshot {
        &self.snap
    }

    /// The id of the commit this snapshot shows.
    pub fn txn_id(&self) -> u64 {
        self.snap.meta.txn
    }

    /// Entries in the snapshot.
    pub fn len(&self) -> u64 {
        self.snap.meta.entry_count
    }

    /// Whether the snapshot has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value stored under `key`, sharing the file's bytes (no copy on a
    /// memory-mapped file).
    ///
    /// # Errors
    ///
    /// [`Error::Corruption`](crate::Error::Corruption) or
    /// [`Error::Malformed`](crate::Error::Malformed) if a page on the way is damaged.
    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        Ok(self.get_ref(key)?.map(|v| self.snap.map.to_bytes(v)))
    }

    /// Like [`get`](Self::get), borrowing the value from the snapshot.
    ///
    /// # Errors
    ///
    /// As [`get`](Self::get).
    pub fn get_ref(&self, key: &[u8]) -> Result<Option<&[u8]>> {
        get_in(&self.snap, self.snap.meta.root_ref(), key)
    }

    /// The entries whose keys fall in `range`, in key order; iterate from
    /// either end (`rev()`). Items borrow from the snapshot.
    pub fn range<K, R>(&self, range: R) -> Range<'_>
    where
        K: AsRef<[u8]> + ?Sized,
        R: RangeBounds<K>,
    {
        let (start, end) = crate::write::owned_bounds(&range);
        Range::new(&self.snap, self.snap.meta.root_ref(), start, end)
    }

    /// Every entry, in key order.
    pub fn iter(&self) -> Range<'_> {
        Range::new(
            &self.snap,
            self.snap.meta.root_ref(),
            Bound::Unbounded,
            Bound::Unbounded,
        )
    }
}

/// The value of `key` in the tree under `root` of `snap`.
pub(crate) fn get_in<'a>(
    snap: &'a Snapshot,
    root: Option<Child>,
    key: &[u8],
) -> Result<Option<&'a [u8]>> {
    let Some(mut child) = root else {
        return Ok(None);
    };
    for _ in 0..DEPTH_MAX {
        let node = snap.map.node(child, snap.meta.page_count)?;
        if node.is_leaf() {
            return match node.search(key)? {
                Ok(i) => Ok(Some(
                    snap.map
                        .value(node.leaf_entry(i)?.1, snap.meta.page_count)?,
                )),
                Err(_) => Ok(None),
            };
        }
        child = node.child(node.child_index(key)?)?;
    }
    Err(malformed(
        snap.map.file(),
        child.page,
        "tree deeper than any valid tree",
    ))
}

/// An iterator over a key range of a [`ReadTxn`], from both ends.
///
/// Yields `Err` (once, then ends) if it meets a damaged page.
pub struct Range<'a> {
    snap: &'a Snapshot,
    root: Option<Child>,
    start: Bound<Vec<u8>>,
    end: Bound<Vec<u8>>,
    front: Option<Cursor<'a>>,
    back: Option<Cursor<'a>>,
    front_last: Option<&'a [u8]>,
    back_last: Option<&'a [u8]>,
    done: bool,
}

fn as_slice(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k),
        Bound::Excluded(k) => Bound::Excluded(k),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn below_end(key: &[u8], end: &Bound<Vec<u8>>) -> bool {
    match end {
        Bound::Included(e) => key <= &e[..],
        Bound::Excluded(e) => key < &e[..],
        Bound::Unbounded => true,
    }
}

fn above_start(key: &[u8], start: &Bound<Vec<u8>>) -> bool {
    match start {
        Bound::Included(s) => key >= &s[..],
        Bound::Excluded(s) => key > &s[..],
        Bound::Unbounded => true,
    }
}

impl<'a> Range<'a> {
    pub(crate) fn new(
        snap: &'a Snapshot,
        root: Option<Child>,
        start: Bound<Vec<u8>>,
        end: Bound<Vec<u8>>,
    ) -> Range<'a> {
        Range {
            snap,
            root,
            start,
            end,
            front: None,
            back: None,
            front_last: None,
            back_last: None,
            done: false,
        }
    }

    fn step_front(&mut self) -> Result<Option<(&'a [u8], &'a [u8])>> {
        match &mut self.front {
            Some(c) => c.next()?,
            None => {
                let m = &self.snap.meta;
                let c = Cursor::seek(
                    &self.snap.map,
                    m.page_count,
                    self.root,
                    as_slice(&self.start),
                    true,
                )?;
                self.front = Some(c);
            }
        }
        let Some(c) = &self.front else {
            return Ok(None);
        };
        let Some((k, v)) = c.current_value()? else {
            return Ok(None);
        };
        if !below_end(k, &self.end) || self.back_last.is_some_and(|b| k >= b) {
            return Ok(None);
        }
        self.front_last = Some(k);
        Ok(Some((k, v)))
    }

    fn step_back(&mut self) -> Result<Option<(&'a [u8], &'a [u8])>> {
        match &mut self.back {
            Some(c) => c.prev()?,
            None => {
                let m = &self.snap.meta;
                let c = Cursor::seek(
                    &self.snap.map,
                    m.page_count,
                    self.root,
                    as_slice(&self.end),
                    false,
                )?;
                self.back = Some(c);
            }
        }
        let Some(c) = &self.back else { return Ok(None) };
        let Some((k, v)) = c.current_value()? else {
            return Ok(None);
        };
        if !above_start(k, &self.start) || self.front_last.is_some_and(|f| k <= f) {
            return Ok(None);
        }
        self.back_last = Some(k);
        Ok(Some((k, v)))
    }

    fn finish(
        &mut self,
        r: Result<Option<(&'a [u8], &'a [u8])>>,
    ) -> Option<Result<(&'a [u8], &'a [u8])>> {
        match r {
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

impl<'a> Iterator for Range<'a> {
    type Item = Result<(&'a [u8], &'a [u8])>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.step_front();
        self.finish(r)
    }
}

impl DoubleEndedIterator for Range<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.step_back();
        self.finish(r)
    }
}
