//! Merkle trees with RFC 9162 (Certificate Transparency v2) semantics:
//! inclusion, consistency and multi-leaf proofs, an append-only log in
//! O(log n) memory, and range trees that find where two replicas differ.
//!
//! ```
//! use larder_merkle::{MerkleTree, Sha256, Hasher};
//!
//! # fn main() -> larder_merkle::Result<()> {
//! let mut tree = MerkleTree::<Sha256>::from_leaves([b"a", b"b", b"c"]);
//! tree.push(b"d");
//! let root = tree.root();
//!
//! // Leaf 2 is in the tree of 4 leaves...
//! let proof = tree.inclusion_proof(2, 4)?;
//! proof.verify(&Sha256::hash_leaf(b"c"), &root)?;
//!
//! // ...and the tree of 3 leaves is a prefix of it.
//! let old_root = tree.root_at(3)?;
//! tree.consistency_proof(3, 4)?.verify(&old_root, &root)?;
//! # Ok(())
//! # }
//! ```
//!
//! - [`Hasher`], [`Sha256`] (RFC 9162 exactly), [`Xxh3`] (fast, for trusted
//!   anti-entropy only).
//! - [`MerkleTree`]: roots and proofs for the current and every earlier size.
//! - [`InclusionProof`], [`ConsistencyProof`], [`MultiProof`]: verification
//!   per the RFC's algorithms, serialization per `FORMAT.md`.
//! - [`CompactTree`]: append-only log keeping only its frontier.
//! - [`RangeTree`], [`diff`]: which key ranges two replicas disagree on.
//!
//! Limits: trees of up to 2^64 - 1 leaves in principle; `MerkleTree` keeps
//! about 2n hashes in memory. Malformed proofs are `Err`s, never panics.
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used)]

mod compact;
mod error;
mod format;
mod hasher;
mod proof;
mod range;
mod tree;

pub use compact::CompactTree;
pub use error::{Error, Result};
pub use hasher::{Hasher, Sha256, Xxh3};
pub use proof::{ConsistencyProof, InclusionProof, MultiProof};
pub use range::{Diff, KeyRange, RangeTree, diff, diff_counted};
pub use tree::MerkleTree;

/// The README's example, compiled and run as a doctest so it stays true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
