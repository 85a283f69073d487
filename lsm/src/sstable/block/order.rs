//! The order walk: every entry of a block in order, checking what a search
//! relies on (keys increasing, restart points at entries that share
//! nothing, the block's keys within its index bounds).

use std::cmp::Ordering;

use crate::key::{self, cmp_encoded};
use crate::sstable::block::{Block, Malformed};

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
pub(super) const KEY_NOT_ABOVE: &str = "block key not above the previous one (user-key prefixes)";
/// A data block's first key at or below the previous block's index key.
pub(super) const FIRST_NOT_ABOVE: &str =
    "data block's first key not above the previous block's index key (user-key prefixes)";
/// A data block's last key other than its index key.
pub(super) const LAST_NOT_INDEX_KEY: &str =
    "data block's last key differs from its index key (user-key prefixes)";

/// Compares the encoded internal key `prev` with the next key of its
/// block, `prev[..shared] ++ delta`, as [`cmp_encoded`] would, without
/// building the next key: only the bytes after the shared prefix differ.
/// REQUIRES: `shared <= prev.len()`.
pub(super) fn cmp_with_next(prev: &[u8], shared: usize, delta: &[u8]) -> Ordering {
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
    pub(super) fn walk(
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
}
