//! Proof types and their verification (RFC 9162 §2.1.3.2 and §2.1.4.2).

use crate::error::{Error, Result};
use crate::hasher::Hasher;
use crate::tree::split;

/// A proof that one leaf is in a tree (RFC 9162 `PATH`): the sibling hashes
/// from the leaf up to the root, leaf-nearest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InclusionProof<H: Hasher> {
    /// The leaf's 0-based index.
    pub leaf_index: u64,
    /// The size of the tree the proof is for.
    pub tree_size: u64,
    /// The sibling hashes, leaf-nearest first.
    pub path: Vec<H::Digest>,
}

/// A proof that the tree of `old_size` leaves is a prefix of the tree of
/// `new_size` leaves (RFC 9162 `PROOF`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsistencyProof<H: Hasher> {
    /// The older, smaller tree size (at least 1).
    pub old_size: u64,
    /// The newer tree size.
    pub new_size: u64,
    /// The hashes, in the RFC's order; empty when the sizes are equal.
    pub path: Vec<H::Digest>,
}

/// A proof that several leaves are in a tree: the hashes of the maximal
/// subtrees that hold none of them, left to right.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultiProof<H: Hasher> {
    /// The size of the tree the proof is for.
    pub tree_size: u64,
    /// The leaves' indices, strictly increasing.
    pub leaf_indices: Vec<u64>,
    /// The subtree hashes, left to right.
    pub hashes: Vec<H::Digest>,
}

/// Hashes the number of proof hashes a path may hold: a tree has at most 64
/// levels.
const PATH_LEN_MAX: usize = 64;

impl<H: Hasher> InclusionProof<H> {
    /// Checks the proof against the leaf's hash and the tree's root, with
    /// the RFC 9162 §2.1.3.2 algorithm.
    ///
    /// The RFC takes the tree size from the same signed tree head as the
    /// root; so must the caller: check `tree_size` against the size `root`
    /// is for. The algorithm alone cannot, as some sizes share a path shape
    /// (a proof for leaf 0 of 3 leaves also verifies as one of 4).
    ///
    /// # Errors
    ///
    /// [`Error::IndexOutOfRange`] if `leaf_index >= tree_size`;
    /// [`Error::ProofLength`] if the path is too long or too short for the
    /// sizes; [`Error::RootMismatch`] if it leads elsewhere.
    pub fn verify(&self, leaf_hash: &H::Digest, root: &H::Digest) -> Result<()> {
        if self.leaf_index >= self.tree_size {
            return Err(Error::IndexOutOfRange {
                index: self.leaf_index,
                tree_size: self.tree_size,
            });
        }
        let mut f = self.leaf_index;
        let mut s = self.tree_size - 1;
        let mut r = *leaf_hash;
        for (used, p) in self.path.iter().enumerate() {
            if s == 0 {
                return Err(Error::ProofLength {
                    expected: used,
                    found: self.path.len(),
                });
            }
            if f & 1 == 1 || f == s {
                r = H::hash_children(p, &r);
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            } else {
                r = H::hash_children(&r, p);
            }
            f >>= 1;
            s >>= 1;
        }
        if s != 0 {
            return Err(Error::ProofLength {
                expected: inclusion_len(self.leaf_index, self.tree_size),
                found: self.path.len(),
            });
        }
        if r != *root {
            return Err(Error::RootMismatch);
        }
        Ok(())
    }
}

/// The length of `PATH(index, D[size])`.
fn inclusion_len(index: u64, size: u64) -> usize {
    let (mut start, mut end, mut len) = (0, size, 0);
    while end - start > 1 {
        let k = split(end - start);
        if index < start + k {
            end = start + k;
        } else {
            start += k;
        }
        len += 1;
    }
    len
}

pub(crate) fn check_consistency_sizes(old_size: u64, new_size: u64) -> Result<()> {
    if old_size == 0 {
        return Err(Error::InvalidSize {
            reason: "RFC 9162 defines consistency only from a non-empty tree",
            first: old_size,
            second: new_size,
        });
    }
    if old_size > new_size {
        return Err(Error::InvalidSize {
            reason: "old size larger than new size",
            first: old_size,
            second: new_size,
        });
    }
    Ok(())
}

impl<H: Hasher> ConsistencyProof<H> {
    /// Checks that `old_root` (of `old_size` leaves) and `new_root` (of
    /// `new_size`) are consistent, with the RFC 9162 §2.1.4.2 algorithm.
    /// As for inclusion, the caller checks `old_size` and `new_size` against
    /// the sizes its two roots are for.
    /// Equal sizes verify exactly when the proof is empty and the roots are
    /// equal.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSize`] for sizes the RFC does not define;
    /// [`Error::ProofLength`] for a path of the wrong length;
    /// [`Error::RootMismatch`] if either root differs.
    pub fn verify(&self, old_root: &H::Digest, new_root: &H::Digest) -> Result<()> {
        check_consistency_sizes(self.old_size, self.new_size)?;
        if self.old_size == self.new_size {
            if !self.path.is_empty() {
                return Err(Error::ProofLength {
                    expected: 0,
                    found: self.path.len(),
                });
            }
            return if old_root == new_root {
                Ok(())
            } else {
                Err(Error::RootMismatch)
            };
        }
        if self.path.is_empty() || self.path.len() > PATH_LEN_MAX {
            return Err(Error::ProofLength {
                expected: 1,
                found: self.path.len(),
            });
        }
        // Step 2: a power-of-two old tree is itself a node of the new one;
        // the verifier supplies its root.
        let mut path = Vec::with_capacity(self.path.len() + 1);
        if self.old_size.is_power_of_two() {
            path.push(*old_root);
        }
        path.extend_from_slice(&self.path);
        let mut f = self.old_size - 1;
        let mut s = self.new_size - 1;
        while f & 1 == 1 {
            f >>= 1;
            s >>= 1;
        }
        let mut fr = path[0];
        let mut sr = path[0];
        for (used, c) in path[1..].iter().enumerate() {
            if s == 0 {
                return Err(Error::ProofLength {
                    expected: used,
                    found: self.path.len(),
                });
            }
            if f & 1 == 1 || f == s {
                fr = H::hash_children(c, &fr);
                sr = H::hash_children(c, &sr);
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            } else {
                sr = H::hash_children(&sr, c);
            }
            f >>= 1;
            s >>= 1;
        }
        if s != 0 {
            return Err(Error::ProofLength {
                expected: self.path.len() + 1,
                found: self.path.len(),
            });
        }
        if fr != *old_root || sr != *new_root {
            return Err(Error::RootMismatch);
        }
        Ok(())
    }
}

pub(crate) fn check_indices(indices: &[u64], tree_size: u64) -> Result<()> {
    for pair in indices.windows(2) {
        if pair[1] <= pair[0] {
            return Err(Error::UnsortedIndices {
                previous: pair[0],
                got: pair[1],
            });
        }
    }
    if let Some(&last) = indices.last()
        && last >= tree_size
    {
        return Err(Error::IndexOutOfRange {
            index: last,
            tree_size,
        });
    }
    Ok(())
}

impl<H: Hasher> MultiProof<H> {
    /// Checks the proof against the leaves' hashes (in index order) and the
    /// tree's root.
    ///
    /// # Errors
    ///
    /// [`Error::LeafCount`], [`Error::UnsortedIndices`],
    /// [`Error::IndexOutOfRange`], [`Error::ProofLength`] (hashes left over
    /// or missing), or [`Error::RootMismatch`].
    pub fn verify(&self, leaf_hashes: &[H::Digest], root: &H::Digest) -> Result<()> {
        if leaf_hashes.len() != self.leaf_indices.len() {
            return Err(Error::LeafCount {
                expected: self.leaf_indices.len(),
                found: leaf_hashes.len(),
            });
        }
        check_indices(&self.leaf_indices, self.tree_size)?;
        let mut hashes = self.hashes.iter();
        let mut leaves = leaf_hashes.iter();
        let computed = self.rebuild(
            &self.leaf_indices,
            0,
            self.tree_size,
            &mut hashes,
            &mut leaves,
        );
        let consumed = self.hashes.len() - hashes.len();
        match computed {
            Some(r) if hashes.len() == 0 => {
                if r == *root {
                    Ok(())
                } else {
                    Err(Error::RootMismatch)
                }
            }
            _ => Err(Error::ProofLength {
                expected: consumed,
                found: self.hashes.len(),
            }),
        }
    }

    fn rebuild<'a>(
        &self,
        indices: &[u64],
        start: u64,
        end: u64,
        hashes: &mut std::slice::Iter<'a, H::Digest>,
        leaves: &mut std::slice::Iter<'a, H::Digest>,
    ) -> Option<H::Digest> {
        if indices.is_empty() {
            return hashes.next().copied();
        }
        if end - start <= 1 {
            // An empty tree with an index was refused by `check_indices`.
            return leaves.next().copied();
        }
        let k = split(end - start);
        let left = indices.partition_point(|&i| i < start + k);
        let l = self.rebuild(&indices[..left], start, start + k, hashes, leaves)?;
        let r = self.rebuild(&indices[left..], start + k, end, hashes, leaves)?;
        Some(H::hash_children(&l, &r))
    }
}
