//! `CountingBloomFilter`: 4-bit counters instead of bits, so keys can be
//! removed.

use crate::bits;
use crate::error::{Error, Result};
use crate::format::{self, Header, Kind, Words};
use crate::hash::{Probes, hash128};

/// Counters packed in a `u64` word.
const COUNTERS_PER_WORD: u64 = 16;
/// The largest value a 4-bit counter holds; a counter that reaches it is
/// *saturated* and stays there.
pub const COUNTER_MAX: u8 = 15;

/// A counting Bloom filter (Fan et al., 2000): `m` 4-bit counters; a key
/// increments its `k` counters on insert and decrements them on remove.
///
/// # Quirks
///
/// - Removing a key that was never inserted (but whose counters were all
///   nonzero, i.e. a false positive) decrements counters other keys rely
///   on, and may make those keys answer `false`: a false negative. Remove
///   only keys you inserted.
/// - A counter that reaches 15 saturates: its true count is lost, so it is
///   never decremented again. A saturated counter can never cause a false
///   negative, only keep answering `true` for keys long removed. With the
///   optimal probe count a counter reaches 15 with probability about
///   1.4e-15 per counter (Fan et al.), so this is rare in practice.
/// - It uses four times the memory of a [`BloomFilter`](crate::BloomFilter)
///   with the same rate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CountingBloomFilter {
    words: Vec<u64>,
    counters: u64,
    probes: u32,
}

impl CountingBloomFilter {
    /// A filter sized for `expected_items` keys at `false_positive_rate`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `expected_items` is 0 or the rate is not
    /// in (0, 1), or it would exceed 2^40 counters.
    pub fn with_rate(expected_items: u64, false_positive_rate: f64) -> Result<CountingBloomFilter> {
        bits::check_rate(expected_items, false_positive_rate)?;
        let counters = bits::optimal_bits(expected_items, false_positive_rate);
        CountingBloomFilter::with_counters(counters, bits::optimal_probes(counters, expected_items))
    }

    /// A filter of `counters` counters and `probes` counters per key.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] unless `1 <= counters <= 2^40` and
    /// `1 <= probes <= 32`.
    pub fn with_counters(counters: u64, probes: u32) -> Result<CountingBloomFilter> {
        bits::check_shape(counters, probes)?;
        Ok(CountingBloomFilter {
            words: vec![0; counters.div_ceil(COUNTERS_PER_WORD) as usize],
            counters,
            probes,
        })
    }

    fn counter(&self, index: u64) -> u8 {
        counter_in(self.words.as_slice(), index)
    }

    fn set_counter(&mut self, index: u64, value: u8) {
        let word = &mut self.words[(index / COUNTERS_PER_WORD) as usize];
        let shift = (index % COUNTERS_PER_WORD) * 4;
        *word = (*word & !(0xF << shift)) | (u64::from(value) << shift);
    }

    /// Adds a key.
    pub fn insert(&mut self, key: &[u8]) {
        self.insert_hash(hash128(key));
    }

    /// Adds a key by its precomputed [`hash128`](crate::hash128).
    pub fn insert_hash(&mut self, hash: u128) {
        let mut probes = Probes::new(hash);
        for _ in 0..self.probes {
            let index = probes.next(self.counters);
            let value = self.counter(index);
            if value < COUNTER_MAX {
                self.set_counter(index, value + 1);
            }
        }
    }

    /// Removes a key inserted before. Returns `false`, changing nothing, if
    /// the key is certainly absent (one of its counters is zero).
    pub fn remove(&mut self, key: &[u8]) -> bool {
        self.remove_hash(hash128(key))
    }

    /// [`remove`](Self::remove) by precomputed hash.
    pub fn remove_hash(&mut self, hash: u128) -> bool {
        if !self.contains_hash(hash) {
            return false;
        }
        let mut probes = Probes::new(hash);
        for _ in 0..self.probes {
            let index = probes.next(self.counters);
            let value = self.counter(index);
            // Saturated counters no longer know their count: keep them.
            if value > 0 && value < COUNTER_MAX {
                self.set_counter(index, value - 1);
            }
        }
        true
    }

    /// Whether the key may be present.
    pub fn contains(&self, key: &[u8]) -> bool {
        self.contains_hash(hash128(key))
    }

    /// [`contains`](Self::contains) by precomputed hash.
    pub fn contains_hash(&self, hash: u128) -> bool {
        contains_in(self.words.as_slice(), self.counters, self.probes, hash)
    }

    /// Adds the counts of `other` (saturating): afterwards `self` holds both
    /// key multisets.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] unless both have the same counters and probes.
    pub fn union(&mut self, other: &CountingBloomFilter) -> Result<()> {
        if self.counters != other.counters || self.probes != other.probes {
            return Err(Error::ShapeMismatch {
                left: format!("{} counters, {} probes", self.counters, self.probes),
                right: format!("{} counters, {} probes", other.counters, other.probes),
            });
        }
        for index in 0..self.counters {
            let sum = self.counter(index) + other.counter(index);
            self.set_counter(index, sum.min(COUNTER_MAX));
        }
        Ok(())
    }

    fn nonzero(&self) -> u64 {
        (0..self.counters).filter(|&i| self.counter(i) != 0).count() as u64
    }

    /// Estimated number of distinct keys present (Swamidass–Baldi over the
    /// nonzero counters).
    pub fn estimated_len(&self) -> f64 {
        let m = self.counters as f64;
        -(m / f64::from(self.probes)) * (1.0 - self.nonzero() as f64 / m).ln()
    }

    /// The false-positive rate at the current fill.
    pub fn false_positive_rate(&self) -> f64 {
        (self.nonzero() as f64 / self.counters as f64).powi(self.probes as i32)
    }

    /// Whether any counter is saturated (see the type's *Quirks*).
    pub fn is_saturated(&self) -> bool {
        (0..self.counters).any(|i| self.counter(i) == COUNTER_MAX)
    }

    /// Removes every key.
    pub fn clear(&mut self) {
        self.words.fill(0);
    }

    /// Number of counters.
    pub fn counters(&self) -> u64 {
        self.counters
    }

    /// Counters per key.
    pub fn probes(&self) -> u32 {
        self.probes
    }

    /// Serializes the filter (see `FORMAT.md`).
    pub fn to_bytes(&self) -> Vec<u8> {
        format::encode_words(Kind::Counting, self.counters, self.probes, &self.words)
    }

    /// Decodes a filter written by [`to_bytes`](Self::to_bytes).
    ///
    /// # Errors
    ///
    /// Truncated, corrupt (CRC) or wrong-kind bytes, each its own variant.
    pub fn from_bytes(bytes: &[u8]) -> Result<CountingBloomFilter> {
        let (header, payload) = format::decode(bytes, Some(Kind::Counting))?;
        Ok(CountingBloomFilter {
            words: format::words_from(payload),
            counters: header.slots,
            probes: header.probes,
        })
    }
}

#[inline]
fn counter_in<W: Words + ?Sized>(words: &W, index: u64) -> u8 {
    let word = words.word((index / COUNTERS_PER_WORD) as usize);
    ((word >> ((index % COUNTERS_PER_WORD) * 4)) & 0xF) as u8
}

/// The membership test over words, shared with `FilterRef`.
pub(crate) fn contains_in<W: Words + ?Sized>(
    words: &W,
    counters: u64,
    probes: u32,
    hash: u128,
) -> bool {
    let mut p = Probes::new(hash);
    (0..probes).all(|_| counter_in(words, p.next(counters)) != 0)
}

pub(crate) fn check_header(header: &Header) -> Result<()> {
    bits::check_shape(header.slots, header.probes).map_err(|_| Error::BadHeader {
        reason: "counters or probes out of range",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturated_counter_is_never_decremented() {
        let mut filter = CountingBloomFilter::with_counters(64, 1).unwrap();
        for _ in 0..20 {
            filter.insert(b"hot");
        }
        assert!(filter.is_saturated());
        for _ in 0..20 {
            assert!(filter.remove(b"hot"));
        }
        // The count was lost at saturation: the key still answers present.
        assert!(filter.contains(b"hot"));
    }

    #[test]
    fn remove_of_certainly_absent_key_changes_nothing() {
        let mut filter = CountingBloomFilter::with_rate(100, 0.01).unwrap();
        filter.insert(b"a");
        let before = filter.clone();
        assert!(!filter.remove(b"never inserted, certainly absent"));
        assert_eq!(filter, before);
    }
}
