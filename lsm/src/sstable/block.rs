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

    /// Decodes the entry at `pos` given the previous key; returns the next
    /// position and the value's range.
    fn decode_at(
        &self,
        pos: usize,
        key: &mut Vec<u8>,
    ) -> Result<(usize, std::ops::Range<usize>), Malformed> {
        let end = self.restarts_offset;
        let mut p = pos;
        let mut next = || {
            varint::get(&self.data[..end], &mut p)
                .map(|v| usize::try_from(v).unwrap_or(usize::MAX))
                .ok_or(header_past_end(pos, end))
        };
        let (shared, unshared, vlen) = (next()?, next()?, next()?);
        if shared > key.len() {
            return Err(Malformed::new(
                "block entry shares more than the previous key holds",
                key.len(),
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
        key.truncate(shared);
        key.extend_from_slice(&self.data[p..kend]);
        Ok((vend, kend..vend))
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
    /// lookup allocates nothing) and its value returned.
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
    /// per key, for iterators and compaction.
    pub(crate) fn entries_shared(&self) -> Result<Vec<(Bytes, Bytes)>, Malformed> {
        let mut keys: Vec<u8> = Vec::new();
        let mut spans: Vec<(std::ops::Range<usize>, std::ops::Range<usize>)> = Vec::new();
        let mut key = Vec::new();
        let mut pos = 0;
        while pos < self.restarts_offset {
            let (next, v) = self.decode_at(pos, &mut key)?;
            spans.push((keys.len()..keys.len() + key.len(), v));
            keys.extend_from_slice(&key);
            pos = next;
        }
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
