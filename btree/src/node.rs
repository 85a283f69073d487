//! Branch and leaf pages: the zero-copy view readers search in place, and the
//! decoded form a write transaction edits before encoding it again.
//!
//! Both kinds are slotted: after the common header, `count` slots, in key
//! order, each a little-endian `u16` offset (from the page start) of its
//! entry and the first 4 bytes of its key (zero-padded, so that comparing
//! them as big-endian `u32`s orders keys as bytes do). A binary search
//! compares the prefixes in the slot array, a few cache lines, and reads an
//! entry only when prefixes tie.
//! A leaf entry is `flags u8 | key_len u16 | value_len u32 | key | value`,
//! where the value is inline (flag 0), or an overflow run's first page
//! number `u64` and the run's CRC-32 `u32` (flag 2; format 1 wrote flag 1,
//! the page number alone, which is read as before and kept as it is).
//! A branch entry is `key_len u16 | child u64 | child_crc u32 | key`; entry
//! `i`'s child holds the keys from `key_i` up to `key_{i+1}`, and entry 0's
//! key is empty and stands for "everything below `key_1`".
//!
//! `child_crc` is the CRC-32 the child page was written with. A parent is
//! always written after its children (copy-on-write), so it knows them, and
//! a descent compares the child's stored CRC with it: an older valid copy of
//! the child put back in its place (a lost or misdirected write) is caught
//! at that page instead of being served. Branch pages of format 1 have no
//! such field (page flag [`FLAG_CHILD_CRC`] clear) and are read as before.
//!
//! Every number read from a page is range-checked even though its CRC
//! matched (a CRC proves the bytes are the ones written, not that the writer
//! was right): entry count, flags, slot offsets, key and value lengths.

use std::path::Path;

use bytes::Bytes;

use crate::page::{
    self, AUX_OFFSET, FLAG_CHILD_CRC, FLAGS_KNOWN, FLAGS_OFFSET, HEADER_BYTES, Kind, Limits,
    VALUE_LEN_MAX,
};
use crate::{Error, Result};

/// Bytes of a leaf entry before its key.
pub(crate) const LEAF_ENTRY_HEADER_BYTES: usize = 1 + 2 + 4;
/// Bytes of a branch entry before its key: key length, child, child CRC.
pub(crate) const BRANCH_ENTRY_HEADER_BYTES: usize = 2 + 8 + 4;
/// Bytes of a branch entry before its key in format 1 (no child CRC).
pub(crate) const BRANCH_ENTRY_HEADER_BYTES_V1: usize = 2 + 8;
/// Byte offset of the child page number in a branch entry.
const BRANCH_CHILD_OFFSET: usize = 2;
/// Byte offset of the child's CRC-32 in a branch entry (format 2).
const BRANCH_CHILD_CRC_OFFSET: usize = BRANCH_CHILD_OFFSET + 8;
const _: () = assert!(BRANCH_CHILD_CRC_OFFSET + 4 == BRANCH_ENTRY_HEADER_BYTES);
/// Bytes of a slot's entry offset.
pub(crate) const SLOT_OFFSET_BYTES: usize = 2;
/// Bytes of a slot's key prefix.
pub(crate) const SLOT_PREFIX_BYTES: usize = 4;
/// Bytes of one slot.
pub(crate) const SLOT_BYTES: usize = SLOT_OFFSET_BYTES + SLOT_PREFIX_BYTES;

/// The first 4 bytes of `key`, zero-padded, as a big-endian number: if
/// `prefix(a) < prefix(b)` then `a < b` bytewise.
pub(crate) fn key_prefix(key: &[u8]) -> u32 {
    let mut b = [0u8; SLOT_PREFIX_BYTES];
    let n = key.len().min(SLOT_PREFIX_BYTES);
    b[..n].copy_from_slice(&key[..n]);
    u32::from_be_bytes(b)
}

/// Writes slot `i`: its entry's offset and key prefix.
pub(crate) fn put_slot(buf: &mut [u8], i: usize, offset: usize, key: &[u8]) {
    let at = HEADER_BYTES + i * SLOT_BYTES;
    page::put_u16(buf, at, offset as u16);
    buf[at + SLOT_OFFSET_BYTES..at + SLOT_BYTES].copy_from_slice(&key_prefix(key).to_be_bytes());
}
/// Leaf value flag: the value follows the key.
const FLAG_INLINE: u8 = 0;
/// Leaf value flag (format 1): an overflow page number follows the key.
const FLAG_OVERFLOW: u8 = 1;
/// Leaf value flag: an overflow page number and the run's CRC-32 follow the key.
const FLAG_OVERFLOW_CRC: u8 = 2;
/// Bytes of an overflow reference: page number, and CRC-32 with flag 2.
const OVERFLOW_REF_BYTES: usize = 8;
const OVERFLOW_REF_CRC_BYTES: usize = OVERFLOW_REF_BYTES + 4;

pub(crate) fn malformed(file: &Path, page: u64, what: &'static str) -> Error {
    Error::Malformed {
        file: file.to_path_buf(),
        page,
        what,
    }
}

/// A leaf value as stored: inline bytes or a reference to an overflow run,
/// with the run's CRC-32 if the entry records it.
#[derive(Clone, Debug)]
pub(crate) enum RawValue<'a> {
    Inline(&'a [u8]),
    Overflow {
        page: u64,
        len: u64,
        crc: Option<u32>,
    },
}

/// A reference from a branch entry (or a meta page) to a page: its number
/// and the CRC-32 it was written with, if the referrer records it (format 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Child {
    pub(crate) page: u64,
    pub(crate) crc: Option<u32>,
}

/// Bytes of a cache line, the unit [`touch_lines`] steps by.
const CACHE_LINE_BYTES: usize = 64;

/// Reads one byte of every cache line of `bytes` past the first (which the
/// caller just read), so that the lines are fetched from memory together
/// instead of one after another as a binary search meets them. The loads
/// are independent of each other, so the CPU keeps them all in flight: a
/// search of a 4 KiB branch page of 16-byte keys (a slot array of about a
/// dozen lines) waits for about two memory latencies instead of five. The
/// safe counterpart of a prefetch instruction (this crate has no `unsafe`).
#[inline]
pub(crate) fn touch_lines(bytes: &[u8]) {
    let mut any = 0u8;
    for at in (CACHE_LINE_BYTES..bytes.len()).step_by(CACHE_LINE_BYTES) {
        any |= bytes[at];
    }
    std::hint::black_box(any);
}

/// A verified branch or leaf page, searched in place.
#[derive(Clone, Copy)]
pub(crate) struct RawNode<'a> {
    buf: &'a [u8],
    file: &'a Path,
    page: u64,
    kind: Kind,
    count: usize,
    /// Bytes of a branch entry before its key (format 1 or 2).
    branch_header_bytes: usize,
    /// Entries start past the slot array.
    entries_start: usize,
    key_len_max: usize,
    /// Largest inline leaf entry (`Limits::inline_entry_bytes_max`).
    inline_entry_bytes_max: usize,
}

impl<'a> RawNode<'a> {
    /// Wraps a page whose checksum and header were verified.
    pub(crate) fn new(buf: &'a [u8], file: &'a Path, page: u64) -> Result<RawNode<'a>> {
        let kind = Kind::from_byte(buf[page::KIND_OFFSET]);
        let kind = match kind {
            Some(k @ (Kind::Branch | Kind::Leaf)) => k,
            _ => return Err(malformed(file, page, "not a branch or leaf page")),
        };
        let flags = buf[FLAGS_OFFSET];
        if flags & !FLAGS_KNOWN != 0 || buf[FLAGS_OFFSET + 1..page::PAGE_ID_OFFSET] != [0, 0] {
            return Err(malformed(file, page, "unknown page flags"));
        }
        let child_crc = flags & FLAG_CHILD_CRC != 0;
        if child_crc && kind != Kind::Branch {
            return Err(malformed(file, page, "child checksum flag on a leaf page"));
        }
        let count = page::get_u64(buf, AUX_OFFSET);
        if count > u64::from(u16::MAX) {
            return Err(malformed(file, page, "entry count above 65535"));
        }
        let count = count as usize;
        let entries_start = HEADER_BYTES + count * SLOT_BYTES;
        if entries_start > buf.len() {
            return Err(malformed(file, page, "entry count exceeds the page"));
        }
        if kind == Kind::Branch && count == 0 {
            return Err(malformed(file, page, "branch page without children"));
        }
        touch_lines(&buf[..entries_start]);
        let limits = Limits::new(buf.len());
        Ok(RawNode {
            buf,
            file,
            page,
            kind,
            count,
            branch_header_bytes: if child_crc {
                BRANCH_ENTRY_HEADER_BYTES
            } else {
                BRANCH_ENTRY_HEADER_BYTES_V1
            },
            entries_start,
            key_len_max: limits.key_len_max,
            inline_entry_bytes_max: limits.inline_entry_bytes_max,
        })
    }

    pub(crate) fn is_leaf(&self) -> bool {
        self.kind == Kind::Leaf
    }

    /// The page this node was read from.
    pub(crate) fn page(&self) -> u64 {
        self.page
    }

    pub(crate) fn count(&self) -> usize {
        self.count
    }

    fn bad(&self, what: &'static str) -> Error {
        malformed(self.file, self.page, what)
    }

    /// The byte offset of entry `i < count`: past the slot array.
    fn offset(&self, i: usize) -> Result<usize> {
        let at = usize::from(page::get_u16(self.buf, HEADER_BYTES + i * SLOT_BYTES));
        if at < self.entries_start {
            return Err(self.bad("entry offset inside the slot array"));
        }
        Ok(at)
    }

    /// Checks a key length read from an entry.
    fn key_len(&self, len: u16) -> Result<usize> {
        let len = usize::from(len);
        if len > self.key_len_max {
            return Err(self.bad("key longer than the page size allows"));
        }
        Ok(len)
    }

    fn prefix(&self, i: usize) -> u32 {
        let at = HEADER_BYTES + i * SLOT_BYTES + SLOT_OFFSET_BYTES;
        u32::from_be_bytes([
            self.buf[at],
            self.buf[at + 1],
            self.buf[at + 2],
            self.buf[at + 3],
        ])
    }

    /// Compares entry `i`'s key with `key` (whose prefix is `prefix`),
    /// reading the entry only if the prefixes tie.
    fn cmp_key(&self, i: usize, key: &[u8], prefix: u32) -> Result<std::cmp::Ordering> {
        match self.prefix(i).cmp(&prefix) {
            std::cmp::Ordering::Equal => Ok(self.key(i)?.cmp(key)),
            unequal => Ok(unequal),
        }
    }

    /// The bytes `at..at + len`, or an error if they leave the page.
    fn bytes(&self, at: usize, len: usize) -> Result<&'a [u8]> {
        at.checked_add(len)
            .and_then(|end| self.buf.get(at..end))
            .ok_or_else(|| self.bad("entry runs past the page end"))
    }

    /// Checks that the keys strictly increase, as every page this crate
    /// writes has them: a page whose checksum holds but whose keys do not
    /// (a bug's output, or damage resealed) would send searches and the
    /// free-page refill astray. Once per page, when it is first verified.
    pub(crate) fn check_order(&self) -> Result<()> {
        let mut previous: Option<&[u8]> = None;
        for i in 0..self.count {
            let key = self.key(i)?;
            if previous.is_some_and(|p| p >= key) {
                return Err(self.bad("keys not strictly increasing"));
            }
            previous = Some(key);
        }
        Ok(())
    }

    /// The key of entry `i < count`.
    pub(crate) fn key(&self, i: usize) -> Result<&'a [u8]> {
        let at = self.offset(i)?;
        match self.kind {
            Kind::Leaf => {
                let head = self.bytes(at, LEAF_ENTRY_HEADER_BYTES)?;
                let key_len = self.key_len(page::get_u16(head, 1))?;
                self.bytes(at + LEAF_ENTRY_HEADER_BYTES, key_len)
            }
            _ => {
                let head = self.bytes(at, self.branch_header_bytes)?;
                let key_len = self.key_len(page::get_u16(head, 0))?;
                self.bytes(at + self.branch_header_bytes, key_len)
            }
        }
    }

    /// The key and value of leaf entry `i < count`.
    pub(crate) fn leaf_entry(&self, i: usize) -> Result<(&'a [u8], RawValue<'a>)> {
        let at = self.offset(i)?;
        let head = self.bytes(at, LEAF_ENTRY_HEADER_BYTES)?;
        let flags = head[0];
        let key_len = self.key_len(page::get_u16(head, 1))?;
        let value_len = page::get_u32(head, 3);
        let key_at = at + LEAF_ENTRY_HEADER_BYTES;
        let key = self.bytes(key_at, key_len)?;
        let value = match flags {
            FLAG_INLINE
                if SLOT_BYTES + LEAF_ENTRY_HEADER_BYTES + key_len + value_len as usize
                    > self.inline_entry_bytes_max =>
            {
                return Err(self.bad("inline entry larger than half a page"));
            }
            FLAG_INLINE => RawValue::Inline(self.bytes(key_at + key_len, value_len as usize)?),
            FLAG_OVERFLOW | FLAG_OVERFLOW_CRC if value_len as usize > VALUE_LEN_MAX => {
                return Err(self.bad("value length above the maximum"));
            }
            FLAG_OVERFLOW => RawValue::Overflow {
                page: page::get_u64(self.bytes(key_at + key_len, OVERFLOW_REF_BYTES)?, 0),
                len: u64::from(value_len),
                crc: None,
            },
            FLAG_OVERFLOW_CRC => {
                let r = self.bytes(key_at + key_len, OVERFLOW_REF_CRC_BYTES)?;
                RawValue::Overflow {
                    page: page::get_u64(r, 0),
                    len: u64::from(value_len),
                    crc: Some(page::get_u32(r, OVERFLOW_REF_BYTES)),
                }
            }
            _ => return Err(self.bad("unknown leaf value flag")),
        };
        Ok((key, value))
    }

    /// The child of branch entry `i < count`, with the CRC-32 it was
    /// written with if this page records it.
    pub(crate) fn child(&self, i: usize) -> Result<Child> {
        let head = self.bytes(self.offset(i)?, self.branch_header_bytes)?;
        let crc = (self.branch_header_bytes == BRANCH_ENTRY_HEADER_BYTES)
            .then(|| page::get_u32(head, BRANCH_CHILD_CRC_OFFSET));
        Ok(Child {
            page: page::get_u64(head, BRANCH_CHILD_OFFSET),
            crc,
        })
    }

    /// In a leaf: `Ok(i)` if entry `i` has `key`, else `Err(i)` where it would go.
    pub(crate) fn search(&self, key: &[u8]) -> Result<std::result::Result<usize, usize>> {
        let prefix = key_prefix(key);
        let (mut lo, mut hi) = (0, self.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.cmp_key(mid, key, prefix)? {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(Ok(mid)),
            }
        }
        Ok(Err(lo))
    }

    /// In a branch: the entry whose child covers `key` (the last entry whose
    /// key is at most `key`; entry 0 covers everything below entry 1).
    pub(crate) fn child_index(&self, key: &[u8]) -> Result<usize> {
        let prefix = key_prefix(key);
        let (mut lo, mut hi) = (1, self.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.cmp_key(mid, key, prefix)? != std::cmp::Ordering::Greater {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo - 1)
    }
}

/// A leaf value in a decoded node. An overflow value's `crc` is `None`
/// only when read from a format-1 entry, which is written back as it was.
#[derive(Clone, Debug)]
pub(crate) enum Value {
    Inline(Bytes),
    Overflow {
        page: u64,
        len: u64,
        crc: Option<u32>,
    },
}

/// One entry of a decoded leaf.
#[derive(Clone, Debug)]
pub(crate) struct LeafEntry {
    pub(crate) key: Bytes,
    pub(crate) value: Value,
}

/// One entry of a decoded branch.
#[derive(Clone, Debug)]
pub(crate) struct BranchEntry {
    pub(crate) key: Bytes,
    pub(crate) child: u64,
    /// The CRC-32 of the child page as written, if known: from a format-2
    /// page, or once the child is encoded at commit. `None` for a child this
    /// transaction changed (its page is not encoded yet) or read from a
    /// format-1 page; commit fills it in before encoding this entry.
    pub(crate) child_crc: Option<u32>,
}

impl BranchEntry {
    /// An entry whose child is to be encoded by this transaction.
    pub(crate) fn new(key: Bytes, child: u64) -> BranchEntry {
        BranchEntry {
            key,
            child,
            child_crc: None,
        }
    }

    /// The child reference, for a descent that checks it.
    pub(crate) fn child_ref(&self) -> Child {
        Child {
            page: self.child,
            crc: self.child_crc,
        }
    }
}

/// A decoded node, as a write transaction edits it.
#[derive(Clone, Debug)]
pub(crate) enum Node {
    Leaf(Vec<LeafEntry>),
    Branch(Vec<BranchEntry>),
}

pub(crate) fn leaf_entry_bytes(e: &LeafEntry) -> usize {
    SLOT_BYTES
        + LEAF_ENTRY_HEADER_BYTES
        + e.key.len()
        + match &e.value {
            Value::Inline(v) => v.len(),
            Value::Overflow { crc: None, .. } => OVERFLOW_REF_BYTES,
            Value::Overflow { crc: Some(_), .. } => OVERFLOW_REF_CRC_BYTES,
        }
}

pub(crate) fn branch_entry_bytes(e: &BranchEntry) -> usize {
    SLOT_BYTES + BRANCH_ENTRY_HEADER_BYTES + e.key.len()
}

impl Node {
    /// Decodes a verified page held in `bytes`, slicing keys and values out
    /// of it without copying.
    ///
    /// # Errors
    ///
    /// `Malformed` if a number in the page is out of range, or if entries
    /// overlap (they would sum to more than a page, and the halves of a
    /// split would not fit theirs).
    pub(crate) fn decode(bytes: &Bytes, file: &Path, page: u64) -> Result<Node> {
        let raw = RawNode::new(bytes, file, page)?;
        let node = Node::decode_entries(bytes, &raw)?;
        // A format-1 branch entry is 4 bytes shorter than `size` counts it.
        let widened = match node {
            Node::Branch(_) => raw.count() * (BRANCH_ENTRY_HEADER_BYTES - raw.branch_header_bytes),
            Node::Leaf(_) => 0,
        };
        if node.size() - widened > bytes.len() {
            return Err(malformed(file, page, "entries overlap"));
        }
        Ok(node)
    }

    fn decode_entries(bytes: &Bytes, raw: &RawNode<'_>) -> Result<Node> {
        if raw.is_leaf() {
            let mut entries = Vec::with_capacity(raw.count() + 1);
            for i in 0..raw.count() {
                let (key, value) = raw.leaf_entry(i)?;
                let value = match value {
                    RawValue::Inline(v) => Value::Inline(bytes.slice_ref(v)),
                    RawValue::Overflow { page, len, crc } => Value::Overflow { page, len, crc },
                };
                entries.push(LeafEntry {
                    key: bytes.slice_ref(key),
                    value,
                });
            }
            Ok(Node::Leaf(entries))
        } else {
            let mut entries = Vec::with_capacity(raw.count() + 1);
            for i in 0..raw.count() {
                let child = raw.child(i)?;
                entries.push(BranchEntry {
                    key: bytes.slice_ref(raw.key(i)?),
                    child: child.page,
                    child_crc: child.crc,
                });
            }
            Ok(Node::Branch(entries))
        }
    }

    /// Encoded size in bytes.
    pub(crate) fn size(&self) -> usize {
        HEADER_BYTES
            + match self {
                Node::Leaf(es) => es.iter().map(leaf_entry_bytes).sum::<usize>(),
                Node::Branch(es) => es.iter().map(branch_entry_bytes).sum::<usize>(),
            }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Node::Leaf(es) => es.len(),
            Node::Branch(es) => es.len(),
        }
    }

    /// Encodes into `buf` (one page, any prior contents) and seals it;
    /// returns the page's CRC-32, for its parent's entry.
    ///
    /// # Panics
    ///
    /// If the node does not fit, or a branch entry's `child_crc` is unknown:
    /// the tree code splits nodes, and commit encodes children first, before
    /// encoding a node, so either is a bug, and writing it would corrupt the
    /// file.
    pub(crate) fn encode(&self, buf: &mut [u8], page: u64, txn: u64) -> u32 {
        assert!(
            self.size() <= buf.len(),
            "node of {} bytes overflows its page",
            self.size()
        );
        let count = self.len();
        let (kind, count16) = match self {
            Node::Leaf(_) => (Kind::Leaf, count),
            Node::Branch(_) => (Kind::Branch, count),
        };
        page::write_header(buf, kind, page, txn, count16 as u64);
        let mut at = HEADER_BYTES + count * SLOT_BYTES;
        match self {
            Node::Leaf(es) => {
                for (i, e) in es.iter().enumerate() {
                    put_slot(buf, i, at, &e.key);
                    let (flag, len) = match &e.value {
                        Value::Inline(v) => (FLAG_INLINE, v.len() as u32),
                        Value::Overflow { len, crc: None, .. } => (FLAG_OVERFLOW, *len as u32),
                        Value::Overflow { len, .. } => (FLAG_OVERFLOW_CRC, *len as u32),
                    };
                    buf[at] = flag;
                    page::put_u16(buf, at + 1, e.key.len() as u16);
                    page::put_u32(buf, at + 3, len);
                    at += LEAF_ENTRY_HEADER_BYTES;
                    buf[at..at + e.key.len()].copy_from_slice(&e.key);
                    at += e.key.len();
                    match &e.value {
                        Value::Inline(v) => {
                            buf[at..at + v.len()].copy_from_slice(v);
                            at += v.len();
                        }
                        Value::Overflow { page, crc, .. } => {
                            page::put_u64(buf, at, *page);
                            at += OVERFLOW_REF_BYTES;
                            if let Some(crc) = crc {
                                page::put_u32(buf, at, *crc);
                                at += OVERFLOW_REF_CRC_BYTES - OVERFLOW_REF_BYTES;
                            }
                        }
                    }
                }
            }
            Node::Branch(es) => {
                for (i, e) in es.iter().enumerate() {
                    let Some(child_crc) = e.child_crc else {
                        panic!("branch entry for page {} encoded before its child", e.child);
                    };
                    put_slot(buf, i, at, &e.key);
                    page::put_u16(buf, at, e.key.len() as u16);
                    page::put_u64(buf, at + BRANCH_CHILD_OFFSET, e.child);
                    page::put_u32(buf, at + BRANCH_CHILD_CRC_OFFSET, child_crc);
                    at += BRANCH_ENTRY_HEADER_BYTES;
                    buf[at..at + e.key.len()].copy_from_slice(&e.key);
                    at += e.key.len();
                }
            }
        }
        buf[at..].fill(0);
        page::seal(buf);
        page::stored_crc(buf)
    }
}

/// In a decoded leaf: `Ok(i)` if entry `i` has `key`, else `Err(i)` where it would go.
pub(crate) fn leaf_search(es: &[LeafEntry], key: &[u8]) -> std::result::Result<usize, usize> {
    es.binary_search_by(|e| e.key[..].cmp(key))
}

/// In a decoded branch: the entry whose child covers `key`.
pub(crate) fn branch_child_index(es: &[BranchEntry], key: &[u8]) -> usize {
    // Entry 0 covers everything below entry 1, whatever its (empty) key.
    es.get(1..)
        .map_or(0, |rest| rest.partition_point(|e| &e.key[..] <= key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_prefix_order_never_contradicts_byte_order() {
        let keys: Vec<Vec<u8>> = (0..600u32)
            .map(|i| {
                let len = (i % 7) as usize;
                (0..len)
                    .map(|j| ((i * 31 + j as u32 * 7) % 5) as u8)
                    .collect()
            })
            .collect();
        for a in &keys {
            for b in &keys {
                let (pa, pb) = (key_prefix(a), key_prefix(b));
                if pa < pb {
                    assert!(a < b, "{a:?} {b:?}");
                }
                if a == b {
                    assert_eq!(pa, pb);
                }
            }
        }
    }

    #[test]
    fn raw_search_finds_keys_that_share_their_prefix() {
        let keys: [&[u8]; 5] = [b"", b"abcd", b"abcd\x00", b"abcde", b"abce"];
        let node = Node::Leaf(
            keys.iter()
                .map(|k| LeafEntry {
                    key: Bytes::copy_from_slice(k),
                    value: Value::Inline(Bytes::new()),
                })
                .collect(),
        );
        let mut buf = vec![0u8; 512];
        node.encode(&mut buf, 2, 1);
        let raw = RawNode::new(&buf, Path::new("x"), 2).unwrap();
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(raw.search(k).unwrap(), Ok(i));
        }
        assert_eq!(raw.search(b"abc").unwrap(), Err(1));
        assert_eq!(raw.search(b"abcdd").unwrap(), Err(3));
        assert_eq!(raw.search(b"b").unwrap(), Err(5));
    }

    #[test]
    fn encoded_leaf_decodes_to_the_same_entries() {
        let node = Node::Leaf(vec![
            LeafEntry {
                key: Bytes::from_static(b"a"),
                value: Value::Inline(Bytes::from_static(b"one")),
            },
            LeafEntry {
                key: Bytes::from_static(b"b"),
                value: Value::Overflow {
                    page: 9,
                    len: 5000,
                    crc: Some(0xfeed),
                },
            },
        ]);
        let mut buf = vec![0u8; 512];
        node.encode(&mut buf, 7, 3);
        let bytes = Bytes::from(buf);
        let raw = RawNode::new(&bytes, Path::new("x"), 7).unwrap();
        assert_eq!(raw.count(), 2);
        assert_eq!(raw.search(b"b").unwrap(), Ok(1));
        assert_eq!(raw.search(b"ab").unwrap(), Err(1));
        assert!(matches!(
            raw.leaf_entry(1).unwrap().1,
            RawValue::Overflow {
                page: 9,
                len: 5000,
                crc: Some(0xfeed)
            }
        ));
        let Node::Leaf(es) = Node::decode(&bytes, Path::new("x"), 7).unwrap() else {
            panic!("not a leaf")
        };
        assert_eq!(&es[0].key[..], b"a");
    }

    /// A sealed 512-byte leaf: an inline value, then an overflow reference.
    fn sealed_leaf() -> Vec<u8> {
        let node = Node::Leaf(vec![
            LeafEntry {
                key: Bytes::from_static(b"abc"),
                value: Value::Inline(Bytes::from_static(b"value")),
            },
            LeafEntry {
                key: Bytes::from_static(b"abd"),
                value: Value::Overflow {
                    page: 9,
                    len: 5000,
                    crc: Some(0x1234),
                },
            },
        ]);
        let mut buf = vec![0u8; 512];
        node.encode(&mut buf, 7, 3);
        buf
    }

    /// A sealed 512-byte branch of two children.
    fn sealed_branch() -> Vec<u8> {
        let node = Node::Branch(vec![
            BranchEntry {
                key: Bytes::new(),
                child: 4,
                child_crc: Some(0xaaaa),
            },
            BranchEntry {
                key: Bytes::from_static(b"m"),
                child: 5,
                child_crc: Some(0xbbbb),
            },
        ]);
        let mut buf = vec![0u8; 512];
        node.encode(&mut buf, 7, 3);
        buf
    }

    /// The offset of entry `i` of a sealed page.
    fn entry_at(buf: &[u8], i: usize) -> usize {
        usize::from(page::get_u16(buf, HEADER_BYTES + i * SLOT_BYTES))
    }

    /// Reads every entry of `buf` the ways readers and writers do.
    fn read_all(buf: &[u8]) -> Result<()> {
        let bytes = Bytes::copy_from_slice(buf);
        let raw = RawNode::new(&bytes, Path::new("x"), 7)?;
        for i in 0..raw.count() {
            raw.key(i)?;
            if raw.is_leaf() {
                raw.leaf_entry(i)?;
            } else {
                raw.child(i)?;
            }
        }
        if raw.is_leaf() {
            let _found = raw.search(b"abd")?;
        } else {
            raw.child_index(b"z")?;
        }
        Node::decode(&bytes, Path::new("x"), 7).map(drop)
    }

    /// Applies `mutate` to a copy of `buf`, reseals its CRC, and expects
    /// `Malformed` naming the page: a CRC that matches does not make a
    /// number in range.
    fn assert_rejected(buf: &[u8], what: &str, mutate: impl Fn(&mut Vec<u8>)) {
        let mut bad = buf.to_vec();
        mutate(&mut bad);
        page::seal(&mut bad);
        match read_all(&bad) {
            Err(Error::Malformed { page: 7, .. }) => {}
            other => panic!("{what}: {other:?}"),
        }
    }

    #[test]
    fn sealed_pages_read_back() {
        read_all(&sealed_leaf()).unwrap();
        read_all(&sealed_branch()).unwrap();
        let branch = sealed_branch();
        let raw = RawNode::new(&branch, Path::new("x"), 7).unwrap();
        assert_eq!(
            raw.child(1).unwrap(),
            Child {
                page: 5,
                crc: Some(0xbbbb)
            }
        );
    }

    #[test]
    fn out_of_range_header_fields_are_malformed_even_with_a_good_crc() {
        for buf in [sealed_leaf(), sealed_branch()] {
            assert_rejected(&buf, "count above u16", |b| {
                page::put_u64(b, AUX_OFFSET, 70_000)
            });
            assert_rejected(&buf, "count u64::MAX", |b| {
                page::put_u64(b, AUX_OFFSET, u64::MAX)
            });
            assert_rejected(&buf, "count past the page", |b| {
                page::put_u64(b, AUX_OFFSET, 200)
            });
            assert_rejected(&buf, "unknown flag", |b| b[FLAGS_OFFSET] |= 0x80);
            assert_rejected(&buf, "reserved byte", |b| b[FLAGS_OFFSET + 1] = 1);
            assert_rejected(&buf, "unknown kind", |b| b[page::KIND_OFFSET] = 9);
            assert_rejected(&buf, "slot offset in the header", |b| {
                page::put_u16(b, HEADER_BYTES, 0)
            });
            assert_rejected(&buf, "slot offset in the slot array", |b| {
                page::put_u16(b, HEADER_BYTES + SLOT_BYTES, HEADER_BYTES as u16 + 1)
            });
            assert_rejected(&buf, "slot offset at the page end", |b| {
                page::put_u16(b, HEADER_BYTES, 511)
            });
            assert_rejected(&buf, "slot offset past the page", |b| {
                page::put_u16(b, HEADER_BYTES, u16::MAX)
            });
        }
        assert_rejected(&sealed_leaf(), "child-CRC flag on a leaf", |b| {
            b[FLAGS_OFFSET] = FLAG_CHILD_CRC
        });
        assert_rejected(&sealed_branch(), "branch without children", |b| {
            page::put_u64(b, AUX_OFFSET, 0)
        });
    }

    #[test]
    fn out_of_range_entry_fields_are_malformed_even_with_a_good_crc() {
        let leaf = sealed_leaf();
        let (inline, overflow) = (entry_at(&leaf, 0), entry_at(&leaf, 1));
        assert_rejected(&leaf, "key length past the page", |b| {
            page::put_u16(b, inline + 1, u16::MAX)
        });
        assert_rejected(&leaf, "key longer than the maximum", |b| {
            page::put_u16(b, inline + 1, 65)
        });
        assert_rejected(&leaf, "inline value past the page", |b| {
            page::put_u32(b, inline + 3, u32::MAX)
        });
        assert_rejected(&leaf, "inline value longer than the maximum", |b| {
            page::put_u32(b, inline + 3, 224)
        });
        assert_rejected(&leaf, "overflow length above the maximum", |b| {
            page::put_u32(b, overflow + 3, u32::MAX)
        });
        assert_rejected(&leaf, "unknown value flag", |b| b[overflow] = 3);
        assert_rejected(&leaf, "entries overlap", |b| {
            // Eight slots all point at one entry of the largest size: each
            // reads fine, but they sum to more than a page, and a split
            // would give halves that do not fit.
            let count = 8;
            let at = HEADER_BYTES + count * SLOT_BYTES;
            page::put_u64(b, AUX_OFFSET, count as u64);
            for i in 0..count {
                put_slot(b, i, at, &[b'k'; 64]);
            }
            b[at] = FLAG_INLINE;
            page::put_u16(b, at + 1, 64);
            page::put_u32(b, at + 3, 32);
            b[at + LEAF_ENTRY_HEADER_BYTES..at + LEAF_ENTRY_HEADER_BYTES + 64].fill(b'k');
        });
        let branch = sealed_branch();
        let second = entry_at(&branch, 1);
        assert_rejected(&branch, "branch key past the page", |b| {
            page::put_u16(b, second, u16::MAX)
        });
        assert_rejected(&branch, "branch key longer than the maximum", |b| {
            page::put_u16(b, second, 65)
        });
    }
}
