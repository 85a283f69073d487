//! One block format, shared by data and index blocks: sorted entries with
//! shared-prefix key compression and restart points.
//!
//! ```text
//! entry*: shared: varint | unshared: varint | value_len: varint | key_delta | value
//! restarts: u32 LE * n   (offsets of entries whose `shared` is 0)
//! n: u32 LE
//! ```
//! Keys are encoded internal keys, compared with [`cmp_encoded`].

use std::cmp::Ordering;
use std::path::Path;

use bytes::Bytes;

use crate::Error;
use crate::key::{self, cmp_encoded};
use crate::varint;

/// Builds one block. REQUIRES: keys added in increasing internal-key order.
#[derive(Debug)]
pub(crate) struct BlockBuilder {
    buf: Vec<u8>,
    restarts: Vec<u32>,
    restart_interval: usize,
    counter: usize,
    last_key: Vec<u8>,
    entries: usize,
}

impl BlockBuilder {
    pub(crate) fn new(restart_interval: usize) -> BlockBuilder {
        assert!(restart_interval >= 1);
        BlockBuilder {
            buf: Vec::new(),
            restarts: vec![0],
            restart_interval,
            counter: 0,
            last_key: Vec::new(),
            entries: 0,
        }
    }

    pub(crate) fn add(&mut self, key: &[u8], value: &[u8]) {
        debug_assert!(self.entries == 0 || cmp_encoded(&self.last_key, key) == Ordering::Less);
        let shared = if self.counter < self.restart_interval {
            self.last_key
                .iter()
                .zip(key)
                .take_while(|(a, b)| a == b)
                .count()
        } else {
            self.restarts.push(self.buf.len() as u32);
            self.counter = 0;
            0
        };
        varint::put(&mut self.buf, shared as u64);
        varint::put(&mut self.buf, (key.len() - shared) as u64);
        varint::put(&mut self.buf, value.len() as u64);
        self.buf.extend_from_slice(&key[shared..]);
        self.buf.extend_from_slice(value);
        self.last_key.clear();
        self.last_key.extend_from_slice(key);
        self.counter += 1;
        self.entries += 1;
    }

    /// Size of the block if finished now.
    pub(crate) fn size_estimate_bytes(&self) -> usize {
        self.buf.len() + 4 * self.restarts.len() + 4
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries == 0
    }

    pub(crate) fn last_key(&self) -> &[u8] {
        &self.last_key
    }

    /// Returns the block's bytes and resets the builder.
    pub(crate) fn finish(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.buf);
        for r in &self.restarts {
            out.extend_from_slice(&r.to_le_bytes());
        }
        out.extend_from_slice(&(self.restarts.len() as u32).to_le_bytes());
        self.restarts = vec![0];
        self.counter = 0;
        self.entries = 0;
        self.last_key.clear();
        out
    }
}

/// A decoded (CRC-checked, decompressed) block.
#[derive(Clone, Debug)]
pub(crate) struct Block {
    data: Bytes,
    restarts_offset: usize,
    restarts: usize,
}

/// Why a block's bytes do not parse: what, with the value expected and the
/// one found (a length, a position or a count inside the decoded block).
/// The caller adds file and offset with [`Malformed::at`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Malformed {
    pub(crate) what: &'static str,
    pub(crate) expected: u64,
    pub(crate) found: u64,
}

impl Malformed {
    fn new(what: &'static str, expected: usize, found: usize) -> Malformed {
        Malformed {
            what,
            expected: expected as u64,
            found: found as u64,
        }
    }

    /// The corruption error for this block, stored at `offset` of `file`.
    pub(crate) fn at(self, file: &Path, offset: u64) -> Error {
        Error::corruption(file, offset, self.what, self.expected, self.found)
    }
}

/// An entry's three length varints run past the entries (found: where the
/// entry starts; expected: where the entries end).
fn header_past_end(pos: usize, end: usize) -> Malformed {
    Malformed::new("block entry header runs past the entries", end, pos)
}

/// An entry's header, as [`Block::header`] reads it.
struct Header {
    shared: usize,
    /// Where the key's unshared bytes lie in the block.
    delta: std::ops::Range<usize>,
    /// Where the value ends: the next entry's position.
    vend: usize,
}

/// Where a data block's keys must lie, from the table's index (whose keys
/// [`Index::decode`](crate::sstable::index::Index::decode) checked to
/// increase): above the previous block's index key, the last one equal to
/// this block's (the writer stores each block's last key). With the order
/// inside each block, this keeps keys increasing across the table.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bounds<'a> {
    /// The previous block's index key; `None` for the first block.
    pub(crate) after: Option<&'a [u8]>,
    /// This block's index key.
    pub(crate) last: &'a [u8],
}

/// A key at or below the one before it in its block.
pub(crate) const KEY_NOT_ABOVE: &str = "block key not above the previous one (user-key prefixes)";
/// A data block's first key at or below the previous block's index key.
pub(crate) const FIRST_NOT_ABOVE: &str =
    "data block's first key not above the previous block's index key (user-key prefixes)";
/// A data block's last key other than its index key.
pub(crate) const LAST_NOT_INDEX_KEY: &str =
    "data block's last key differs from its index key (user-key prefixes)";

/// Compares the encoded internal key `prev` with the next key of its
/// block, `prev[..shared] ++ delta`, as [`cmp_encoded`] would, without
/// building the next key: only the bytes after the shared prefix differ.
/// REQUIRES: `shared <= prev.len()`.
fn cmp_with_next(prev: &[u8], shared: usize, delta: &[u8]) -> Ordering {
    let next_len = shared + delta.len();
    let (Some(up), Some(un)) = (
        prev.len().checked_sub(key::TRAILER_LEN),
        next_len.checked_sub(key::TRAILER_LEN),
    ) else {
        // A key shorter than its trailer: raw bytes, as cmp_encoded.
        return prev[shared..].cmp(delta);
    };
    let users = if shared <= up.min(un) {
        prev[shared..up].cmp(&delta[..un - shared])
    } else {
        // The shared prefix covers the shorter user key whole, so that one
        // is a prefix of the other.
        up.cmp(&un)
    };
    users.then_with(|| {
        let mut tn = [0u8; key::TRAILER_LEN];
        for (j, b) in tn.iter_mut().enumerate() {
            let i = un + j;
            *b = if i < shared {
                prev[i]
            } else {
                delta[i - shared]
            };
        }
        let mut tp = [0u8; key::TRAILER_LEN];
        tp.copy_from_slice(&prev[up..]);
        // Newer (larger trailer) first.
        u64::from_le_bytes(tn).cmp(&u64::from_le_bytes(tp))
    })
}

/// Keys out of order: `expected` and `found` are the first eight bytes of
/// the user keys (the one the key had to be above, or equal to, and the
/// key), as big-endian numbers.
fn out_of_order(what: &'static str, expected: &[u8], found: &[u8]) -> Malformed {
    let user = |k: &[u8]| key::prefix(key::split(k).map_or(k, |s| s.0));
    Malformed {
        what,
        expected: user(expected),
        found: user(found),
    }
}

impl Block {
    pub(crate) fn new(data: Bytes) -> Result<Block, Malformed> {
        let n_off = data.len().checked_sub(4).ok_or(Malformed::new(
            "block shorter than its restart count",
            4,
            data.len(),
        ))?;
        let n = u32::from_le_bytes([
            data[n_off],
            data[n_off + 1],
            data[n_off + 2],
            data[n_off + 3],
        ]) as usize;
        let restarts_offset =
            n.checked_mul(4)
                .and_then(|b| n_off.checked_sub(b))
                .ok_or(Malformed::new(
                    "block restart count exceeds the block",
                    n_off / 4,
                    n,
                ))?;
        if n == 0 {
            return Err(Malformed::new("block has no restart point", 1, 0));
        }
        Ok(Block {
            data,
            restarts_offset,
            restarts: n,
        })
    }

    pub(crate) fn size_bytes(&self) -> usize {
        self.data.len()
    }

    fn restart(&self, i: usize) -> usize {
        let p = self.restarts_offset + 4 * i;
        u32::from_le_bytes([
            self.data[p],
            self.data[p + 1],
            self.data[p + 2],
            self.data[p + 3],
        ]) as usize
    }

    /// Reads the header of the entry at `pos`, whose previous key is
    /// `prev_len` bytes long: the entry's shared prefix length, where its
    /// key delta starts and ends, and where its value ends (the next entry's
    /// position).
    fn header(&self, pos: usize, prev_len: usize) -> Result<Header, Malformed> {
        let end = self.restarts_offset;
        let mut p = pos;
        let mut next = || {
            varint::get(&self.data[..end], &mut p)
                .map(|v| usize::try_from(v).unwrap_or(usize::MAX))
                .ok_or(header_past_end(pos, end))
        };
        let (shared, unshared, vlen) = (next()?, next()?, next()?);
        if shared > prev_len {
            return Err(Malformed::new(
                "block entry shares more than the previous key holds",
                prev_len,
                shared,
            ));
        }
        let kend = p
            .checked_add(unshared)
            .filter(|&e| e <= end)
            .ok_or(Malformed::new(
                "block entry key runs past the entries",
                end,
                p.saturating_add(unshared),
            ))?;
        let vend = kend
            .checked_add(vlen)
            .filter(|&e| e <= end)
            .ok_or(Malformed::new(
                "block entry value runs past the entries",
                end,
                kend.saturating_add(vlen),
            ))?;
        Ok(Header {
            shared,
            delta: p..kend,
            vend,
        })
    }

    /// Decodes the entry at `pos` given the previous key; returns the next
    /// position and the value's range.
    fn decode_at(
        &self,
        pos: usize,
        key: &mut Vec<u8>,
    ) -> Result<(usize, std::ops::Range<usize>), Malformed> {
        let h = self.header(pos, key.len())?;
        key.truncate(h.shared);
        key.extend_from_slice(&self.data[h.delta.clone()]);
        Ok((h.vend, h.delta.end..h.vend))
    }

    /// Walks every entry in order, handing `f` each key and value range, and checks what a
    /// search of the block relies on: each key above the one before it in
    /// internal-key order, every restart point at the start of an entry
    /// that shares nothing, in order; with `bounds`, the first key above
    /// the previous block's index key and the last one equal to this
    /// block's. A CRC proves the bytes are the ones written, not that the
    /// writer (or whoever resealed them) kept them in order. Returns the
    /// number of entries. One comparison per entry, of the bytes after the
    /// prefix an entry shares with the key before it ([`cmp_with_next`]):
    /// the walk copies no key.
    fn walk(
        &self,
        bounds: Option<Bounds<'_>>,
        mut f: impl FnMut(&[u8], std::ops::Range<usize>),
    ) -> Result<usize, Malformed> {
        let end = self.restarts_offset;
        let mut key = Vec::new();
        let (mut pos, mut restart, mut n) = (0, 0, 0);
        // Block::new checked there is at least one restart point.
        let mut next_restart = self.restart(0);
        while pos < end {
            if next_restart < pos {
                return Err(Malformed::new(
                    "block restart point not at the start of an entry",
                    pos,
                    next_restart,
                ));
            }
            let h = self.header(pos, key.len())?;
            if next_restart == pos {
                if h.shared != 0 {
                    return Err(Malformed::new(
                        "block restart entry shares a prefix",
                        0,
                        h.shared,
                    ));
                }
                restart += 1;
                next_restart = if restart < self.restarts {
                    self.restart(restart)
                } else {
                    usize::MAX
                };
            }
            let delta = &self.data[h.delta.clone()];
            if n > 0 && cmp_with_next(&key, h.shared, delta) != Ordering::Less {
                let mut next = key[..h.shared].to_vec();
                next.extend_from_slice(delta);
                return Err(out_of_order(KEY_NOT_ABOVE, &key, &next));
            }
            key.truncate(h.shared);
            key.extend_from_slice(delta);
            if n == 0
                && let Some(after) = bounds.and_then(|b| b.after)
                && cmp_encoded(after, &key) != Ordering::Less
            {
                return Err(out_of_order(FIRST_NOT_ABOVE, after, &key));
            }
            f(&key, h.delta.end..h.vend);
            n += 1;
            pos = h.vend;
        }
        if restart < self.restarts {
            return Err(Malformed::new(
                "block restart point not at the start of an entry",
                end,
                next_restart,
            ));
        }
        if let Some(b) = bounds
            && key.as_slice() != b.last
        {
            return Err(out_of_order(LAST_NOT_INDEX_KEY, b.last, &key));
        }
        Ok(n)
    }

    /// Checks the whole block as [`Block::walk`] does, decoding every
    /// entry: for a block about to serve point lookups (and enter the
    /// cache), whose search otherwise reads only a few entries.
    pub(crate) fn check_order(&self, bounds: Bounds<'_>) -> Result<(), Malformed> {
        self.walk(Some(bounds), |_, _| {}).map(|_| ())
    }

    /// The key of the restart entry at `pos`: stored whole (no shared
    /// prefix), so it is read in place.
    fn restart_key(&self, pos: usize) -> Result<&[u8], Malformed> {
        let end = self.restarts_offset;
        let mut p = pos;
        let mut next = || {
            varint::get(&self.data[..end], &mut p)
                .map(|v| usize::try_from(v).unwrap_or(usize::MAX))
                .ok_or(header_past_end(pos, end))
        };
        let (shared, unshared, _) = (next()?, next()?, next()?);
        if shared != 0 {
            return Err(Malformed::new(
                "block restart entry shares a prefix",
                0,
                shared,
            ));
        }
        let kend = p
            .checked_add(unshared)
            .filter(|&e| e <= end)
            .ok_or(Malformed::new(
                "block entry key runs past the entries",
                end,
                p.saturating_add(unshared),
            ))?;
        Ok(&self.data[p..kend])
    }

    /// The first entry whose key is at least the internal key `(user,
    /// trailer)`: its key is left in `key` (a caller's reused buffer, so a
    /// lookup allocates nothing) and its value returned. The answer holds
    /// only for a block whose order [`Block::check_order`] checked (a table
    /// checks each block before it serves a lookup or enters the cache):
    /// the search reads a few entries, not the whole block.
    pub(crate) fn seek(
        &self,
        user: &[u8],
        trailer: u64,
        key: &mut Vec<u8>,
    ) -> Result<Option<Bytes>, Malformed> {
        // Binary search for the last restart whose key is below the target;
        // restart keys are compared where they lie in the block.
        let (mut lo, mut hi) = (0usize, self.restarts - 1);
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            let pos = self.restart(mid);
            if pos >= self.restarts_offset {
                return Err(Malformed::new(
                    "block restart point past the entries",
                    self.restarts_offset,
                    pos,
                ));
            }
            if key::cmp_with(self.restart_key(pos)?, user, trailer) == Ordering::Less {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        let mut pos = self.restart(lo);
        key.clear();
        while pos < self.restarts_offset {
            let (next, v) = self.decode_at(pos, key)?;
            if key::cmp_with(key, user, trailer) != Ordering::Less {
                return Ok(Some(self.data.slice(v)));
            }
            pos = next;
        }
        Ok(None)
    }

    /// Every entry, in order, its key a slice of one buffer shared by the
    /// whole block: one allocation for the keys of a block instead of one
    /// per key, for iterators and compaction. Checks the order as
    /// [`Block::walk`] does, so no reader is handed keys out of order.
    pub(crate) fn entries_shared(
        &self,
        bounds: Option<Bounds<'_>>,
    ) -> Result<Vec<(Bytes, Bytes)>, Malformed> {
        let mut keys: Vec<u8> = Vec::new();
        let mut spans: Vec<(std::ops::Range<usize>, std::ops::Range<usize>)> = Vec::new();
        self.walk(bounds, |key, v| {
            spans.push((keys.len()..keys.len() + key.len(), v));
            keys.extend_from_slice(key);
        })?;
        let keys = Bytes::from(keys);
        Ok(spans
            .into_iter()
            .map(|(k, v)| (keys.slice(k), self.data.slice(v)))
            .collect())
    }

    /// Every entry, in order.
    pub(crate) fn entries(&self) -> Result<Vec<(Vec<u8>, Bytes)>, Malformed> {
        let mut out = Vec::new();
        let mut key = Vec::new();
        let mut pos = 0;
        while pos < self.restarts_offset {
            let (next, v) = self.decode_at(pos, &mut key)?;
            out.push((key.clone(), self.data.slice(v)));
            pos = next;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{InternalKey, ValueKind};

    fn k(i: u32) -> Vec<u8> {
        InternalKey::new(Bytes::from(format!("key{i:06}")), 7, ValueKind::Inline).encoded()
    }

    #[test]
    fn seek_finds_first_entry_at_or_after_target() {
        let mut b = BlockBuilder::new(4);
        for i in (0..200).step_by(2) {
            b.add(&k(i), format!("v{i}").as_bytes());
        }
        let block = Block::new(Bytes::from(b.finish())).expect("block");
        assert_eq!(block.entries().expect("entries").len(), 100);
        let mut key = Vec::new();
        for i in 0..200 {
            let user = format!("key{i:06}");
            let got = block
                .seek(
                    user.as_bytes(),
                    crate::key::trailer(7, ValueKind::Inline),
                    &mut key,
                )
                .expect("seek");
            if i > 198 {
                assert!(got.is_none());
            } else {
                let want = i + (i % 2);
                assert_eq!(got.expect("some"), format!("v{want}").as_bytes());
                assert_eq!(key, k(want));
            }
        }
    }

    #[test]
    fn malformed_blocks_say_what_was_expected_and_found() {
        let m = Block::new(Bytes::from_static(&[1, 0])).expect_err("too short");
        assert_eq!((m.expected, m.found), (4, 2));
        let m = Block::new(Bytes::from_static(&[0, 0, 0, 0, 9, 0, 0, 0])).expect_err("count");
        assert_eq!((m.expected, m.found), (1, 9));
        let m = Block::new(Bytes::from_static(&[0, 0, 0, 0])).expect_err("no restart");
        assert_eq!((m.expected, m.found), (1, 0));
        // One entry (shared 0, unshared 100, value 0) whose key would run
        // past the 3 bytes of entries.
        let block =
            Block::new(Bytes::from_static(&[0, 100, 0, 0, 0, 0, 0, 1, 0, 0, 0])).expect("block");
        let m = block.entries().expect_err("key past the entries");
        assert_eq!(
            (m.what, m.expected, m.found),
            ("block entry key runs past the entries", 3, 103)
        );
        let err = m.at(Path::new("000009.sst"), 4096);
        assert!(matches!(
            err,
            Error::Corruption { ref file, offset: 4096, expected: 3, found: 103, .. }
                if file == Path::new("000009.sst")
        ));
    }

    /// A block of `keys` as given, in any order: every entry a restart
    /// point sharing nothing, each value one byte.
    fn raw_block(keys: &[Vec<u8>]) -> Block {
        let mut out = Vec::new();
        let mut restarts = Vec::new();
        for k in keys {
            restarts.push(out.len() as u32);
            varint::put(&mut out, 0);
            varint::put(&mut out, k.len() as u64);
            varint::put(&mut out, 1);
            out.extend_from_slice(k);
            out.push(b'v');
        }
        for r in &restarts {
            out.extend_from_slice(&r.to_le_bytes());
        }
        out.extend_from_slice(&(restarts.len() as u32).to_le_bytes());
        Block::new(Bytes::from(out)).expect("block")
    }

    fn seq_key(user: &str, seq: u64) -> Vec<u8> {
        InternalKey::new(
            Bytes::copy_from_slice(user.as_bytes()),
            seq,
            ValueKind::Inline,
        )
        .encoded()
    }

    #[test]
    fn keys_out_of_order_are_malformed_for_every_reader() {
        let bounds = |last: &'static [u8]| Bounds { after: None, last };
        // By user key, and by sequence number (an older version first).
        for keys in [
            vec![k(1), k(3), k(2)],
            vec![k(1), k(1)],
            vec![seq_key("a", 3), seq_key("a", 5)],
        ] {
            let last = keys.last().expect("key").clone().leak();
            let block = raw_block(&keys);
            let m = block.check_order(bounds(last)).expect_err("check_order");
            assert_eq!(m.what, KEY_NOT_ABOVE);
            let m = block.entries_shared(None).expect_err("entries_shared");
            assert_eq!(m.what, KEY_NOT_ABOVE);
        }
        let m = raw_block(&[seq_key("c", 1), seq_key("a", 1)])
            .entries_shared(None)
            .expect_err("out of order");
        // The first eight bytes of the user keys, as numbers: the key the
        // entry had to be above, and the entry's.
        assert_eq!(
            (m.expected, m.found),
            (crate::key::prefix(b"c"), crate::key::prefix(b"a"))
        );
        let good = raw_block(&[k(1), k(2), k(3)]);
        assert!(good.check_order(bounds(k(3).leak())).is_ok());
        assert_eq!(good.entries_shared(None).expect("in order").len(), 3);
    }

    #[test]
    fn comparing_with_the_next_key_agrees_with_cmp_encoded() {
        let mut keys = vec![Vec::new(), b"abc".to_vec(), b"abcdefgh".to_vec()];
        for user in ["", "a", "ab", "abc", "abd", "b", "ab~", "abcdefgh"] {
            for seq in [0, 1, 2, 255, 256, 257, 1 << 40] {
                for kind in [ValueKind::Delete, ValueKind::Inline, ValueKind::BlobRef] {
                    keys.push(
                        InternalKey::new(Bytes::copy_from_slice(user.as_bytes()), seq, kind)
                            .encoded(),
                    );
                }
            }
        }
        for a in &keys {
            for b in &keys {
                let common = a.iter().zip(b).take_while(|(x, y)| x == y).count();
                for shared in 0..=common {
                    assert_eq!(
                        cmp_with_next(a, shared, &b[shared..]),
                        cmp_encoded(a, b),
                        "{a:?} {b:?} shared {shared}"
                    );
                }
            }
        }
    }

    #[test]
    fn keys_outside_the_index_bounds_are_malformed() {
        let block = raw_block(&[k(2), k(3), k(4)]);
        let (k1, k2, k3, k4) = (k(1), k(2), k(3), k(4));
        let ok = Bounds {
            after: Some(&k1),
            last: &k4,
        };
        assert!(block.check_order(ok).is_ok());
        assert!(block.entries_shared(Some(ok)).is_ok());
        for (after, last, what) in [
            (&k2, &k4, FIRST_NOT_ABOVE),
            (&k3, &k4, FIRST_NOT_ABOVE),
            (&k1, &k3, LAST_NOT_INDEX_KEY),
            (&k1, &k(5), LAST_NOT_INDEX_KEY),
        ] {
            let b = Bounds {
                after: Some(after),
                last,
            };
            assert_eq!(block.check_order(b).expect_err("check_order").what, what);
            assert_eq!(
                block.entries_shared(Some(b)).expect_err("entries").what,
                what
            );
        }
    }

    #[test]
    fn restart_points_off_the_entries_are_malformed() {
        let mut b = BlockBuilder::new(2);
        for i in 0..6 {
            b.add(&k(i), b"value");
        }
        let good = b.finish();
        let n = good.len();
        let restarts_at = n - 4 - 4 * 3;
        let last = k(5);
        let bounds = Bounds {
            after: None,
            last: &last,
        };
        assert!(
            Block::new(Bytes::from(good.clone()))
                .expect("block")
                .check_order(bounds)
                .is_ok()
        );
        // The second restart point moved one byte into its entry, then
        // onto the entry before it (which shares a prefix).
        let second = u32::from_le_bytes(
            good[restarts_at + 4..restarts_at + 8]
                .try_into()
                .expect("4"),
        );
        for (to, what) in [
            (
                second + 1,
                "block restart point not at the start of an entry",
            ),
            (0, "block restart point not at the start of an entry"),
        ] {
            let mut bad = good.clone();
            bad[restarts_at + 4..restarts_at + 8].copy_from_slice(&to.to_le_bytes());
            let block = Block::new(Bytes::from(bad)).expect("block");
            assert_eq!(block.check_order(bounds).expect_err("restart").what, what);
        }
        // A restart point on an entry that shares a prefix with the one
        // before.
        let block = Block::new(Bytes::from(good.clone())).expect("block");
        let second_entry = block.decode_at(0, &mut Vec::new()).expect("entry").0;
        let mut bad = good.clone();
        bad[restarts_at + 4..restarts_at + 8].copy_from_slice(&(second_entry as u32).to_le_bytes());
        let block = Block::new(Bytes::from(bad)).expect("block");
        let m = block.check_order(bounds).expect_err("shares");
        assert_eq!(m.what, "block restart entry shares a prefix");
    }

    #[test]
    fn truncated_block_is_malformed_not_panic() {
        let mut b = BlockBuilder::new(2);
        for i in 0..10 {
            b.add(&k(i), b"value");
        }
        let bytes = b.finish();
        for cut in 0..bytes.len() {
            if let Ok(block) = Block::new(Bytes::copy_from_slice(&bytes[..cut])) {
                let _ = block.entries();
                let _ = block.seek(b"key000005", 0, &mut Vec::new());
            }
        }
    }
}
