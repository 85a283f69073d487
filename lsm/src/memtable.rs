//! The memtable: a skiplist of internal keys to values
//! ([`skiplist`], its nodes in arena chunks).
//!
//! # Concurrency
//!
//! Inserts come from one writer at a time (the DB's write lock); readers
//! run lock-free at the same time and see an insert once the DB publishes
//! its sequence number. The skiplist frees its nodes only when the
//! memtable drops, after the last reader's `Arc`.
//!
//! # Memory
//!
//! An entry's key and value bytes are copied into chunks shared by the
//! memtable's entries (16 KiB first, doubling up to 1 MiB,
//! [`ARENA_CHUNK_BYTES`]: a memtable replayed from a short log holds no
//! more than it needs), and its skiplist node is carved from the list's
//! own chunks, so an insert allocates nothing of its own, and the
//! caller's buffers are freed by the caller's thread. Without the arena each entry held the caller's
//! key and value allocations until the flush thread dropped the memtable:
//! three frees per entry from another thread, which fragment the writer's
//! malloc arena; the fill spent a fifth of its time in glibc's `malloc`.
//! A value a reader took from the memtable keeps its chunk alive (as a
//! block read keeps its block) until the reader drops it.

use std::collections::VecDeque;
use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;

use crate::key::{self, InternalKey, SeqNo, ValueKind};

#[allow(
    unsafe_code,
    reason = "the skiplist's nodes live in arena chunks it frees whole"
)]
mod skiplist;

use skiplist::{Node, Probe, SkipList};

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
    list: SkipList,
    /// The free tail of the current arena chunk. Locked by the one writer
    /// at a time, so never contended.
    arena: Mutex<Arena>,
    size_bytes: AtomicUsize,
    /// Tombstones inserted, for [`Memtable::tombstones`].
    tombstones: AtomicUsize,
    /// Range tombstones, kept apart from the entries.
    range_dels: crate::range_del::MemRangeDels,
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

/// The kind in a trailer the memtable built (from a [`ValueKind`], so
/// one of its tags).
fn kind_of(trailer: u64) -> ValueKind {
    match trailer & 0xff {
        0 => ValueKind::Delete,
        1 => ValueKind::Inline,
        3 => ValueKind::Merge,
        5 => ValueKind::TimedInline,
        6 => ValueKind::TimedBlobRef,
        _ => ValueKind::BlobRef,
    }
}

/// A node's entry, sharing its key and value bytes.
fn entry(n: Node<'_>) -> Entry {
    let t = n.trailer();
    (
        InternalKey::new(n.user().clone(), SeqNo(t >> 8), kind_of(t)),
        n.value().clone(),
    )
}

/// An internal key as the skiplist compares it.
fn probe(k: &InternalKey) -> Probe<'_> {
    Probe {
        prefix: key::prefix(&k.user),
        user: &k.user,
        trailer: key::trailer(k.seq, k.kind),
    }
}

impl Memtable {
    pub(crate) fn new() -> Memtable {
        Memtable::default()
    }

    /// Adds an entry. An internal key already present (the same sequence
    /// number for the same user key: the same write) keeps its first value.
    /// A [`ValueKind::RangeDelete`] (`user` to `value`) goes to the range
    /// tombstones.
    pub(crate) fn insert(&self, user: Bytes, seq: SeqNo, kind: ValueKind, value: Bytes) {
        if kind == ValueKind::RangeDelete {
            self.size_bytes.fetch_add(
                user.len() + value.len() + ENTRY_OVERHEAD_BYTES,
                Ordering::Relaxed,
            );
            self.range_dels.add(user, value, seq);
            return;
        }
        if kind == ValueKind::Delete {
            self.tombstones.fetch_add(1, Ordering::Relaxed);
        }
        self.size_bytes.fetch_add(
            user.len() + value.len() + ENTRY_OVERHEAD_BYTES,
            Ordering::Relaxed,
        );
        let prefix = key::prefix(&user);
        let (user, value) = self.copy_in(user, value);
        self.list
            .insert(prefix, key::trailer(seq, kind), user, value);
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
        let user = a.free.split_to(user.len()).freeze();
        let value = a.free.split_to(value.len()).freeze();
        (user, value)
    }

    /// Approximate memory used.
    pub(crate) fn size_bytes(&self) -> usize {
        self.size_bytes.load(Ordering::Relaxed)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.len() == 0 && self.range_dels.is_empty()
    }

    /// The range tombstones, fragmented; `None` if there are none.
    pub(crate) fn range_del_fragments(&self) -> Option<Arc<crate::range_del::Fragments>> {
        self.range_dels.fragments()
    }

    /// Entries (every version, tombstones included).
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    /// Tombstones among the entries.
    pub(crate) fn tombstones(&self) -> usize {
        self.tombstones.load(Ordering::Relaxed)
    }

    /// The newest version of `user` with sequence number at most `seq`.
    #[cfg(test)]
    pub(crate) fn get(&self, user: &[u8], seq: SeqNo) -> Option<(ValueKind, Bytes)> {
        self.get_with_seq(user, seq).map(|(k, v, _)| (k, v))
    }

    /// [`Memtable::get`] with the version's sequence number.
    pub(crate) fn get_with_seq(
        &self,
        user: &[u8],
        seq: SeqNo,
    ) -> Option<(ValueKind, Bytes, SeqNo)> {
        let probe = Probe {
            prefix: key::prefix(user),
            user,
            trailer: key::trailer(seq, ValueKind::SEEK),
        };
        let n = self.list.seek(&probe, true)?;
        (n.user().as_ref() == user).then(|| {
            (
                kind_of(n.trailer()),
                n.value().clone(),
                SeqNo(n.trailer() >> 8),
            )
        })
    }

    /// The sequence number of the newest version of `user` (a tombstone
    /// included), if the memtable holds one: what an optimistic
    /// transaction's commit checks against its snapshot.
    pub(crate) fn newest_seq(&self, user: &[u8]) -> Option<SeqNo> {
        let probe = Probe {
            prefix: key::prefix(user),
            user,
            trailer: key::trailer(SeqNo(key::SEQNO_MAX), ValueKind::SEEK),
        };
        let n = self.list.seek(&probe, true)?;
        (n.user().as_ref() == user).then(|| SeqNo(n.trailer() >> 8))
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
        std::iter::successors(self.list.first(), |n| n.next()).map(entry)
    }
}

/// The internal-key bound before every version of a user key, or after it.
fn lower(lo: Bound<&[u8]>) -> Bound<InternalKey> {
    match lo {
        Bound::Included(k) => Bound::Included(InternalKey::seek(k, SeqNo(key::SEQNO_MAX))),
        Bound::Excluded(k) => Bound::Excluded(past(Bytes::copy_from_slice(k))),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn upper(hi: Bound<&[u8]>) -> Bound<InternalKey> {
    match hi {
        Bound::Included(k) => Bound::Included(past(Bytes::copy_from_slice(k))),
        Bound::Excluded(k) => Bound::Excluded(InternalKey::seek(k, SeqNo(key::SEQNO_MAX))),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// The last internal key of `user`: every version sorts at or before it.
fn past(user: Bytes) -> InternalKey {
    InternalKey::new(user, SeqNo(0), ValueKind::Delete)
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
/// The skiplist's nodes borrow the list, so the cursor refills small
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
    lo: Bound<InternalKey>,
    hi: Bound<InternalKey>,
    /// Taken from the range's low end, ascending.
    front: VecDeque<Entry>,
    /// Taken from the range's high end, descending.
    back: VecDeque<Entry>,
    front_chunk: usize,
    back_chunk: usize,
    /// A refill found the untaken range empty: the cursor is fused.
    drained: bool,
}

/// Whether `n` is at or after the lower bound `lo`.
fn above(n: Node<'_>, lo: &Bound<InternalKey>) -> bool {
    match lo {
        Bound::Included(k) => n.cmp(&probe(k)).is_ge(),
        Bound::Excluded(k) => n.cmp(&probe(k)).is_gt(),
        Bound::Unbounded => true,
    }
}

/// Whether `n` is at or before the upper bound `hi`.
fn below(n: Node<'_>, hi: &Bound<InternalKey>) -> bool {
    match hi {
        Bound::Included(k) => n.cmp(&probe(k)).is_le(),
        Bound::Excluded(k) => n.cmp(&probe(k)).is_lt(),
        Bound::Unbounded => true,
    }
}

impl MemIter {
    fn refill_front(&mut self) {
        if self.drained {
            return;
        }
        let list = &self.mem.list;
        let seek = |lo: &Bound<InternalKey>| match lo {
            Bound::Included(k) => list.seek(&probe(k), true),
            Bound::Excluded(k) => list.seek(&probe(k), false),
            Bound::Unbounded => list.first(),
        };
        let mut taken = 0;
        let mut skipped = 0;
        let mut at = seek(&self.lo);
        // The last node walked over, which becomes the untaken range's
        // exclusive low end.
        let mut last: Option<Node<'_>> = None;
        while taken < self.front_chunk {
            let Some(n) = at.filter(|n| below(*n, &self.hi)) else {
                // The untaken range is empty.
                self.drained = true;
                break;
            };
            last = Some(n);
            at = n.next();
            let user = n.user();
            if self.visible_user.as_ref() == Some(user) {
                // Shadowed at `seq`: leave it out.
                skipped += 1;
                if skipped >= SKIPS_BEFORE_RESEEK {
                    skipped = 0;
                    let past = past(user.clone());
                    let crosses = match &self.hi {
                        Bound::Included(h) | Bound::Excluded(h) => past >= *h,
                        Bound::Unbounded => false,
                    };
                    if crosses {
                        // Only versions of this key are left untaken.
                        self.drained = true;
                        break;
                    }
                    at = list.seek(&probe(&past), false);
                    last = None;
                    self.lo = Bound::Excluded(past);
                }
                continue;
            }
            skipped = 0;
            let e = entry(n);
            // A merge operand shadows nothing: the versions below it are
            // folded into it (`merge/`).
            if e.0.seq <= self.seq && e.0.kind != ValueKind::Merge {
                self.visible_user = Some(e.0.user.clone());
            }
            self.front.push_back(e);
            taken += 1;
        }
        if let Some(n) = last {
            self.lo = Bound::Excluded(entry(n).0);
        }
        self.front_chunk = (self.front_chunk * 2).min(MAX_CHUNK);
    }

    fn refill_back(&mut self) {
        if self.drained {
            return;
        }
        let list = &self.mem.list;
        let mut at = match &self.hi {
            Bound::Included(k) => list.seek_back(&probe(k), true),
            Bound::Excluded(k) => list.seek_back(&probe(k), false),
            Bound::Unbounded => list.last(),
        };
        for _ in 0..self.back_chunk {
            let Some(n) = at.filter(|n| above(*n, &self.lo)) else {
                break;
            };
            let e = entry(n);
            at = list.seek_back(&probe(&e.0), false);
            self.back.push_back(e);
        }
        self.back_chunk = (self.back_chunk * 2).min(MAX_CHUNK);
        match self.back.back() {
            Some((k, _)) => self.hi = Bound::Excluded(k.clone()),
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

    mod model {
        use std::collections::BTreeMap;

        use proptest::prelude::*;

        use super::*;

        /// User keys that share prefixes (empty, shorter than, equal to
        /// and longer than the 8-byte inline prefix), so searches fall
        /// through to the key bytes.
        const USERS: [&[u8]; 8] = [
            b"",
            b"a",
            b"key00000",
            b"key00000a",
            b"key00000b",
            b"key0000",
            b"key00001",
            b"\xff\xff\xff\xff\xff\xff\xff\xff\x00",
        ];

        fn bound(b: (u8, usize)) -> Bound<&'static [u8]> {
            match b.0 % 3 {
                0 => Bound::Included(USERS[b.1]),
                1 => Bound::Excluded(USERS[b.1]),
                _ => Bound::Unbounded,
            }
        }

        fn contains(lo: Bound<&[u8]>, hi: Bound<&[u8]>, u: &[u8]) -> bool {
            (match lo {
                Bound::Included(l) => u >= l,
                Bound::Excluded(l) => u > l,
                Bound::Unbounded => true,
            }) && (match hi {
                Bound::Included(h) => u <= h,
                Bound::Excluded(h) => u < h,
                Bound::Unbounded => true,
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]

            /// insert, get, iter and range (both ends, shadowing from the
            /// front) against a BTreeMap, many versions per key.
            #[test]
            fn memtable_matches_btreemap(
                ops in prop::collection::vec((0..USERS.len(), any::<bool>(), 0..24usize), 1..300),
                snaps in prop::collection::vec(0..320u64, 1..6),
                bounds in prop::collection::vec(((0..3u8, 0..USERS.len()), (0..3u8, 0..USERS.len())), 1..6),
            ) {
                let m = Arc::new(Memtable::new());
                // (user, newest first) -> (seq, kind, value)
                let mut model: BTreeMap<(Vec<u8>, std::cmp::Reverse<u64>), (ValueKind, Bytes)> =
                    BTreeMap::new();
                for (i, (u, del, vlen)) in ops.iter().enumerate() {
                    let seq = i as u64 + 1;
                    let kind = if *del { ValueKind::Delete } else { ValueKind::Inline };
                    let value = if *del { Bytes::new() } else { Bytes::from(vec![i as u8; *vlen]) };
                    m.insert(Bytes::from_static(USERS[*u]), SeqNo(seq), kind, value.clone());
                    model.insert((USERS[*u].to_vec(), std::cmp::Reverse(seq)), (kind, value));
                }
                let all: Vec<(Vec<u8>, u64, ValueKind, Bytes)> = model
                    .iter()
                    .map(|((u, s), (k, v))| (u.clone(), s.0, *k, v.clone()))
                    .collect();
                prop_assert_eq!(m.len(), all.len());
                prop_assert_eq!(m.tombstones(), ops.iter().filter(|o| o.1).count());
                let got: Vec<_> = m
                    .iter()
                    .map(|(k, v)| (k.user.to_vec(), k.seq.0, k.kind, v))
                    .collect();
                prop_assert_eq!(&got, &all);
                let mut snaps = snaps;
                snaps.push(key::SEQNO_MAX);
                for &snap in &snaps {
                    for u in USERS {
                        let want = all
                            .iter()
                            .find(|e| e.0 == u && e.1 <= snap)
                            .map(|e| (e.2, e.3.clone()));
                        prop_assert_eq!(m.get(u, SeqNo(snap)), want, "get {:?} at {}", u, snap);
                    }
                    for &(lo, hi) in &bounds {
                        let (lo, hi) = (bound(lo), bound(hi));
                        let inside: Vec<_> = all
                            .iter()
                            .filter(|e| contains(lo, hi, &e.0))
                            .map(|e| (e.0.clone(), e.1))
                            .collect();
                        // From the front: a key's versions after its newest
                        // one visible at `snap` are left out.
                        let mut visible: Option<Vec<u8>> = None;
                        let mut want = Vec::new();
                        for e in &inside {
                            if visible.as_ref() == Some(&e.0) {
                                continue;
                            }
                            if e.1 <= snap {
                                visible = Some(e.0.clone());
                            }
                            want.push(e.clone());
                        }
                        let got: Vec<_> = m
                            .range(lo, hi, SeqNo(snap))
                            .map(|(k, _)| (k.user.to_vec(), k.seq.0))
                            .collect();
                        prop_assert_eq!(&got, &want, "range {:?}..{:?} at {}", lo, hi, snap);
                        let back: Vec<_> = m
                            .range(lo, hi, SeqNo(snap))
                            .rev()
                            .map(|(k, _)| (k.user.to_vec(), k.seq.0))
                            .collect();
                        let want_back: Vec<_> = inside.iter().rev().cloned().collect();
                        prop_assert_eq!(&back, &want_back);
                    }
                }
            }
        }
    }
}
