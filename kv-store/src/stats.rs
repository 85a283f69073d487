//! What `stats` and `compact` report, as text and as JSON, and the number
//! formats the tool prints (`1,319,003/s`, `34.5 MiB`).
//!
//! A store's facts are persistent (they read the same after a reopen):
//! levels, files, bytes, entries, the last sequence number, blob files and
//! garbage for `lsm`; entries, height, pages and file size for `btree`.
//! `lsm`'s counters (gets, filter hits, flushes...) count since the store
//! was opened, so a one-shot `kv-store stats` would show zeros: they are
//! printed only once something was counted (in the `shell`), under
//! `since this open`, and in JSON as the `since_open` object.

use std::fmt;
use std::time::Duration;

use serde_json::{Value, json};

/// One non-empty `lsm` level.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LevelFacts {
    /// The level (0 is the newest).
    pub level: usize,
    /// Tables in it.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Their entries (every version and tombstone once).
    pub entries: u64,
}

/// `lsm`'s counters since the store was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LsmCounters {
    /// Key and value bytes written by callers.
    pub user_bytes: u64,
    /// Table bytes written by flushes.
    pub flush_bytes: u64,
    /// Table bytes written by compactions.
    pub compaction_bytes: u64,
    /// Bytes written per user byte.
    pub write_amplification: f64,
    /// Point lookups.
    pub gets: u64,
    /// Tables probed by lookups.
    pub tables_probed: u64,
    /// Probes the filter answered "absent".
    pub filter_negatives: u64,
    /// Probes that passed the filter.
    pub filter_positives: u64,
    /// Memtable flushes.
    pub flushes: u64,
    /// Compactions.
    pub compactions: u64,
    /// Writers slowed or stopped.
    pub write_stalls: u64,
}

impl LsmCounters {
    fn is_zero(&self) -> bool {
        self.user_bytes == 0 && self.gets == 0 && self.flushes == 0 && self.compactions == 0
    }
}

/// The persistent facts of an `lsm` store.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LsmFacts {
    /// Live keys, estimated from metadata ([`lsm::Stats::approximate_keys`]).
    pub approximate_keys: u64,
    /// The sequence number of the newest write.
    pub last_sequence: u64,
    /// Non-empty levels, L0 first.
    pub levels: Vec<LevelFacts>,
    /// Entries in the memtables (replayed from the logs at open).
    pub memtable_entries: u64,
    /// Blob files.
    pub blob_files: u64,
    /// Value bytes in blob files that tables reference.
    pub blob_live_bytes: u64,
    /// Value bytes in blob files that no table references.
    pub blob_garbage_bytes: u64,
    /// The counters since open.
    pub since_open: LsmCounters,
}

impl LsmFacts {
    /// Reads them from `lsm`'s stats.
    pub fn from_lsm(s: &lsm::Stats) -> LsmFacts {
        LsmFacts {
            approximate_keys: s.approximate_keys(),
            last_sequence: s.last_sequence,
            levels: s
                .levels
                .iter()
                .enumerate()
                .filter(|(_, l)| l.files > 0)
                .map(|(level, l)| LevelFacts {
                    level,
                    files: l.files as u64,
                    bytes: l.bytes,
                    entries: l.entries,
                })
                .collect(),
            memtable_entries: s.memtable_entries,
            blob_files: s.blob_files as u64,
            blob_live_bytes: s.blob_live_bytes,
            blob_garbage_bytes: s.blob_garbage_bytes,
            since_open: LsmCounters {
                user_bytes: s.user_bytes,
                flush_bytes: s.flush_bytes,
                compaction_bytes: s.compaction_bytes,
                write_amplification: s.write_amplification,
                gets: s.gets,
                tables_probed: s.tables_probed,
                filter_negatives: s.filter_negatives,
                filter_positives: s.filter_positives,
                flushes: s.flushes,
                compactions: s.compactions,
                write_stalls: s.write_stalls,
            },
        }
    }

    fn table_files(&self) -> u64 {
        self.levels.iter().map(|l| l.files).sum()
    }

    fn table_bytes(&self) -> u64 {
        self.levels.iter().map(|l| l.bytes).sum()
    }
}

/// The persistent facts of a `btree` store.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BtreeFacts {
    /// Keys (exact: the tree counts them).
    pub entries: u64,
    /// Levels of the tree (1: the root is a leaf).
    pub height: u32,
    /// Page size.
    pub page_size_bytes: u32,
    /// Pages in the file.
    pub pages: u64,
    /// Branch pages.
    pub branch_pages: u64,
    /// Leaf pages.
    pub leaf_pages: u64,
    /// Overflow pages (long values).
    pub overflow_pages: u64,
    /// Pages of the free-page tree.
    pub free_tree_pages: u64,
    /// Free pages, reused by later commits.
    pub free_pages: u64,
    /// The file's length.
    pub file_size_bytes: u64,
    /// Used fraction of the leaf pages.
    pub leaf_fill_factor: f64,
    /// Which meta page open took, and what the other holds.
    pub meta: String,
}

/// What `stats` reports about a store.
#[derive(Clone, Debug, PartialEq)]
pub enum StoreStats {
    /// An `lsm` store.
    Lsm(LsmFacts),
    /// A `btree` store.
    Btree(BtreeFacts),
}

impl StoreStats {
    /// The store's engine files and their bytes, for `compact`'s report:
    /// tables plus blob files (their value bytes) for `lsm`, the one file
    /// for `btree`.
    pub fn footprint(&self) -> (u64, u64) {
        match self {
            StoreStats::Lsm(l) => (
                l.table_files() + l.blob_files,
                l.table_bytes() + l.blob_live_bytes + l.blob_garbage_bytes,
            ),
            StoreStats::Btree(b) => (1, b.file_size_bytes),
        }
    }

    /// The facts as one JSON object; the field names are listed in the
    /// kv-store README. `since_open` appears only when a counter is not 0.
    pub fn to_json(&self) -> Value {
        match self {
            StoreStats::Lsm(l) => {
                let levels: Vec<Value> = l
                    .levels
                    .iter()
                    .map(|v| {
                        json!({
                            "level": v.level,
                            "files": v.files,
                            "bytes": v.bytes,
                            "entries": v.entries,
                        })
                    })
                    .collect();
                let mut o = json!({
                    "engine": "lsm",
                    "approximate_keys": l.approximate_keys,
                    "last_sequence": l.last_sequence,
                    "levels": levels,
                    "table_files": l.table_files(),
                    "table_bytes": l.table_bytes(),
                    "memtable_entries": l.memtable_entries,
                    "blob_files": l.blob_files,
                    "blob_live_bytes": l.blob_live_bytes,
                    "blob_garbage_bytes": l.blob_garbage_bytes,
                });
                let c = &l.since_open;
                if !c.is_zero() {
                    o["since_open"] = json!({
                        "user_bytes": c.user_bytes,
                        "flush_bytes": c.flush_bytes,
                        "compaction_bytes": c.compaction_bytes,
                        "write_amplification": c.write_amplification,
                        "gets": c.gets,
                        "tables_probed": c.tables_probed,
                        "filter_negatives": c.filter_negatives,
                        "filter_positives": c.filter_positives,
                        "flushes": c.flushes,
                        "compactions": c.compactions,
                        "write_stalls": c.write_stalls,
                    });
                }
                o
            }
            StoreStats::Btree(b) => json!({
                "engine": "btree",
                "entries": b.entries,
                "height": b.height,
                "page_size_bytes": b.page_size_bytes,
                "pages": b.pages,
                "branch_pages": b.branch_pages,
                "leaf_pages": b.leaf_pages,
                "overflow_pages": b.overflow_pages,
                "free_tree_pages": b.free_tree_pages,
                "free_pages": b.free_pages,
                "file_size_bytes": b.file_size_bytes,
                "leaf_fill_factor": b.leaf_fill_factor,
                "meta": b.meta,
            }),
        }
    }
}

impl fmt::Display for StoreStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreStats::Lsm(l) => {
                writeln!(f, "engine: lsm")?;
                writeln!(
                    f,
                    "approximate keys: {} (from table metadata; `count` gives the exact number)",
                    thousands(l.approximate_keys)
                )?;
                writeln!(f, "last sequence number: {}", l.last_sequence)?;
                for v in &l.levels {
                    writeln!(
                        f,
                        "level {}: {} file(s), {} ({} bytes), {} entries",
                        v.level,
                        v.files,
                        human_bytes(v.bytes),
                        v.bytes,
                        thousands(v.entries)
                    )?;
                }
                writeln!(
                    f,
                    "tables: {} file(s), {} ({} bytes)",
                    l.table_files(),
                    human_bytes(l.table_bytes()),
                    l.table_bytes()
                )?;
                writeln!(f, "memtable entries: {}", thousands(l.memtable_entries))?;
                write!(
                    f,
                    "blob files: {}, live value bytes: {}, garbage bytes: {}",
                    l.blob_files, l.blob_live_bytes, l.blob_garbage_bytes
                )?;
                let c = &l.since_open;
                if !c.is_zero() {
                    write!(
                        f,
                        "\nsince this open:\n  user bytes written: {}, flushed: {}, compacted: {}, \
                         write amplification: {:.2}\n  gets: {}, tables probed: {}, filter \
                         negatives: {}, filter positives: {}\n  flushes: {}, compactions: {}, \
                         write stalls: {}",
                        c.user_bytes,
                        c.flush_bytes,
                        c.compaction_bytes,
                        c.write_amplification,
                        c.gets,
                        c.tables_probed,
                        c.filter_negatives,
                        c.filter_positives,
                        c.flushes,
                        c.compactions,
                        c.write_stalls
                    )?;
                }
                Ok(())
            }
            StoreStats::Btree(b) => write!(
                f,
                "engine: btree\n\
                 entries: {}\n\
                 height: {}\n\
                 pages: {} of {} bytes ({} branch, {} leaf, {} overflow, {} free-tree, {} free)\n\
                 file size: {} ({} bytes)\n\
                 leaf fill factor: {:.2}\n\
                 meta pages: {}",
                thousands(b.entries),
                b.height,
                b.pages,
                b.page_size_bytes,
                b.branch_pages,
                b.leaf_pages,
                b.overflow_pages,
                b.free_tree_pages,
                b.free_pages,
                human_bytes(b.file_size_bytes),
                b.file_size_bytes,
                b.leaf_fill_factor,
                b.meta
            ),
        }
    }
}

/// `n` with a comma between each group of three digits: `1,319,003`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1 file`, `12 files`.
pub(crate) fn files(n: u64) -> String {
    if n == 1 {
        "1 file".to_string()
    } else {
        format!("{n} files")
    }
}

/// `count` per second over `elapsed`, as a whole number with thousands
/// separators: `1,319,003/s`. A zero `elapsed` counts as one nanosecond.
pub(crate) fn per_second(count: u64, elapsed: Duration) -> String {
    let rate = count as f64 / elapsed.as_secs_f64().max(1e-9);
    // `as` saturates: an absurd rate prints as u64::MAX, never panics.
    format!("{}/s", thousands(rate.round() as u64))
}

/// Bytes in binary units with one decimal: `512 B`, `34.5 MiB`.
pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A duration in seconds with one decimal (`1.2 s`), or milliseconds
/// below a tenth of a second (`35 ms`).
pub(crate) fn human_duration(d: Duration) -> String {
    if d < Duration::from_millis(100) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_319_003), "1,319,003");
        assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
    }

    #[test]
    fn rates_are_whole_numbers() {
        let d = Duration::from_secs_f64(0.758_150_3);
        assert_eq!(per_second(1_000_000, d), "1,319,000/s");
        assert_eq!(per_second(7, Duration::ZERO), "7,000,000,000/s");
    }

    #[test]
    fn bytes_and_durations() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(36_175_872), "34.5 MiB");
        assert_eq!(human_duration(Duration::from_millis(35)), "35 ms");
        assert_eq!(human_duration(Duration::from_millis(1234)), "1.2 s");
    }
}
