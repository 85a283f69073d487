//! Range deletes: tombstones over a user-key range `[start, end)`, as
//! RocksDB's range tombstones.
//!
//! A [`Db::delete_range`](crate::Db::delete_range) is one write (a batch
//! op of kind [`ValueKind::RangeDelete`](crate::key::ValueKind), one
//! sequence number) whatever the number of keys it covers. A tombstone at
//! sequence number `t` hides every version of a key in its range with a
//! sequence number below `t`, for every reader whose snapshot is at or
//! after `t`.
//!
//! - The memtable keeps its tombstones apart from the point entries
//!   ([`MemRangeDels`]), with their fragments built once when first read.
//! - A table stores its tombstones *fragmented* ([`Fragments`]: sorted,
//!   disjoint ranges, each with the sequence numbers of the tombstones
//!   covering it) in a checksummed range-deletion section of its
//!   properties block (`FORMAT.md`), read once at open; the table's key
//!   range covers its tombstones.
//! - Reads (`read` and `iter` here): a point lookup takes the newest
//!   covering tombstone of each source, newest source first, and stops at
//!   the first source where one covers the key (everything beneath is
//!   older); an iterator skips each source's ranges covered by a newer
//!   source's tombstones by opening the source on the gaps between them
//!   (a seek past the tombstone's end, not a step over every key).
//! - Compaction (`compaction`) drops a covered version when no snapshot
//!   sees it but not the tombstone, and drops a tombstone at the bottom of
//!   the tree once every reader sees it.

mod compaction;
mod fragments;
pub(crate) mod iter;
mod memtable;
mod read;
pub(crate) mod table;

pub(crate) use compaction::{
    OutputRangeDels, compact_fragments, drop_covered, input_fragments, is_base_range, key_range,
    seq_range,
};
pub(crate) use fragments::{Fragment, Fragments, Tombstone};
pub(crate) use memtable::MemRangeDels;
pub(crate) use read::{MemLookup, deleted_after, lookup_memtables};

/// The `[start, end)` keys of a [`Db::delete_range`](crate::Db::delete_range)
/// range (see there for the bounds it takes).
pub(crate) fn range_keys<K: AsRef<[u8]>, R: std::ops::RangeBounds<K>>(
    range: &R,
) -> crate::Result<(bytes::Bytes, bytes::Bytes)> {
    use std::ops::Bound;
    let after = |k: &[u8]| {
        let mut v = k.to_vec();
        v.push(0);
        bytes::Bytes::from(v)
    };
    let start = match range.start_bound() {
        Bound::Included(k) => bytes::Bytes::copy_from_slice(k.as_ref()),
        Bound::Excluded(k) => after(k.as_ref()),
        Bound::Unbounded => bytes::Bytes::new(),
    };
    let end = match range.end_bound() {
        Bound::Excluded(k) => bytes::Bytes::copy_from_slice(k.as_ref()),
        Bound::Included(k) => after(k.as_ref()),
        Bound::Unbounded => return Err(crate::Error::InvalidRange("an unbounded end")),
    };
    if start > end {
        return Err(crate::Error::InvalidRange("the start is after the end"));
    }
    Ok((start, end))
}
