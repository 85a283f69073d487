//! The bodies of the fuzz targets in `fuzz/` (cargo-fuzz, nightly), as
//! ordinary functions: each takes arbitrary bytes and panics only when a
//! property fails, never on bad input. `tests/corpus.rs` replays every
//! committed corpus and crash file through them on stable, so a bug once
//! found stays fixed without nightly.
//!
//! ```
//! // Garbage is an `Err` inside the target, never a panic.
//! fuzz_targets::bloom_decode(b"not a filter");
//! fuzz_targets::merkle_decode(&[0xff; 64]);
//! ```
//!
//! - [`bloom_decode`], [`hyperloglog_decode`], [`merkle_decode`]: decoders
//!   on arbitrary bytes; what decodes re-encodes to the same value.
//! - [`merkle_tamper`]: a proof changed in any byte never verifies.
//! - [`btree_file`], [`lsm_files`], [`erasure_shards`]: an engine's files,
//!   built by the engine in an in-memory file system, then damaged by the
//!   fuzzer's bytes, opened, read in full and written to.
//! - [`lsm_wal_reseal`], [`lsm_manifest_reseal`], [`lsm_table_reseal`],
//!   [`btree_page_reseal`], [`erasure_header_reseal`]: one record, block,
//!   page or header of an engine's file XORed by the fuzzer's bytes and its
//!   CRC recomputed, so the decoders see well-sealed but wrong numbers.
//! - [`lsm_ops`], [`btree_ops`]: differential: operations decoded from the
//!   input run on the engine and on a `BTreeMap` model, with snapshots,
//!   reopens and power losses, and must agree after every step.
//!
//! The list of targets, with how long each ran and what it found, is in
//! `fuzz/README.md`.
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used)]

mod decode;
mod engines;
mod ops;
mod reseal;
mod tamper;

pub use decode::{bloom_decode, hyperloglog_decode, merkle_decode};
pub use engines::{btree_file, erasure_shards, lsm_files};
pub use ops::{btree_ops, lsm_ops};
pub use reseal::{
    btree_page_reseal, erasure_header_reseal, lsm_manifest_reseal, lsm_table_reseal, lsm_wal_reseal,
};
pub use tamper::merkle_tamper;

/// A target's body: arbitrary bytes in, a panic only on a failed property.
pub type Target = fn(&[u8]);

/// Every target by the name its `fuzz/fuzz_targets/*.rs` file and corpus
/// directory carry.
pub const TARGETS: &[(&str, Target)] = &[
    ("bloom_decode", bloom_decode),
    ("hyperloglog_decode", hyperloglog_decode),
    ("merkle_decode", merkle_decode),
    ("merkle_tamper", merkle_tamper),
    ("btree_file", btree_file),
    ("lsm_files", lsm_files),
    ("erasure_shards", erasure_shards),
    ("lsm_ops", lsm_ops),
    ("btree_ops", btree_ops),
    ("lsm_wal_reseal", lsm_wal_reseal),
    ("lsm_manifest_reseal", lsm_manifest_reseal),
    ("lsm_table_reseal", lsm_table_reseal),
    ("btree_page_reseal", btree_page_reseal),
    ("erasure_header_reseal", erasure_header_reseal),
];
