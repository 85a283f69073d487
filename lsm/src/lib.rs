//! An embedded, ordered key-value engine: a log-structured merge tree with a
//! write-ahead log, a concurrent memtable, checksummed SSTables with Bloom
//! filters, and leveled compaction on a background thread. Large values are
//! separated into erasure-coded blob files (the `erasure` crate). Tables
//! may live on an object store ([`Options::table_store`], any
//! `objstore::Store`), where a writer can also publish its manifest for
//! [`Reader`]s on other machines (README, "Tables on object storage").
//!
//! ```
//! use larder_lsm::{Db, Options};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let db = Db::open(dir.path(), Options::default())?;
//! db.put("apple", "red")?;
//! db.put("banana", "yellow")?;
//! db.delete("apple")?;
//! assert_eq!(db.get(b"banana")?.as_deref(), Some(&b"yellow"[..]));
//! assert_eq!(db.get(b"apple")?, None);
//! let snap = db.snapshot();
//! db.put("cherry", "dark")?;
//! assert_eq!(snap.get(b"cherry")?, None);
//! let keys: Vec<_> = db.iter().rev().map(|r| r.map(|(k, _)| k)).collect::<Result<_, _>>()?;
//! assert_eq!(keys, ["cherry", "banana"]);
//! db.close()?;
//! # Ok(())
//! # }
//! ```
//!
//! The API follows the workspace's conventions, shared with `btree`
//! ([docs/api-conventions.md](https://github.com/kv-family/larder/blob/main/docs/api-conventions.md)): [`Db::open`] by path and
//! [`Db::open_with_fs`] on any file system, [`Error::Io`] for the file
//! layer's errors, `iter()` wherever `range` is, a cheap `Clone` handle, and
//! [`Options::durability`] with the [`Durability`] both engines name alike.
//! The default, [`Durability::None`], is LevelDB's and RocksDB's: a write is
//! one small log record, and a sync for each would cap a writer at the
//! disk's sync rate; a crash loses at most the writes since the last
//! `sync`, `flush` or `close` (README, "Durability").
//!
//! The files, one line each on what they own (`db.rs`'s module doc has
//! the locks, what each guards and the order they are taken in):
//!
//! - `db`: the handles, [`Db`], the core every keyspace shares and each
//!   keyspace's tree, and their lifecycle (`close`); `lifecycle`: open,
//!   closing, closed or failed.
//! - `keyspace`: [`Keyspace`], named trees with their own memtables, tables
//!   and [`KeyspaceOptions`] over the one log and manifest; creating and
//!   dropping them.
//! - `open`: [`Db::open_with_fs`] and [`Db::open_read_only_with_fs`],
//!   ending in one constructor.
//! - `recovery`: from a directory to the state an open starts from, reading
//!   only; what is damage and what a crash left (`FORMAT.md`, "Recovery").
//! - `commit`: the commit pipeline: log append, sync, memtable insert,
//!   sequence publication, group commit, write stalls and slowdowns.
//! - `read`: point lookups, iterators and [`Snapshot`]s.
//! - `version_set`: the manifest, file numbers and blob accounting; an
//!   edit logged and applied is the only way to publish a version.
//! - `background`: the flush and compaction threads, and [`Db::wait_idle`].
//! - `flush`: a memtable to an L0 table; `builder`: writing one table.
//! - `compaction`: picking (`picker`), merging (`job`) and running
//!   (`run`) leveled compactions.
//! - `obsolete`: deleting tables, logs and blob files no version needs,
//!   by one policy (a failed unlink is counted and retried, never fatal).
//! - `batch`: [`WriteBatch`], atomic groups of writes, and their log encoding.
//! - `wal`: the write-ahead log (32 KiB blocks of checksummed records).
//! - `memtable`: the concurrent skiplist writes land in.
//! - `sstable`: tables (blocks, index, filter, properties, footer).
//! - `tables`: where tables live (the directory, or an object store with
//!   its request counters and disk cache), the manifest published on the
//!   store and writer fencing; `reader`: [`Reader`], a read-only view of a
//!   published database.
//! - `filter`: the per-table Bloom filter (the `bloom` crate's blocked filter).
//! - `cache`: the byte-bounded block cache.
//! - `probe`: a point lookup's first pass, over the filters only.
//! - `version`, `manifest`: the live table set and its log of edits
//!   (with the file names and the `FileNumber` and `LogLength` types).
//! - `iter`: merging iterators and [`DbIter`].
//! - `blob`: key-value separation: large values in erasure-coded blob files,
//!   and their garbage collection.
//! - `range_del`: range deletes ([`Db::delete_range`]): fragmented range
//!   tombstones, kept per memtable and per table, applied by reads and
//!   compaction.
//! - `transaction`: [`Db::transaction`], optimistic transactions
//!   ([`Transaction`]): snapshot reads, buffered writes, a commit that
//!   fails with [`Error::Conflict`] if a key it read or writes changed.
//! - `ttl`: [`Options::ttl`], timed entries and the [`Clock`] they are
//!   judged by; `compaction_filter`: [`CompactionFilter`], consulted by
//!   compaction, and the TTL step run beside it.
//! - `ingest`: [`TableWriter`] and [`Db::ingest`], bulk ingest of
//!   sorted runs written outside the database.
//! - `checkpoint`: [`Db::checkpoint`], a consistent copy of a live store
//!   that opens on its own (tables and blobs hard-linked where possible).
//! - `inspect`: [`Db::describe`], the store's files explained ([`StoreDescription`]).
//! - `verify`: [`Db::verify`] and [`Db::repair_blobs`] ([`VerifyReport`]).
//! - `merge`: [`MergeOperator`] and the two shipped ([`U64AddOperator`],
//!   [`AppendOperator`]): operands folded on read, combined at flush and
//!   in compaction.
//! - `stats`: [`Db::stats`] ([`Stats`]) and the counters behind it.
//! - `key`, `varint`, `error`, `options`: internal keys and the `SeqNo`
//!   type, varints, [`Error`], [`Options`].
//!
//! Limits: keys up to [`KEY_LEN_MAX`] bytes, values up to [`VALUE_LEN_MAX`];
//! 7 levels. The on-disk format is in `FORMAT.md`; durability and tuning in
//! `README.md`.

// `unsafe` only in the memtable's skiplist (`memtable/skiplist.rs`), which
// allows it for itself; every block argues its safety.
#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![deny(clippy::unwrap_used)]

mod background;
mod batch;
mod blob;
mod builder;
mod cache;
mod checkpoint;
mod commit;
mod compaction;
mod compaction_filter;
mod db;
mod error;
mod filter;
mod flush;
mod ingest;
mod inspect;
mod iter;
mod key;
mod keyspace;
mod lifecycle;
mod manifest;
mod memtable;
mod merge;
mod obsolete;
mod open;
mod options;
mod probe;
mod range_del;
mod read;
mod reader;
mod recovery;
mod sstable;
mod stats;
mod tables;
mod transaction;
mod ttl;
mod varint;
mod verify;
mod version;
mod version_set;
mod wal;

pub use batch::WriteBatch;
pub use checkpoint::CheckpointInfo;
pub use compaction_filter::{CompactionFilter, Decision};
pub use db::Db;
pub use error::{Error, Result};
pub use ingest::{IngestInfo, IngestMethod, IngestedTable, TableWriter, WrittenTable};
pub use inspect::{
    BlobFileDescription, BlobStoreDescription, KeyspaceDescription, LevelDescription,
    LogDescription, ManifestDescription, StoreDescription, TableDescription,
};
pub use iter::DbIter;
pub use keyspace::{DEFAULT_NAME, KEYSPACE_NAME_LEN_MAX, Keyspace, KeyspaceOptions};
pub use merge::{AppendOperator, MergeFailure, MergeOperator, U64AddOperator};
pub use options::{BlobCode, Durability, Options};
pub use read::Snapshot;
pub use reader::Reader;
pub use stats::{LevelStats, Stats, TableStoreStats};
pub use tables::scoped_store;
pub use transaction::Transaction;
pub use ttl::{Clock, ManualClock, SystemClock};
pub use verify::{BlobRepairReport, Problem, TableReport, VerifyReport};
pub(crate) use version::Version;

/// Longest key accepted, in bytes.
pub const KEY_LEN_MAX: usize = 64 * 1024;
/// Longest value accepted, in bytes.
pub const VALUE_LEN_MAX: usize = 64 * 1024 * 1024;

/// The README's example, compiled and run as a doctest so it stays true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
