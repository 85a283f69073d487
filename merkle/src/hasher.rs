//! How leaves and interior nodes are hashed.

use std::fmt::Debug;
use std::hash::Hash;

use sha2::Digest as _;

/// A tree hash function with domain separation between leaves and nodes, so
/// a leaf can never be passed off as an interior node (the second-preimage
/// attack on naive Merkle trees).
pub trait Hasher: Clone + Copy + Debug + Default + Send + Sync + 'static {
    /// A hash value.
    type Digest: AsRef<[u8]> + Copy + Debug + Eq + Hash + Send + Sync + 'static;
    /// Bytes in a digest.
    const DIGEST_LEN: usize;
    /// The byte that names this hasher in serialized proofs and frontiers.
    const ID: u8;

    /// The hash of a leaf's data.
    fn hash_leaf(data: &[u8]) -> Self::Digest;
    /// The hash of an interior node from its children's hashes.
    fn hash_children(left: &Self::Digest, right: &Self::Digest) -> Self::Digest;
    /// The root of the tree of no leaves.
    fn empty_root() -> Self::Digest;
    /// A digest from exactly [`DIGEST_LEN`](Self::DIGEST_LEN) bytes.
    fn digest_from_slice(bytes: &[u8]) -> Option<Self::Digest>;
}

/// SHA-256 exactly as RFC 9162 §2.1.1 (and RFC 6962) hash trees:
/// leaf = SHA-256(0x00 ‖ data), node = SHA-256(0x01 ‖ left ‖ right), empty
/// tree = SHA-256(""). `sha2` uses the CPU's SHA extensions where present.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sha256;

impl Hasher for Sha256 {
    type Digest = [u8; 32];
    const DIGEST_LEN: usize = 32;
    const ID: u8 = 1;

    #[inline]
    fn hash_leaf(data: &[u8]) -> [u8; 32] {
        let mut h = sha2::Sha256::new();
        h.update([0x00]);
        h.update(data);
        h.finalize().into()
    }

    #[inline]
    fn hash_children(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
        let mut block = [0u8; 65];
        block[0] = 0x01;
        block[1..33].copy_from_slice(left);
        block[33..].copy_from_slice(right);
        sha2::Sha256::digest(block).into()
    }

    fn empty_root() -> [u8; 32] {
        sha2::Sha256::digest([]).into()
    }

    fn digest_from_slice(bytes: &[u8]) -> Option<[u8; 32]> {
        bytes.try_into().ok()
    }
}

/// xxh3-128, non-cryptographic, for anti-entropy between replicas that
/// trust each other: leaves are hashed with seed 0, nodes with seed 1, the
/// empty tree is xxh3-128 of nothing with seed 2.
///
/// **Never use it where someone could choose the data**: collisions of
/// xxh3 can be found with little effort, so an adversary could forge proofs
/// or hide a difference from [`diff`](crate::diff). Use [`Sha256`] there.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Xxh3;

impl Hasher for Xxh3 {
    type Digest = [u8; 16];
    const DIGEST_LEN: usize = 16;
    const ID: u8 = 2;

    #[inline]
    fn hash_leaf(data: &[u8]) -> [u8; 16] {
        xxhash_rust::xxh3::xxh3_128_with_seed(data, 0).to_le_bytes()
    }

    #[inline]
    fn hash_children(left: &[u8; 16], right: &[u8; 16]) -> [u8; 16] {
        let mut block = [0u8; 32];
        block[..16].copy_from_slice(left);
        block[16..].copy_from_slice(right);
        xxhash_rust::xxh3::xxh3_128_with_seed(&block, 1).to_le_bytes()
    }

    fn empty_root() -> [u8; 16] {
        xxhash_rust::xxh3::xxh3_128_with_seed(&[], 2).to_le_bytes()
    }

    fn digest_from_slice(bytes: &[u8]) -> Option<[u8; 16]> {
        bytes.try_into().ok()
    }
}
