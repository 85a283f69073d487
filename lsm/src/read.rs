//! The read path: point lookups ([`Inner::get_at`]), iterators
//! ([`Inner::range_at`]) and [`Snapshot`]s, over a [`SuperVersion`] taken
//! at once, never waiting for a writer's I/O.

use std::ops::{Bound, RangeBounds};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;

use crate::Result;
use crate::blob::{self};
use crate::db::{Inner, SuperVersion};
use crate::filter;
use crate::iter::{BoxIter, Concat, DbIter};
use crate::key::{SeqNo, ValueKind};
use crate::version::{GetStats, NUM_LEVELS};

/// A consistent point-in-time view. Compaction keeps every version it can
/// see until it is dropped.
#[derive(Debug)]
pub struct Snapshot {
    pub(crate) inner: Arc<Inner>,
    pub(crate) seq: SeqNo,
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        let mut s = self.inner.snapshots.lock();
        if let Some(c) = s.get_mut(&self.seq) {
            *c -= 1;
            if *c == 0 {
                s.remove(&self.seq);
            }
        }
    }
}

impl Snapshot {
    /// The value of `key` as of the snapshot.
    ///
    /// # Errors
    ///
    /// [`Error::Corruption`](crate::Error::Corruption) or [`Error::Io`](crate::Error::Io) from a table read.
    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        self.inner.state.check_readable()?;
        self.inner.get_at(key, Some(self.seq))
    }

    /// The live pairs in `range` as of the snapshot, both directions.
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> DbIter {
        self.inner.range_at(bounds(&range), Some(self.seq))
    }

    /// Every live pair as of the snapshot, both directions. The same as
    /// `range(..)`.
    pub fn iter(&self) -> DbIter {
        self.range::<&[u8], _>(..)
    }

    /// The live pairs whose key starts with `prefix`, as of the snapshot.
    pub fn prefix(&self, prefix: &[u8]) -> DbIter {
        self.inner.range_at(prefix_bounds(prefix), Some(self.seq))
    }
}

pub(crate) fn bound_bytes<K: AsRef<[u8]>>(b: Bound<&K>) -> Bound<Bytes> {
    match b {
        Bound::Included(k) => Bound::Included(Bytes::copy_from_slice(k.as_ref())),
        Bound::Excluded(k) => Bound::Excluded(Bytes::copy_from_slice(k.as_ref())),
        Bound::Unbounded => Bound::Unbounded,
    }
}

pub(crate) fn bounds<K: AsRef<[u8]>, R: RangeBounds<K>>(r: &R) -> (Bound<Bytes>, Bound<Bytes>) {
    (bound_bytes(r.start_bound()), bound_bytes(r.end_bound()))
}

pub(crate) fn prefix_bounds(prefix: &[u8]) -> (Bound<Bytes>, Bound<Bytes>) {
    let lo = Bound::Included(Bytes::copy_from_slice(prefix));
    // The end is the prefix with its last non-0xff byte incremented.
    let mut end = prefix.to_vec();
    while let Some(&last) = end.last() {
        if last == 0xff {
            end.pop();
        } else {
            let n = end.len() - 1;
            end[n] += 1;
            return (lo, Bound::Excluded(Bytes::from(end)));
        }
    }
    (lo, Bound::Unbounded)
}

pub(crate) fn as_slice(b: &Bound<Bytes>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k.as_ref()),
        Bound::Excluded(k) => Bound::Excluded(k.as_ref()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

pub(crate) fn bound_key(b: &Bound<Bytes>) -> Option<&[u8]> {
    match b {
        Bound::Included(k) | Bound::Excluded(k) => Some(k.as_ref()),
        Bound::Unbounded => None,
    }
}

impl Inner {
    /// The sequence number a read without a snapshot sees. Read it *after*
    /// taking the super version: the tables of a newer super version may
    /// have dropped versions visible at an older sequence number that no
    /// registered snapshot protects, whereas everything this super version
    /// dropped is shadowed by a version it holds, and every write it lacks
    /// overlaps the read in time.
    pub(crate) fn latest_seq(&self) -> SeqNo {
        SeqNo(self.last_seq.load(Ordering::Acquire))
    }

    pub(crate) fn super_version(&self) -> Arc<SuperVersion> {
        Arc::clone(&self.sv.read())
    }

    pub(crate) fn get_at(&self, key: &[u8], seq: Option<SeqNo>) -> Result<Option<Bytes>> {
        let (found, _pinned, merging) = {
            // The super version is read under its lock instead of cloned
            // out: two atomic operations per get instead of four. A memtable
            // switch waits at most for one lookup, which does no I/O beyond
            // the table maps (a blob is resolved after the lock is dropped).
            let sv = self.sv.read();
            let seq = seq.unwrap_or_else(|| self.latest_seq());
            // Newest first: a key's newest version wins, and a range
            // tombstone covering it ends the lookup (`range_del`).
            let found = match crate::range_del::lookup_memtables(&sv, key, seq) {
                crate::range_del::MemLookup::Done(x) => x,
                crate::range_del::MemLookup::Tables => {
                    let mut st = GetStats::default();
                    let hash = filter::key_hash(key);
                    let r = if crate::probe::all_filters_negative(&sv.version, key, hash, &mut st) {
                        Ok(None)
                    } else {
                        sv.version.get(key, hash, seq, &mut st)
                    };
                    // Shared counters: touch only those that changed.
                    // Every table probed without error is a filter
                    // negative or a positive: `stats()` reports
                    // `tables_probed` as their sum, one counter fewer
                    // per get.
                    debug_assert!(
                        r.is_err() || st.tables_probed == st.filter_negatives + st.filter_positives
                    );
                    for (counter, n) in [
                        (&self.counters.filter_negatives, st.filter_negatives),
                        (&self.counters.filter_positives, st.filter_positives),
                    ] {
                        if n > 0 {
                            counter.fetch_add(n, Ordering::Relaxed);
                        }
                    }
                    r?
                }
            };
            // A reference found in a table is resolved after the lock is
            // dropped: the version is held until then, so the table stays
            // on disk and its blob file with it (a blob file goes only when
            // no table on disk points into it). Without the pin, a
            // compaction collecting that blob could replace the table,
            // delete it (no reader holding it) and then the blob file
            // before the read below. Inline values need no pin.
            let pinned = matches!(
                found,
                Some((ValueKind::BlobRef | ValueKind::TimedBlobRef, _))
            )
            .then(|| Arc::clone(&sv.version));
            // The newest version is a merge operand: the versions below
            // it are read by an iterator over this super version (a newer
            // one may have combined operands this read must not see).
            let merging =
                matches!(found, Some((ValueKind::Merge, _))).then(|| (Arc::clone(&sv), seq));
            (found, pinned, merging)
        };
        self.counters.gets.fetch_add(1, Ordering::Relaxed);
        if let Some((sv, seq)) = merging {
            let k = Bytes::copy_from_slice(key);
            let mut it = self.range_in(&sv, (Bound::Included(k.clone()), Bound::Included(k)), seq);
            return it.next().transpose().map(|kv| kv.map(|(_, v)| v));
        }
        // TTL: an expired entry reads as a tombstone (`ttl.rs`).
        let found = match found {
            Some((kind, v)) if crate::ttl::is_timed(kind) => {
                crate::ttl::visible(key, Some((kind, v)), crate::ttl::expiry(&self.opts))?
            }
            other => other,
        };
        Ok(match found {
            Some((ValueKind::Inline, v)) => Some(v),
            Some((ValueKind::BlobRef, r)) => Some(blob::resolve(self.blobs.as_deref(), key, &r)?),
            _ => None,
        })
    }

    pub(crate) fn range_at(
        &self,
        range: (Bound<Bytes>, Bound<Bytes>),
        seq: Option<SeqNo>,
    ) -> DbIter {
        let sv = self.super_version();
        let seq = seq.unwrap_or_else(|| self.latest_seq());
        self.range_in(&sv, range, seq)
    }

    /// [`Inner::range_at`] over the super version `sv`.
    pub(crate) fn range_in(
        &self,
        sv: &SuperVersion,
        (lo, hi): (Bound<Bytes>, Bound<Bytes>),
        seq: SeqNo,
    ) -> DbIter {
        if let Err(e) = self.state.check_readable().and_then(|()| self.check_live()) {
            // A closed database (or a dropped keyspace) yields its error
            // first, then nothing.
            let sources: Vec<BoxIter> = vec![Box::new(std::iter::once(Err(e)))];
            return DbIter::new(sources, seq, lo, hi, Arc::clone(&sv.version), None);
        }
        // Range tombstones anywhere in the read: sources that skip what
        // they delete (`range_del::iter`); else each source as it is.
        let sources = match crate::range_del::iter::sources(sv, &lo, &hi, seq) {
            Some(sources) => sources,
            None => self.plain_sources(sv, &lo, &hi, seq),
        };
        DbIter::new(
            sources,
            seq,
            lo,
            hi,
            Arc::clone(&sv.version),
            self.blobs.clone(),
        )
        .with_merge_operator(self.opts.merge_operator.clone())
        .with_expiry(crate::ttl::expiry(&self.opts))
    }

    /// The sources of a read of `[lo, hi]` at `seq` with no range
    /// tombstone in reach: the memtables and the tables, newest first.
    fn plain_sources(
        &self,
        sv: &SuperVersion,
        lo: &Bound<Bytes>,
        hi: &Bound<Bytes>,
        seq: SeqNo,
    ) -> Vec<BoxIter> {
        let mut sources: Vec<BoxIter> = Vec::new();
        // An empty memtable (as after a flush) is no source: whatever is
        // inserted into it later is newer than `seq`, so the iterator
        // would not see it anyway, and the merge skips a child per entry.
        if !sv.mem.is_empty() {
            sources.push(Box::new(
                sv.mem.range(as_slice(lo), as_slice(hi), seq).map(Ok),
            ));
        }
        for (imm, _) in sv.imm.iter().rev().filter(|(m, _)| !m.is_empty()) {
            sources.push(Box::new(imm.range(as_slice(lo), as_slice(hi), seq).map(Ok)));
        }
        let (lk, hk) = (bound_key(lo), bound_key(hi));
        for t in sv.version.overlapping(0, lk, hk) {
            sources.push(t.iter(lk, hk));
        }
        for level in 1..NUM_LEVELS {
            // The level's tables are reached through the version the
            // iterator holds: no per-table clone of a level that may hold
            // hundreds of tables past the few a short scan reads.
            let span = sv.version.overlapping_span(level, lk, hk);
            if span.is_empty() {
                continue;
            }
            let (lo2, hi2) = (lk.map(<[u8]>::to_vec), hk.map(<[u8]>::to_vec));
            let version = Arc::clone(&sv.version);
            sources.push(Box::new(Concat::new(span.start, span.end, move |i| {
                Ok(version.levels[level][i].iter(lo2.as_deref(), hi2.as_deref()))
            })));
        }
        sources
    }

    /// The newest live snapshot's sequence number, if any: compaction
    /// filters leave alone what it can see.
    pub(crate) fn newest_snapshot(&self) -> Option<SeqNo> {
        self.snapshots.lock().keys().next_back().copied()
    }

    pub(crate) fn smallest_snapshot(&self) -> SeqNo {
        let s = self.snapshots.lock();
        s.keys()
            .next()
            .copied()
            .unwrap_or_else(|| self.latest_seq())
    }
}
