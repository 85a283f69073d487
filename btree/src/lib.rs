//! A crash-safe, copy-on-write B+ tree in one file of fixed-size pages, in
//! the family of LMDB, redb and bbolt: readers search pages in place in a
//! read-only view of the file and see a consistent snapshot while the one
//! writer works; a commit writes new pages for every changed node up to the
//! root, then switches one of two checksummed meta pages, syncing once for
//! both when the commit is small (open checks such a commit's pages).
//!
//! ```
//! use std::sync::Arc;
//! use larder_btree::{Db, Options};
//!
//! # fn main() -> larder_btree::Result<()> {
//! let fs = Arc::new(vfs::MemFs::new());
//! let db = Db::open_with_fs(fs, "/db", Options::default())?;
//! let mut txn = db.begin_write()?;
//! txn.insert(b"apple", b"red")?;
//! txn.insert(b"banana", b"yellow")?;
//! txn.commit()?; // durable: the default is Durability::Immediate
//!
//! let read = db.begin_read()?;
//! assert_eq!(read.get(b"apple")?.as_deref(), Some(&b"red"[..]));
//! let keys: Vec<Vec<u8>> = read.iter().map(|kv| kv.map(|(k, _)| k.to_vec())).collect::<Result<_, _>>()?;
//! assert_eq!(keys, [b"apple".to_vec(), b"banana".to_vec()]);
//! # Ok(())
//! # }
//! ```
//!
//! - [`Db`]: opening ([`Db::open`], [`Db::open_read_only`]), what open
//!   found ([`Db::recovery`], [`Recovery`]), transactions, [`Db::sync`], [`Db::stats`], [`Db::compact`], [`Db::checkpoint`].
//! - [`WriteTxn`] and [`WriteRange`]: insert, remove, get, lazy double-ended
//!   ranges, range removal and `retain`, ephemeral [`Savepoint`]s, bulk
//!   load, commit, abort.
//! - [`ReadTxn`] and [`Range`]: snapshot reads and double-ended range scans.
//! - [`Table`], [`ReadTable`]: named tables ([`WriteTxn::open_table`],
//!   [`ReadTxn::open_table`]), committed together with the default table;
//!   [`MultimapTable`], [`ReadMultimapTable`]: many sorted values per key.
//! - [`Options`], [`Durability`]: page size, when a commit is durable.
//! - [`Stats`]: height, pages by kind, free pages, fill factor.
//! - [`Description`]: [`Db::describe`], both meta pages as on disk and the page walk.
//! - [`Error`], [`Result`]: corruption names its page and checksums.
//!
//! Inside, one idea per module: `page` (the common header, checksums,
//! limits), `meta` (the two meta pages), `node` (branch and leaf layouts),
//! `mapping` (verified page access over the file's view), `cursor` (root to
//! leaf stack), `read` (snapshots), `write` (the write transaction's API), `txn_range`
//! (lazy ranges over a write transaction's tree),
//! `allocator` (page numbers: the pool, reuse, the end of the file),
//! `overflow` (values stored in runs of pages), `catalog` (the table
//! catalogue), `table` (table handles), `multimap`
//! (many sorted values per key, as pairs of one tree), `range_remove` (removing a key range
//! by freeing whole subtrees), `savepoint` (a write transaction's state to
//! return to), `tree`
//! (copy-on-write insert, remove, rebalance), `freelist` (the free tree),
//! `commit` (the commit protocol), `bulk` (bottom-up building), `compact`, `checkpoint` (a compacted
//! copy of one commit in a new file),
//! `stats` (statistics and the integrity check), `recovery` (which meta
//! page open takes, and why), `db` (open and publish).
//!
//! Limits: keys up to an eighth of a page (512 bytes with 4 KiB pages);
//! values up to [`VALUE_LEN_MAX`] bytes, those over an eighth of a page less
//! 32 bytes stored in overflow pages; page sizes 512 to 32 KiB. The file
//! layout is in `FORMAT.md`.
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used)]

mod allocator;
mod bulk;
mod catalog;
mod checkpoint;
mod commit;
mod compact;
mod cursor;
mod db;
mod error;
mod freelist;
mod inspect;
mod mapping;
mod meta;
mod multimap;
mod node;
mod options;
mod overflow;
mod page;
mod range_remove;
mod read;
mod recovery;
mod savepoint;
mod stats;
mod table;
mod tree;
mod txn_range;
mod write;

pub use catalog::TABLE_NAME_LEN_MAX;
pub use checkpoint::CheckpointInfo;
pub use db::Db;
pub use error::{Error, Result};
pub use inspect::{Description, MetaPageDescription, describe_meta_pages};
pub use meta::MetaProblem;
pub use multimap::{MultimapTable, ReadMultimapTable};
pub use options::{Durability, Options};
pub use page::VALUE_LEN_MAX;
pub use read::{Range, ReadTxn};
pub use recovery::{OtherMeta, Recovery};
pub use savepoint::Savepoint;
pub use stats::Stats;
pub use table::{ReadTable, Table};

pub use txn_range::WriteRange;
pub use write::WriteTxn;

/// The README's example, compiled and run as a doctest so it stays true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
