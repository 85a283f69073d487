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

use std::cmp::Ordering;

use crate::key;
use crate::sstable::reader::Table;
use crate::version::{GetStats, NUM_LEVELS, Version, user_range};

/// `user` (with prefix `p`) is at least `t`'s smallest user key.
fn at_or_after_smallest(t: &Table, user: &[u8], p: u64) -> bool {
    match p.cmp(&t.user_prefixes.0) {
        Ordering::Greater => true,
        Ordering::Less => false,
        Ordering::Equal => user >= user_range(t).0,
    }
}

/// `user` (with prefix `p`) is after `t`'s largest user key.
fn after_largest(t: &Table, user: &[u8], p: u64) -> bool {
    match p.cmp(&t.user_prefixes.1) {
        Ordering::Greater => true,
        Ordering::Less => false,
        Ordering::Equal => user > user_range(t).1,
    }
}

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
    // The same tables, in the same way, as `Version::get` chooses them.
    // Range checks compare the tables' key prefixes first (see
    // `Table::user_prefixes`).
    let p = key::prefix(user);
    let mut probed = 0u64;
    let mut maybe = false;
    for t in &v.levels[0] {
        if at_or_after_smallest(t, user, p) && !after_largest(t, user, p) {
            probed += 1;
            maybe |= t.may_contain(hash);
        }
    }
    for level in &v.levels[1..NUM_LEVELS] {
        let i = level.partition_point(|t| after_largest(t, user, p));
        if let Some(t) = level.get(i)
            && at_or_after_smallest(t, user, p)
        {
            probed += 1;
            maybe |= t.may_contain(hash);
        }
    }
    if maybe {
        return false;
    }
    stats.tables_probed += probed;
    stats.filter_negatives += probed;
    true
}
