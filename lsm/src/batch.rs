//! Write batches: several puts, deletes and range deletes applied
//! atomically, and their encoding as one WAL record.
//!
//! `seq: u64 | count: u32 | op*`, each op `kind: u8 | key_len: varint | key`
//! followed, for [`ValueKind::Inline`], [`ValueKind::TimedInline`] and
//! [`ValueKind::Merge`], by `value_len: varint | value`, and for
//! [`ValueKind::RangeDelete`] (tag 4, `key` the range's start) by
//! `end_len: varint | end`.

use bytes::Bytes;

use crate::key::{SeqNo, ValueKind};
use crate::varint;

/// Bytes before the ops in an encoded batch.
pub(crate) const BATCH_HEADER_LEN: usize = 12;

/// Puts, deletes and range deletes applied atomically by
/// [`Db::write`](crate::Db::write).
#[derive(Clone, Debug, Default)]
pub struct WriteBatch {
    pub(crate) ops: Vec<(ValueKind, Bytes, Bytes)>,
    pub(crate) size_bytes: usize,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> WriteBatch {
        WriteBatch::default()
    }

    /// Adds a put of `key` to `value`.
    pub fn put(&mut self, key: impl Into<Bytes>, value: impl Into<Bytes>) {
        let (k, v) = (key.into(), value.into());
        self.size_bytes += k.len() + v.len();
        self.ops.push((ValueKind::Inline, k, v));
    }

    /// Adds a delete of `key`.
    pub fn delete(&mut self, key: impl Into<Bytes>) {
        let k = key.into();
        self.size_bytes += k.len();
        self.ops.push((ValueKind::Delete, k, Bytes::new()));
    }

    /// Adds a delete of every key in `[start, end)`: one operation (one
    /// sequence number, one log record entry) however many keys the range
    /// holds. An empty range (`start >= end`) deletes nothing.
    pub fn delete_range(&mut self, start: impl Into<Bytes>, end: impl Into<Bytes>) {
        let (s, e) = (start.into(), end.into());
        self.size_bytes += s.len() + e.len();
        self.ops.push((ValueKind::RangeDelete, s, e));
    }

    /// Adds a merge of `operand` into `key`: the store's
    /// [`MergeOperator`](crate::MergeOperator) combines it with the key's
    /// older value and operands when read, flushed or compacted.
    /// [`Db::write`](crate::Db::write) refuses the batch with
    /// [`Error::MergeOperatorMissing`](crate::Error::MergeOperatorMissing)
    /// if the store has no operator.
    pub fn merge(&mut self, key: impl Into<Bytes>, operand: impl Into<Bytes>) {
        let (k, v) = (key.into(), operand.into());
        self.size_bytes += k.len() + v.len();
        self.ops.push((ValueKind::Merge, k, v));
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the batch holds no operation.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    pub(crate) fn encode(&self, seq: SeqNo, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&seq.0.to_le_bytes());
        out.extend_from_slice(&(self.ops.len() as u32).to_le_bytes());
        for (kind, k, v) in &self.ops {
            out.push(*kind as u8);
            varint::put(out, k.len() as u64);
            out.extend_from_slice(k);
            if has_value(*kind) {
                varint::put(out, v.len() as u64);
                out.extend_from_slice(v);
            }
        }
    }

    /// Decodes a WAL record; `None` if malformed.
    pub(crate) fn decode(rec: &Bytes) -> Option<(SeqNo, WriteBatch)> {
        let mut a = [0u8; 8];
        a.copy_from_slice(rec.get(..8)?);
        let seq = SeqNo(u64::from_le_bytes(a));
        let mut c = [0u8; 4];
        c.copy_from_slice(rec.get(8..12)?);
        let count = u32::from_le_bytes(c);
        let mut p = BATCH_HEADER_LEN;
        let mut b = WriteBatch::new();
        let take = |p: &mut usize| -> Option<Bytes> {
            let n = varint::get(rec, p)? as usize;
            let end = p.checked_add(n).filter(|&e| e <= rec.len())?;
            let s = rec.slice(*p..end);
            *p = end;
            Some(s)
        };
        for _ in 0..count {
            let kind = ValueKind::from_u8(*rec.get(p)?)?;
            p += 1;
            let k = take(&mut p)?;
            let v = if has_value(kind) {
                take(&mut p)?
            } else {
                Bytes::new()
            };
            b.ops.push((kind, k, v));
        }
        (p == rec.len()).then_some((seq, b))
    }
}

/// Whether an op of `kind` carries a value in the log record.
fn has_value(kind: ValueKind) -> bool {
    matches!(
        kind,
        ValueKind::Inline | ValueKind::TimedInline | ValueKind::Merge | ValueKind::RangeDelete
    )
}
