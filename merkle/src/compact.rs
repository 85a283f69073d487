//! `CompactTree`: an append-only log in O(log n) memory.

use crate::error::{Error, Result};
use crate::hasher::Hasher;

/// An append-only Merkle log that keeps only its *frontier*: the roots of
/// the perfect subtrees its size decomposes into (one per set bit of the
/// size, largest first). That is all that is needed to append and to give
/// the root after every append, equal to [`MerkleTree`](crate::MerkleTree)'s
/// root at every size. It can be saved and resumed from its frontier
/// ([`to_bytes`](Self::to_bytes)).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactTree<H: Hasher> {
    size: u64,
    frontier: Vec<H::Digest>,
}

impl<H: Hasher> CompactTree<H> {
    /// An empty log.
    pub fn new() -> CompactTree<H> {
        CompactTree {
            size: 0,
            frontier: Vec::new(),
        }
    }

    /// Resumes from a size and its frontier (largest subtree first).
    ///
    /// # Errors
    ///
    /// [`Error::ProofLength`] unless the frontier has one hash per set bit
    /// of `size`.
    pub fn from_frontier(size: u64, frontier: Vec<H::Digest>) -> Result<CompactTree<H>> {
        if frontier.len() != size.count_ones() as usize {
            return Err(Error::ProofLength {
                expected: size.count_ones() as usize,
                found: frontier.len(),
            });
        }
        Ok(CompactTree { size, frontier })
    }

    /// Appends a leaf's data; returns its index.
    pub fn push(&mut self, leaf: &[u8]) -> u64 {
        self.push_hash(H::hash_leaf(leaf))
    }

    /// Appends an already-hashed leaf; returns its index. Each trailing one
    /// bit of the size merges two equal subtrees, as a binary counter carries.
    pub fn push_hash(&mut self, leaf_hash: H::Digest) -> u64 {
        let index = self.size;
        let mut carry = leaf_hash;
        let mut size = self.size;
        while size & 1 == 1 {
            let left = self
                .frontier
                .pop()
                .unwrap_or_else(|| unreachable!("one hash per set bit"));
            carry = H::hash_children(&left, &carry);
            size >>= 1;
        }
        self.frontier.push(carry);
        self.size += 1;
        index
    }

    /// Number of leaves appended.
    pub fn len(&self) -> u64 {
        self.size
    }

    /// Whether no leaf was appended.
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// The frontier: one perfect-subtree root per set bit of the size,
    /// largest first.
    pub fn frontier(&self) -> &[H::Digest] {
        &self.frontier
    }

    /// The root of all leaves appended: the frontier folded right to left.
    pub fn root(&self) -> H::Digest {
        let mut hashes = self.frontier.iter().rev();
        let Some(&last) = hashes.next() else {
            return H::empty_root();
        };
        hashes.fold(last, |right, left| H::hash_children(left, &right))
    }
}
