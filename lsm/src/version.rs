//! A version: the set of live tables, per level. Immutable once built;
//! readers hold an `Arc<Version>` for as long as they read its tables.

use std::cmp::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use crate::Result;
use crate::key::{self, SeqNo, ValueKind};
use crate::sstable::reader::{Probe, Table};

/// Number of levels.
pub(crate) const NUM_LEVELS: usize = 7;

/// Live tables. L0 is newest first and may overlap; L1.. are sorted by key
/// and do not overlap.
#[derive(Debug, Default, Clone)]
pub(crate) struct Version {
    pub(crate) levels: [Vec<Arc<Table>>; NUM_LEVELS],
}

/// Counters a lookup updates.
#[derive(Debug, Default)]
pub(crate) struct GetStats {
    pub(crate) tables_probed: u64,
    pub(crate) filter_negatives: u64,
    pub(crate) filter_positives: u64,
}

pub(crate) fn user_range(t: &Table) -> (&[u8], &[u8]) {
    let s = key::split(&t.props.smallest).map_or(&[][..], |x| x.0);
    let l = key::split(&t.props.largest).map_or(&[][..], |x| x.0);
    (s, l)
}

/// `user` (with prefix `p`) is at least `t`'s smallest user key.
fn at_or_after_smallest(t: &Table, user: &[u8], p: u64) -> bool {
    match p.cmp(&t.user_prefix_smallest) {
        Ordering::Greater => true,
        Ordering::Less => false,
        Ordering::Equal => user >= user_range(t).0,
    }
}

/// `user` (with prefix `p`) is after `t`'s largest user key.
fn after_largest(t: &Table, user: &[u8], p: u64) -> bool {
    match p.cmp(&t.user_prefix_largest) {
        Ordering::Greater => true,
        Ordering::Less => false,
        Ordering::Equal => user > user_range(t).1,
    }
}

/// `t`'s smallest user key is at most `user` (with prefix `p`).
fn smallest_at_most(t: &Table, user: &[u8], p: u64) -> bool {
    match t.user_prefix_smallest.cmp(&p) {
        Ordering::Less => true,
        Ordering::Greater => false,
        Ordering::Equal => user_range(t).0 <= user,
    }
}

impl Version {
    pub(crate) fn get(
        &self,
        user: &[u8],
        hash: u128,
        seq: SeqNo,
        stats: &mut GetStats,
    ) -> Result<Option<(ValueKind, Bytes)>> {
        let mut probe = |t: &Table| -> Result<Option<(ValueKind, Bytes, SeqNo)>> {
            stats.tables_probed += 1;
            match t.get(user, hash, seq)? {
                Probe::FilteredOut => {
                    stats.filter_negatives += 1;
                    Ok(None)
                }
                Probe::Missing => {
                    stats.filter_positives += 1;
                    Ok(None)
                }
                Probe::Found(k, v, s) => {
                    stats.filter_positives += 1;
                    Ok(Some((k, v, s)))
                }
            }
        };
        // The newest range tombstone covering `user` in the tables probed
        // so far: once one does, the first version found decides, and a
        // table without one ends the lookup (everything deeper is older
        // than the tombstone; `crate::range_del`).
        let mut cover: Option<SeqNo> = None;
        for t in self.candidates(user) {
            if let Some(f) = t.range_dels() {
                cover = cover.max(f.covering(user, seq));
            }
            match (probe(t)?, cover) {
                (Some((k, v, s)), c) if c.is_none_or(|c| s > c) => return Ok(Some((k, v))),
                (Some(_), _) => return Ok(None),
                (None, Some(_)) => return Ok(None),
                (None, None) => {}
            }
        }
        Ok(None)
    }

    /// The tables a point lookup of `user` probes, newest first: every L0
    /// table whose key range holds it, then at most one table per deeper
    /// level. Range checks compare the tables' 8-byte key prefixes
    /// (`Table::user_prefix_smallest`, `user_prefix_largest`) first and
    /// the keys only on a tie.
    pub(crate) fn candidates<'a>(&'a self, user: &'a [u8]) -> impl Iterator<Item = &'a Table> {
        let p = key::prefix(user);
        let l0 = self.levels[0]
            .iter()
            .filter(move |t| at_or_after_smallest(t, user, p) && !after_largest(t, user, p));
        let deeper = self.levels[1..].iter().filter_map(move |level| {
            let i = level.partition_point(|t| after_largest(t, user, p));
            level.get(i).filter(|t| at_or_after_smallest(t, user, p))
        });
        l0.chain(deeper).map(|t| &**t)
    }

    /// Tables of `level` whose user-key range meets `[lo, hi]` (None: open).
    pub(crate) fn overlapping(
        &self,
        level: usize,
        lo: Option<&[u8]>,
        hi: Option<&[u8]>,
    ) -> Vec<Arc<Table>> {
        self.levels[level]
            .iter()
            .filter(|t| {
                let (s, l) = user_range(t);
                lo.is_none_or(|lo| l >= lo) && hi.is_none_or(|hi| s <= hi)
            })
            .cloned()
            .collect()
    }

    /// The positions in `level` (1 or deeper: sorted, disjoint) of the
    /// tables whose user-key range meets `[lo, hi]` (None: open), found by
    /// binary search: a range read opens its first tables without visiting
    /// (or cloning) every table of the level up to its end.
    pub(crate) fn overlapping_span(
        &self,
        level: usize,
        lo: Option<&[u8]>,
        hi: Option<&[u8]>,
    ) -> std::ops::Range<usize> {
        debug_assert!(level > 0, "L0 tables overlap: no span");
        let tables = &self.levels[level];
        let start = lo.map_or(0, |lo| {
            let p = key::prefix(lo);
            tables.partition_point(|t| after_largest(t, lo, p))
        });
        let end = hi.map_or(tables.len(), |hi| {
            let p = key::prefix(hi);
            tables.partition_point(|t| smallest_at_most(t, hi, p))
        });
        start..end.max(start)
    }

    pub(crate) fn level_bytes(&self, level: usize) -> u64 {
        self.levels[level].iter().map(|t| t.size_bytes()).sum()
    }
}
