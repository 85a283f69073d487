//! Write batches: several puts, deletes and range deletes applied
//! atomically, and their encoding as one WAL record.
//!
//! `seq: u64 | count: u32 | op*`, each op `kind: u8 | key_len: varint | key`
//! followed, for [`ValueKind::Inline`], [`ValueKind::TimedInline`] and
//! [`ValueKind::Merge`], by `value_len: varint | value`, and for
//! [`ValueKind::RangeDelete`] (tag 4, `key` the range's start) by
//! `end_len: varint | end`. An op of a keyspace other than the default
//! has `0x80 | kind` for its kind byte, followed by the keyspace's id as a
//! varint, then the rest as above; the default keyspace's ops are written
//! as they always were.

use bytes::Bytes;

use crate::key::{SeqNo, ValueKind};
use crate::varint;

/// Bytes before the ops in an encoded batch.
pub(crate) const BATCH_HEADER_LEN: usize = 12;

/// The kind byte's flag for an op with a keyspace id after it.
const KEYSPACE_FLAG: u8 = 0x80;

/// Puts, deletes, range deletes and merges applied atomically by
/// [`Db::write`](crate::Db::write), in the default keyspace or (the `_in`
/// methods) in any keyspace of the same database: a batch spanning
/// keyspaces is one log record, applied whole or not at all.
#[derive(Clone, Debug, Default)]
pub struct WriteBatch {
    pub(crate) ops: Vec<(ValueKind, Bytes, Bytes)>,
    /// Per op, its keyspace's id; empty while every op is the default
    /// keyspace's (id 0).
    pub(crate) keyspaces: Vec<u64>,
    pub(crate) size_bytes: usize,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> WriteBatch {
        WriteBatch::default()
    }

    /// Adds an op of keyspace `ks`.
    pub(crate) fn push(&mut self, ks: u64, kind: ValueKind, k: Bytes, v: Bytes) {
        self.size_bytes += k.len() + v.len();
        if ks != 0 || !self.keyspaces.is_empty() {
            self.keyspaces.resize(self.ops.len(), 0);
            self.keyspaces.push(ks);
        }
        self.ops.push((kind, k, v));
    }

    /// The keyspace id of op `i`.
    pub(crate) fn keyspace(&self, i: usize) -> u64 {
        self.keyspaces.get(i).copied().unwrap_or(0)
    }

    /// The distinct keyspace ids the batch writes to, ascending.
    pub(crate) fn keyspace_ids(&self) -> Vec<u64> {
        let mut ids = self.keyspaces.clone();
        if ids.is_empty() && !self.ops.is_empty() {
            ids.push(0);
        }
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Adds a put of `key` to `value`.
    pub fn put(&mut self, key: impl Into<Bytes>, value: impl Into<Bytes>) {
        self.push(0, ValueKind::Inline, key.into(), value.into());
    }

    /// Adds a delete of `key`.
    pub fn delete(&mut self, key: impl Into<Bytes>) {
        self.push(0, ValueKind::Delete, key.into(), Bytes::new());
    }

    /// Adds a put of `key` to `value` in keyspace `ks`.
    pub fn put_in(&mut self, ks: &crate::Keyspace, key: impl Into<Bytes>, value: impl Into<Bytes>) {
        self.push(ks.id(), ValueKind::Inline, key.into(), value.into());
    }

    /// Adds a delete of `key` in keyspace `ks`.
    pub fn delete_in(&mut self, ks: &crate::Keyspace, key: impl Into<Bytes>) {
        self.push(ks.id(), ValueKind::Delete, key.into(), Bytes::new());
    }

    /// Adds a delete of every key in `[start, end)` of keyspace `ks` (as
    /// [`WriteBatch::delete_range`]).
    pub fn delete_range_in(
        &mut self,
        ks: &crate::Keyspace,
        start: impl Into<Bytes>,
        end: impl Into<Bytes>,
    ) {
        self.push(ks.id(), ValueKind::RangeDelete, start.into(), end.into());
    }

    /// Adds a merge of `operand` into `key` of keyspace `ks` (as
    /// [`WriteBatch::merge`]).
    pub fn merge_in(
        &mut self,
        ks: &crate::Keyspace,
        key: impl Into<Bytes>,
        operand: impl Into<Bytes>,
    ) {
        self.push(ks.id(), ValueKind::Merge, key.into(), operand.into());
    }

    /// Adds a delete of every key in `[start, end)`: one operation (one
    /// sequence number, one log record entry) however many keys the range
    /// holds. An empty range (`start >= end`) deletes nothing.
    pub fn delete_range(&mut self, start: impl Into<Bytes>, end: impl Into<Bytes>) {
        self.push(0, ValueKind::RangeDelete, start.into(), end.into());
    }

    /// Adds a merge of `operand` into `key`: the store's
    /// [`MergeOperator`](crate::MergeOperator) combines it with the key's
    /// older value and operands when read, flushed or compacted.
    /// [`Db::write`](crate::Db::write) refuses the batch with
    /// [`Error::MergeOperatorMissing`](crate::Error::MergeOperatorMissing)
    /// if the store has no operator.
    pub fn merge(&mut self, key: impl Into<Bytes>, operand: impl Into<Bytes>) {
        self.push(0, ValueKind::Merge, key.into(), operand.into());
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
        for (i, (kind, k, v)) in self.ops.iter().enumerate() {
            match self.keyspace(i) {
                0 => out.push(*kind as u8),
                ks => {
                    out.push(KEYSPACE_FLAG | *kind as u8);
                    varint::put(out, ks);
                }
            }
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
            let byte = *rec.get(p)?;
            p += 1;
            let ks = if byte & KEYSPACE_FLAG != 0 {
                match varint::get(rec, &mut p)? {
                    0 => return None,
                    ks => ks,
                }
            } else {
                0
            };
            let kind = ValueKind::from_u8(byte & !KEYSPACE_FLAG)?;
            let k = take(&mut p)?;
            let v = if has_value(kind) {
                take(&mut p)?
            } else {
                Bytes::new()
            };
            b.push(ks, kind, k, v);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(b: &WriteBatch) -> Vec<(u64, ValueKind, Bytes, Bytes)> {
        b.ops
            .iter()
            .enumerate()
            .map(|(i, (kind, k, v))| (b.keyspace(i), *kind, k.clone(), v.clone()))
            .collect()
    }

    #[test]
    fn ops_of_other_keyspaces_round_trip_and_default_ops_keep_their_bytes() {
        let mut b = WriteBatch::new();
        b.put("a", "1");
        b.push(300, ValueKind::Merge, "m".into(), "+1".into());
        b.delete("d");
        b.push(7, ValueKind::RangeDelete, "x".into(), "y".into());
        let mut enc = Vec::new();
        b.encode(SeqNo(5), &mut enc);
        let (seq, back) = WriteBatch::decode(&Bytes::from(enc)).expect("decode");
        assert_eq!(seq, SeqNo(5));
        assert_eq!(ops(&back), ops(&b));
        assert_eq!(b.keyspace_ids(), [0, 7, 300]);

        // Default-keyspace ops are encoded exactly as before keyspaces.
        let mut d = WriteBatch::new();
        d.put("a", "1");
        let mut enc = Vec::new();
        d.encode(SeqNo(1), &mut enc);
        let mut want = 1u64.to_le_bytes().to_vec();
        want.extend_from_slice(&1u32.to_le_bytes());
        want.extend_from_slice(&[ValueKind::Inline as u8, 1, b'a', 1, b'1']);
        assert_eq!(enc, want);
        assert!(d.keyspaces.is_empty());
    }

    #[test]
    fn a_flagged_op_naming_keyspace_zero_is_malformed() {
        let mut enc = 1u64.to_le_bytes().to_vec();
        enc.extend_from_slice(&1u32.to_le_bytes());
        enc.extend_from_slice(&[KEYSPACE_FLAG | ValueKind::Delete as u8, 0, 1, b'k']);
        assert!(WriteBatch::decode(&Bytes::from(enc)).is_none());
    }
}
