//! The memtable: a concurrent skiplist of internal keys to values.
//!
//! # Concurrency
//!
//! Inserts come from one writer at a time (the DB's write lock); readers
//! run lock-free at the same time and see an insert once the DB publishes
//! its sequence number.
//!
//! # Memory
//!
//! An entry's key and value bytes are copied into chunks shared by the
//! memtable's entries (16 KiB first, doubling up to 1 MiB,
//! [`ARENA_CHUNK_BYTES`]: a memtable replayed from a short log holds no
//! more than it needs), so an insert
//! allocates only its skiplist node, and the caller's buffers are freed by
//! the caller's thread. Without the arena each entry held the caller's
//! key and value allocations until the flush thread dropped the memtable:
//! three frees per entry from another thread, which fragment the writer's
//! malloc arena; the fill spent a fifth of its time in glibc's `malloc`.
//! A value a reader took from the memtable keeps its chunk alive (as a
//! block read keeps its block) until the reader drops it.

use std::borrow::Borrow;
use std::cmp::Ordering as CmpOrdering;
use std::collections::VecDeque;
use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::{Bytes, BytesMut};
use crossbeam_skiplist::SkipMap;
use parking_lot::Mutex;

use crate::key::{self, InternalKey, SeqNo, ValueKind};

/// A skiplist entry: the internal key, its value, and its user key's
/// first eight bytes ([`key::prefix`]) stored inline. A search compares the
/// inline words and dereferences the key bytes only on a tie.
///
/// The value lives here rather than as the map's value, and `prefix` is
/// the last field: crossbeam lays a node out as value, key, then the tower
/// of next pointers (`repr(C)`), so the word a search compares sits just
/// before the pointers it follows, usually in the same cache line, and a
/// visited node costs one cache miss instead of two.
#[derive(Clone, Debug)]
#[repr(C)]
struct MemKey {
    key: InternalKey,
    value: Bytes,
    prefix: u64,
}

impl MemKey {
    fn new(key: InternalKey, value: Bytes) -> MemKey {
        MemKey {
            prefix: key::prefix(&key.user),
            key,
            value,
        }
    }

    /// A bound: a key without a value.
    fn bound(key: InternalKey) -> MemKey {
        MemKey::new(key, Bytes::new())
    }
}

impl PartialEq for MemKey {
    fn eq(&self, other: &MemKey) -> bool {
        self.cmp(other) == CmpOrdering::Equal
    }
}

impl Eq for MemKey {}

impl Ord for MemKey {
    fn cmp(&self, other: &MemKey) -> CmpOrdering {
        // `prefix` is monotone in the user key, so this is InternalKey order.
        self.prefix
            .cmp(&other.prefix)
            .then_with(|| self.key.cmp(&other.key))
    }
}

impl PartialOrd for MemKey {
    fn partial_cmp(&self, other: &MemKey) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}

/// A key as a lookup sees it: a [`MemKey`], or a borrowed probe that
/// needs no allocation. The skiplist finds by `Borrow`, so both borrow as
/// this trait object and compare through [`Lookup::parts`].
trait Lookup {
    /// Prefix, user key, trailer (`seq << 8 | kind`).
    fn parts(&self) -> (u64, &[u8], u64);
}

impl Lookup for MemKey {
    fn parts(&self) -> (u64, &[u8], u64) {
        (
            self.prefix,
            &self.key.user,
            key::trailer(self.key.seq, self.key.kind),
        )
    }
}

/// A borrowed probe key.
struct Probe<'a> {
    prefix: u64,
    user: &'a [u8],
    trailer: u64,
}

impl Lookup for Probe<'_> {
    fn parts(&self) -> (u64, &[u8], u64) {
        (self.prefix, self.user, self.trailer)
    }
}

impl<'a> Borrow<dyn Lookup + 'a> for MemKey {
    fn borrow(&self) -> &(dyn Lookup + 'a) {
        self
    }
}

impl Ord for dyn Lookup + '_ {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        let (pa, ua, ta) = self.parts();
        let (pb, ub, tb) = other.parts();
        // Same order as MemKey's: trailers descend (newer first).
        pa.cmp(&pb)
            .then_with(|| ua.cmp(ub))
            .then_with(|| tb.cmp(&ta))
    }
}

impl PartialOrd for dyn Lookup + '_ {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for dyn Lookup + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == CmpOrdering::Equal
    }
}

impl Eq for dyn Lookup + '_ {}

/// Per-entry overhead counted against the write buffer, beyond key and value.
const ENTRY_OVERHEAD_BYTES: usize = 64;

/// Bytes of an arena chunk once the memtable has grown: the first chunk is
/// [`ARENA_FIRST_CHUNK_BYTES`] and each next one twice the last, so a
/// memtable that holds a few entries (a store opened to read, a replayed
/// short log) does not take a whole chunk.
pub(crate) const ARENA_CHUNK_BYTES: usize = 1 << 20;

/// Bytes of the first arena chunk.
const ARENA_FIRST_CHUNK_BYTES: usize = 16 << 10;

/// An entry whose key and value together exceed this keeps the caller's
/// buffers instead of a copy in the arena: one allocation is nothing next
/// to such a copy, and a chunk would waste up to that much at its end.
const ARENA_ENTRY_MAX_BYTES: usize = ARENA_CHUNK_BYTES / 16;

/// A sorted in-memory table.
#[derive(Debug, Default)]
pub(crate) struct Memtable {
    map: SkipMap<MemKey, ()>,
    /// The free tail of the current arena chunk. Locked by the one writer
    /// at a time, so never contended.
    arena: Mutex<Arena>,
    size_bytes: AtomicUsize,
    /// Tombstones inserted, for [`Memtable::tombstones`].
    tombstones: AtomicUsize,
}

/// The arena's current chunk and the size of the next.
#[derive(Debug, Default)]
struct Arena {
    /// The free tail of the current chunk.
    free: BytesMut,
    /// Bytes of the last chunk taken (0 before the first).
    chunk_bytes: usize,
}

/// An entry as the iterators and flush see it.
pub(crate) type Entry = (InternalKey, Bytes);

impl Memtable {
    pub(crate) fn new() -> Memtable {
        Memtable::default()
    }

    pub(crate) fn insert(&self, user: Bytes, seq: SeqNo, kind: ValueKind, value: Bytes) {
        if kind == ValueKind::Delete {
            self.tombstones.fetch_add(1, Ordering::Relaxed);
        }
        self.size_bytes.fetch_add(
            user.len() + value.len() + ENTRY_OVERHEAD_BYTES,
            Ordering::Relaxed,
        );
        let (user, value) = self.copy_in(user, value);
        self.map
            .insert(MemKey::new(InternalKey::new(user, seq, kind), value), ());
    }

    /// `user` and `value` copied into the arena (see the module's
    /// "Memory"), or as given when they are large.
    fn copy_in(&self, user: Bytes, value: Bytes) -> (Bytes, Bytes) {
        let n = user.len() + value.len();
        if n > ARENA_ENTRY_MAX_BYTES {
            return (user, value);
        }
        let mut a = self.arena.lock();
        if a.free.capacity() < n {
            a.chunk_bytes = (a.chunk_bytes * 2).clamp(ARENA_FIRST_CHUNK_BYTES, ARENA_CHUNK_BYTES);
            a.free = BytesMut::with_capacity(a.chunk_bytes.max(n));
        }
        a.free.extend_from_slice(&user);
        a.free.extend_from_slice(&value);
        let both = a.free.split_to(n).freeze();
        (both.slice(..user.len()), both.slice(user.len()..))
    }

    /// Approximate memory used.
    pub(crate) fn size_bytes(&self) -> usize {
        self.size_bytes.load(Ordering::Relaxed)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Entries (every version, tombstones included).
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Tombstones among the entries.
    pub(crate) fn tombstones(&self) -> usize {
        self.tombstones.load(Ordering::Relaxed)
    }

    /// The newest version of `user` with sequence number at most `seq`.
    pub(crate) fn get(&self, user: &[u8], seq: SeqNo) -> Option<(ValueKind, Bytes)> {
        // An empty memtable (as after a flush) is common and its search
        // is not free: crossbeam pins an epoch and copies a search position.
        if self.map.is_empty() {
            return None;
        }
        let probe = Probe {
            prefix: key::prefix(user),
            user,
            trailer: key::trailer(seq, ValueKind::SEEK),
        };
        let e = self
            .map
            .lower_bound(Bound::Included(&probe as &dyn Lookup))?;
        let k = e.key();
        (k.key.user.as_ref() == user).then(|| (k.key.kind, k.value.clone()))
    }

    /// Every entry between two user-key bounds, both directions, cloning
    /// only the entries taken: a seek followed by a short scan costs the
    /// scan, not the rest of the memtable.
    ///
    /// From the front, a user key's versions older than its newest one
    /// visible at `seq` are shadowed for every reader at `seq`: the cursor
    /// leaves them out, and after [`SKIPS_BEFORE_RESEEK`] of them in a row
    /// it seeks past the key instead of walking its versions (a hot key
    /// overwritten 50,000 times cost a short scan 4.6 ms before).
    pub(crate) fn range(
        self: &Arc<Memtable>,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        seq: SeqNo,
    ) -> MemIter {
        MemIter {
            mem: Arc::clone(self),
            seq,
            visible_user: None,
            lo: lower(lo),
            hi: upper(hi),
            front: VecDeque::new(),
            back: VecDeque::new(),
            front_chunk: FIRST_CHUNK,
            back_chunk: FIRST_CHUNK,
            drained: false,
        }
    }

    /// Every entry in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = Entry> + '_ {
        self.map
            .iter()
            .map(|e| (e.key().key.clone(), e.key().value.clone()))
    }
}

/// The internal-key bound before every version of a user key, or after it.
fn lower(lo: Bound<&[u8]>) -> Bound<MemKey> {
    match lo {
        Bound::Included(k) => {
            Bound::Included(MemKey::bound(InternalKey::seek(k, SeqNo(key::SEQNO_MAX))))
        }
        Bound::Excluded(k) => Bound::Excluded(MemKey::bound(InternalKey::new(
            Bytes::copy_from_slice(k),
            SeqNo(0),
            ValueKind::Delete,
        ))),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn upper(hi: Bound<&[u8]>) -> Bound<MemKey> {
    match hi {
        Bound::Included(k) => Bound::Included(MemKey::bound(InternalKey::new(
            Bytes::copy_from_slice(k),
            SeqNo(0),
            ValueKind::Delete,
        ))),
        Bound::Excluded(k) => {
            Bound::Excluded(MemKey::bound(InternalKey::seek(k, SeqNo(key::SEQNO_MAX))))
        }
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// Entries fetched by the first refill of either end; each refill doubles
/// it up to [`MAX_CHUNK`], so a point seek stays cheap and a long scan pays
/// one skiplist search per [`MAX_CHUNK`] entries.
const FIRST_CHUNK: usize = 8;
const MAX_CHUNK: usize = 256;

/// Shadowed versions of one key the front walks over before it seeks past
/// the key (RocksDB's `max_sequential_skip_in_iterations` is 8 too).
const SKIPS_BEFORE_RESEEK: usize = 8;

/// A double-ended cursor over a range of a memtable it keeps alive.
///
/// The skiplist's own entries borrow the map, so the cursor refills small
/// buffers instead: the front takes the next entries after the last key it
/// took, the back the ones before the last key it took, and the untaken
/// range `(lo, hi)` between them shrinks, so the two ends never yield an
/// entry twice.
///
/// Entries inserted after the cursor was made carry sequence numbers newer
/// than any reader's snapshot, so missing them is correct, and once a
/// refill finds the untaken range empty the cursor never looks again: an
/// entry inserted there later would sort before what the merge above has
/// already yielded, and break its order.
pub(crate) struct MemIter {
    mem: Arc<Memtable>,
    /// The reader's snapshot.
    seq: SeqNo,
    /// The user key of the last entry the front took that is visible at
    /// `seq`: its older versions are shadowed.
    visible_user: Option<Bytes>,
    lo: Bound<MemKey>,
    hi: Bound<MemKey>,
    /// Taken from the range's low end, ascending.
    front: VecDeque<Entry>,
    /// Taken from the range's high end, descending.
    back: VecDeque<Entry>,
    front_chunk: usize,
    back_chunk: usize,
    /// A refill found the untaken range empty: the cursor is fused.
    drained: bool,
}

impl MemIter {
    fn refill_front(&mut self) {
        if self.drained {
            return;
        }
        let mut taken = 0;
        let mut skipped = 0;
        let mut range = self.mem.map.range((self.lo.clone(), self.hi.clone()));
        while taken < self.front_chunk {
            let Some(e) = range.next() else {
                // The untaken range is empty.
                self.drained = true;
                break;
            };
            let k = &e.key().key;
            self.lo = Bound::Excluded(MemKey::bound(k.clone()));
            if self.visible_user.as_ref() == Some(&k.user) {
                // Shadowed at `seq`: leave it out.
                skipped += 1;
                if skipped >= SKIPS_BEFORE_RESEEK {
                    skipped = 0;
                    let past = MemKey::bound(InternalKey::new(
                        k.user.clone(),
                        SeqNo(0),
                        ValueKind::Delete,
                    ));
                    let crosses = match &self.hi {
                        Bound::Included(h) | Bound::Excluded(h) => past >= *h,
                        Bound::Unbounded => false,
                    };
                    if crosses {
                        // Only versions of this key are left untaken.
                        self.drained = true;
                        break;
                    }
                    self.lo = Bound::Excluded(past);
                    range = self.mem.map.range((self.lo.clone(), self.hi.clone()));
                }
                continue;
            }
            skipped = 0;
            if k.seq <= self.seq {
                self.visible_user = Some(k.user.clone());
            }
            self.front.push_back((k.clone(), e.key().value.clone()));
            taken += 1;
        }
        self.front_chunk = (self.front_chunk * 2).min(MAX_CHUNK);
    }

    fn refill_back(&mut self) {
        if self.drained {
            return;
        }
        let range = self.mem.map.range((self.lo.clone(), self.hi.clone()));
        self.back.extend(
            range
                .rev()
                .take(self.back_chunk)
                .map(|e| (e.key().key.clone(), e.key().value.clone())),
        );
        self.back_chunk = (self.back_chunk * 2).min(MAX_CHUNK);
        match self.back.back() {
            Some((k, _)) => self.hi = Bound::Excluded(MemKey::bound(k.clone())),
            None => self.drained = true,
        }
    }
}

impl Iterator for MemIter {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        if self.front.is_empty() {
            self.refill_front();
        }
        // With the untaken range empty, the rest is what the back took.
        self.front.pop_front().or_else(|| self.back.pop_back())
    }
}

impl DoubleEndedIterator for MemIter {
    fn next_back(&mut self) -> Option<Entry> {
        if self.back.is_empty() {
            self.refill_back();
        }
        self.back.pop_front().or_else(|| self.front.pop_back())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_across_arena_chunks_and_large_ones_read_back_whole() {
        let m = Arc::new(Memtable::new());
        // 3 chunks' worth of small entries, and some too large for the arena.
        let small = ARENA_CHUNK_BYTES * 3 / 120;
        let value = |i: usize| -> Bytes {
            let len = if i % 100 == 7 {
                ARENA_ENTRY_MAX_BYTES + 1
            } else {
                100
            };
            Bytes::from(vec![(i % 251) as u8; len])
        };
        for i in 0..small {
            let k = Bytes::from(format!("key{i:08}"));
            m.insert(k, SeqNo(i as u64 + 1), ValueKind::Inline, value(i));
        }
        assert_eq!(m.len(), small);
        for i in 0..small {
            let k = format!("key{i:08}");
            assert_eq!(
                m.get(k.as_bytes(), SeqNo(u64::MAX >> 8)),
                Some((ValueKind::Inline, value(i))),
                "{k}"
            );
        }
        let keys: Vec<_> = m.iter().map(|(k, _)| k.user).collect();
        assert_eq!(keys.len(), small);
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn get_sees_newest_version_at_or_below_seqno() {
        let m = Arc::new(Memtable::new());
        let k = Bytes::from_static(b"k");
        m.insert(
            k.clone(),
            SeqNo(1),
            ValueKind::Inline,
            Bytes::from_static(b"v1"),
        );
        m.insert(k.clone(), SeqNo(3), ValueKind::Delete, Bytes::new());
        m.insert(
            k.clone(),
            SeqNo(5),
            ValueKind::Inline,
            Bytes::from_static(b"v5"),
        );
        assert_eq!(m.get(b"k", SeqNo(0)), None);
        assert_eq!(
            m.get(b"k", SeqNo(2)),
            Some((ValueKind::Inline, Bytes::from_static(b"v1")))
        );
        assert_eq!(m.get(b"k", SeqNo(4)).map(|x| x.0), Some(ValueKind::Delete));
        assert_eq!(
            m.get(b"k", SeqNo(9)),
            Some((ValueKind::Inline, Bytes::from_static(b"v5")))
        );
        assert_eq!(m.get(b"j", SeqNo(9)), None);
        assert_eq!(
            m.range(Bound::Included(b"k"), Bound::Included(b"k"), SeqNo(0))
                .count(),
            3
        );
        assert_eq!(
            m.range(Bound::Excluded(b"k"), Bound::Unbounded, SeqNo(0))
                .count(),
            0
        );
    }

    /// From the front, a key's versions older than the newest one visible
    /// at the snapshot are left out, past the reseek as before it; newer
    /// (invisible) ones and the keys around stay, in order, from either end.
    #[test]
    fn shadowed_versions_are_left_out_from_the_front() {
        let m = Arc::new(Memtable::new());
        let ins = |k: &'static [u8], seq: u64| {
            m.insert(
                Bytes::from_static(k),
                SeqNo(seq),
                ValueKind::Inline,
                Bytes::from(seq.to_string()),
            );
        };
        ins(b"a", 1);
        for seq in 2..1002 {
            ins(b"hot", seq);
        }
        ins(b"z", 2000);
        for (snapshot, hot_seqs) in [
            (SeqNo(500), (500..1002).rev().collect::<Vec<u64>>()),
            (SeqNo(5000), vec![1001]),
            (SeqNo(1), (2..1002).rev().collect()),
        ] {
            let got: Vec<(Vec<u8>, u64)> = m
                .range(Bound::Unbounded, Bound::Unbounded, snapshot)
                .map(|(k, _)| (k.user.to_vec(), k.seq.0))
                .collect();
            let mut want = vec![(b"a".to_vec(), 1)];
            want.extend(hot_seqs.iter().map(|s| (b"hot".to_vec(), *s)));
            want.push((b"z".to_vec(), 2000));
            assert_eq!(got, want, "snapshot {snapshot:?}");
            // The back end alone still yields every entry, reversed.
            let back = m
                .range(Bound::Unbounded, Bound::Unbounded, snapshot)
                .rev()
                .count();
            assert_eq!(back, 1002);
        }
        // A range ending inside the hot key's versions.
        let got = m
            .range(
                Bound::Included(b"hot"),
                Bound::Included(b"hot"),
                SeqNo(5000),
            )
            .count();
        assert_eq!(got, 1);
    }

    /// Both ends of a cursor, taken in any interleaving, yield exactly the
    /// range once, across many refills.
    #[test]
    fn range_cursor_meets_in_the_middle_without_repeats() {
        let m = Arc::new(Memtable::new());
        for i in 0u32..1000 {
            let k = Bytes::copy_from_slice(&i.to_be_bytes());
            m.insert(
                k.clone(),
                SeqNo(u64::from(i) * 2),
                ValueKind::Inline,
                Bytes::new(),
            );
            if i % 3 == 0 {
                m.insert(
                    k,
                    SeqNo(u64::from(i) * 2 + 1),
                    ValueKind::Delete,
                    Bytes::new(),
                );
            }
        }
        let all: Vec<InternalKey> = m.iter().map(|e| e.0).collect();
        let (lo, hi) = (100u32.to_be_bytes(), 900u32.to_be_bytes());
        let want: Vec<&InternalKey> = all
            .iter()
            .filter(|k| k.user.as_ref() >= &lo[..] && k.user.as_ref() < &hi[..])
            .collect();
        for pattern in [1u64, 2, 3, 7, 0x5555, 0xdead_beef] {
            // At snapshot 0 nothing is visible, so nothing is shadowed:
            // the cursor yields every entry.
            let mut it = m.range(Bound::Included(&lo), Bound::Excluded(&hi), SeqNo(0));
            let (mut front, mut back) = (Vec::new(), Vec::new());
            for step in 0.. {
                let from_back = (pattern >> (step % 64)) & 1 == 1;
                let e = if from_back { it.next_back() } else { it.next() };
                match e {
                    Some((k, _)) if from_back => back.push(k),
                    Some((k, _)) => front.push(k),
                    None => break,
                }
            }
            back.reverse();
            front.extend(back);
            assert_eq!(
                front.iter().collect::<Vec<_>>(),
                want,
                "pattern {pattern:#x}"
            );
        }
    }
}
