//! `BloomFilter`: the classic Bloom filter, one bit array, `k` probes anywhere
//! in it.

use crate::bits;
use crate::error::{Error, Result};
use crate::format::{self, Header, Kind};
use crate::hash::{Probes, hash128};

/// A classic Bloom filter: `m` bits, each key sets `k` of them chosen by
/// enhanced double hashing of its xxh3-128 hash.
///
/// The most accurate kind per bit; each probe may be a cache miss on a filter
/// larger than the cache, so [`BlockedBloomFilter`](crate::BlockedBloomFilter)
/// is faster when the filter is big.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BloomFilter {
    words: Vec<u64>,
    bits: u64,
    probes: u32,
}

impl BloomFilter {
    /// A filter sized for `expected_items` keys at `false_positive_rate`, with
    /// the optimal number of bits and probes.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `expected_items` is 0 or the rate is not
    /// in (0, 1), or the filter would exceed 2^40 bits.
    pub fn with_rate(expected_items: u64, false_positive_rate: f64) -> Result<BloomFilter> {
        bits::check_rate(expected_items, false_positive_rate)?;
        let bits = bits::optimal_bits(expected_items, false_positive_rate);
        BloomFilter::with_bits(bits, bits::optimal_probes(bits, expected_items))
    }

    /// A filter of exactly `bits` bits and `probes` probes per key.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] unless `1 <= bits <= 2^40` and `1 <= probes <= 32`.
    pub fn with_bits(bits: u64, probes: u32) -> Result<BloomFilter> {
        bits::check_shape(bits, probes)?;
        Ok(BloomFilter {
            words: vec![0; bits::words_for(bits)],
            bits,
            probes,
        })
    }

    /// Adds a key.
    pub fn insert(&mut self, key: &[u8]) {
        self.insert_hash(hash128(key));
    }

    /// Adds a key by its precomputed [`hash128`](crate::hash128).
    pub fn insert_hash(&mut self, hash: u128) {
        let mut probes = Probes::new(hash);
        for _ in 0..self.probes {
            bits::set(&mut self.words, probes.next(self.bits));
        }
    }

    /// Whether the key may have been added (`false`: it certainly was not).
    pub fn contains(&self, key: &[u8]) -> bool {
        self.contains_hash(hash128(key))
    }

    /// [`contains`](Self::contains) by precomputed hash.
    pub fn contains_hash(&self, hash: u128) -> bool {
        contains_in(self.words.as_slice(), self.bits, self.probes, hash)
    }

    /// Adds every key of `other` to `self`: afterwards `self` answers as a
    /// filter built from both key sets.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] unless both have the same bits and probes.
    pub fn union(&mut self, other: &BloomFilter) -> Result<()> {
        self.check_same_shape(other)?;
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= b;
        }
        Ok(())
    }

    /// Keeps only bits set in both: afterwards `self` contains every key of
    /// the intersection of the two sets (and possibly others: an intersection
    /// of filters has a higher rate than a filter of the intersection).
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] unless both have the same bits and probes.
    pub fn intersect(&mut self, other: &BloomFilter) -> Result<()> {
        self.check_same_shape(other)?;
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= b;
        }
        Ok(())
    }

    fn check_same_shape(&self, other: &BloomFilter) -> Result<()> {
        if self.bits != other.bits || self.probes != other.probes {
            return Err(Error::ShapeMismatch {
                left: format!("{} bits, {} probes", self.bits, self.probes),
                right: format!("{} bits, {} probes", other.bits, other.probes),
            });
        }
        Ok(())
    }

    /// Estimated number of distinct keys added, from the fraction of bits set
    /// (Swamidass and Baldi): `-(m / k) ln(1 - X / m)`. Infinite when every
    /// bit is set.
    pub fn estimated_len(&self) -> f64 {
        let m = self.bits as f64;
        let set = bits::count_ones(&self.words) as f64;
        -(m / f64::from(self.probes)) * (1.0 - set / m).ln()
    }

    /// The false-positive rate at the current fill: `(X / m)^k`.
    pub fn false_positive_rate(&self) -> f64 {
        let fill = bits::count_ones(&self.words) as f64 / self.bits as f64;
        fill.powi(self.probes as i32)
    }

    /// Removes every key.
    pub fn clear(&mut self) {
        self.words.fill(0);
    }

    /// Size of the bit array in bits.
    pub fn bits(&self) -> u64 {
        self.bits
    }

    /// Probes per key.
    pub fn probes(&self) -> u32 {
        self.probes
    }

    /// Serializes the filter ([`FORMAT.md`](https://docs.rs/bloom)'s layout).
    pub fn to_bytes(&self) -> Vec<u8> {
        format::encode_words(Kind::Classic, self.bits, self.probes, &self.words)
    }

    /// Decodes a filter written by [`to_bytes`](Self::to_bytes).
    ///
    /// # Errors
    ///
    /// Truncated, corrupt (CRC) or wrong-kind bytes, each its own variant.
    pub fn from_bytes(bytes: &[u8]) -> Result<BloomFilter> {
        let (header, payload) = format::decode(bytes, Some(Kind::Classic))?;
        Ok(BloomFilter {
            words: format::words_from(payload),
            bits: header.slots,
            probes: header.probes,
        })
    }
}

/// The membership test over little-endian words, shared with `FilterRef`.
#[inline]
pub(crate) fn contains_in<W: format::Words + ?Sized>(
    words: &W,
    bits: u64,
    probes: u32,
    hash: u128,
) -> bool {
    let mut p = Probes::new(hash);
    for _ in 0..probes {
        let index = p.next(bits);
        if words.word((index >> 6) as usize) & (1 << (index & 63)) == 0 {
            return false;
        }
    }
    true
}

/// The shape a header must have for this kind.
pub(crate) fn check_header(header: &Header) -> Result<()> {
    bits::check_shape(header.slots, header.probes).map_err(|_| Error::BadHeader {
        reason: "bits or probes out of range",
    })
}
