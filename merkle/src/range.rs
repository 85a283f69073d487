//! `RangeTree` and `diff`: find the key ranges two replicas disagree on.

use crate::compact::CompactTree;
use crate::error::{Error, Result};
use crate::hasher::Hasher;
use crate::tree::{MerkleTree, split};

/// A half-open range of keys: `start` inclusive, `end` exclusive; `None`
/// is unbounded.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KeyRange {
    /// The first key of the range, or unbounded below.
    pub start: Option<Vec<u8>>,
    /// The first key past the range, or unbounded above.
    pub end: Option<Vec<u8>>,
}

impl KeyRange {
    /// Whether `key` lies in the range.
    pub fn contains(&self, key: &[u8]) -> bool {
        self.start.as_deref().is_none_or(|s| key >= s)
            && self.end.as_deref().is_none_or(|e| key < e)
    }
}

/// A Merkle tree over a key space cut into ranges, Dynamo and Cassandra
/// style: each range's hash covers the `(key, value)` pairs in it, and the
/// ranges are the leaves of a [`MerkleTree`]. Two replicas that build their
/// trees over the same boundaries find where they differ with [`diff`],
/// comparing only the nodes on paths to differences.
#[derive(Clone, Debug)]
pub struct RangeTree<H: Hasher> {
    boundaries: Vec<Vec<u8>>,
    tree: MerkleTree<H>,
}

/// The hash of one `(key, value)` pair: both length-prefixed, so no pair can
/// be confused with another split differently.
fn entry_hash<H: Hasher>(key: &[u8], value: &[u8], buf: &mut Vec<u8>) -> H::Digest {
    buf.clear();
    buf.extend_from_slice(&(key.len() as u64).to_le_bytes());
    buf.extend_from_slice(key);
    buf.extend_from_slice(&(value.len() as u64).to_le_bytes());
    buf.extend_from_slice(value);
    H::hash_leaf(buf)
}

impl<H: Hasher> RangeTree<H> {
    /// Builds the tree over ranges cut at `boundaries` (strictly increasing:
    /// `n` boundaries make `n + 1` ranges, the first unbounded below, the last
    /// unbounded above) from `(key, value)` pairs sorted by key.
    ///
    /// # Errors
    ///
    /// [`Error::UnsortedIndices`] if the boundaries or keys are not strictly
    /// increasing (fields give the positions of the offending pair).
    pub fn build<K, V>(
        boundaries: Vec<Vec<u8>>,
        items: impl IntoIterator<Item = (K, V)>,
    ) -> Result<RangeTree<H>>
    where
        K: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        for (i, pair) in boundaries.windows(2).enumerate() {
            if pair[1] <= pair[0] {
                return Err(Error::UnsortedIndices {
                    previous: i as u64,
                    got: i as u64 + 1,
                });
            }
        }
        let mut range_hashes = Vec::with_capacity(boundaries.len() + 1);
        let mut current = CompactTree::<H>::new();
        let mut range = 0;
        let mut previous: Option<Vec<u8>> = None;
        let mut buf = Vec::new();
        for (position, (key, value)) in items.into_iter().enumerate() {
            let key = key.as_ref();
            if let Some(p) = &previous
                && key <= p.as_slice()
            {
                return Err(Error::UnsortedIndices {
                    previous: position as u64 - 1,
                    got: position as u64,
                });
            }
            while range < boundaries.len() && key >= boundaries[range].as_slice() {
                range_hashes.push(current.root());
                current = CompactTree::new();
                range += 1;
            }
            current.push_hash(entry_hash::<H>(key, value.as_ref(), &mut buf));
            previous = Some(key.to_vec());
        }
        while range_hashes.len() < boundaries.len() + 1 {
            range_hashes.push(current.root());
            current = CompactTree::new();
        }
        Ok(RangeTree {
            boundaries,
            tree: MerkleTree::from_leaf_hashes(range_hashes),
        })
    }

    /// Builds the tree over `ranges` equal slices of the space of 2-byte key
    /// prefixes (`ranges` in 1..=65536): a fixed fan-out both replicas agree
    /// on without exchanging boundaries.
    ///
    /// # Errors
    ///
    /// As [`build`](Self::build).
    pub fn build_uniform<K, V>(
        ranges: u32,
        items: impl IntoIterator<Item = (K, V)>,
    ) -> Result<RangeTree<H>>
    where
        K: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        let ranges = u64::from(ranges.clamp(1, 1 << 16));
        let boundaries = (1..ranges)
            .map(|i| ((i << 16) / ranges) as u16)
            .collect::<Vec<_>>();
        let mut cuts: Vec<Vec<u8>> = boundaries
            .iter()
            .map(|b| b.to_be_bytes().to_vec())
            .collect();
        cuts.dedup();
        RangeTree::build(cuts, items)
    }

    /// The root hash: equal on two replicas holding the same data.
    pub fn root(&self) -> H::Digest {
        self.tree.root()
    }

    /// Number of ranges.
    pub fn ranges(&self) -> u64 {
        self.tree.len()
    }

    /// The key range of range `index`.
    pub fn range(&self, index: u64) -> KeyRange {
        let i = index as usize;
        KeyRange {
            start: i.checked_sub(1).map(|p| self.boundaries[p].clone()),
            end: self.boundaries.get(i).cloned(),
        }
    }
}

/// What [`diff_counted`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diff {
    /// The ranges whose contents differ, in key order.
    pub ranges: Vec<KeyRange>,
    /// Node hashes compared to find them.
    pub hashes_compared: u64,
}

/// The key ranges where `a` and `b` differ, walking both trees from the root
/// and descending only where hashes differ.
///
/// # Errors
///
/// [`Error::BoundaryMismatch`] if the trees cut the key space differently.
pub fn diff<H: Hasher>(a: &RangeTree<H>, b: &RangeTree<H>) -> Result<Vec<KeyRange>> {
    Ok(diff_counted(a, b)?.ranges)
}

/// [`diff`], also counting the hashes compared.
///
/// # Errors
///
/// [`Error::BoundaryMismatch`] if the trees cut the key space differently.
pub fn diff_counted<H: Hasher>(a: &RangeTree<H>, b: &RangeTree<H>) -> Result<Diff> {
    if a.boundaries != b.boundaries {
        return Err(Error::BoundaryMismatch);
    }
    let mut out = Diff {
        ranges: Vec::new(),
        hashes_compared: 0,
    };
    walk(a, b, 0, a.tree.len(), &mut out);
    Ok(out)
}

fn walk<H: Hasher>(a: &RangeTree<H>, b: &RangeTree<H>, start: u64, end: u64, out: &mut Diff) {
    out.hashes_compared += 1;
    if a.tree.subtree(start, end) == b.tree.subtree(start, end) {
        return;
    }
    if end - start == 1 {
        out.ranges.push(a.range(start));
        return;
    }
    let k = split(end - start);
    walk(a, b, start, start + k, out);
    walk(a, b, start + k, end, out);
}
