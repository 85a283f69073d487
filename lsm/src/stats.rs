//! What [`Db::stats`](crate::Db::stats) reports, and the counters behind it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::db::Inner;
use crate::version::NUM_LEVELS;

/// Files and bytes of one level.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LevelStats {
    /// Number of tables.
    pub files: usize,
    /// Total table bytes.
    pub bytes: u64,
    /// Entries in the level's tables, from each table's properties: every
    /// version of a key and every tombstone counts once.
    pub entries: u64,
    /// Tombstones among [`LevelStats::entries`].
    pub tombstones: u64,
}

/// Counters since open and the tree's current shape.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Per level, L0 first: every keyspace's tables added up
    /// ([`Keyspace::stats`](crate::Keyspace::stats): one keyspace's).
    pub levels: Vec<LevelStats>,
    /// Key and value bytes written by callers.
    pub user_bytes: u64,
    /// Table bytes written by memtable flushes.
    pub flush_bytes: u64,
    /// Table bytes written by compactions.
    pub compaction_bytes: u64,
    /// Value bytes moved into blob files at flush (key-value separation),
    /// before erasure coding (the shards hold `(k + m) / k` times as much).
    pub blob_bytes: u64,
    /// Value bytes copied out of blob files by garbage collection.
    pub blob_gc_bytes: u64,
    /// Blob files the manifest records.
    pub blob_files: usize,
    /// Blob files deleted since open (no table referenced them any more).
    pub blob_files_deleted: u64,
    /// Unlinks of obsolete files (tables, logs, blob files, old manifests)
    /// that failed since open. Never fatal: each such file is retried at
    /// the next scan, or deleted by the next open.
    pub obsolete_delete_failures: u64,
    /// Value bytes in blob files that the current tables reference.
    pub blob_live_bytes: u64,
    /// Value bytes in blob files that no current table references
    /// (overwritten or deleted values; old versions still held by an
    /// iterator count here too).
    pub blob_garbage_bytes: u64,
    /// `(blob_live_bytes + blob_garbage_bytes) / blob_live_bytes`: 1.0 when
    /// nothing is wasted (or no blob exists); garbage collection keeps it
    /// near `1 / (1 - blob_gc_ratio)` at most.
    pub blob_space_amplification: f64,
    /// `(flush_bytes + compaction_bytes + blob_bytes + blob_gc_bytes) /
    /// user_bytes` (the WAL and parity excluded).
    pub write_amplification: f64,
    /// Point lookups served.
    pub gets: u64,
    /// Tables consulted by lookups that missed the memtables.
    pub tables_probed: u64,
    /// Table probes the Bloom filter answered "absent" (no block read).
    pub filter_negatives: u64,
    /// Table probes that passed the filter and read a data block.
    pub filter_positives: u64,
    /// Memtable flushes.
    pub flushes: u64,
    /// Compactions (including trivial moves).
    pub compactions: u64,
    /// Times a writer was paced (one short sleep: L0 deep) or stopped (L0
    /// at its stop trigger, or the memtable full with
    /// `max_write_buffer_number - 1` others waiting for their flush).
    pub write_stalls: u64,
    /// Microseconds writers spent paced or stopped (the waits counted in
    /// [`Stats::write_stalls`]), summed over writers.
    pub write_stall_micros: u64,
    /// Entries in the memtables (live and being flushed): every version and
    /// every tombstone counts once.
    pub memtable_entries: u64,
    /// Tombstones among [`Stats::memtable_entries`].
    pub memtable_tombstones: u64,
    /// The sequence number of the newest write (persistent: it survives a
    /// reopen).
    pub last_sequence: u64,
    /// Tables on an object store ([`Options::table_store`]): requests and
    /// cache hits since open. All zero for local tables.
    ///
    /// [`Options::table_store`]: crate::Options::table_store
    pub table_store: TableStoreStats,
}

/// Requests to the table store and how often the caches kept them off it
/// ([`Stats::table_store`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableStoreStats {
    /// Reads sent to the store: ranged reads of blocks, of windows
    /// (compaction inputs, scans), of table tails at open, and whole
    /// objects (`verify`).
    pub reads: u64,
    /// Bytes those reads returned.
    pub read_bytes: u64,
    /// Tables uploaded (one put each).
    pub puts: u64,
    /// Bytes uploaded.
    pub put_bytes: u64,
    /// Other requests: deletes of obsolete tables, listings, size lookups.
    pub other_requests: u64,
    /// Block lookups of remote tables the memory block cache served.
    pub memory_cache_hits: u64,
    /// Block lookups of remote tables the memory block cache missed.
    pub memory_cache_misses: u64,
    /// Memory misses the disk cache ([`Options::table_cache_dir`]) served.
    ///
    /// [`Options::table_cache_dir`]: crate::Options::table_cache_dir
    pub disk_cache_hits: u64,
    /// Memory misses the disk cache missed (or held damaged).
    pub disk_cache_misses: u64,
}

impl TableStoreStats {
    /// Block lookups served by the memory or disk cache, over all block
    /// lookups of remote tables (1.0 with none).
    pub fn cache_hit_rate(&self) -> f64 {
        let lookups = self.memory_cache_hits + self.memory_cache_misses;
        if lookups == 0 {
            return 1.0;
        }
        (self.memory_cache_hits + self.disk_cache_hits) as f64 / lookups as f64
    }
}

impl Stats {
    /// An estimate of the number of live keys, from metadata alone (no
    /// block read): every entry of the tables and memtables, minus two per
    /// tombstone (the tombstone and, probably, the value it hides), as
    /// RocksDB's `rocksdb.estimate-num-keys`. Overwritten keys count once per
    /// version until a compaction merges them, so it errs high after
    /// overwrites and low after deletes of absent keys.
    pub fn approximate_keys(&self) -> u64 {
        let entries: u64 =
            self.levels.iter().map(|l| l.entries).sum::<u64>() + self.memtable_entries;
        let tombstones: u64 =
            self.levels.iter().map(|l| l.tombstones).sum::<u64>() + self.memtable_tombstones;
        entries.saturating_sub(tombstones.saturating_mul(2))
    }
}

/// The counters [`Db::stats`](crate::Db::stats) reports: atomics, updated without a lock.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) user_bytes: AtomicU64,
    pub(crate) flush_bytes: AtomicU64,
    pub(crate) compaction_bytes: AtomicU64,
    pub(crate) gets: AtomicU64,
    pub(crate) filter_negatives: AtomicU64,
    pub(crate) filter_positives: AtomicU64,
    pub(crate) compactions: AtomicU64,
    pub(crate) flushes: AtomicU64,
    pub(crate) write_stalls: AtomicU64,
    pub(crate) write_stall_micros: AtomicU64,
    pub(crate) blob_bytes: AtomicU64,
    pub(crate) blob_gc_bytes: AtomicU64,
    pub(crate) blob_files_deleted: AtomicU64,
    pub(crate) obsolete_delete_failures: AtomicU64,
}

impl Inner {
    /// The statistics of the whole database: the levels and memtables of
    /// every keyspace, added up.
    pub(crate) fn stats(&self) -> Stats {
        self.stats_of(&self.trees())
    }

    /// The statistics with the levels, memtables and live blob bytes of
    /// `trees` only (the counters are the database's).
    pub(crate) fn stats_of(&self, trees: &[Arc<Inner>]) -> Stats {
        let svs: Vec<_> = trees.iter().map(|t| t.super_version()).collect();
        let c = &self.counters;
        let levels = (0..NUM_LEVELS)
            .map(|l| {
                let tables = || svs.iter().flat_map(|sv| sv.version.levels[l].iter());
                crate::LevelStats {
                    files: tables().count(),
                    bytes: svs.iter().map(|sv| sv.version.level_bytes(l)).sum(),
                    entries: tables().map(|t| t.props.entries).sum(),
                    tombstones: tables().map(|t| t.props.tombstones).sum(),
                }
            })
            .collect();
        let user = c.user_bytes.load(Ordering::Relaxed);
        let blob_bytes = c.blob_bytes.load(Ordering::Relaxed);
        let blob_gc_bytes = c.blob_gc_bytes.load(Ordering::Relaxed);
        let written = c.flush_bytes.load(Ordering::Relaxed)
            + c.compaction_bytes.load(Ordering::Relaxed)
            + blob_bytes
            + blob_gc_bytes;
        let mems = svs
            .iter()
            .flat_map(|sv| std::iter::once(&sv.mem).chain(sv.imm.iter().map(|(m, _)| m)));
        let (blob_files, blob_total, blob_live) = {
            let m = self.versions.manifest.lock();
            let live: u64 = svs
                .iter()
                .map(|sv| {
                    m.blobs
                        .live(&sv.version)
                        .values()
                        .map(|l| l.bytes)
                        .sum::<u64>()
                })
                .sum();
            let total: u64 = m.blobs.files.values().map(|b| b.bytes).sum();
            (m.blobs.files.len(), total, live)
        };
        Stats {
            levels,
            user_bytes: user,
            flush_bytes: c.flush_bytes.load(Ordering::Relaxed),
            compaction_bytes: c.compaction_bytes.load(Ordering::Relaxed),
            blob_bytes,
            blob_gc_bytes,
            blob_files,
            blob_files_deleted: c.blob_files_deleted.load(Ordering::Relaxed),
            obsolete_delete_failures: c.obsolete_delete_failures.load(Ordering::Relaxed),
            blob_live_bytes: blob_live,
            blob_garbage_bytes: blob_total.saturating_sub(blob_live),
            blob_space_amplification: if blob_live == 0 {
                if blob_total == 0 { 1.0 } else { f64::INFINITY }
            } else {
                blob_total as f64 / blob_live as f64
            },
            write_amplification: if user == 0 {
                0.0
            } else {
                written as f64 / user as f64
            },
            gets: c.gets.load(Ordering::Relaxed),
            tables_probed: c.filter_negatives.load(Ordering::Relaxed)
                + c.filter_positives.load(Ordering::Relaxed),
            filter_negatives: c.filter_negatives.load(Ordering::Relaxed),
            filter_positives: c.filter_positives.load(Ordering::Relaxed),
            flushes: c.flushes.load(Ordering::Relaxed),
            compactions: c.compactions.load(Ordering::Relaxed),
            write_stalls: c.write_stalls.load(Ordering::Relaxed),
            write_stall_micros: c.write_stall_micros.load(Ordering::Relaxed),
            memtable_entries: mems.clone().map(|m| m.len() as u64).sum(),
            memtable_tombstones: mems.map(|m| m.tombstones() as u64).sum(),
            last_sequence: self.latest_seq().0,
            table_store: self
                .tables
                .remote()
                .map(|r| {
                    let c = &r.counters;
                    let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
                    TableStoreStats {
                        reads: n(&c.reads),
                        read_bytes: n(&c.read_bytes),
                        puts: n(&c.puts),
                        put_bytes: n(&c.put_bytes),
                        other_requests: n(&c.other_requests),
                        memory_cache_hits: n(&c.memory_hits),
                        memory_cache_misses: n(&c.memory_misses),
                        disk_cache_hits: n(&c.disk_hits),
                        disk_cache_misses: n(&c.disk_misses),
                    }
                })
                .unwrap_or_default(),
        }
    }
}
