//! The memtable's skiplist: nodes in arena chunks, one writer, lock-free
//! readers, no per-node allocation and no epoch reclamation.
//!
//! The design is LevelDB's `db/skiplist.h` and RocksDB's
//! `InlineSkipList`: a node never moves and is never freed while the list
//! lives, so a reader needs no pin, no reference count and no retry; the
//! whole list is freed at once when its last owner (the memtable, kept
//! alive by every reader's `Arc`) drops it.
//!
//! # Concurrency
//!
//! [`SkipList::insert`] takes the list's writer lock (the DB already
//! serialises writers, so it is never contended); every other method is a
//! lock-free read and may run on any number of threads during an insert.
//! A new node's fields and tower are written before any pointer to it is
//! stored; then it is linked bottom-up, each link a `Release` store, and
//! every reader loads links with `Acquire`, so a reader that reaches a node
//! sees it whole. Linking bottom-up means a node reachable at level `i` is
//! reachable at every level below, so a search that descends never skips
//! it. The list's height is a hint read `Relaxed`: a reader that sees a new
//! height before the head links at that level finds null there and
//! descends.
//!
//! Invariants (checked by the tests below and the memtable's model test):
//! 1. Level 0 holds every node, in strictly ascending key order; each
//!    higher level holds a subsequence of the level below.
//! 2. After it is published, a node changes only in its tower's links, and
//!    only by the writer.
//! 3. A node lives in a chunk the list owns until the list is dropped.
//!
//! # Layout
//!
//! As in RocksDB's `InlineSkipList`, a node's tower comes first, highest
//! level first, so link 0 sits right before the node's address; there the
//! [`Header`] starts (the key's 8-byte prefix, the trailer, the height),
//! then the [`Payload`] (the user key and value as `Bytes`, slices of the
//! memtable's byte arena). A link is 16 bytes: the pointer and a copy of
//! the prefix of the node it points to, which only the writer uses
//! ([`next_prefix`]). Node addresses are 16-aligned and never at a cache
//! line's start, so a link never straddles a line, and link 0's pointer
//! shares a line with the prefix after it.
//!
//! A search is a chain of dependent cache misses, one per node touched
//! (the fill's profile: nearly all of the insert's time waits on them).
//! A reader touches each node it compares, its prefix and link together;
//! the writer compares the copy in the link it already holds and touches
//! only the nodes it moves to, not the one that ends each level's walk.
//! Either dereferences the payload only when the prefixes tie.

use std::alloc::{self, Layout};
use std::cmp::Ordering as CmpOrdering;
use std::marker::PhantomData;
use std::mem::{align_of, size_of};
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;

/// The tallest tower. With a 1/4 chance of each next level, 12 levels keep
/// searches logarithmic to 4^12 (16 M) entries; a 64 MiB memtable holds
/// well under a million.
pub(crate) const MAX_HEIGHT: usize = 12;

/// Bytes of the first node chunk; each next one is twice the last, up to
/// [`CHUNK_BYTES_MAX`], so a memtable of a few entries stays small.
const CHUNK_BYTES_FIRST: usize = 16 << 10;

/// Bytes of a node chunk once the list has grown: one huge page, the
/// chunk aligned to it and advised `MADV_HUGEPAGE` on Linux. A search
/// visits nodes at random across the list's chunks (30-40 MiB in a full
/// 64 MiB memtable of 100-byte values), so with 4 KiB pages nearly every
/// visit also missed the TLB.
const CHUNK_BYTES_MAX: usize = 2 << 20;

/// A key as the list orders it: the user key's first eight bytes as a
/// big-endian number (`key::prefix`), the user key, and the trailer
/// (`seq << 8 | kind`). Keys ascend by prefix, then user key, and descend
/// by trailer (newer versions first): internal-key order.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Probe<'a> {
    /// `key::prefix(user)`.
    pub(crate) prefix: u64,
    /// The user key.
    pub(crate) user: &'a [u8],
    /// `key::trailer(seq, kind)`.
    pub(crate) trailer: u64,
}

/// A node's fixed words: its tower is right before it, its [`Payload`]
/// right after.
#[repr(C)]
struct Header {
    prefix: u64,
    trailer: u64,
    height: usize,
}

/// A node's key and value, after its header.
#[repr(C)]
struct Payload {
    user: Bytes,
    value: Bytes,
}

/// Bytes from a node's address to its payload.
const PAYLOAD_OFFSET: usize = size_of::<Header>();

/// Bytes of a link: the pointer, then the prefix of the node it points
/// to, which only the writer reads or writes (see [`next_prefix`]).
const LINK_BYTES: usize = 2 * size_of::<AtomicPtr<Header>>();

/// Alignment of node addresses and chunks: a link never straddles a cache
/// line.
const NODE_ALIGN: usize = 16;

/// Bytes of a cache line: a node address is kept off a line's start, so
/// link 0's pointer and the prefix after it (24 bytes) share a line.
const CACHE_LINE_BYTES: usize = 64;

/// Bytes from a node's address to its end.
const NODE_TAIL_BYTES: usize = PAYLOAD_OFFSET + size_of::<Payload>();

const _: () = assert!(PAYLOAD_OFFSET.is_multiple_of(align_of::<Payload>()));
const _: () = assert!(NODE_ALIGN.is_multiple_of(align_of::<Header>()));
const _: () = assert!(NODE_ALIGN.is_multiple_of(LINK_BYTES));
const _: () = assert!(LINK_BYTES.is_multiple_of(align_of::<AtomicPtr<Header>>()));
const _: () = assert!(NODE_TAIL_BYTES.is_multiple_of(size_of::<u64>()));
const _: () = assert!(NODE_ALIGN == LINK_BYTES);
const _: () = assert!(CACHE_LINE_BYTES - NODE_ALIGN >= LINK_BYTES + size_of::<u64>());

/// Bytes a node of `height` levels may take in a chunk, alignment included.
const fn node_bytes_max(height: usize) -> usize {
    height * LINK_BYTES + 2 * NODE_ALIGN + NODE_TAIL_BYTES
}

/// A sorted list of (internal key, value) with one writer at a time and
/// lock-free readers (see the module's "Concurrency").
pub(crate) struct SkipList {
    /// The head node: a tower of [`MAX_HEIGHT`] links and no key; it sorts
    /// before every key and is never yielded.
    head: NonNull<Header>,
    /// Levels in use (1 to [`MAX_HEIGHT`]); a hint for readers.
    height: AtomicUsize,
    /// Nodes linked.
    len: AtomicUsize,
    writer: Mutex<Writer>,
}

// SAFETY: the list owns its chunks and every node in them; a node's
// `Bytes` are `Send + Sync`; after publication nodes change only through
// atomics (invariant 2), and all mutation happens under `writer`.
unsafe impl Send for SkipList {}
// SAFETY: as for `Send`: shared access reads published, immutable words
// and atomics only.
unsafe impl Sync for SkipList {}

/// What only the writer touches.
struct Writer {
    /// Every chunk allocated, with its layout, freed on drop.
    chunks: Vec<(NonNull<u8>, Layout)>,
    /// The free tail of the newest chunk: `[next, end)`.
    next: usize,
    end: usize,
    /// Bytes of the newest chunk.
    chunk_bytes: usize,
    /// xorshift64 state for tower heights.
    rng: u64,
}

impl Writer {
    /// Fresh memory for a node of `height` levels, valid until the list
    /// drops: the node's address, [`NODE_ALIGN`]-aligned, with `height`
    /// links before it and [`NODE_TAIL_BYTES`] after.
    fn alloc_node(&mut self, height: usize) -> NonNull<Header> {
        let bytes = node_bytes_max(height);
        if self.end - self.next < bytes || self.chunks.is_empty() {
            self.chunk_bytes = (self.chunk_bytes * 2)
                .clamp(CHUNK_BYTES_FIRST, CHUNK_BYTES_MAX)
                .max(bytes);
            let align = if self.chunk_bytes == CHUNK_BYTES_MAX {
                CHUNK_BYTES_MAX
            } else {
                NODE_ALIGN
            };
            let layout = match Layout::from_size_align(self.chunk_bytes, align) {
                Ok(l) => l,
                Err(_) => alloc::handle_alloc_error(Layout::new::<u8>()),
            };
            // SAFETY: `layout` has a non-zero size (at least
            // CHUNK_BYTES_FIRST).
            let p = unsafe { alloc::alloc(layout) };
            let Some(p) = NonNull::new(p) else {
                alloc::handle_alloc_error(layout)
            };
            if align == CHUNK_BYTES_MAX {
                advise_huge(p, layout.size());
            }
            self.chunks.push((p, layout));
            self.next = 0;
            self.end = self.chunk_bytes;
        }
        let (chunk, _) = self.chunks[self.chunks.len() - 1];
        // `next` is a multiple of 8 and the chunk NODE_ALIGN-aligned: at
        // most 8 bytes of padding, and NODE_ALIGN more off a line's start.
        let mut at = (self.next + height * LINK_BYTES).next_multiple_of(NODE_ALIGN);
        if (chunk.as_ptr() as usize + at).is_multiple_of(CACHE_LINE_BYTES) {
            at += NODE_ALIGN;
        }
        debug_assert!(at + NODE_TAIL_BYTES <= self.next + bytes);
        self.next = at + NODE_TAIL_BYTES;
        // SAFETY: `at - height * LINK_BYTES >= next` and `at +
        // NODE_TAIL_BYTES <= next + bytes <= end`, the chunk's size, so the
        // node stays inside the allocation.
        unsafe { chunk.add(at) }.cast::<Header>()
    }

    /// A tower height: 1, then each next level with chance 1/4.
    fn random_height(&mut self) -> usize {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        // Two bits per level: a level is added while both are zero.
        1 + ((x.trailing_zeros() / 2) as usize).min(MAX_HEIGHT - 1)
    }
}

/// Asks the kernel to back `[p, p + len)` with huge pages (with
/// transparent huge pages in `madvise` mode, the default, it otherwise
/// does not). Only a hint: failure costs speed, not correctness.
#[cfg(all(target_os = "linux", not(miri)))]
fn advise_huge(p: NonNull<u8>, len: usize) {
    // SAFETY: `[p, p + len)` is memory this list allocated and owns;
    // MADV_HUGEPAGE changes how it is backed, never its contents.
    let _ =
        unsafe { rustix::mm::madvise(p.as_ptr().cast(), len, rustix::mm::Advice::LinuxHugepage) };
}

/// Miri runs no system calls; elsewhere there is no such advice.
#[cfg(any(not(target_os = "linux"), miri))]
fn advise_huge(_: NonNull<u8>, _: usize) {}

impl SkipList {
    pub(crate) fn new() -> SkipList {
        let mut w = Writer {
            chunks: Vec::new(),
            next: 0,
            end: 0,
            chunk_bytes: 0,
            rng: 0x2545_F491_4F6C_DD1D,
        };
        let head = w.alloc_node(MAX_HEIGHT);
        // SAFETY: `head` is fresh, aligned memory of a MAX_HEIGHT node.
        unsafe {
            write_node(head, 0, 0, MAX_HEIGHT, Bytes::new(), Bytes::new());
            for level in 0..MAX_HEIGHT {
                tower(head, level).store(ptr::null_mut(), Ordering::Relaxed);
                *next_prefix(head, level) = 0;
            }
        }
        SkipList {
            head,
            height: AtomicUsize::new(1),
            len: AtomicUsize::new(0),
            writer: Mutex::new(w),
        }
    }

    /// Nodes in the list.
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Adds `(user, trailer) -> value`. A key already present is left as
    /// it is and `false` returned: sequence numbers are unique, so an equal
    /// internal key is the same write replayed.
    pub(crate) fn insert(&self, prefix: u64, trailer: u64, user: Bytes, value: Bytes) -> bool {
        let mut w = self.writer.lock();
        let probe = Probe {
            prefix,
            user: &user,
            trailer,
        };
        let mut prev = [self.head; MAX_HEIGHT];
        let top = self.height.load(Ordering::Relaxed);
        let mut x = self.head;
        // The node that ended the search on the level above: known not
        // before the probe, so not compared again (LevelDB's trick).
        let mut bigger = ptr::null_mut();
        for level in (0..top).rev() {
            loop {
                // SAFETY: `x` is the head or a published node (invariant 3).
                let next = unsafe { tower(x, level) }.load(Ordering::Acquire);
                if next == bigger {
                    break;
                }
                let Some(n) = NonNull::new(next) else { break };
                // The link's copy of `n`'s prefix decides without touching
                // `n` (a cache miss) unless the prefixes tie.
                // SAFETY: `x` is the head or a published node, and this is
                // the writer (it holds `w`).
                let c = match unsafe { *next_prefix(x, level) }.cmp(&prefix) {
                    // SAFETY: `n` was reached by a link: a published node.
                    CmpOrdering::Equal => unsafe { cmp_node(n, &probe) },
                    c => c,
                };
                if c == CmpOrdering::Less {
                    x = n;
                } else {
                    bigger = next;
                    break;
                }
            }
            prev[level] = x;
        }
        // SAFETY: `prev[0]` is the head or a published node.
        let at = unsafe { tower(prev[0], 0) }.load(Ordering::Acquire);
        if let Some(n) = NonNull::new(at) {
            // SAFETY: a published node, its prefix copy read by the writer.
            if unsafe { *next_prefix(prev[0], 0) } == prefix
                // SAFETY: as above.
                && unsafe { cmp_node(n, &probe) } == CmpOrdering::Equal
            {
                return false;
            }
        }
        let height = w.random_height();
        if height > top {
            // `prev[top..height]` are the head already.
            self.height.store(height, Ordering::Relaxed);
        }
        let node = w.alloc_node(height);
        // SAFETY: `node` is fresh memory of a `height` node, unreachable
        // until the Release stores below; `prev[l]` are the head or
        // published nodes of height above `l` (a node is in level `l`'s
        // list only if its tower reaches `l`).
        unsafe {
            write_node(node, prefix, trailer, height, user, value);
            for (level, p) in prev.iter().enumerate().take(height) {
                let succ = tower(*p, level).load(Ordering::Relaxed);
                tower(node, level).store(succ, Ordering::Relaxed);
                *next_prefix(node, level) = *next_prefix(*p, level);
            }
            for (level, p) in prev.iter().enumerate().take(height) {
                *next_prefix(*p, level) = prefix;
                tower(*p, level).store(node.as_ptr(), Ordering::Release);
            }
        }
        self.len.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// The last node before `probe` (at or before it if `or_equal`), or
    /// the head; with `probe` `None`, the last node. Also the successor the
    /// search saw on level 0 (null at the end): a reader must take that
    /// one, not reload the link, which a concurrent insert may have
    /// pointed at a new node between the two (a newer version of the
    /// probed key, invisible to the reader's snapshot).
    fn find_before(
        &self,
        probe: Option<&Probe<'_>>,
        or_equal: bool,
    ) -> (NonNull<Header>, *mut Header) {
        let stop = if or_equal {
            CmpOrdering::Greater
        } else {
            CmpOrdering::Equal
        };
        let mut x = self.head;
        let mut level = self.height.load(Ordering::Relaxed);
        // As in `insert`: the node that ended the level above.
        let mut bigger = ptr::null_mut();
        let mut succ = ptr::null_mut();
        while level > 0 {
            level -= 1;
            loop {
                // SAFETY: `x` is the head or a published node.
                let next = unsafe { tower(x, level) }.load(Ordering::Acquire);
                succ = next;
                if next == bigger {
                    break;
                }
                let Some(n) = NonNull::new(next) else { break };
                if let Some(p) = probe {
                    // SAFETY: a published node.
                    let c = unsafe { cmp_node(n, p) };
                    if c == stop || c == CmpOrdering::Greater {
                        bigger = next;
                        break;
                    }
                }
                x = n;
            }
        }
        (x, succ)
    }

    fn node(&self, n: NonNull<Header>) -> Option<Node<'_>> {
        (n != self.head).then_some(Node {
            ptr: n,
            _list: PhantomData,
        })
    }

    /// The first node.
    pub(crate) fn first(&self) -> Option<Node<'_>> {
        // SAFETY: the head.
        let n = unsafe { tower(self.head, 0) }.load(Ordering::Acquire);
        NonNull::new(n).and_then(|n| self.node(n))
    }

    /// The last node.
    pub(crate) fn last(&self) -> Option<Node<'_>> {
        self.node(self.find_before(None, false).0)
    }

    /// The first node at or after `p` (`or_equal`), or after it.
    pub(crate) fn seek(&self, p: &Probe<'_>, or_equal: bool) -> Option<Node<'_>> {
        let (_, n) = self.find_before(Some(p), !or_equal);
        NonNull::new(n).and_then(|n| self.node(n))
    }

    /// The last node at or before `p` (`or_equal`), or before it.
    pub(crate) fn seek_back(&self, p: &Probe<'_>, or_equal: bool) -> Option<Node<'_>> {
        self.node(self.find_before(Some(p), or_equal).0)
    }
}

impl Default for SkipList {
    fn default() -> SkipList {
        SkipList::new()
    }
}

impl std::fmt::Debug for SkipList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SkipList")
            .field("len", &self.len())
            .field("height", &self.height.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Drop for SkipList {
    fn drop(&mut self) {
        let w = self.writer.get_mut();
        // SAFETY: `&mut self`: no reader is left. Each node on level 0
        // (every node, invariant 1) drops its payload once; then the chunks
        // holding the nodes are freed with the layouts they were allocated
        // with.
        unsafe {
            let mut x = tower(self.head, 0).load(Ordering::Relaxed);
            while let Some(n) = NonNull::new(x) {
                x = tower(n, 0).load(Ordering::Relaxed);
                ptr::drop_in_place(payload(n).as_ptr());
            }
            ptr::drop_in_place(payload(self.head).as_ptr());
            for (p, layout) in w.chunks.drain(..) {
                alloc::dealloc(p.as_ptr(), layout);
            }
        }
    }
}

/// A node of a list, borrowed from it.
#[derive(Clone, Copy)]
pub(crate) struct Node<'a> {
    ptr: NonNull<Header>,
    _list: PhantomData<&'a SkipList>,
}

impl<'a> Node<'a> {
    /// The next node in key order.
    pub(crate) fn next(self) -> Option<Node<'a>> {
        // SAFETY: `self` is a published node of a list borrowed for 'a.
        let n = unsafe { tower(self.ptr, 0) }.load(Ordering::Acquire);
        NonNull::new(n).map(|ptr| Node {
            ptr,
            _list: PhantomData,
        })
    }

    /// `key::trailer(seq, kind)` of the node's key.
    pub(crate) fn trailer(self) -> u64 {
        // SAFETY: a published node's header is immutable (invariant 2).
        unsafe { (*self.ptr.as_ptr()).trailer }
    }

    /// The user key.
    pub(crate) fn user(self) -> &'a Bytes {
        // SAFETY: a published node's payload is immutable and lives as
        // long as the list, borrowed for 'a.
        unsafe { &(*payload(self.ptr).as_ptr()).user }
    }

    /// The value.
    pub(crate) fn value(self) -> &'a Bytes {
        // SAFETY: as for `user`.
        unsafe { &(*payload(self.ptr).as_ptr()).value }
    }

    /// The node's key against `p`.
    pub(crate) fn cmp(self, p: &Probe<'_>) -> CmpOrdering {
        // SAFETY: a published node.
        unsafe { cmp_node(self.ptr, p) }
    }
}

/// Writes a node's header and payload (not its tower).
///
/// # Safety
/// `node` is from [`Writer::alloc_node`] for `height` levels, and no
/// other thread can reach it.
unsafe fn write_node(
    node: NonNull<Header>,
    prefix: u64,
    trailer: u64,
    height: usize,
    user: Bytes,
    value: Bytes,
) {
    // SAFETY: the caller's contract: header and payload are inside the
    // node's memory and aligned.
    unsafe {
        node.write(Header {
            prefix,
            trailer,
            height,
        });
        payload(node).write(Payload { user, value });
    }
}

/// Link `level` of `node`'s tower.
///
/// # Safety
/// `node` is the head or a node written by [`write_node`] in a live list,
/// and `level` is below its height.
unsafe fn tower<'a>(node: NonNull<Header>, level: usize) -> &'a AtomicPtr<Header> {
    // SAFETY: link `level` is `level + 1` links before the node, inside
    // its memory since `height` > `level`, and aligned (NODE_ALIGN is a
    // multiple of LINK_BYTES); the pointer keeps the chunk's provenance, so
    // it may reach outside `Header`.
    unsafe {
        debug_assert!(level < (*node.as_ptr()).height);
        &*node
            .cast::<u8>()
            .sub(LINK_BYTES * (level + 1))
            .cast::<AtomicPtr<Header>>()
            .as_ptr()
    }
}

/// The prefix of the node link `level` of `node` points to, as the writer
/// last stored it (unspecified while the link is null).
///
/// A search in `insert` compares this copy, in the link it just loaded,
/// instead of the next node's own prefix: the node that ends each level's
/// walk is then never touched, a cache miss saved per level. Readers never
/// read it: they could see a pointer and a prefix from different inserts.
///
/// # Safety
/// As for [`tower`], and the caller is the writer (holds the list's
/// writer lock), the only thread that reads or writes these words.
unsafe fn next_prefix(node: NonNull<Header>, level: usize) -> *mut u64 {
    // SAFETY: the word after the link's pointer, inside the link (as in
    // `tower`).
    unsafe {
        debug_assert!(level < (*node.as_ptr()).height);
        node.cast::<u8>()
            .sub(LINK_BYTES * (level + 1) - size_of::<AtomicPtr<Header>>())
            .cast::<u64>()
            .as_ptr()
    }
}

/// `node`'s payload.
///
/// # Safety
/// `node` is from [`Writer::alloc_node`] of a live list.
unsafe fn payload(node: NonNull<Header>) -> NonNull<Payload> {
    // SAFETY: the payload follows the header inside the node's memory.
    unsafe { node.cast::<u8>().add(PAYLOAD_OFFSET).cast::<Payload>() }
}

/// `node`'s key against `p`: prefixes first, the user keys only on a tie.
///
/// # Safety
/// `node` is a published node (not the head) of a live list.
unsafe fn cmp_node(node: NonNull<Header>, p: &Probe<'_>) -> CmpOrdering {
    // SAFETY: the caller's contract; a published node is immutable.
    unsafe {
        let h = &*node.as_ptr();
        h.prefix.cmp(&p.prefix).then_with(|| {
            let user: &[u8] = &(*payload(node).as_ptr()).user;
            user.cmp(p.user).then_with(|| p.trailer.cmp(&h.trailer))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    use super::*;

    fn prefix(user: &[u8]) -> u64 {
        crate::key::prefix(user)
    }

    fn probe(user: &[u8], trailer: u64) -> Probe<'_> {
        Probe {
            prefix: prefix(user),
            user,
            trailer,
        }
    }

    /// Small enough for Miri: inserts out of order, duplicates refused,
    /// seeks both ways, drop frees every payload (Miri's leak check).
    #[test]
    fn small_list_orders_seeks_and_frees() {
        let l = SkipList::new();
        assert!(l.first().is_none() && l.last().is_none());
        for (u, t) in [(b"b", 5u64), (b"a", 1), (b"b", 9), (b"c", 2), (b"a", 3)] {
            let user = Bytes::copy_from_slice(u);
            assert!(l.insert(prefix(u), t, user.clone(), Bytes::from(vec![t as u8; 3])));
        }
        assert!(!l.insert(prefix(b"b"), 5, Bytes::from_static(b"b"), Bytes::new()));
        assert_eq!(l.len(), 5);
        let mut got = Vec::new();
        let mut n = l.first();
        while let Some(x) = n {
            got.push((x.user().to_vec(), x.trailer(), x.value().to_vec()));
            n = x.next();
        }
        let want: Vec<(Vec<u8>, u64, Vec<u8>)> =
            [(b"a", 3u64), (b"a", 1), (b"b", 9), (b"b", 5), (b"c", 2)]
                .iter()
                .map(|(u, t)| (u.to_vec(), *t, vec![*t as u8; 3]))
                .collect();
        assert_eq!(got, want);
        let at = |n: Option<Node<'_>>| n.map(|n| (n.user().to_vec(), n.trailer()));
        assert_eq!(at(l.seek(&probe(b"b", 9), true)), Some((b"b".to_vec(), 9)));
        assert_eq!(at(l.seek(&probe(b"b", 9), false)), Some((b"b".to_vec(), 5)));
        assert_eq!(
            at(l.seek(&probe(b"b", 100), false)),
            Some((b"b".to_vec(), 9))
        );
        assert_eq!(at(l.seek(&probe(b"c", 1), true)), None);
        assert_eq!(
            at(l.seek_back(&probe(b"b", 9), true)),
            Some((b"b".to_vec(), 9))
        );
        assert_eq!(
            at(l.seek_back(&probe(b"b", 9), false)),
            Some((b"a".to_vec(), 1))
        );
        assert_eq!(at(l.seek_back(&probe(b"a", 3), false)), None);
        assert_eq!(at(l.last()), Some((b"c".to_vec(), 2)));
    }

    /// Many nodes: every level is a sorted subsequence of the one below,
    /// and the heights are spread as p = 1/4 makes them.
    #[test]
    fn levels_are_sorted_subsequences() {
        let l = SkipList::new();
        let n = if cfg!(miri) { 200 } else { 20_000 };
        let mut x = 1u64;
        for _ in 0..n {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let k = Bytes::copy_from_slice(&(x >> 16).to_be_bytes());
            l.insert(prefix(&k), 1, k, Bytes::new());
        }
        let mut below: Vec<NonNull<Header>> = Vec::new();
        for level in 0..MAX_HEIGHT {
            let mut this = Vec::new();
            // SAFETY: walking published nodes of a live list, at levels
            // below each node's height (a node is on a level's list only
            // if its tower reaches it).
            let mut p = unsafe { tower(l.head, level) }.load(Ordering::Acquire);
            while let Some(nn) = NonNull::new(p) {
                this.push(nn);
                // SAFETY: as above.
                p = unsafe { tower(nn, level) }.load(Ordering::Acquire);
            }
            let node = |p: NonNull<Header>| l.node(p).map(|n| n.user().clone());
            let keys: Vec<_> = this.iter().map(|p| node(*p)).collect();
            assert!(keys.windows(2).all(|w| w[0] < w[1]), "level {level}");
            if level == 0 {
                assert_eq!(this.len(), l.len());
            } else {
                let set: BTreeSet<_> = below.iter().map(|p| p.as_ptr() as usize).collect();
                assert!(this.iter().all(|p| set.contains(&(p.as_ptr() as usize))));
                if level == 1 && !cfg!(miri) {
                    // About a quarter of the nodes.
                    assert!((n / 6..n / 3).contains(&this.len()), "{}", this.len());
                }
            }
            below = this;
        }
    }

    /// Readers walking the list while one writer inserts see a sorted list
    /// that holds every node published before their walk began.
    #[test]
    fn readers_see_sorted_prefix_consistent_lists_during_inserts() {
        let l = Arc::new(SkipList::new());
        let n: u64 = if cfg!(miri) { 100 } else { 20_000 };
        let key = |i: u64| -> [u8; 16] {
            let mut k = [0u8; 16];
            k[..8].copy_from_slice(&(i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 8).to_be_bytes());
            k[8..].copy_from_slice(&i.to_be_bytes());
            k
        };
        // Inserts completed, published after each insert.
        let done = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (l, done, stop) = (Arc::clone(&l), Arc::clone(&done), Arc::clone(&stop));
                std::thread::spawn(move || {
                    let mut walks = 0;
                    while !stop.load(Ordering::Acquire) || walks == 0 {
                        let before = done.load(Ordering::Acquire) as u64;
                        let mut seen = 0u64;
                        let mut last: Option<Bytes> = None;
                        let mut n = l.first();
                        while let Some(x) = n {
                            let u = x.user();
                            assert!(last.as_ref().is_none_or(|p| p < u), "out of order");
                            // The trailer is the insert's index.
                            if x.trailer() < before {
                                seen += 1;
                            }
                            assert_eq!(x.value().as_ref(), &u[8..]);
                            last = Some(u.clone());
                            n = x.next();
                        }
                        assert_eq!(seen, before, "a published node is missing");
                        // A point seek finds an early key.
                        if before > 0 {
                            let k = key(before - 1);
                            let got = l.seek(&probe(&k, before - 1), true);
                            assert_eq!(got.map(|g| g.user().as_ref() == k), Some(true));
                        }
                        walks += 1;
                    }
                })
            })
            .collect();
        for i in 0..n {
            let k = Bytes::copy_from_slice(&key(i));
            let v = k.slice(8..);
            assert!(l.insert(prefix(&k), i, k, v));
            done.store(i as usize + 1, Ordering::Release);
        }
        stop.store(true, Ordering::Release);
        for r in readers {
            r.join().expect("reader");
        }
        assert_eq!(l.len() as u64, n);
    }
}
