//! Tuning knobs, with units in their names.

use std::path::PathBuf;
use std::sync::Arc;

/// When an acknowledged write becomes durable: the workspace's vocabulary,
/// the same variants with the same meaning as `btree`'s `Durability`
/// ([docs/api-conventions.md](https://github.com/kv-family/larder/blob/main/docs/api-conventions.md)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// Every write syncs the log before it returns: acknowledged means durable.
    Immediate,
    /// Group commit: concurrent writers share one sync. Each write still
    /// returns only once a sync covering it returned (acknowledged means
    /// durable), but one `fdatasync` serves a whole group.
    Group,
    /// No sync on write: acknowledged at once, durable after the next
    /// [`Db::sync`](crate::Db::sync), [`Db::flush`](crate::Db::flush) or
    /// [`Db::close`](crate::Db::close); a crash loses a suffix of the writes
    /// since then. The default (see the README, "Durability", for why).
    None,
}

/// Options of [`Db::open`](crate::Db::open).
#[derive(Clone, Debug)]
pub struct Options {
    /// When writes are synced. Default [`Durability::None`].
    pub durability: Durability,
    /// Memtable size that triggers a switch and a background flush.
    /// Default 64 MiB (RocksDB's and fjall's default): fewer, larger L0
    /// tables mean fewer tables per lookup and less rewriting. Memory: up
    /// to `max_write_buffer_number` memtables; recovery replays up to that
    /// many logs of this size.
    pub write_buffer_size_bytes: usize,
    /// Memtables held at most: the live one and the ones switched out and
    /// waiting for (or in) their flush, flushed oldest first. A writer
    /// whose memtable is full with this many held stops until a flush
    /// ends. Default 2 (RocksDB's default): one memtable flushing while
    /// the next fills. More let a waiting memtable absorb a flush slowed
    /// by a compaction or the disk instead of stopping writers, for up to
    /// `n * write_buffer_size_bytes` of memory, with every [`Durability`].
    /// At least 2.
    pub max_write_buffer_number: usize,
    /// Target size of uncompressed data blocks. Default 4 KiB.
    pub block_size_bytes: usize,
    /// Entries between restart points in a data block. Default 16.
    pub block_restart_interval: usize,
    /// Bloom filter bits per key; 0 disables filters. Default 10.
    pub bloom_bits_per_key: usize,
    /// Compress blocks with LZ4 when that saves space. Default true.
    pub compression: bool,
    /// Shallowest level whose tables are compressed (when `compression`).
    /// Default 2: L0 and L1 tables are rewritten soon after they are
    /// written, so compressing them spends CPU on the write path (and
    /// decompression on every read of them) for space held briefly; most
    /// data lives deeper. fjall's default policy is the same.
    pub compression_min_level: usize,
    /// Block cache capacity. Default 64 MiB.
    pub block_cache_bytes: usize,
    /// Target size of a compaction output table. Default 4 MiB.
    pub table_size_target_bytes: u64,
    /// Maximum bytes of level 1; each deeper level holds 10x more. Default
    /// 256 MiB: `l0_compaction_trigger` memtables, so an L0 compaction
    /// does not overflow L1 at once (RocksDB's rule and default).
    pub level1_bytes_max: u64,
    /// Number of L0 tables that triggers a compaction. Default 4.
    pub l0_compaction_trigger: usize,
    /// Number of L0 tables at which writes are paced to
    /// `delayed_write_rate_bytes_per_sec` (falling linearly to an eighth of
    /// it as L0 nears `l0_stop_trigger`), by a token bucket that delays
    /// writes in steps of a fraction of a millisecond. Default 12.
    pub l0_slowdown_trigger: usize,
    /// Number of L0 tables at which writes wait for compaction once the
    /// memtable is full (until then they go on at the slowest pace).
    /// Default 20.
    pub l0_stop_trigger: usize,
    /// Bytes per second writes are paced to once L0 reaches
    /// `l0_slowdown_trigger`. Default 16 MiB/s (RocksDB's
    /// `delayed_write_rate`). At least 1.
    pub delayed_write_rate_bytes_per_sec: u64,
    /// Create the directory if missing. Default true.
    pub create_if_missing: bool,
    /// Key-value separation: a value of at least this many bytes is moved
    /// into a blob file when its memtable is flushed, and the table keeps a
    /// 32-byte reference. `None` turns separation off. Default 4 KiB.
    pub blob_threshold_bytes: Option<usize>,
    /// Blob garbage collection: a compaction copies the live values out of
    /// a blob file once at least this fraction of its bytes is garbage
    /// (overwritten or deleted), so the file can be deleted. In `(0, 1]`;
    /// 1 collects nothing (a blob file still goes once wholly garbage).
    /// Default 0.5.
    pub blob_gc_ratio: f64,
    /// The `data_shards + parity_shards` directories of the erasure-coded
    /// blob store, one per shard (put them on different disks). Empty: one
    /// directory `blobs` inside the database directory (needs
    /// [`BlobCode::SINGLE`]).
    pub blob_dirs: Vec<PathBuf>,
    /// Blob files on object stores instead of directories: the
    /// `data_shards + parity_shards` stores (buckets, endpoints) of the
    /// erasure-coded blob store, store `i` holding shard `i` of every blob
    /// file (objects `MANIFEST` and `blobs/<id>.shard`, see `FORMAT.md`).
    /// Any `parity_shards` of them may be lost, or hold rotten shards,
    /// without losing a value; writing a blob file needs all of them. Each
    /// shard is uploaded whole (multipart where the store does that for
    /// large objects) and the manifest names a blob file only after every
    /// upload returned. A single store with [`BlobCode::SINGLE`] is the
    /// plain case. Empty (the default): blob files are in directories
    /// ([`Options::blob_dirs`]); setting both is refused. See the crate
    /// README, "Blob files on object storage".
    pub blob_stores: Vec<Arc<dyn objstore::Store>>,
    /// Data and parity shards of the blob store's Reed-Solomon code.
    /// Default [`BlobCode::SINGLE`].
    pub blob_code: BlobCode,
    /// Where tables live. `None` (the default): files in the database
    /// directory, through the `vfs` and mapped for reads. `Some(store)`:
    /// objects `tables/NNNNNN.sst` in `store`, each uploaded whole once
    /// built and named in the manifest only after the upload returned;
    /// blocks are read with ranged reads through the block cache (and the
    /// disk cache of [`Options::table_cache_dir`]). The logs, the manifest
    /// and the blob files stay in the directory either way. A store keeps
    /// the place its tables were created in: a table the manifest names
    /// that is not in the store is reported as missing, never skipped. See
    /// the crate README, "Tables on object storage".
    pub table_store: Option<Arc<dyn objstore::Store>>,
    /// With [`Options::table_store`]: a local directory (on the database's
    /// file system) that keeps table blocks read from the store, up to
    /// [`Options::table_cache_dir_bytes_max`], so hot reads stay off the
    /// network after the memory cache evicted them. Each entry is a block
    /// as stored, checked by its CRC when read: a damaged entry is dropped
    /// and read again from the store. `None` (the default): no disk cache.
    pub table_cache_dir: Option<PathBuf>,
    /// Bytes the disk cache holds at most; the oldest entries go first.
    /// Default 1 GiB.
    pub table_cache_dir_bytes_max: u64,
    /// With [`Options::table_store`]: after every manifest edit, publish
    /// the tables of each level in the store as a new object
    /// `manifest/NNNNNNNNNNNNNNNNNNNN`, created with a conditional put, so
    /// that [`Reader`](crate::Reader)s on other machines can follow the
    /// writer, and so that of two writers publishing to one store the one
    /// that opened last wins: the other gets [`Error::Fenced`](crate::Error::Fenced)
    /// at its next durable point (a synced write or group commit, `sync`,
    /// `flush`, a flush or compaction of its own) and stops. The published
    /// manifest is authoritative: a writer opening a directory without a
    /// local manifest (another machine) takes over from the newest one,
    /// and a directory whose writer another has superseded since is
    /// refused with `Error::Fenced`. Default false.
    pub publish_manifest: bool,
    /// Combines merge operands ([`Db::merge`](crate::Db::merge)) with
    /// older values (see [`MergeOperator`](crate::MergeOperator)). Its
    /// name is recorded in the manifest at open; a store that records a
    /// name opens only with an operator of the same name, or with none
    /// (then merges are refused and reads of a key with operands fail with
    /// [`Error::MergeOperatorMissing`](crate::Error::MergeOperatorMissing)).
    /// Default `None`.
    pub merge_operator: Option<Arc<dyn crate::MergeOperator>>,
    /// Time to live: entries written while it is set expire this long after
    /// their write (by [`Options::clock`]); reads stop seeing them at once
    /// and compaction drops them. Entries written without a TTL never
    /// expire; an entry's expiry is judged with the TTL of the handle
    /// reading it (README, "Time to live"). At least 1 ms. Not together
    /// with [`Options::merge_operator`] (refused at open). Default `None`.
    pub ttl: Option<std::time::Duration>,
    /// The clock [`Options::ttl`] reads. Default [`SystemClock`](crate::SystemClock);
    /// tests inject a [`ManualClock`](crate::ManualClock).
    pub clock: Arc<dyn crate::Clock>,
    /// Consulted by compaction for the newest version of each key no
    /// snapshot sees, to keep, remove or rewrite it (see
    /// [`CompactionFilter`](crate::CompactionFilter)). Default `None`.
    pub compaction_filter: Option<Arc<dyn crate::CompactionFilter>>,
}

/// The Reed-Solomon code of the blob store: each blob is cut into
/// `data_shards` shards and `parity_shards` more are computed from them, one
/// per directory of [`Options::blob_dirs`]; any `parity_shards` of those
/// directories may be lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlobCode {
    /// Shards holding the blob's bytes (`k`). At least 1.
    pub data_shards: usize,
    /// Shards computed from the data shards (`m`); that many may be lost.
    pub parity_shards: usize,
}

impl BlobCode {
    /// One data shard and no parity: the default, a plain file per blob in
    /// one directory.
    pub const SINGLE: BlobCode = BlobCode {
        data_shards: 1,
        parity_shards: 0,
    };

    /// Directories the code needs: `data_shards + parity_shards`.
    pub fn shards(&self) -> usize {
        self.data_shards + self.parity_shards
    }
}

impl Default for BlobCode {
    fn default() -> BlobCode {
        BlobCode::SINGLE
    }
}

impl Default for Options {
    fn default() -> Options {
        Options {
            durability: Durability::None,
            write_buffer_size_bytes: 64 << 20,
            max_write_buffer_number: 2,
            block_size_bytes: 4096,
            block_restart_interval: 16,
            bloom_bits_per_key: 10,
            compression: true,
            compression_min_level: 2,
            block_cache_bytes: 64 << 20,
            table_size_target_bytes: 4 << 20,
            level1_bytes_max: 256 << 20,
            l0_compaction_trigger: 4,
            l0_slowdown_trigger: 12,
            l0_stop_trigger: 20,
            delayed_write_rate_bytes_per_sec: 16 << 20,
            create_if_missing: true,
            blob_threshold_bytes: Some(4096),
            blob_gc_ratio: 0.5,
            blob_dirs: Vec::new(),
            blob_stores: Vec::new(),
            blob_code: BlobCode::SINGLE,
            table_store: None,
            table_cache_dir: None,
            table_cache_dir_bytes_max: 1 << 30,
            publish_manifest: false,
            merge_operator: None,
            ttl: None,
            clock: Arc::new(crate::SystemClock),
            compaction_filter: None,
        }
    }
}

impl Options {
    pub(crate) fn validate(&self) -> crate::Result<()> {
        use crate::Error::InvalidOption;
        if self.block_restart_interval == 0 {
            return Err(InvalidOption("block_restart_interval must be at least 1"));
        }
        if self.write_buffer_size_bytes < 1024 {
            return Err(InvalidOption(
                "write_buffer_size_bytes must be at least 1024",
            ));
        }
        if self.max_write_buffer_number < 2 {
            return Err(InvalidOption("max_write_buffer_number must be at least 2"));
        }
        if self.l0_compaction_trigger == 0
            || self.l0_slowdown_trigger < self.l0_compaction_trigger
            || self.l0_stop_trigger < self.l0_slowdown_trigger
        {
            return Err(InvalidOption(
                "need 0 < l0_compaction_trigger <= l0_slowdown_trigger <= l0_stop_trigger",
            ));
        }
        if self.delayed_write_rate_bytes_per_sec == 0 {
            return Err(InvalidOption(
                "delayed_write_rate_bytes_per_sec must be at least 1",
            ));
        }
        if !(self.blob_gc_ratio > 0.0 && self.blob_gc_ratio <= 1.0) {
            return Err(InvalidOption("blob_gc_ratio must be in (0, 1]"));
        }
        crate::merge::validate(self)?;
        if self.ttl.is_some_and(|t| t.as_millis() == 0) {
            return Err(InvalidOption("ttl must be at least 1 ms"));
        }
        // Which write a merged value's expiry follows (the base's, the
        // newest operand's) is not defined yet: refused rather than
        // guessed.
        if self.ttl.is_some() && self.merge_operator.is_some() {
            return Err(InvalidOption(
                "ttl and merge_operator together are not supported",
            ));
        }
        if self.blob_threshold_bytes == Some(0) {
            return Err(InvalidOption("blob_threshold_bytes must be at least 1"));
        }
        if !self.blob_stores.is_empty() {
            if !self.blob_dirs.is_empty() {
                return Err(InvalidOption(
                    "blob files live in blob_dirs or in blob_stores: set one of them",
                ));
            }
            if self.blob_stores.len() != self.blob_code.shards() {
                return Err(InvalidOption(
                    "blob_stores must hold data_shards + parity_shards stores, one per shard",
                ));
            }
        }
        if self.blob_threshold_bytes.is_some()
            && self.blob_stores.is_empty()
            && (if self.blob_dirs.is_empty() {
                self.blob_code != BlobCode::SINGLE
            } else {
                self.blob_dirs.len() != self.blob_code.shards()
            })
        {
            return Err(InvalidOption(
                "blob_dirs must hold data_shards + parity_shards directories (or be empty with \
                 BlobCode::SINGLE)",
            ));
        }
        if self.publish_manifest && self.table_store.is_none() {
            return Err(InvalidOption(
                "publish_manifest publishes to the table_store: set both",
            ));
        }
        if self.table_cache_dir.is_some() && self.table_store.is_none() {
            return Err(InvalidOption(
                "table_cache_dir caches blocks of a table_store: set both",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_than_two_memtables_are_allowed_with_every_sync_mode() {
        for sync in [Durability::None, Durability::Immediate, Durability::Group] {
            for max_write_buffer_number in [2, 3, 5] {
                let o = Options {
                    durability: sync,
                    max_write_buffer_number,
                    ..Options::default()
                };
                assert!(o.validate().is_ok(), "{sync:?}, {max_write_buffer_number}");
            }
        }
        let one = Options {
            max_write_buffer_number: 1,
            ..Options::default()
        };
        assert!(one.validate().is_err());
    }
    use crate::Error;

    #[test]
    fn blob_code_must_match_the_blob_directories() {
        assert!(Options::default().validate().is_ok());
        let rs2_1 = BlobCode {
            data_shards: 2,
            parity_shards: 1,
        };
        assert_eq!(rs2_1.shards(), 3);
        let no_dirs = Options {
            blob_code: rs2_1,
            ..Options::default()
        };
        assert!(matches!(no_dirs.validate(), Err(Error::InvalidOption(_))));
        let two_dirs = Options {
            blob_code: rs2_1,
            blob_dirs: vec!["a".into(), "b".into()],
            ..Options::default()
        };
        assert!(matches!(two_dirs.validate(), Err(Error::InvalidOption(_))));
        let three_dirs = Options {
            blob_code: rs2_1,
            blob_dirs: vec!["a".into(), "b".into(), "c".into()],
            ..Options::default()
        };
        assert!(three_dirs.validate().is_ok());
        // Without separation the blob store's layout is not checked.
        let off = Options {
            blob_threshold_bytes: None,
            ..no_dirs
        };
        assert!(off.validate().is_ok());
        let zero = Options {
            blob_threshold_bytes: Some(0),
            ..Options::default()
        };
        assert!(matches!(zero.validate(), Err(Error::InvalidOption(_))));
    }

    #[test]
    fn blob_stores_must_match_the_code_and_exclude_blob_dirs() {
        let store = || -> Arc<dyn objstore::Store> { Arc::new(objstore::MemStore::new()) };
        let rs2_1 = BlobCode {
            data_shards: 2,
            parity_shards: 1,
        };
        let single = Options {
            blob_stores: vec![store()],
            ..Options::default()
        };
        assert!(single.validate().is_ok());
        let three = Options {
            blob_code: rs2_1,
            blob_stores: vec![store(), store(), store()],
            ..Options::default()
        };
        assert!(three.validate().is_ok());
        let two = Options {
            blob_stores: vec![store(), store()],
            ..three.clone()
        };
        assert!(
            matches!(two.validate(), Err(Error::InvalidOption(m)) if m.contains("blob_stores"))
        );
        let both = Options {
            blob_dirs: vec!["a".into(), "b".into(), "c".into()],
            ..three
        };
        assert!(matches!(both.validate(), Err(Error::InvalidOption(m)) if m.contains("blob_dirs")));
    }
}
