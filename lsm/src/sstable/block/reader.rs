//! Reading a block: its restart array, one entry's header, a binary search
//! over restart points for a lookup, and every entry for a scan. Each
//! length is checked against the block before it is used; what a bad block
//! breaks is a [`Malformed`], never a panic.

use std::cmp::Ordering;
use std::path::Path;

use bytes::Bytes;

use crate::Error;
use crate::key;
use crate::sstable::block::Bounds;
use crate::varint;

/// A decoded (CRC-checked, decompressed) block.
#[derive(Clone, Debug)]
pub(crate) struct Block {
    pub(super) data: Bytes,
    /// Where the entries end and the restart array starts.
    pub(super) restarts_offset: usize,
    /// Number of restart points (at least 1).
    pub(super) restarts: usize,
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
    pub(super) fn new(what: &'static str, expected: usize, found: usize) -> Malformed {
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
pub(super) fn header_past_end(pos: usize, end: usize) -> Malformed {
    Malformed::new("block entry header runs past the entries", end, pos)
}

/// A block's entries as [`Block::entries_spans`] returns them.
pub(crate) struct BlockSpans {
    /// Every encoded key of the block, one after the other.
    pub(crate) keys: Bytes,
    /// Per entry: its key's range in `keys`, its value's in the block.
    pub(crate) spans: Vec<(std::ops::Range<usize>, std::ops::Range<usize>)>,
}

/// An entry's header, as [`Block::header`] reads it.
pub(super) struct Header {
    pub(super) shared: usize,
    /// Where the key's unshared bytes lie in the block.
    pub(super) delta: std::ops::Range<usize>,
    /// Where the value ends: the next entry's position.
    pub(super) vend: usize,
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

    pub(super) fn restart(&self, i: usize) -> usize {
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
    pub(super) fn header(&self, pos: usize, prev_len: usize) -> Result<Header, Malformed> {
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
    pub(super) fn decode_at(
        &self,
        pos: usize,
        key: &mut Vec<u8>,
    ) -> Result<(usize, std::ops::Range<usize>), Malformed> {
        let h = self.header(pos, key.len())?;
        key.truncate(h.shared);
        key.extend_from_slice(&self.data[h.delta.clone()]);
        Ok((h.vend, h.delta.end..h.vend))
    }

    /// The key of the restart entry at `pos`: stored whole (no shared
    /// prefix), so it is read in place.
    fn restart_key(&self, pos: usize) -> Result<&[u8], Malformed> {
        // No previous key bounds the shared length here: a restart entry
        // must share nothing, checked below.
        let h = self.header(pos, usize::MAX)?;
        if h.shared != 0 {
            return Err(Malformed::new(
                "block restart entry shares a prefix",
                0,
                h.shared,
            ));
        }
        Ok(&self.data[h.delta])
    }

    /// Where the entries to read for the internal key `(user, trailer)`
    /// start: the last restart point whose key is below it (the first
    /// restart point if none is), found by binary search over the restart
    /// keys where they lie in the block. Holds only for a block whose order
    /// [`Block::check_order`] checked.
    pub(crate) fn restart_before(&self, user: &[u8], trailer: u64) -> Result<usize, Malformed> {
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
        Ok(self.restart(lo))
    }

    /// The entries from the restart point at `pos` (from
    /// [`Block::restart_before`], or 0) to the block's end, as
    /// [`Block::entries_spans`] returns them but without its order checks:
    /// only for a block whose order was checked when it entered the cache.
    /// Each entry's lengths are still checked against the block.
    pub(crate) fn spans_from(&self, pos: usize) -> Result<BlockSpans, Malformed> {
        if pos > self.restarts_offset {
            return Err(Malformed::new(
                "block restart point past the entries",
                self.restarts_offset,
                pos,
            ));
        }
        // Each entry's position follows from the lengths before it, so a
        // block the CPU cache lacks would be read one miss after another.
        // Loads of every line first, independent of each other, overlap
        // those misses (a safe stand-in for a prefetch).
        let mut touch = 0u8;
        for b in self.data[pos..self.restarts_offset].iter().step_by(64) {
            touch ^= *b;
        }
        std::hint::black_box(touch);
        let guess = ((self.restarts_offset - pos) / 24).max(1);
        let mut spans: Vec<(std::ops::Range<usize>, std::ops::Range<usize>)> =
            Vec::with_capacity(guess);
        let mut keys: Vec<u8> = Vec::with_capacity(guess * 24);
        let mut p = pos;
        let mut prev = 0..0;
        while p < self.restarts_offset {
            let h = self.header(p, prev.len())?;
            let start = keys.len();
            keys.extend_from_within(prev.start..prev.start + h.shared);
            keys.extend_from_slice(&self.data[h.delta.clone()]);
            prev = start..keys.len();
            spans.push((prev.clone(), h.delta.end..h.vend));
            p = h.vend;
        }
        Ok(BlockSpans {
            keys: Bytes::from(keys),
            spans,
        })
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
        let mut pos = self.restart_before(user, trailer)?;
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
        let spans = self.entries_spans(bounds)?;
        Ok(spans
            .spans
            .into_iter()
            .map(|(k, v)| (spans.keys.slice(k), self.data.slice(v)))
            .collect())
    }

    /// The bytes at `range` of the block's contents (a value's range from
    /// [`Block::entries_spans`]), sharing them.
    pub(crate) fn slice(&self, range: std::ops::Range<usize>) -> Bytes {
        self.data.slice(range)
    }

    /// Every entry's key and value as ranges: the keys into one buffer
    /// holding them all, the values into the block's contents. Checks the
    /// order as [`Block::entries_shared`] does; the caller slices only what
    /// it keeps (an iterator slices a user key and a value per entry and
    /// never the encoded key).
    pub(crate) fn entries_spans(
        &self,
        bounds: Option<Bounds<'_>>,
    ) -> Result<BlockSpans, Malformed> {
        // A restart point per 16 entries and 24-byte keys are the default
        // and the common case; the vectors grow when a block holds more.
        // An entry takes at least 3 bytes (its lengths), which bounds the
        // guess whatever the restart count claims.
        let guess = (self.restarts * 16).min(self.restarts_offset / 3 + 1);
        let mut spans: Vec<(std::ops::Range<usize>, std::ops::Range<usize>)> =
            Vec::with_capacity(guess);
        let mut keys: Vec<u8> = Vec::with_capacity(guess * 24);
        self.walk(bounds, |key, v| {
            spans.push((keys.len()..keys.len() + key.len(), v));
            keys.extend_from_slice(key);
        })?;
        Ok(BlockSpans {
            keys: Bytes::from(keys),
            spans,
        })
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
