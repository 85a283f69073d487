//! Bloom filters for storage engines: classic, cache-blocked, Apache Parquet
//! split-block, and counting, all serializable and readable in place.
//!
//! Every kind hashes a key's bytes once (xxh3-128; xxh64 for the Parquet kind,
//! as its specification prescribes) and derives all probe positions from that
//! hash, so filters written on one machine answer the same on any other, and
//! callers who already hashed a key pass the hash instead.
//!
//! ```
//! use larder_bloom::{BlockedBloomFilter, FilterRef};
//!
//! # fn main() -> larder_bloom::Result<()> {
//! let mut filter = BlockedBloomFilter::with_rate(10_000, 0.01)?;
//! filter.insert(b"user:42");
//! assert!(filter.contains(b"user:42"));
//!
//! // Persist it, then answer from the bytes without decoding them.
//! let bytes = filter.to_bytes();
//! let view = FilterRef::new(&bytes)?;
//! assert!(view.contains(b"user:42"));
//! assert_eq!(BlockedBloomFilter::from_bytes(&bytes)?, filter);
//! # Ok(())
//! # }
//! ```
//!
//! - [`BloomFilter`]: the classic filter, most accurate per bit.
//! - [`BlockedBloomFilter`]: one cache line per key, fastest on large filters.
//! - [`SplitBlockBloomFilter`]: byte-compatible with Parquet's bloom filters.
//! - [`CountingBloomFilter`]: 4-bit counters, supports `remove`.
//! - [`FilterRef`]: zero-copy lookups in a serialized filter of any kind.
//!
//! Limits: at most 2^40 bits (or counters) and 32 probes per key; the
//! split-block kind at most 128 MiB, as Parquet allows. The serialized layout
//! is in `FORMAT.md`.
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used)]

mod bits;
mod blocked;
mod classic;
mod counting;
mod error;
mod filter_ref;
mod format;
mod hash;
mod split_block;

pub use blocked::BlockedBloomFilter;
pub use classic::BloomFilter;
pub use counting::{COUNTER_MAX, CountingBloomFilter};
pub use error::{Error, Result};
pub use filter_ref::FilterRef;
pub use format::Kind;
pub use hash::hash128;
pub use split_block::{SALT, SplitBlockBloomFilter};

/// The README's example, compiled and run as a doctest so it stays true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
