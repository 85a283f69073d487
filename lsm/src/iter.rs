//! Iterators over internal entries: concatenation of sorted runs, a merge
//! of overlapping sources, and the user-facing [`DbIter`] on top.
//!
//! All are double-ended; front and back meet in the middle without yielding
//! an entry twice.

use std::cmp::Ordering;
use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;

use crate::key::{self, InternalKey, SeqNo};
use crate::{Result, Version};

/// An internal entry: key and value.
pub(crate) type Entry = (InternalKey, Bytes);
/// A boxed double-ended iterator of internal entries.
pub(crate) type BoxIter = Box<dyn DoubleEndedIterator<Item = Result<Entry>> + Send>;

/// Concatenates runs `lo..hi`, each made on demand, in order.
pub(crate) struct Concat<F> {
    lo: usize,
    hi: usize,
    make: F,
    front: Option<BoxIter>,
    back: Option<BoxIter>,
}

impl<F: FnMut(usize) -> Result<BoxIter>> Concat<F> {
    pub(crate) fn new(lo: usize, hi: usize, make: F) -> Concat<F> {
        Concat {
            lo,
            hi,
            make,
            front: None,
            back: None,
        }
    }
}

impl<F: FnMut(usize) -> Result<BoxIter>> Iterator for Concat<F> {
    type Item = Result<Entry>;

    fn next(&mut self) -> Option<Result<Entry>> {
        loop {
            if let Some(f) = &mut self.front {
                if let Some(x) = f.next() {
                    return Some(x);
                }
                self.front = None;
            }
            if self.lo < self.hi {
                let i = self.lo;
                self.lo += 1;
                match (self.make)(i) {
                    Ok(it) => self.front = Some(it),
                    Err(e) => return Some(Err(e)),
                }
            } else {
                return self.back.as_mut()?.next();
            }
        }
    }
}

impl<F: FnMut(usize) -> Result<BoxIter>> DoubleEndedIterator for Concat<F> {
    fn next_back(&mut self) -> Option<Result<Entry>> {
        loop {
            if let Some(b) = &mut self.back {
                if let Some(x) = b.next_back() {
                    return Some(x);
                }
                self.back = None;
            }
            if self.lo < self.hi {
                self.hi -= 1;
                match (self.make)(self.hi) {
                    Ok(it) => self.back = Some(it),
                    Err(e) => return Some(Err(e)),
                }
            } else {
                return self.front.as_mut()?.next_back();
            }
        }
    }
}

struct Child {
    iter: BoxIter,
    front: Option<Result<Entry>>,
    back: Option<Result<Entry>>,
    /// [`key::prefix`] of the front entry's user key (0 for an error or
    /// none): the merge compares these words first and the keys only on a
    /// tie, so most comparisons read no key bytes.
    front_prefix: u64,
    /// [`key::prefix`] of the back entry's user key, likewise.
    back_prefix: u64,
}

/// The prefix word of an entry's user key; 0 for an error (errors are
/// ordered by [`before`] and [`after`] before any prefix is read).
fn prefix_of(e: &Option<Result<Entry>>) -> u64 {
    match e {
        Some(Ok((k, _))) => key::prefix(&k.user),
        _ => 0,
    }
}

/// Merges sources in internal-key order. Sources with equal keys cannot
/// occur (sequence numbers are unique), so order among them is irrelevant.
///
/// The child holding the smallest front (largest back) is remembered until
/// an entry is taken, so a peek followed by a take, as [`DbIter`] does
/// once per entry, compares the children once, not twice.
pub(crate) struct Merge {
    children: Vec<Child>,
    best_front: Option<usize>,
    best_back: Option<usize>,
}

/// Whether `a` (user-key prefix `pa`) comes before `b` (prefix `pb`): an
/// error first, then by prefix, then by internal key.
fn before(a: &Result<Entry>, pa: u64, b: &Result<Entry>, pb: u64) -> bool {
    match (a, b) {
        (Err(_), _) => true,
        (_, Err(_)) => false,
        (Ok(a), Ok(b)) => match pa.cmp(&pb) {
            Ordering::Equal => a.0.cmp(&b.0) == Ordering::Less,
            o => o == Ordering::Less,
        },
    }
}

/// Whether `a` comes after `b`, errors first, as [`before`] from the back.
fn after(a: &Result<Entry>, pa: u64, b: &Result<Entry>, pb: u64) -> bool {
    match (a, b) {
        (Err(_), _) => true,
        (_, Err(_)) => false,
        (Ok(a), Ok(b)) => match pa.cmp(&pb) {
            Ordering::Equal => a.0.cmp(&b.0) == Ordering::Greater,
            o => o == Ordering::Greater,
        },
    }
}

impl Merge {
    pub(crate) fn new(sources: Vec<BoxIter>) -> Merge {
        Merge {
            children: sources
                .into_iter()
                .map(|iter| Child {
                    iter,
                    front: None,
                    back: None,
                    front_prefix: 0,
                    back_prefix: 0,
                })
                .collect(),
            best_front: None,
            best_back: None,
        }
    }

    fn best_front(&mut self) -> Option<usize> {
        if let Some(i) = self.best_front {
            return Some(i);
        }
        let mut best: Option<usize> = None;
        for i in 0..self.children.len() {
            let c = &mut self.children[i];
            if c.front.is_none() {
                c.front = c.iter.next().or_else(|| {
                    // The source is spent: what the back holds comes next,
                    // and the back's remembered best may be gone.
                    let b = c.back.take();
                    if b.is_some() {
                        self.best_back = None;
                    }
                    b
                });
                c.front_prefix = prefix_of(&c.front);
            }
            let c = &self.children[i];
            if let Some(x) = &c.front
                && best.is_none_or(|b| {
                    let y = &self.children[b];
                    y.front
                        .as_ref()
                        .is_some_and(|y1| before(x, c.front_prefix, y1, y.front_prefix))
                })
            {
                best = Some(i);
            }
        }
        self.best_front = best;
        best
    }

    fn best_back(&mut self) -> Option<usize> {
        if let Some(i) = self.best_back {
            return Some(i);
        }
        let mut best: Option<usize> = None;
        for i in 0..self.children.len() {
            let c = &mut self.children[i];
            if c.back.is_none() {
                c.back = c.iter.next_back().or_else(|| {
                    let f = c.front.take();
                    if f.is_some() {
                        self.best_front = None;
                    }
                    f
                });
                c.back_prefix = prefix_of(&c.back);
            }
            let c = &self.children[i];
            if let Some(x) = &c.back
                && best.is_none_or(|b| {
                    let y = &self.children[b];
                    y.back
                        .as_ref()
                        .is_some_and(|y1| after(x, c.back_prefix, y1, y.back_prefix))
                })
            {
                best = Some(i);
            }
        }
        self.best_back = best;
        best
    }

    /// The next entry from the front, without taking it.
    pub(crate) fn peek_front(&mut self) -> Option<&Result<Entry>> {
        let i = self.best_front()?;
        self.children[i].front.as_ref()
    }

    /// The next entry from the back, without taking it.
    pub(crate) fn peek_back(&mut self) -> Option<&Result<Entry>> {
        let i = self.best_back()?;
        self.children[i].back.as_ref()
    }
}

impl Iterator for Merge {
    type Item = Result<Entry>;
    fn next(&mut self) -> Option<Result<Entry>> {
        let i = self.best_front()?;
        self.best_front = None;
        self.children[i].front.take()
    }
}

impl DoubleEndedIterator for Merge {
    fn next_back(&mut self) -> Option<Result<Entry>> {
        let i = self.best_back()?;
        self.best_back = None;
        self.children[i].back.take()
    }
}

/// An iterator over the live key-value pairs of a range, as of one sequence
/// number. Yields `Result<(key, value)>`; after an error it ends.
///
/// It holds the version it started from, so compaction never deletes a
/// table it reads.
pub struct DbIter {
    merge: Merge,
    seq: SeqNo,
    lo: Bound<Bytes>,
    hi: Bound<Bytes>,
    done: bool,
    blobs: Option<Arc<crate::blob::Blobs>>,
    /// Folds a key's merge operands (`merge/`).
    merge_op: Option<Arc<dyn crate::MergeOperator>>,
    _version: Arc<Version>,
    /// Timed entries (TTL) this iterator treats as expired.
    expiry: Option<crate::ttl::Expiry>,
}

impl std::fmt::Debug for DbIter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbIter")
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl DbIter {
    pub(crate) fn new(
        sources: Vec<BoxIter>,
        seq: SeqNo,
        lo: Bound<Bytes>,
        hi: Bound<Bytes>,
        version: Arc<Version>,
        blobs: Option<Arc<crate::blob::Blobs>>,
    ) -> DbIter {
        DbIter {
            merge: Merge::new(sources),
            seq,
            lo,
            hi,
            done: false,
            blobs,
            merge_op: None,
            _version: version,
            expiry: None,
        }
    }

    /// The iterator with timed entries (TTL) expired under `expiry` read
    /// as tombstones: it judges expiry by the clock when it was created.
    pub(crate) fn with_expiry(mut self, expiry: Option<crate::ttl::Expiry>) -> DbIter {
        self.expiry = expiry;
        self
    }

    /// Sets the operator that folds merge operands.
    pub(crate) fn with_merge_operator(
        mut self,
        op: Option<Arc<dyn crate::MergeOperator>>,
    ) -> DbIter {
        self.merge_op = op;
        self
    }

    /// The value of `user` from its visible versions; an error ends the
    /// iteration.
    fn finish(
        &mut self,
        user: Bytes,
        mut fold: crate::merge::Fold,
    ) -> Option<Result<(Bytes, Bytes)>> {
        // TTL: an expired base reads as a tombstone (`ttl.rs`); a timed
        // one that is not expired loses its write time.
        let expiry = self.expiry;
        let r = fold
            .map_base(|base| match base {
                Some((kind, v)) if crate::ttl::is_timed(kind) => {
                    crate::ttl::visible(&user, Some((kind, v)), expiry)
                }
                other => Ok(other),
            })
            .and_then(|()| fold.finish(&user, self.merge_op.as_deref(), self.blobs.as_deref()));
        match r {
            Ok(v) => v.map(|v| Ok((user, v))),
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }

    fn above_lo(&self, k: &[u8]) -> bool {
        match &self.lo {
            Bound::Included(l) => k >= l.as_ref(),
            Bound::Excluded(l) => k > l.as_ref(),
            Bound::Unbounded => true,
        }
    }

    fn below_hi(&self, k: &[u8]) -> bool {
        match &self.hi {
            Bound::Included(h) => k <= h.as_ref(),
            Bound::Excluded(h) => k < h.as_ref(),
            Bound::Unbounded => true,
        }
    }
}

impl Iterator for DbIter {
    type Item = Result<(Bytes, Bytes)>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let (k, v) = match self.merge.next()? {
                Ok(e) => e,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            };
            // Consume the rest of this user key's group: one call handles a
            // whole group, so front and back never split one. From the
            // front the newest version comes first, and a failed source is
            // taken before any entry that follows it, so an error met inside
            // the group hides only older versions (and the next call
            // returns it).
            // A merge operand does not end the value: the versions below
            // it, down to the first that is not one, are folded in.
            let mut fold = crate::merge::Fold::default();
            if k.seq <= self.seq {
                fold.push_older(k.kind, v);
            }
            while let Some(Ok((n, _))) = self.merge.peek_front() {
                if n.user != k.user {
                    break;
                }
                let (n, nv) = match self.merge.next() {
                    Some(Ok(e)) => e,
                    _ => break,
                };
                if n.seq <= self.seq {
                    fold.push_older(n.kind, nv);
                }
            }
            // Operands whose base may lie behind a failed source: the
            // value cannot be computed, so the key fails.
            if fold.needs_older() && matches!(self.merge.peek_front(), Some(Err(_))) {
                self.done = true;
                return self.merge.next().and_then(Result::err).map(Err);
            }
            if !self.below_hi(&k.user) {
                self.done = true;
                return None;
            }
            if !self.above_lo(&k.user) {
                continue;
            }
            if let Some(r) = self.finish(k.user, fold) {
                return Some(r);
            }
        }
        None
    }
}

impl DoubleEndedIterator for DbIter {
    fn next_back(&mut self) -> Option<Self::Item> {
        while !self.done {
            let (k, v) = match self.merge.next_back()? {
                Ok(e) => e,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            };
            // From the back a group comes oldest first: the visible version
            // is the last one at or below `seq`.
            let mut fold = crate::merge::Fold::default();
            if k.seq <= self.seq {
                fold.push_newer(k.kind, v);
            }
            loop {
                match self.merge.peek_back() {
                    Some(Ok((n, _))) if n.user == k.user => {}
                    // A source failed before the group ended: newer versions
                    // of this key may lie behind the error, so what was
                    // read so far may be an older value. Fail the key.
                    Some(Err(_)) => {
                        self.done = true;
                        let e = self.merge.next_back().and_then(Result::err)?;
                        return Some(Err(e));
                    }
                    _ => break,
                }
                let (n, nv) = match self.merge.next_back() {
                    Some(Ok(e)) => e,
                    _ => break,
                };
                if n.seq <= self.seq {
                    fold.push_newer(n.kind, nv);
                }
            }
            if !self.above_lo(&k.user) {
                self.done = true;
                return None;
            }
            if !self.below_hi(&k.user) {
                continue;
            }
            if let Some(r) = self.finish(k.user, fold) {
                return Some(r);
            }
        }
        None
    }
}
