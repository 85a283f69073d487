//! `MerkleTree`: every leaf hash and every perfect subtree hash, so roots
//! and proofs for any earlier size cost O(log n).

use std::sync::OnceLock;

use crate::error::{Error, Result};
use crate::hasher::Hasher;
use crate::proof::{ConsistencyProof, InclusionProof, MultiProof};

/// The largest power of two strictly smaller than `n` (`n >= 2`): RFC 9162's
/// split point.
#[inline]
pub(crate) fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// An RFC 9162 Merkle tree over a growing list of leaves.
///
/// It stores, for each level `l`, the hash of every *perfect* subtree of
/// `2^l` leaves starting at a multiple of `2^l` (about `2n` hashes in all).
/// Every node of the tree of any size `<= len()` is either one of those or a
/// right-edge node computed from them in O(log n) hashes, so `root_at`,
/// inclusion and consistency proofs work for every earlier size.
///
/// # Concurrency
///
/// `&self` methods may run on many threads at once; the right-edge cache is
/// filled once per size through a `OnceLock`.
#[derive(Clone, Debug, Default)]
pub struct MerkleTree<H: Hasher> {
    /// `levels[l][i]` = hash of leaves `i * 2^l .. (i + 1) * 2^l`.
    levels: Vec<Vec<H::Digest>>,
    /// The right-edge nodes of the tree of `len()` leaves (see
    /// `right_edge`). They are not perfect subtrees, so without this every
    /// proof and root would hash them again. Reset by `push`.
    edge: OnceLock<Vec<H::Digest>>,
}

/// Levels with at least this many nodes are hashed on several threads.
const PARALLEL_NODES_MIN: usize = 1 << 14;

/// Hashes the pairs of `below` into a new level, on up to `threads` threads.
fn hash_level<H: Hasher>(below: &[H::Digest], threads: usize) -> Vec<H::Digest> {
    let mut above = vec![H::empty_root(); below.len() / 2];
    let pair = |out: &mut [H::Digest], input: &[H::Digest]| {
        for (o, p) in out.iter_mut().zip(input.chunks_exact(2)) {
            *o = H::hash_children(&p[0], &p[1]);
        }
    };
    if threads < 2 || above.len() < PARALLEL_NODES_MIN {
        pair(&mut above, below);
        return above;
    }
    let chunk = above.len().div_ceil(threads);
    std::thread::scope(|scope| {
        for (out, input) in above.chunks_mut(chunk).zip(below.chunks(chunk * 2)) {
            scope.spawn(move || pair(out, input));
        }
    });
    above
}

impl<H: Hasher> MerkleTree<H> {
    /// An empty tree.
    pub fn new() -> MerkleTree<H> {
        MerkleTree {
            levels: vec![Vec::new()],
            edge: OnceLock::new(),
        }
    }

    /// A tree over the given leaves' data.
    pub fn from_leaves<T: AsRef<[u8]>>(leaves: impl IntoIterator<Item = T>) -> MerkleTree<H> {
        MerkleTree::from_leaf_hashes(
            leaves
                .into_iter()
                .map(|l| H::hash_leaf(l.as_ref()))
                .collect(),
        )
    }

    /// A tree over already-hashed leaves (each `H::hash_leaf` of its data).
    /// Large levels are hashed on every available core.
    pub fn from_leaf_hashes(leaf_hashes: Vec<H::Digest>) -> MerkleTree<H> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        MerkleTree::from_leaf_hashes_on(leaf_hashes, threads)
    }

    /// [`from_leaf_hashes`](Self::from_leaf_hashes) on at most `threads`
    /// threads (1: on the calling thread only).
    pub fn from_leaf_hashes_on(leaf_hashes: Vec<H::Digest>, threads: usize) -> MerkleTree<H> {
        let mut levels = vec![leaf_hashes];
        while levels[levels.len() - 1].len() >= 2 {
            let above = hash_level::<H>(&levels[levels.len() - 1], threads);
            levels.push(above);
        }
        MerkleTree {
            levels,
            edge: OnceLock::new(),
        }
    }

    /// Appends a leaf's data; returns its index.
    pub fn push(&mut self, leaf: &[u8]) -> u64 {
        self.push_hash(H::hash_leaf(leaf))
    }

    /// Appends an already-hashed leaf; returns its index. Amortized O(1).
    pub fn push_hash(&mut self, leaf_hash: H::Digest) -> u64 {
        let index = self.len();
        self.edge = OnceLock::new();
        self.levels[0].push(leaf_hash);
        let mut level = 0;
        while self.levels[level].len().is_multiple_of(2) {
            let below = &self.levels[level];
            let parent = H::hash_children(&below[below.len() - 2], &below[below.len() - 1]);
            if self.levels.len() == level + 1 {
                self.levels.push(Vec::new());
            }
            self.levels[level + 1].push(parent);
            level += 1;
        }
        index
    }

    /// Number of leaves.
    pub fn len(&self) -> u64 {
        self.levels[0].len() as u64
    }

    /// Whether the tree has no leaves.
    pub fn is_empty(&self) -> bool {
        self.levels[0].is_empty()
    }

    /// The hash of leaf `index`.
    pub fn leaf_hash(&self, index: u64) -> Option<H::Digest> {
        self.levels[0].get(usize::try_from(index).ok()?).copied()
    }

    /// The root of all leaves (`H::empty_root()` for none).
    pub fn root(&self) -> H::Digest {
        self.subtree(0, self.len())
    }

    /// The root the tree had when it held `size` leaves.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSize`] if `size > len()`.
    pub fn root_at(&self, size: u64) -> Result<H::Digest> {
        self.check_size(size)?;
        Ok(self.subtree(0, size))
    }

    fn check_size(&self, size: u64) -> Result<()> {
        if size > self.len() {
            return Err(Error::InvalidSize {
                reason: "larger than the tree",
                first: size,
                second: self.len(),
            });
        }
        Ok(())
    }

    /// MTH(D[start:end]) for a node of the RFC tree: `start` is a multiple of
    /// the largest power of two `<= end - start`, as every RFC node's is.
    pub(crate) fn subtree(&self, start: u64, end: u64) -> H::Digest {
        let n = end - start;
        if n == 0 {
            return H::empty_root();
        }
        if n.is_power_of_two() {
            let level = n.trailing_zeros() as usize;
            return self.levels[level][(start >> level) as usize];
        }
        if end == self.len() {
            // A right-edge node of the full tree: `start` is the sum of the
            // top `j` set bits of `len()`, and `j` is its own bit count.
            return self.right_edge()[start.count_ones() as usize];
        }
        let k = split(n);
        H::hash_children(
            &self.subtree(start, start + k),
            &self.subtree(start + k, end),
        )
    }

    /// `E[j]` = MTH(D[p_j : len]) for each set bit `j` (from the top) of
    /// `len()`, `p_j` the sum of the `j` set bits above it; computed right to
    /// left with one hash per set bit, once per size.
    fn right_edge(&self) -> &[H::Digest] {
        self.edge.get_or_init(|| {
            let n = self.len();
            let mut blocks = Vec::with_capacity(64);
            let mut p = 0u64;
            for bit in (0..64).rev() {
                if n & (1 << bit) != 0 {
                    blocks.push((p, bit));
                    p += 1 << bit;
                }
            }
            let mut edge = vec![H::empty_root(); blocks.len()];
            let mut right: Option<H::Digest> = None;
            for (j, &(start, bit)) in blocks.iter().enumerate().rev() {
                let block = self.levels[bit][(start >> bit) as usize];
                let node = match right {
                    None => block,
                    Some(r) => H::hash_children(&block, &r),
                };
                edge[j] = node;
                right = Some(node);
            }
            edge
        })
    }

    /// The inclusion proof of leaf `index` in the tree of `tree_size` leaves
    /// (RFC 9162 §2.1.3.1, `PATH(index, D[tree_size])`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSize`] if `tree_size > len()`;
    /// [`Error::IndexOutOfRange`] if `index >= tree_size`.
    pub fn inclusion_proof(&self, index: u64, tree_size: u64) -> Result<InclusionProof<H>> {
        self.check_size(tree_size)?;
        if index >= tree_size {
            return Err(Error::IndexOutOfRange { index, tree_size });
        }
        // Walk down from the root, noting the sibling range at each split;
        // then read them all (the RFC lists them leaf-first). Reading in a
        // second pass lets the cache misses of a large tree overlap, and
        // sizes the path exactly.
        let mut siblings = [(0u64, 0u64); 64];
        let mut depth = 0;
        let (mut start, mut end) = (0, tree_size);
        while end - start > 1 {
            let k = split(end - start);
            if index < start + k {
                siblings[depth] = (start + k, end);
                end = start + k;
            } else {
                siblings[depth] = (start, start + k);
                start += k;
            }
            depth += 1;
        }
        let path: Vec<H::Digest> = siblings[..depth]
            .iter()
            .rev()
            .map(|&(start, end)| self.subtree(start, end))
            .collect();
        Ok(InclusionProof {
            leaf_index: index,
            tree_size,
            path,
        })
    }

    /// The consistency proof between the trees of `old_size` and `new_size`
    /// leaves (RFC 9162 §2.1.4.1, `PROOF(old_size, D[new_size])`); empty when
    /// the sizes are equal.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSize`] if `old_size` is 0 or larger than `new_size`, or
    /// `new_size > len()`.
    pub fn consistency_proof(&self, old_size: u64, new_size: u64) -> Result<ConsistencyProof<H>> {
        self.check_size(new_size)?;
        crate::proof::check_consistency_sizes(old_size, new_size)?;
        let mut path = Vec::with_capacity(64);
        if old_size < new_size {
            self.subproof(old_size, 0, new_size, true, &mut path);
        }
        Ok(ConsistencyProof {
            old_size,
            new_size,
            path,
        })
    }

    /// SUBPROOF(m, D[start:end], b), appending in the RFC's order.
    fn subproof(&self, m: u64, start: u64, end: u64, whole: bool, out: &mut Vec<H::Digest>) {
        let n = end - start;
        if m == n {
            if !whole {
                out.push(self.subtree(start, end));
            }
            return;
        }
        let k = split(n);
        if m <= k {
            self.subproof(m, start, start + k, whole, out);
            out.push(self.subtree(start + k, end));
        } else {
            self.subproof(m - k, start + k, end, false, out);
            out.push(self.subtree(start, start + k));
        }
    }

    /// One proof that the leaves at `indices` (strictly increasing) are in
    /// the tree of `tree_size` leaves: the hashes of the maximal subtrees
    /// holding none of them, left to right. Never larger than the separate
    /// inclusion proofs together, and much smaller for nearby leaves.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSize`], [`Error::IndexOutOfRange`], or
    /// [`Error::UnsortedIndices`].
    pub fn multi_proof(&self, indices: &[u64], tree_size: u64) -> Result<MultiProof<H>> {
        self.check_size(tree_size)?;
        crate::proof::check_indices(indices, tree_size)?;
        let mut hashes = Vec::new();
        self.multi(indices, 0, tree_size, &mut hashes);
        Ok(MultiProof {
            tree_size,
            leaf_indices: indices.to_vec(),
            hashes,
        })
    }

    fn multi(&self, indices: &[u64], start: u64, end: u64, out: &mut Vec<H::Digest>) {
        if indices.is_empty() {
            out.push(self.subtree(start, end));
            return;
        }
        if end - start == 1 {
            return;
        }
        let k = split(end - start);
        let left = indices.partition_point(|&i| i < start + k);
        self.multi(&indices[..left], start, start + k, out);
        self.multi(&indices[left..], start + k, end, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_largest_power_of_two_below() {
        assert_eq!(split(2), 1);
        assert_eq!(split(3), 2);
        assert_eq!(split(4), 2);
        assert_eq!(split(5), 4);
        assert_eq!(split(8), 4);
        assert_eq!(split(9), 8);
        assert_eq!(split(u64::MAX), 1 << 63);
    }
}
