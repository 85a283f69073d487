//! The write side: a key's operands combined at flush and in compaction.

use std::collections::VecDeque;

use bytes::Bytes;

use super::MergeOperator;
use crate::Result;
use crate::blob::{self, Blobs};
use crate::iter::Entry;
use crate::key::{InternalKey, SeqNo, ValueKind};

/// What [`Collapse`] needs from the DB.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct MergeEnv<'a> {
    /// The store's operator; without one, operands pass through as they
    /// are.
    pub(crate) op: Option<&'a dyn MergeOperator>,
    /// Where a separated base is read from.
    pub(crate) blobs: Option<&'a Blobs>,
}

/// Entries of one merge input (sorted, newest version of a key first) with
/// each key's operands at or below `smallest_snapshot` combined:
///
/// - with their base (the next older version that is not an operand, if it
///   is in the input) into one value of kind [`ValueKind::Inline`] at the
///   newest operand's sequence number, the base consumed; a separated base
///   is read first. With no base in the input and `bottommost` true for the
///   key (nothing older exists anywhere), the same from no value.
/// - otherwise, adjacent operands pairwise by the operator's partial
///   merge, each result at the newer one's sequence number; the rest are
///   kept.
///
/// All versions at or below the oldest snapshot are seen by the same
/// readers (the engine keeps every version newer than it, LevelDB's rule),
/// so combining them crosses no snapshot boundary; newer versions pass
/// unchanged. A full merge that fails (or a base that cannot be read)
/// keeps the key's operands and base: the read reports it.
///
/// What it yields follows the input's order, so the caller's rule for
/// dropping shadowed versions still applies, with one change: an operand
/// shadows nothing (`compaction/job.rs`).
pub(crate) struct Collapse<'a, I> {
    inner: I,
    /// An entry taken from `inner` past a key's operands.
    pending: Option<Result<Entry>>,
    out: VecDeque<Result<Entry>>,
    env: MergeEnv<'a>,
    smallest_snapshot: SeqNo,
    bottommost: &'a dyn Fn(&[u8]) -> bool,
    /// A user key whose base at or below the oldest snapshot has passed:
    /// its older versions are shadowed, and not worth merging.
    shadowed: Option<Bytes>,
}

impl<'a, I: Iterator<Item = Result<Entry>>> Collapse<'a, I> {
    pub(crate) fn new(
        inner: I,
        env: MergeEnv<'a>,
        smallest_snapshot: SeqNo,
        bottommost: &'a dyn Fn(&[u8]) -> bool,
    ) -> Collapse<'a, I> {
        Collapse {
            inner,
            pending: None,
            out: VecDeque::new(),
            env,
            smallest_snapshot,
            bottommost,
            shadowed: None,
        }
    }

    fn take(&mut self) -> Option<Result<Entry>> {
        self.pending.take().or_else(|| self.inner.next())
    }

    /// Queues what `operands` (newest first, one key, at least one) and
    /// `base` become.
    fn combine(&mut self, op: &dyn MergeOperator, operands: Vec<Entry>, base: Option<Entry>) {
        let user = operands[0].0.user.clone();
        let top = operands[0].0.seq;
        let existing: Option<Option<Bytes>> = match &base {
            Some((b, bv)) => match b.kind {
                ValueKind::Inline => Some(Some(bv.clone())),
                ValueKind::Delete => Some(None),
                ValueKind::BlobRef => blob::resolve(self.env.blobs, &user, bv).ok().map(Some),
                // Range tombstones are never entries; a base written with
                // a TTL keeps its write time, so it is not merged into an
                // untimed value (the operands are kept above it).
                ValueKind::Merge
                | ValueKind::RangeDelete
                | ValueKind::TimedInline
                | ValueKind::TimedBlobRef => None,
            },
            None if (self.bottommost)(&user) => Some(None),
            None => None,
        };
        if base.is_some() {
            self.shadowed = Some(user.clone());
        }
        if let Some(existing) = existing {
            let ops: Vec<&[u8]> = operands.iter().rev().map(|(_, v)| v.as_ref()).collect();
            if let Ok(v) = op.full_merge(&user, existing.as_deref(), &ops) {
                let k = InternalKey::new(user, top, ValueKind::Inline);
                self.out.push_back(Ok((k, Bytes::from(v))));
                return;
            }
        }
        // Oldest first, each combined into the one before it where it can.
        let mut kept: Vec<Entry> = Vec::with_capacity(operands.len());
        for (k, v) in operands.into_iter().rev() {
            if let Some((pk, pv)) = kept.last_mut()
                && let Some(m) = op.partial_merge(&user, pv, &v)
            {
                *pk = k;
                *pv = Bytes::from(m);
                continue;
            }
            kept.push((k, v));
        }
        self.out.extend(kept.into_iter().rev().map(Ok));
        if let Some(b) = base {
            self.out.push_back(Ok(b));
        }
    }
}

impl<I: Iterator<Item = Result<Entry>>> Iterator for Collapse<'_, I> {
    type Item = Result<Entry>;

    fn next(&mut self) -> Option<Result<Entry>> {
        if let Some(x) = self.out.pop_front() {
            return Some(x);
        }
        let (k, v) = match self.take()? {
            Ok(e) => e,
            Err(e) => return Some(Err(e)),
        };
        if k.seq > self.smallest_snapshot || self.shadowed.as_ref() == Some(&k.user) {
            return Some(Ok((k, v)));
        }
        let op = match self.env.op {
            Some(op) if k.kind == ValueKind::Merge => op,
            _ => {
                if k.kind != ValueKind::Merge {
                    self.shadowed = Some(k.user.clone());
                }
                return Some(Ok((k, v)));
            }
        };
        let mut operands = vec![(k, v)];
        let mut base = None;
        loop {
            match self.take() {
                Some(Ok((n, nv))) if n.user == operands[0].0.user => {
                    if n.kind == ValueKind::Merge {
                        operands.push((n, nv));
                    } else {
                        base = Some((n, nv));
                        break;
                    }
                }
                other => {
                    self.pending = other;
                    break;
                }
            }
        }
        self.combine(op, operands, base);
        self.out.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merge::{AppendOperator, U64AddOperator};

    fn e(user: &str, seq: u64, kind: ValueKind, v: &str) -> Result<Entry> {
        Ok((
            InternalKey::new(Bytes::copy_from_slice(user.as_bytes()), SeqNo(seq), kind),
            Bytes::copy_from_slice(v.as_bytes()),
        ))
    }

    fn run(
        input: Vec<Result<Entry>>,
        op: &dyn MergeOperator,
        snap: u64,
        bottom: bool,
    ) -> Vec<(String, u64, ValueKind, String)> {
        let bottommost = move |_: &[u8]| bottom;
        let env = MergeEnv {
            op: Some(op),
            blobs: None,
        };
        Collapse::new(input.into_iter(), env, SeqNo(snap), &bottommost)
            .map(|r| {
                let (k, v) = r.unwrap();
                (
                    String::from_utf8_lossy(&k.user).into_owned(),
                    k.seq.0,
                    k.kind,
                    String::from_utf8_lossy(&v).into_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn operands_with_a_base_become_a_value() {
        let op = AppendOperator::new(",");
        let out = run(
            vec![
                e("a", 9, ValueKind::Merge, "new"),
                e("a", 4, ValueKind::Merge, "y"),
                e("a", 3, ValueKind::Merge, "x"),
                e("a", 2, ValueKind::Inline, "base"),
                e("a", 1, ValueKind::Inline, "old"),
                e("b", 5, ValueKind::Merge, "z"),
            ],
            &op,
            5,
            false,
        );
        assert_eq!(
            out,
            [
                ("a".into(), 9, ValueKind::Merge, "new".into()),
                ("a".into(), 4, ValueKind::Inline, "base,x,y".into()),
                ("a".into(), 1, ValueKind::Inline, "old".into()),
                ("b".into(), 5, ValueKind::Merge, "z".into()),
            ]
        );
    }

    #[test]
    fn without_a_base_operands_merge_partially_or_fully_at_the_bottom() {
        let op = AppendOperator::new(",");
        let input = || {
            vec![
                e("a", 4, ValueKind::Merge, "y"),
                e("a", 3, ValueKind::Merge, "x"),
            ]
        };
        assert_eq!(
            run(input(), &op, 10, false),
            [("a".into(), 4, ValueKind::Merge, "x,y".into())]
        );
        assert_eq!(
            run(input(), &op, 10, true),
            [("a".into(), 4, ValueKind::Inline, "x,y".into())]
        );
    }

    #[test]
    fn a_failed_merge_keeps_everything() {
        let op = U64AddOperator;
        let out = run(
            vec![
                e("a", 4, ValueKind::Merge, "bad"),
                e("a", 3, ValueKind::Merge, "worse"),
                e("a", 2, ValueKind::Inline, "base"),
            ],
            &op,
            10,
            false,
        );
        assert_eq!(out.len(), 3);
        assert_eq!(out[2].2, ValueKind::Inline);
        assert_eq!(out[0].2, ValueKind::Merge);
    }
}
