//! An embedded, ordered key-value engine: a log-structured merge tree with a
//! write-ahead log, a concurrent memtable, checksummed SSTables with Bloom
//! filters, and leveled compaction on a background thread. Large values are
//! separated into erasure-coded blob files (the `erasure` crate).
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
//! let keys: Vec<_> = db.range::<&[u8], _>(..).rev().map(|r| r.map(|(k, _)| k)).collect::<Result<_, _>>()?;
//! assert_eq!(keys, ["cherry", "banana"]);
//! db.close()?;
//! # Ok(())
//! # }
//! ```
//!
//! - `db`: [`Db`] (open, read-only open, writes, reads, background work) and [`Snapshot`].
//! - `recovery`: from a directory to the state an open starts from, reading
//!   only; what is damage and what a crash left (`FORMAT.md`, "Recovery").
//! - `batch`: [`WriteBatch`], atomic groups of writes, and their log encoding.
//! - `wal`: the write-ahead log (32 KiB blocks of checksummed records).
//! - `memtable`: the concurrent skiplist writes land in.
//! - `sstable`: tables (blocks, index, filter, properties, footer).
//! - `filter`: the per-table Bloom filter (the `bloom` crate's blocked filter).
//! - `cache`: the byte-bounded block cache.
//! - `probe`: a point lookup's first pass, over the filters only.
//! - `version`, `manifest`: the live table set and its log of edits.
//! - `compaction`: picking and running leveled compactions.
//! - `iter`: merging iterators and [`DbIter`].
//! - `blob`: key-value separation: large values in erasure-coded blob files,
//!   and their garbage collection.
//! - `checkpoint`: [`Db::checkpoint`], a consistent copy of a live store
//!   that opens on its own (tables and blobs hard-linked where possible).
//! - `inspect`: [`Db::describe`], the store's files explained ([`StoreDescription`]).
//! - `verify`: [`Db::verify`] and [`Db::repair_blobs`] ([`VerifyReport`]).
//!
//! Limits: keys up to [`KEY_LEN_MAX`] bytes, values up to [`VALUE_LEN_MAX`];
//! 7 levels. The on-disk format is in `FORMAT.md`; durability and tuning in
//! `README.md`.

#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used)]

mod batch;
mod blob;
mod cache;
mod checkpoint;
mod compaction;
mod db;
mod error;
mod filter;
mod inspect;
mod iter;
mod key;
mod lifecycle;
mod manifest;
mod memtable;
mod options;
mod probe;
mod recovery;
mod sstable;
mod stats;
mod varint;
mod verify;
mod version;
mod wal;

pub use batch::WriteBatch;
pub use checkpoint::CheckpointInfo;
pub use db::{Db, Snapshot};
pub use error::{Error, Result};
pub use inspect::{
    BlobFileDescription, BlobStoreDescription, LevelDescription, LogDescription,
    ManifestDescription, StoreDescription, TableDescription,
};
pub use iter::DbIter;
pub use options::{BlobCode, Options, SyncMode};
pub use stats::{LevelStats, Stats};
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
