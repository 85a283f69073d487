//! The sparse representation (as in HLL++): while few registers are set, keep
//! only those, at a much higher precision, so small sets count almost exactly
//! and a sketch of 100 items costs 400 bytes, not kilobytes.
//!
//! An entry is a 32-bit word: the top 25 bits of the item's hash (the
//! register index at precision 25) shifted left by 6, or-ed with the
//! register's value (1..=40). Entries are kept sorted by index, one per
//! index. Folding an entry to a dense precision `p` is the same fold as
//! `reduce` from 25 to `p`, so converting is exact.

/// The precision of sparse entries.
pub(crate) const SPARSE_PRECISION: u8 = 25;
/// Register values at precision 25: `0..=64 - 25 + 1`.
pub(crate) const SPARSE_VALUE_MAX: u8 = 64 - SPARSE_PRECISION + 1;
const VALUE_BITS: u32 = 6;
const VALUE_MASK: u32 = (1 << VALUE_BITS) - 1;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Sparse {
    /// Sorted by index; `index << 6 | value`.
    entries: Vec<u32>,
    /// `histogram[k]` = entries holding `k`, for `k` in `1..=40`; the empty
    /// registers are `2^25 - entries.len()`.
    histogram: [u32; SPARSE_VALUE_MAX as usize + 1],
}

/// The sparse index and value of a hash (xxh3 mode).
#[inline]
pub(crate) fn split_hash(hash: u64) -> (u32, u8) {
    let p = u32::from(SPARSE_PRECISION);
    let rest = (hash << p) | (1 << (p - 1));
    ((hash >> (64 - p)) as u32, rest.leading_zeros() as u8 + 1)
}

/// The dense register index and value at precision `p` for a sparse entry.
#[inline]
pub(crate) fn fold(index: u32, value: u8, p: u8) -> (usize, u8) {
    let shift = u32::from(SPARSE_PRECISION - p);
    let moved = index & ((1 << shift) - 1);
    let folded = if moved == 0 {
        shift as u8 + value
    } else {
        (shift - (u32::BITS - moved.leading_zeros())) as u8 + 1
    };
    ((index >> shift) as usize, folded)
}

impl Sparse {
    pub(crate) fn new() -> Sparse {
        Sparse {
            entries: Vec::new(),
            histogram: [0; SPARSE_VALUE_MAX as usize + 1],
        }
    }

    /// Builds from decoded entries; `None` unless sorted by index with
    /// values in 1..=40.
    pub(crate) fn from_entries(entries: Vec<u32>) -> Option<Sparse> {
        let mut sparse = Sparse::new();
        let mut previous: Option<u32> = None;
        for &e in &entries {
            let (index, value) = (e >> VALUE_BITS, (e & VALUE_MASK) as u8);
            if value == 0
                || value > SPARSE_VALUE_MAX
                || index >= 1 << SPARSE_PRECISION
                || previous.is_some_and(|p| p >= index)
            {
                return None;
            }
            previous = Some(index);
            sparse.histogram[usize::from(value)] += 1;
        }
        sparse.entries = entries;
        Some(sparse)
    }

    pub(crate) fn entries(&self) -> &[u32] {
        &self.entries
    }

    pub(crate) fn len_bytes(&self) -> usize {
        self.entries.len() * 4
    }

    /// Raises entry `index` to `value`.
    pub(crate) fn raise(&mut self, index: u32, value: u8) {
        let key = index << VALUE_BITS;
        match self
            .entries
            .binary_search_by(|e| (e & !VALUE_MASK).cmp(&key))
        {
            Ok(at) => {
                let old = (self.entries[at] & VALUE_MASK) as u8;
                if value > old {
                    self.entries[at] = key | u32::from(value);
                    self.histogram[usize::from(old)] -= 1;
                    self.histogram[usize::from(value)] += 1;
                }
            }
            Err(at) => {
                self.entries.insert(at, key | u32::from(value));
                self.histogram[usize::from(value)] += 1;
            }
        }
    }

    pub(crate) fn merge(&mut self, other: &Sparse) {
        for &e in &other.entries {
            self.raise(e >> VALUE_BITS, (e & VALUE_MASK) as u8);
        }
    }

    /// Every entry folded to precision `p`: (dense index, value).
    pub(crate) fn folded(&self, p: u8) -> impl Iterator<Item = (usize, u8)> + '_ {
        self.entries
            .iter()
            .map(move |&e| fold(e >> VALUE_BITS, (e & VALUE_MASK) as u8, p))
    }

    /// The register `index` of the dense sketch at precision `p`.
    pub(crate) fn register(&self, index: usize, p: u8) -> u8 {
        let shift = u32::from(SPARSE_PRECISION - p);
        let lo = ((index as u32) << shift) << VALUE_BITS;
        let hi = (((index as u32) + 1) << shift) << VALUE_BITS;
        let start = self.entries.partition_point(|&e| e < lo);
        let end = self.entries.partition_point(|&e| e < hi);
        self.entries[start..end]
            .iter()
            .map(|&e| fold(e >> VALUE_BITS, (e & VALUE_MASK) as u8, p).1)
            .max()
            .unwrap_or(0)
    }

    /// Ertl's estimator over the 2^25 registers the entries stand for.
    pub(crate) fn estimate(&self) -> f64 {
        let mut histogram = self.histogram;
        histogram[0] = (1u32 << SPARSE_PRECISION) - self.entries.len() as u32;
        crate::estimator::estimate(&histogram, 1 << SPARSE_PRECISION)
    }
}
