//! Iterators under range tombstones: each source opened only on the gaps
//! between the ranges newer sources' tombstones delete, and its entries
//! checked against its own tombstones.
//!
//! Every version in a source is older than every tombstone of a newer
//! source covering its key (sources are the memtables, then L0 newest
//! first, then the levels; a table's key range covers its tombstones), so
//! a range a newer source deletes holds nothing visible beneath: the
//! source is not read there at all, in either direction. What a tombstone
//! hides in its own source (older versions beside it) is left out entry by
//! entry; flush and compaction drop those.

use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;

use super::{Fragments, Tombstone};
use crate::db::SuperVersion;
use crate::iter::{BoxIter, Concat};
use crate::key::SeqNo;
use crate::memtable::Memtable;
use crate::read::{as_slice, bound_key};
use crate::sstable::reader::Table;
use crate::version::{NUM_LEVELS, Version};

/// One source of an iterator.
enum Source {
    Mem(Arc<Memtable>),
    Table(Arc<Table>),
    /// A level from L1 down.
    Level(usize),
}

type Range = (Bound<Bytes>, Bound<Bytes>);

/// The sources of an iterator over `(lo, hi)` at `seq`, newest first, each
/// with the ranges newer sources delete cut away; `None` when no source
/// holds a tombstone (the caller's plain sources serve).
pub(crate) fn sources(
    sv: &SuperVersion,
    lo: &Bound<Bytes>,
    hi: &Bound<Bytes>,
    seq: SeqNo,
) -> Option<Vec<BoxIter>> {
    let (lk, hk) = (bound_key(lo), bound_key(hi));
    let mut srcs: Vec<(Source, Option<Arc<Fragments>>)> = Vec::new();
    let mems = std::iter::once(&sv.mem).chain(sv.imm.iter().rev().map(|(m, _)| m));
    for m in mems.filter(|m| !m.is_empty()) {
        srcs.push((Source::Mem(Arc::clone(m)), m.range_del_fragments()));
    }
    for t in sv.version.overlapping(0, lk, hk) {
        let f = t.range_dels().cloned();
        srcs.push((Source::Table(t), f));
    }
    for level in 1..NUM_LEVELS {
        let span = sv.version.overlapping_span(level, lk, hk);
        if span.is_empty() {
            continue;
        }
        let tombs: Vec<Tombstone> = sv.version.levels[level][span]
            .iter()
            .filter_map(|t| t.range_dels())
            .flat_map(|f| f.tombstones())
            .collect();
        let f = (!tombs.is_empty()).then(|| Arc::new(Fragments::build(tombs)));
        srcs.push((Source::Level(level), f));
    }
    if srcs.iter().all(|(_, f)| f.is_none()) {
        return None;
    }
    let mut skip: Vec<(Bytes, Bytes)> = Vec::new();
    let mut out = Vec::new();
    for (src, own) in srcs {
        let gaps = gaps(&skip, lo, hi);
        if !gaps.is_empty() {
            out.push(source_iter(
                src,
                gaps,
                Arc::new(skip.clone()),
                own.clone(),
                seq,
                &sv.version,
            ));
        }
        if let Some(f) = &own {
            skip = union(&skip, &f.visible_ranges(seq));
        }
    }
    Some(out)
}

/// `src` read on `gaps`, in order, without the entries its own tombstones
/// (`own`) or a newer source's (`skip`) delete.
fn source_iter(
    src: Source,
    gaps: Vec<Range>,
    skip: Arc<Vec<(Bytes, Bytes)>>,
    own: Option<Arc<Fragments>>,
    seq: SeqNo,
    version: &Arc<Version>,
) -> BoxIter {
    let version = Arc::clone(version);
    let n = gaps.len();
    let open = move |i: usize| -> crate::Result<BoxIter> {
        let (glo, ghi) = &gaps[i];
        let (lk, hk) = (bound_key(glo), bound_key(ghi));
        Ok(match &src {
            Source::Mem(m) => Box::new(m.range(as_slice(glo), as_slice(ghi), seq).map(Ok)),
            Source::Table(t) => t.iter(lk, hk),
            Source::Level(level) => {
                let level = *level;
                let span = version.overlapping_span(level, lk, hk);
                let (lo2, hi2) = (lk.map(<[u8]>::to_vec), hk.map(<[u8]>::to_vec));
                let version = Arc::clone(&version);
                Box::new(Concat::new(span.start, span.end, move |j| {
                    Ok(version.levels[level][j].iter(lo2.as_deref(), hi2.as_deref()))
                }))
            }
        })
    };
    Box::new(Concat::new(0, n, open).filter(move |r| {
        match r {
            Err(_) => true,
            Ok((k, _)) => {
                !in_ranges(&skip, &k.user)
                    && own
                        .as_ref()
                        .and_then(|f| f.covering(&k.user, seq))
                        .is_none_or(|c| c < k.seq)
            }
        }
    }))
}

/// Whether `user` lies in one of `ranges` (sorted, disjoint, `[s, e)`).
fn in_ranges(ranges: &[(Bytes, Bytes)], user: &[u8]) -> bool {
    let i = ranges.partition_point(|(_, e)| e.as_ref() <= user);
    ranges.get(i).is_some_and(|(s, _)| s.as_ref() <= user)
}

/// The union of two sorted lists of disjoint ranges.
fn union(a: &[(Bytes, Bytes)], b: &[(Bytes, Bytes)]) -> Vec<(Bytes, Bytes)> {
    let mut all: Vec<(Bytes, Bytes)> = a.iter().chain(b).cloned().collect();
    all.sort();
    let mut out: Vec<(Bytes, Bytes)> = Vec::with_capacity(all.len());
    for (s, e) in all {
        match out.last_mut() {
            Some(last) if last.1 >= s => {
                if e > last.1 {
                    last.1 = e;
                }
            }
            _ => out.push((s, e)),
        }
    }
    out
}

/// `(lo, hi)` without the ranges `skip`, as a list of ranges in order.
fn gaps(skip: &[(Bytes, Bytes)], lo: &Bound<Bytes>, hi: &Bound<Bytes>) -> Vec<Range> {
    let mut out = Vec::new();
    let mut cur = lo.clone();
    for (s, e) in skip {
        let end = upper_min(hi, &Bound::Excluded(s.clone()));
        if nonempty(&cur, &end) {
            out.push((cur.clone(), end));
        }
        cur = lower_max(&cur, &Bound::Included(e.clone()));
    }
    if nonempty(&cur, hi) {
        out.push((cur, hi.clone()));
    }
    out
}

fn upper_min(a: &Bound<Bytes>, b: &Bound<Bytes>) -> Bound<Bytes> {
    use Bound::{Excluded, Included, Unbounded};
    match (a, b) {
        (Unbounded, x) | (x, Unbounded) => x.clone(),
        (Included(x), Included(y)) => Included(x.min(y).clone()),
        (Excluded(x), Excluded(y)) => Excluded(x.min(y).clone()),
        (Included(x), Excluded(y)) | (Excluded(y), Included(x)) => {
            if x < y {
                Included(x.clone())
            } else {
                Excluded(y.clone())
            }
        }
    }
}

fn lower_max(a: &Bound<Bytes>, b: &Bound<Bytes>) -> Bound<Bytes> {
    use Bound::{Excluded, Included, Unbounded};
    match (a, b) {
        (Unbounded, x) | (x, Unbounded) => x.clone(),
        (Included(x), Included(y)) => Included(x.max(y).clone()),
        (Excluded(x), Excluded(y)) => Excluded(x.max(y).clone()),
        (Included(x), Excluded(y)) | (Excluded(y), Included(x)) => {
            if x > y {
                Included(x.clone())
            } else {
                Excluded(y.clone())
            }
        }
    }
}

/// Whether a key may lie between `lo` and `hi`.
fn nonempty(lo: &Bound<Bytes>, hi: &Bound<Bytes>) -> bool {
    use Bound::{Excluded, Included, Unbounded};
    match (lo, hi) {
        (Unbounded, _) | (_, Unbounded) => true,
        (Included(a), Included(b)) => a <= b,
        (Included(a), Excluded(b)) | (Excluded(a), Included(b)) | (Excluded(a), Excluded(b)) => {
            a < b
        }
    }
}
