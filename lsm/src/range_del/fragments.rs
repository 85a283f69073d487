//! Fragmented tombstones: sorted, disjoint ranges, each with the sequence
//! numbers of the tombstones covering all of it, and their encoding.

use bytes::Bytes;

use crate::key::{SEQNO_MAX, SeqNo};
use crate::varint;

/// One range tombstone: `[start, end)` deleted at `seq`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Tombstone {
    pub(crate) start: Bytes,
    pub(crate) end: Bytes,
    pub(crate) seq: SeqNo,
}

/// A range no tombstone boundary falls inside: every tombstone either
/// covers all of it or none of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Fragment {
    pub(crate) start: Bytes,
    pub(crate) end: Bytes,
    /// The covering tombstones' sequence numbers, newest first, not empty.
    pub(crate) seqs: Vec<SeqNo>,
}

/// Tombstones fragmented: fragments sorted by start, disjoint.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Fragments {
    frags: Vec<Fragment>,
}

/// What is wrong with an encoded range-deletion section: `what`, at byte
/// `at` of the section, with the value `expected` and the one `found`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Bad {
    pub(crate) what: &'static str,
    pub(crate) at: u64,
    pub(crate) expected: u64,
    pub(crate) found: u64,
}

impl Fragments {
    /// Fragments `tombs` (any order; empty ranges are ignored).
    pub(crate) fn build(tombs: impl IntoIterator<Item = Tombstone>) -> Fragments {
        let mut tombs: Vec<Tombstone> = tombs.into_iter().filter(|t| t.start < t.end).collect();
        if tombs.is_empty() {
            return Fragments::default();
        }
        tombs.sort_by(|a, b| a.start.cmp(&b.start));
        let mut points: Vec<Bytes> = tombs
            .iter()
            .flat_map(|t| [t.start.clone(), t.end.clone()])
            .collect();
        points.sort();
        points.dedup();
        let mut frags: Vec<Fragment> = Vec::new();
        let mut active: Vec<&Tombstone> = Vec::new();
        let mut next = 0;
        for w in points.windows(2) {
            let (lo, hi) = (&w[0], &w[1]);
            while next < tombs.len() && tombs[next].start <= *lo {
                active.push(&tombs[next]);
                next += 1;
            }
            active.retain(|t| t.end > *lo);
            if active.is_empty() {
                continue;
            }
            let mut seqs: Vec<SeqNo> = active.iter().map(|t| t.seq).collect();
            seqs.sort_unstable_by(|a, b| b.cmp(a));
            seqs.dedup();
            // Adjacent fragments with the same tombstones are one.
            if let Some(last) = frags.last_mut()
                && last.end == *lo
                && last.seqs == seqs
            {
                last.end = hi.clone();
                continue;
            }
            frags.push(Fragment {
                start: lo.clone(),
                end: hi.clone(),
                seqs,
            });
        }
        Fragments { frags }
    }

    /// Fragments already sorted and disjoint (from [`Fragments::decode`] or
    /// a filter of another `Fragments`).
    pub(crate) fn from_sorted(frags: Vec<Fragment>) -> Fragments {
        Fragments { frags }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.frags.is_empty()
    }

    /// The fragments, sorted.
    pub(crate) fn fragments(&self) -> &[Fragment] {
        &self.frags
    }

    /// Tombstones: one per fragment and sequence number.
    pub(crate) fn count(&self) -> u64 {
        self.frags.iter().map(|f| f.seqs.len() as u64).sum()
    }

    /// Every (fragment, sequence number) as a tombstone.
    pub(crate) fn tombstones(&self) -> impl Iterator<Item = Tombstone> + '_ {
        self.frags.iter().flat_map(|f| {
            f.seqs.iter().map(|&seq| Tombstone {
                start: f.start.clone(),
                end: f.end.clone(),
                seq,
            })
        })
    }

    /// The fragment holding `user`, if any.
    pub(crate) fn fragment_at(&self, user: &[u8]) -> Option<&Fragment> {
        let i = self.frags.partition_point(|f| f.end.as_ref() <= user);
        self.frags.get(i).filter(|f| f.start.as_ref() <= user)
    }

    /// The sequence number of the newest tombstone visible at `read`
    /// (at or below it) that covers `user`.
    pub(crate) fn covering(&self, user: &[u8], read: SeqNo) -> Option<SeqNo> {
        self.fragment_at(user)?
            .seqs
            .iter()
            .copied()
            .find(|&s| s <= read)
    }

    /// The smallest start and largest end, if any fragment.
    pub(crate) fn bounds(&self) -> Option<(&Bytes, &Bytes)> {
        Some((&self.frags.first()?.start, &self.frags.last()?.end))
    }

    /// The fragments with a tombstone visible at `read`, cut to those
    /// tombstones; adjacent ranges joined, no sequence numbers kept (an
    /// iterator's skip list).
    pub(crate) fn visible_ranges(&self, read: SeqNo) -> Vec<(Bytes, Bytes)> {
        let mut out: Vec<(Bytes, Bytes)> = Vec::new();
        for f in self
            .frags
            .iter()
            .filter(|f| f.seqs.iter().any(|&s| s <= read))
        {
            match out.last_mut() {
                Some(last) if last.1 == f.start => last.1 = f.end.clone(),
                _ => out.push((f.start.clone(), f.end.clone())),
            }
        }
        out
    }

    /// The encoding: `count: varint`, then per fragment `start_len: varint
    /// | start | end_len: varint | end | seqs: varint | seq: u64 LE *`
    /// (sequence numbers newest first).
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        varint::put(out, self.frags.len() as u64);
        for f in &self.frags {
            varint::put(out, f.start.len() as u64);
            out.extend_from_slice(&f.start);
            varint::put(out, f.end.len() as u64);
            out.extend_from_slice(&f.end);
            varint::put(out, f.seqs.len() as u64);
            for s in &f.seqs {
                out.extend_from_slice(&s.0.to_le_bytes());
            }
        }
    }

    /// Decodes [`Fragments::encode`]'s bytes, checking the order: each
    /// fragment not empty, after the one before, its sequence numbers
    /// strictly decreasing and at most [`SEQNO_MAX`], nothing after the last.
    pub(crate) fn decode(b: &Bytes) -> Result<Fragments, Bad> {
        let mut p = 0usize;
        let bad = |what, at: usize, expected: u64, found: u64| Bad {
            what,
            at: at as u64,
            expected,
            found,
        };
        let short = |at: usize| bad("range-del section ends inside a field", at, 1, 0);
        let num = |p: &mut usize| varint::get(b, p).ok_or_else(|| short(*p));
        let take = |p: &mut usize, n: u64| -> Result<Bytes, Bad> {
            let end = usize::try_from(n)
                .ok()
                .and_then(|n| p.checked_add(n))
                .filter(|&e| e <= b.len())
                .ok_or_else(|| bad("range-del key past the section", *p, b.len() as u64, n))?;
            let s = b.slice(*p..end);
            *p = end;
            Ok(s)
        };
        let count = num(&mut p)?;
        let mut frags: Vec<Fragment> = Vec::new();
        for _ in 0..count {
            let at = p;
            let n = num(&mut p)?;
            let start = take(&mut p, n)?;
            let n = num(&mut p)?;
            let end = take(&mut p, n)?;
            if start >= end {
                return Err(bad("range-del fragment start not below its end", at, 0, 1));
            }
            if let Some(prev) = frags.last()
                && prev.end > start
            {
                return Err(bad("range-del fragments out of order", at, 0, 1));
            }
            let n = num(&mut p)?;
            let fits = n >= 1 && n.saturating_mul(8) <= (b.len() - p) as u64;
            if !fits {
                return Err(bad(
                    "range-del fragment sequence count",
                    p,
                    ((b.len() - p) / 8) as u64,
                    n,
                ));
            }
            let mut seqs = Vec::with_capacity(n as usize);
            for _ in 0..n {
                let mut a = [0u8; 8];
                a.copy_from_slice(&b[p..p + 8]);
                let s = u64::from_le_bytes(a);
                if s > SEQNO_MAX {
                    return Err(bad("range-del sequence number", p, SEQNO_MAX, s));
                }
                if let Some(&prev) = seqs.last()
                    && SeqNo(s) >= prev
                {
                    return Err(bad(
                        "range-del sequence numbers not decreasing",
                        p,
                        prev.0,
                        s,
                    ));
                }
                seqs.push(SeqNo(s));
                p += 8;
            }
            frags.push(Fragment { start, end, seqs });
        }
        if p != b.len() {
            return Err(bad(
                "bytes after the range-del fragments",
                p,
                p as u64,
                b.len() as u64,
            ));
        }
        Ok(Fragments { frags })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &'static str, e: &'static str, seq: u64) -> Tombstone {
        Tombstone {
            start: Bytes::from_static(s.as_bytes()),
            end: Bytes::from_static(e.as_bytes()),
            seq: SeqNo(seq),
        }
    }

    #[test]
    fn fragments_cover_as_the_tombstones_do() {
        let tombs = vec![
            t("b", "f", 5),
            t("d", "h", 9),
            t("a", "c", 2),
            t("x", "x", 7),
        ];
        let f = Fragments::build(tombs.clone());
        for user in ["", "a", "b", "c", "d", "e", "f", "g", "h", "x", "z"] {
            for read in [0, 2, 4, 5, 8, 9, 100] {
                let want = tombs
                    .iter()
                    .filter(|x| {
                        x.start.as_ref() <= user.as_bytes() && user.as_bytes() < x.end.as_ref()
                    })
                    .map(|x| x.seq)
                    .filter(|&s| s <= SeqNo(read))
                    .max();
                assert_eq!(
                    f.covering(user.as_bytes(), SeqNo(read)),
                    want,
                    "{user} at {read}"
                );
            }
        }
        for w in f.fragments().windows(2) {
            assert!(w[0].end <= w[1].start);
        }
        let mut enc = Vec::new();
        f.encode(&mut enc);
        assert_eq!(Fragments::decode(&Bytes::from(enc)).as_ref(), Ok(&f));
        assert_eq!(
            f.visible_ranges(SeqNo(4)),
            vec![(Bytes::from_static(b"a"), Bytes::from_static(b"c"))]
        );
    }

    #[test]
    fn decode_refuses_bad_order_and_truncation() {
        let f = Fragments::from_sorted(vec![
            Fragment {
                start: Bytes::from_static(b"d"),
                end: Bytes::from_static(b"e"),
                seqs: vec![SeqNo(3)],
            },
            Fragment {
                start: Bytes::from_static(b"a"),
                end: Bytes::from_static(b"b"),
                seqs: vec![SeqNo(3)],
            },
        ]);
        let mut enc = Vec::new();
        f.encode(&mut enc);
        let e = Fragments::decode(&Bytes::from(enc.clone())).unwrap_err();
        assert_eq!(e.what, "range-del fragments out of order");
        for n in 0..enc.len() {
            assert!(Fragments::decode(&Bytes::copy_from_slice(&enc[..n])).is_err());
        }
    }
}
