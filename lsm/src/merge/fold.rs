//! The read side: a key's visible versions folded into its value.

use bytes::Bytes;

use super::MergeOperator;
use crate::blob::{self, Blobs};
use crate::key::ValueKind;
use crate::{Error, Result};

/// A key's versions visible to one reader, fed one at a time in either
/// order, reduced to what its value depends on: the newest version that is
/// not a merge operand (the base) and the operands newer than it.
///
/// Without operands this is the newest visible version, as before merges
/// existed, and holds no allocation.
#[derive(Debug, Default)]
pub(crate) struct Fold {
    /// The base: a put, a separated value or a tombstone.
    base: Option<(ValueKind, Bytes)>,
    /// Operands newer than the base: newest first when fed by
    /// [`Fold::push_older`], oldest first by [`Fold::push_newer`].
    operands: Vec<Bytes>,
    /// Fed newest first and the base is found: older versions are shadowed.
    done: bool,
    /// Fed newest first.
    newest_first: bool,
}

impl Fold {
    /// Feeds the next older visible version (iteration from the front,
    /// point lookups).
    pub(crate) fn push_older(&mut self, kind: ValueKind, value: Bytes) {
        self.newest_first = true;
        if self.done {
            return;
        }
        if kind == ValueKind::Merge {
            self.operands.push(value);
        } else {
            self.base = Some((kind, value));
            self.done = true;
        }
    }

    /// Feeds the next newer visible version (iteration from the back).
    pub(crate) fn push_newer(&mut self, kind: ValueKind, value: Bytes) {
        if kind == ValueKind::Merge {
            self.operands.push(value);
        } else {
            self.base = Some((kind, value));
            self.operands.clear();
        }
    }

    /// Replaces the base with what `f` makes of it (TTL: an expired base
    /// becomes a tombstone, a timed one loses its write time).
    ///
    /// # Errors
    ///
    /// `f`'s error.
    pub(crate) fn map_base(
        &mut self,
        f: impl FnOnce(Option<(ValueKind, Bytes)>) -> Result<Option<(ValueKind, Bytes)>>,
    ) -> Result<()> {
        self.base = f(self.base.take())?;
        Ok(())
    }

    /// Whether the versions fed so far, newest first, end in operands: an
    /// older version would still change the value.
    pub(crate) fn needs_older(&self) -> bool {
        !self.done && !self.operands.is_empty()
    }

    /// The value of `key`: `None` if deleted or absent. A separated base is
    /// read from `blobs` first; operands are merged by `op`.
    ///
    /// # Errors
    ///
    /// [`Error::MergeOperatorMissing`] if there are operands and no
    /// operator, [`Error::MergeFailed`] if the operator fails, and the
    /// blob errors of [`blob::resolve`].
    pub(crate) fn finish(
        mut self,
        key: &[u8],
        op: Option<&dyn MergeOperator>,
        blobs: Option<&Blobs>,
    ) -> Result<Option<Bytes>> {
        let base = match self.base {
            Some((ValueKind::Inline, v)) => Some(v),
            Some((ValueKind::BlobRef, r)) => Some(blob::resolve(blobs, key, &r)?),
            _ => None,
        };
        if self.operands.is_empty() {
            return Ok(base);
        }
        let op = op.ok_or_else(|| Error::MergeOperatorMissing { key: key.to_vec() })?;
        if self.newest_first {
            self.operands.reverse();
        }
        let operands: Vec<&[u8]> = self.operands.iter().map(|o| o.as_ref()).collect();
        match op.full_merge(key, base.as_deref(), &operands) {
            Ok(v) => Ok(Some(Bytes::from(v))),
            Err(source) => Err(Error::MergeFailed {
                key: key.to_vec(),
                operator: op.name().to_string(),
                source,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merge::AppendOperator;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn both_directions_agree() {
        // Newest first: c(merge) b(merge) a(put) z(merge, shadowed).
        let versions = [
            (ValueKind::Merge, b("c")),
            (ValueKind::Merge, b("b")),
            (ValueKind::Inline, b("a")),
            (ValueKind::Merge, b("z")),
        ];
        let op = AppendOperator::new("+");
        let mut f = Fold::default();
        for (k, v) in versions.iter().cloned() {
            f.push_older(k, v);
        }
        let fwd = f.finish(b"k", Some(&op), None).ok().flatten();
        let mut f = Fold::default();
        for (k, v) in versions.iter().rev().cloned() {
            f.push_newer(k, v);
        }
        let back = f.finish(b"k", Some(&op), None).ok().flatten();
        assert_eq!(fwd, Some(b("a+b+c")));
        assert_eq!(fwd, back);
    }

    #[test]
    fn operands_without_an_operator_are_an_error() {
        let mut f = Fold::default();
        f.push_older(ValueKind::Merge, b("x"));
        assert!(matches!(
            f.finish(b"k", None, None),
            Err(Error::MergeOperatorMissing { key }) if key == b"k"
        ));
    }

    #[test]
    fn a_tombstone_base_merges_from_nothing() {
        let mut f = Fold::default();
        f.push_older(ValueKind::Merge, b("x"));
        f.push_older(ValueKind::Delete, Bytes::new());
        f.push_older(ValueKind::Inline, b("old"));
        let v = f
            .finish(b"k", Some(&AppendOperator::new(",")), None)
            .ok()
            .flatten();
        assert_eq!(v, Some(b("x")));
    }
}
