//! The memtable: a concurrent skiplist of internal keys to values.
//!
//! # Concurrency
//!
//! Inserts come from one writer at a time (the DB's write lock); readers
//! run lock-free at the same time and see an insert once the DB publishes
//! its sequence number.

use std::ops::Bound;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use crossbeam_skiplist::SkipMap;

use crate::key::{InternalKey, SeqNo, ValueKind};

/// Per-entry overhead counted against the write buffer, beyond key and value.
const ENTRY_OVERHEAD_BYTES: usize = 64;

/// A sorted in-memory table.
#[derive(Debug, Default)]
pub(crate) struct Memtable {
    map: SkipMap<InternalKey, Bytes>,
    size_bytes: AtomicUsize,
}

/// An entry as the iterators and flush see it.
pub(crate) type Entry = (InternalKey, Bytes);

impl Memtable {
    pub(crate) fn new() -> Memtable {
        Memtable::default()
    }

    pub(crate) fn insert(&self, user: Bytes, seq: SeqNo, kind: ValueKind, value: Bytes) {
        self.size_bytes.fetch_add(
            user.len() + value.len() + ENTRY_OVERHEAD_BYTES,
            Ordering::Relaxed,
        );
        self.map.insert(InternalKey::new(user, seq, kind), value);
    }

    /// Approximate memory used.
    pub(crate) fn size_bytes(&self) -> usize {
        self.size_bytes.load(Ordering::Relaxed)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The newest version of `user` with sequence number at most `seq`.
    pub(crate) fn get(&self, user: &[u8], seq: SeqNo) -> Option<(ValueKind, Bytes)> {
        // Skips building the probe key (an allocation) when there is
        // nothing to find, as after a flush.
        if self.map.is_empty() {
            return None;
        }
        let probe = InternalKey::seek(user, seq);
        let e = self.map.lower_bound(Bound::Included(&probe))?;
        (e.key().user.as_ref() == user).then(|| (e.key().kind, e.value().clone()))
    }

    /// Every entry between two user-key bounds, both directions.
    pub(crate) fn range(
        &self,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
    ) -> impl DoubleEndedIterator<Item = Entry> + '_ {
        let lo = match lo {
            Bound::Included(k) => Bound::Included(InternalKey::seek(k, crate::key::SEQNO_MAX)),
            Bound::Excluded(k) => Bound::Excluded(InternalKey::new(
                Bytes::copy_from_slice(k),
                0,
                ValueKind::Delete,
            )),
            Bound::Unbounded => Bound::Unbounded,
        };
        let hi = match hi {
            Bound::Included(k) => Bound::Included(InternalKey::new(
                Bytes::copy_from_slice(k),
                0,
                ValueKind::Delete,
            )),
            Bound::Excluded(k) => Bound::Excluded(InternalKey::seek(k, crate::key::SEQNO_MAX)),
            Bound::Unbounded => Bound::Unbounded,
        };
        self.map
            .range((lo, hi))
            .map(|e| (e.key().clone(), e.value().clone()))
    }

    /// Every entry in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = Entry> + '_ {
        self.map
            .iter()
            .map(|e| (e.key().clone(), e.value().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_sees_newest_version_at_or_below_seqno() {
        let m = Memtable::new();
        let k = Bytes::from_static(b"k");
        m.insert(k.clone(), 1, ValueKind::Inline, Bytes::from_static(b"v1"));
        m.insert(k.clone(), 3, ValueKind::Delete, Bytes::new());
        m.insert(k.clone(), 5, ValueKind::Inline, Bytes::from_static(b"v5"));
        assert_eq!(m.get(b"k", 0), None);
        assert_eq!(
            m.get(b"k", 2),
            Some((ValueKind::Inline, Bytes::from_static(b"v1")))
        );
        assert_eq!(m.get(b"k", 4).map(|x| x.0), Some(ValueKind::Delete));
        assert_eq!(
            m.get(b"k", 9),
            Some((ValueKind::Inline, Bytes::from_static(b"v5")))
        );
        assert_eq!(m.get(b"j", 9), None);
        assert_eq!(
            m.range(Bound::Included(b"k"), Bound::Included(b"k"))
                .count(),
            3
        );
        assert_eq!(m.range(Bound::Excluded(b"k"), Bound::Unbounded).count(), 0);
    }
}
