//! The filter pass of a point lookup: before any table is searched, the
//! filters of every table the lookup would probe are asked at once.
//!
//! A lookup probes each overlapping L0 table and one table per deeper
//! level, and each filter probe is a likely cache miss. Asked one after the
//! other between index searches, those misses are paid in sequence; asked
//! here in one tight loop of independent loads, the CPU overlaps them. When
//! every filter says no, which is what a lookup of an absent key usually
//! finds, the key is in no table and the lookup ends without touching an
//! index; otherwise the search runs as before and finds the filters it
//! asks again already in cache.

use crate::version::{GetStats, Version};

/// Whether every table `Version::get` would probe for `user` has a filter
/// that rules `hash` out. If so, `stats` counts those probes as filter
/// negatives, as the search would have; otherwise `stats` is untouched and
/// the caller searches.
pub(crate) fn all_filters_negative(
    v: &Version,
    user: &[u8],
    hash: u128,
    stats: &mut GetStats,
) -> bool {
    let mut probed = 0u64;
    let mut maybe = false;
    for t in v.candidates(user) {
        probed += 1;
        maybe |= t.may_contain(hash);
    }
    if maybe {
        return false;
    }
    stats.tables_probed += probed;
    stats.filter_negatives += probed;
    true
}
