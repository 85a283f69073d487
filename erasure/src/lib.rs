//! An erasure-coded blob store that survives lost and rotten shards.
//!
//! Every blob is cut into stripes; each stripe is Reed-Solomon coded into `k`
//! data and `m` parity shards, and shard `i` of every stripe goes to the
//! `i`-th of `k + m` directories (failure domains: disks, mounts). Any `k`
//! shards of a stripe give it back. Each stripe's piece of each shard carries
//! a CRC-32 per 4 KiB block, so rot is found per stripe and treated as an
//! erasure, and a ranged read checks only the blocks it reads; the whole
//! blob carries an xxh3-64 checked on every full read. `repair` and `scrub`
//! rewrite what is missing or rotten from what is left.
//!
//! ```
//! use std::sync::Arc;
//! use larder_erasure::{BlobStore, Options};
//! use vfs::Fs;
//!
//! # fn main() -> larder_erasure::Result<()> {
//! let fs = Arc::new(vfs::MemFs::new());
//! let dirs: Vec<String> = (0..6).map(|i| format!("/disk{i}/blobs")).collect();
//! let options = Options { data_shards: 4, parity_shards: 2, stripe_size_bytes: 64 << 10 };
//! let store = BlobStore::open_with_fs(fs.clone(), &dirs, options)?;
//! let id = store.put(b"any four of six shards give this back")?;
//! // Two disks die.
//! fs.remove_file(&store.dirs()[0].join(format!("{id}.shard")))?;
//! fs.remove_file(&store.dirs()[5].join(format!("{id}.shard")))?;
//! assert_eq!(&store.get(id)?[..], b"any four of six shards give this back");
//! assert_eq!(store.scrub()?.shards_repaired, 2);
//! assert!(store.stat(id)?.healthy.iter().all(|&h| h));
//! # Ok(())
//! # }
//! ```
//!
//! - `codec`: [`Codec`], one stripe into `k + m` [`Shard`]s and back, over the
//!   [`ErasureCode`] trait ([`ReedSolomonCode`] by default) so the coding
//!   library can be swapped; [`Codec::encode_into`] codes from the caller's
//!   bytes into reused [`ShardBuffers`], copying only the padded tail.
//! - `store`: [`BlobStore::open`] with [`Options`], manifests, leftovers,
//!   `list`, `delete`.
//! - `writer`: `put`, `put_reader`, and [`BlobWriter`] (streaming, with the id
//!   known before the blob is finished).
//! - `reader`: `get`, `get_to` (streaming), `get_range`.
//! - `repair`: `stat` ([`BlobStat`]), `repair`, `scrub` ([`ScrubReport`]).
//! - `objects`: [`ObjectBlobStore`], the same over `k + m`
//!   [`objstore::Store`]s (buckets, endpoints) instead of directories.
//! - `format`, `manifest`: the bytes on disk.
//! - [`Error`]: every failure names the blob, stripe, shard or file.
//!
//! Limits: `1 ≤ k`, `k + m ≤ 256` ([`SHARDS_MAX`]); a stripe is at most
//! [`STRIPE_SIZE_MAX`] bytes; memory per call is about one stripe times
//! `(k + m) / k`. File I/O goes through [`vfs::Fs`]. The on-disk format is in
//! `FORMAT.md` next to this crate's `Cargo.toml`, rendered here as
//! [`format_spec`].

#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used)]

mod codec;
mod error;
mod format;
mod handles;
mod id;
mod manifest;
mod objects;
mod reader;
mod repair;
mod store;
mod writer;

pub use codec::{Codec, ErasureCode, ReedSolomonCode, SHARDS_MAX, Shard, ShardBuffers};
pub use error::{Error, Result};
pub use format::STRIPE_SIZE_MAX;
pub use id::BlobId;
pub use objects::{ObjectBlobStore, ShardsFound};
pub use repair::{BlobStat, ScrubReport, ShardDamage};
pub use store::{BlobStore, Options};
pub use writer::BlobWriter;

/// The on-disk format (`FORMAT.md`): the manifest, the shard file, and the
/// write protocol that makes blobs appear and disappear atomically.
#[doc = include_str!("../FORMAT.md")]
pub mod format_spec {}

/// The README's examples, compiled and run as doctests so they stay true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
