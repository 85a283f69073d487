//! Block handles and the index block: one entry per data block, keyed by the
//! block's last internal key, valued by its handle.

use std::cmp::Ordering;
use std::path::Path;

use crate::key::{self, cmp_encoded};
use crate::sstable::block::Block;
use crate::{Error, Result};

/// Bytes of an encoded block handle.
pub(crate) const HANDLE_SIZE_BYTES: usize = 16;

/// Where a block (contents plus trailer) lies in its file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct BlockHandle {
    pub(crate) offset: u64,
    pub(crate) size_bytes: u64,
}

impl BlockHandle {
    pub(crate) fn encode(&self) -> [u8; HANDLE_SIZE_BYTES] {
        let mut b = [0u8; HANDLE_SIZE_BYTES];
        b[..8].copy_from_slice(&self.offset.to_le_bytes());
        b[8..].copy_from_slice(&self.size_bytes.to_le_bytes());
        b
    }

    pub(crate) fn decode(b: &[u8]) -> Option<BlockHandle> {
        if b.len() != HANDLE_SIZE_BYTES {
            return None;
        }
        let mut o = [0u8; 8];
        let mut s = [0u8; 8];
        o.copy_from_slice(&b[..8]);
        s.copy_from_slice(&b[8..]);
        Some(BlockHandle {
            offset: u64::from_le_bytes(o),
            size_bytes: u64::from_le_bytes(s),
        })
    }
}

/// The decoded index of a table, held in memory while the table is open.
#[derive(Debug)]
pub(crate) struct Index {
    /// (last key of the block, handle), in key order.
    pub(crate) entries: Vec<(Vec<u8>, BlockHandle)>,
    /// [`key::prefix`] of each entry's user key: a search compares these
    /// contiguous words and reads a key only on a tie, instead of chasing
    /// one pointer per probe.
    prefixes: Vec<u64>,
}

impl Index {
    pub(crate) fn decode(block: &Block, file: &Path, offset: u64, file_len: u64) -> Result<Index> {
        let bad = |what, expected: u64, found: u64| {
            Error::corruption(file, offset, what, expected, found)
        };
        let raw = block.entries().map_err(|m| m.at(file, offset))?;
        let mut entries: Vec<(Vec<u8>, BlockHandle)> = Vec::with_capacity(raw.len());
        for (k, v) in raw {
            let h = BlockHandle::decode(&v).ok_or_else(|| {
                bad(
                    "index entry handle length",
                    HANDLE_SIZE_BYTES as u64,
                    v.len() as u64,
                )
            })?;
            let end = h.offset.checked_add(h.size_bytes);
            if end.is_none_or(|e| e > file_len) {
                return Err(bad(
                    "index handle past the footer",
                    file_len,
                    end.unwrap_or(u64::MAX),
                ));
            }
            if let Some((prev, _)) = entries.last()
                && cmp_encoded(prev, &k) != Ordering::Less
            {
                // The first eight bytes of each user key, as numbers.
                let user = |k: &[u8]| key::prefix(key::split(k).map_or(k, |s| s.0));
                return Err(bad(
                    "index key not above the previous one (key prefixes)",
                    user(prev),
                    user(&k),
                ));
            }
            entries.push((k, h));
        }
        let prefixes = entries
            .iter()
            .map(|(k, _)| key::prefix(key::split(k).map_or(&k[..], |s| s.0)))
            .collect();
        Ok(Index { entries, prefixes })
    }

    /// Index of the first block whose last key is at least the internal key
    /// `(user, trailer)`.
    pub(crate) fn find(&self, user: &[u8], trailer: u64) -> usize {
        let p = key::prefix(user);
        let (mut lo, mut hi) = (0, self.entries.len());
        // Invariant: blocks before `lo` end below the target, blocks from
        // `hi` on end at or above it.
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let less = match self.prefixes[mid].cmp(&p) {
                Ordering::Less => true,
                Ordering::Greater => false,
                Ordering::Equal => {
                    key::cmp_with(&self.entries[mid].0, user, trailer) == Ordering::Less
                }
            };
            if less {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }
}
