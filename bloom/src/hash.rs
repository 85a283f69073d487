//! The hashing scheme the filters share: one xxh3-128 of the key, then
//! enhanced double hashing for the probe positions.
//!
//! Kirsch and Mitzenmacher showed two hash values suffice for a Bloom filter;
//! Dillinger and Manolios' *enhanced* double hashing (`h1 += h2; h2 += i`)
//! removes the patterns plain double hashing leaves. Positions are reduced to
//! `0..n` by Lemire's multiply-shift (`(x * n) >> 64`), which has no division
//! and uses the well-mixed high bits of each 64-bit value.

use xxhash_rust::xxh3::xxh3_128;

/// The 128-bit hash of `key` every filter kind but the Parquet one uses.
#[inline]
pub fn hash128(key: &[u8]) -> u128 {
    xxh3_128(key)
}

/// Maps `x` uniformly onto `0..n` without a division.
#[inline(always)]
pub(crate) fn reduce(x: u64, n: u64) -> u64 {
    ((u128::from(x) * u128::from(n)) >> 64) as u64
}

/// Probe positions in `0..slots` for a 128-bit hash, by enhanced double hashing.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Probes {
    h1: u64,
    h2: u64,
    i: u64,
}

impl Probes {
    #[inline(always)]
    pub(crate) fn new(hash: u128) -> Probes {
        Probes {
            h1: hash as u64,
            // An odd step, so a step of zero never repeats one position.
            h2: ((hash >> 64) as u64) | 1,
            i: 0,
        }
    }

    /// The next position in `0..slots`.
    #[inline(always)]
    pub(crate) fn next(&mut self, slots: u64) -> u64 {
        let position = reduce(self.h1, slots);
        self.h1 = self.h1.wrapping_add(self.h2);
        self.i += 1;
        self.h2 = self.h2.wrapping_add(self.i);
        position
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduce_stays_in_range_and_spans_it() {
        assert_eq!(reduce(0, 10), 0);
        assert_eq!(reduce(u64::MAX, 10), 9);
        assert_eq!(reduce(u64::MAX / 2, 10), 4);
    }

    #[test]
    fn probes_differ_for_one_key() {
        let mut probes = Probes::new(hash128(b"key"));
        let positions: Vec<u64> = (0..7).map(|_| probes.next(1 << 20)).collect();
        let distinct: std::collections::HashSet<_> = positions.iter().collect();
        assert_eq!(distinct.len(), positions.len());
    }
}
