//! Range tombstones in flush and compaction: which covered versions go,
//! which tombstones stay, and which output table each goes to.

use super::{Fragment, Fragments};
use crate::key::{InternalKey, SeqNo};

/// Whether `k` is covered by a tombstone of `f` that every reader sees
/// (at or below `smallest_snapshot`) and that is newer than it: then no
/// snapshot sees `k` without the tombstone, and `k` can go.
pub(crate) fn drop_covered(f: &Fragments, k: &InternalKey, smallest_snapshot: SeqNo) -> bool {
    f.fragment_at(&k.user)
        .is_some_and(|fr| fr.seqs.iter().any(|&s| s > k.seq && s <= smallest_snapshot))
}

/// The tombstones of `f` a compaction writes out: of each fragment's
/// sequence numbers at or below `smallest_snapshot` only the newest stays
/// (every reader sees it, and it hides what the older ones hid), and it
/// goes too when `bottommost(start, end)` (no deeper table may hold a key
/// of the range: what it covered in this compaction is dropped).
pub(crate) fn compact_fragments(
    f: &Fragments,
    smallest_snapshot: SeqNo,
    bottommost: impl Fn(&[u8], &[u8]) -> bool,
) -> Fragments {
    let mut out = Vec::new();
    for fr in f.fragments() {
        let mut seqs: Vec<SeqNo> = fr
            .seqs
            .iter()
            .copied()
            .filter(|&s| s > smallest_snapshot)
            .collect();
        if let Some(&s) = fr.seqs.iter().find(|&&s| s <= smallest_snapshot)
            && !bottommost(&fr.start, &fr.end)
        {
            seqs.push(s);
        }
        if !seqs.is_empty() {
            out.push(Fragment {
                start: fr.start.clone(),
                end: fr.end.clone(),
                seqs,
            });
        }
    }
    Fragments::from_sorted(out)
}

/// Hands a compaction's tombstones to its output tables in key order.
///
/// A table's key range covers its tombstones, and the tables of a level
/// must not overlap. A fragment goes to the table open when the merge
/// reaches its start; those after the last entry go to the last table.
/// When an output is cut after its last key `y`, a fragment reaching past
/// `y` is split at `y` followed by a zero byte (the key right after `y`):
/// the part up to and including `y` stays, the rest goes to the next
/// output, whose keys are all above `y`. So outputs are cut where the size
/// says, inside a tombstone or not (RocksDB splits range tombstones at
/// its output boundaries too).
#[derive(Debug, Default)]
pub(crate) struct OutputRangeDels {
    frags: Vec<Fragment>,
    next: usize,
    current: Vec<Fragment>,
    /// The last key written to the open output.
    last_key: Option<bytes::Bytes>,
}

impl OutputRangeDels {
    pub(crate) fn new(f: Fragments) -> OutputRangeDels {
        OutputRangeDels {
            frags: f.fragments().to_vec(),
            ..OutputRangeDels::default()
        }
    }

    /// Notes `user` written to the open output, which takes the fragments
    /// that start at or before it.
    pub(crate) fn note_key(&mut self, user: &bytes::Bytes) {
        while let Some(f) = self.frags.get(self.next).filter(|f| f.start <= *user) {
            self.current.push(f.clone());
            self.next += 1;
        }
        self.last_key = Some(user.clone());
    }

    /// Fragments not yet given to an output.
    pub(crate) fn has_pending(&self) -> bool {
        self.next < self.frags.len()
    }

    /// The open output's fragments, taken as it is finished; the last
    /// output (`last`) takes those left too. Otherwise the fragment
    /// reaching past the output's last key is split there.
    pub(crate) fn finish_output(&mut self, last: bool) -> Fragments {
        if last {
            self.current.extend(self.frags.drain(self.next..));
            self.next = self.frags.len();
        } else if let Some(y) = &self.last_key
            && let Some(f) = self.current.last_mut()
        {
            let mut cut = y.to_vec();
            cut.push(0);
            let cut = bytes::Bytes::from(cut);
            if f.end > cut && f.start < cut {
                let rest = Fragment {
                    start: cut.clone(),
                    end: f.end.clone(),
                    seqs: f.seqs.clone(),
                };
                f.end = cut;
                // The slot before `next` held `f` (the last one taken).
                self.next -= 1;
                self.frags[self.next] = rest;
            }
        }
        self.last_key = None;
        Fragments::from_sorted(std::mem::take(&mut self.current))
    }
}

/// The smallest and largest internal keys a table holding `f` covers: the
/// first start (before its every version) and the last end (after its
/// every version). The end is exclusive: one that ends in a zero byte
/// covers up to the key without it (nothing lies between), which is taken
/// as the largest; any other is taken as inclusive (one key more than
/// covered). Both of a kind a table may hold (0), so they decode as the
/// table's key range.
pub(crate) fn key_range(f: &Fragments) -> Option<(Vec<u8>, Vec<u8>)> {
    let (s, e) = f.bounds()?;
    let e = match e.split_last() {
        Some((0, before)) => e.slice(..before.len()),
        _ => e.clone(),
    };
    let lo = InternalKey::new(
        s.clone(),
        SeqNo(crate::key::SEQNO_MAX),
        crate::key::ValueKind::Delete,
    )
    .encoded();
    let hi = InternalKey::new(e, SeqNo(0), crate::key::ValueKind::Delete).encoded();
    Some((lo, hi))
}

/// The smallest and largest sequence numbers of `f`.
pub(crate) fn seq_range(f: &Fragments) -> Option<(u64, u64)> {
    let mut it = f
        .fragments()
        .iter()
        .flat_map(|fr| fr.seqs.iter().map(|s| s.0));
    let first = it.next()?;
    Some(it.fold((first, first), |(a, b), s| (a.min(s), b.max(s))))
}

/// The range tombstones of `tables`, fragmented together.
pub(crate) fn input_fragments<'a>(
    tables: impl Iterator<Item = &'a std::sync::Arc<crate::sstable::reader::Table>>,
) -> Fragments {
    Fragments::build(
        tables
            .filter_map(|t| t.range_dels())
            .flat_map(|f| f.tombstones().collect::<Vec<_>>()),
    )
}

/// Whether no table below `out_level` may hold a key of `[start, end]`.
pub(crate) fn is_base_range(
    v: &crate::Version,
    out_level: usize,
    start: &[u8],
    end: &[u8],
) -> bool {
    v.levels[out_level + 1..crate::version::NUM_LEVELS]
        .iter()
        .all(|level| {
            level.iter().all(|t| {
                let (s, l) = crate::version::user_range(t);
                end < s || start > l
            })
        })
}
