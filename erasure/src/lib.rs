//! An erasure-coded blob store.

#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used)]

mod codec;
mod error;
mod id;

pub use codec::{Codec, ErasureCode, ReedSolomonCode, SHARDS_MAX, Shard};
pub use error::{Error, Result};
pub use id::BlobId;
