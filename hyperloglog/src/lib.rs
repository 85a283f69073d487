//! HyperLogLog cardinality sketches: count the distinct items of a stream in
//! a few kilobytes, merge sketches of shards, shrink them to a lower
//! precision, and store them with a checksum.
//!
//! ```
//! use larder_hyperloglog::HyperLogLog;
//!
//! # fn main() -> larder_hyperloglog::Result<()> {
//! let mut visitors = HyperLogLog::new(14)?; // 16,384 registers, ~0.81% error
//! for i in 0..100_000u32 {
//!     visitors.insert(&i.to_le_bytes());
//! }
//! let estimate = visitors.count() as f64;
//! assert!((estimate - 100_000.0).abs() < 100_000.0 * 0.03);
//!
//! let restored = HyperLogLog::from_bytes(&visitors.to_bytes())?;
//! assert_eq!(restored, visitors);
//! # Ok(())
//! # }
//! ```
//!
//! - [`HyperLogLog`]: sparse precision-25 entries for small sets, then
//!   dense 6-bit registers; Ertl's improved estimator, `merge`, `reduce`,
//!   serialization (`FORMAT.md`).
//! - [`HashMode::Redis`], [`HyperLogLog::from_redis`],
//!   [`HyperLogLog::to_redis`]: Redis' hashing and string format.
//! - [`UltraLogLog`]: Ertl's one-byte registers with two bits of history and
//!   a maximum-likelihood estimator: ~28% less memory for the same error.
//!
//! Limits: precision 4..=18. Items are hashed with xxh3-64 over their bytes,
//! never `std::hash::Hash`, so sketches built on different machines merge.
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used)]

mod error;
mod estimator;
mod format;
mod hll;
mod ml;
mod redis;
mod registers;
mod sparse;
mod ull;

pub use error::{Error, Result};
pub use hll::{HashMode, HyperLogLog, PRECISION_MAX, PRECISION_MIN};
pub use redis::murmur_hash64a;
pub use ull::UltraLogLog;

/// The README's example, compiled and run as a doctest so it stays true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
