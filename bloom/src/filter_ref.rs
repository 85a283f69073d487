//! `FilterRef`: membership tests straight from serialized bytes.

use crate::error::Result;
use crate::format::{self, Kind, LeWords};
use crate::hash::hash128;
use crate::split_block::SplitBlockBloomFilter;
use crate::{blocked, classic, counting, split_block};

/// A view of a serialized filter of any kind that answers
/// [`contains`](Self::contains) from the bytes themselves: no allocation, no
/// copy. Meant for filters inside memory-mapped files (an SSTable's filter
/// block), where decoding into an owned filter would copy it for each open.
///
/// Construction checks the header and the CRC-32 once; lookups then read
/// words in place.
///
/// ```
/// use larder_bloom::{BloomFilter, FilterRef};
/// # fn main() -> larder_bloom::Result<()> {
/// let mut filter = BloomFilter::with_rate(1000, 0.01)?;
/// filter.insert(b"apple");
/// let bytes = filter.to_bytes();
/// let view = FilterRef::new(&bytes)?;
/// assert!(view.contains(b"apple"));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug)]
pub struct FilterRef<'a> {
    kind: Kind,
    slots: u64,
    probes: u32,
    payload: &'a [u8],
}

impl<'a> FilterRef<'a> {
    /// Checks `bytes` (header, lengths, CRC-32) and wraps them.
    ///
    /// # Errors
    ///
    /// As [`BloomFilter::from_bytes`](crate::BloomFilter::from_bytes), for
    /// any kind.
    pub fn new(bytes: &'a [u8]) -> Result<FilterRef<'a>> {
        let (header, payload) = format::decode(bytes, None)?;
        Ok(FilterRef {
            kind: header.kind,
            slots: header.slots,
            probes: header.probes,
            payload,
        })
    }

    /// The kind of the serialized filter.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Whether the key may have been added.
    pub fn contains(&self, key: &[u8]) -> bool {
        self.contains_hash(self.hash(key))
    }

    /// The hash this filter's kind uses for `key`: [`hash128`] for every kind
    /// but the split-block one, whose xxh64 hash is returned zero-extended.
    pub fn hash(&self, key: &[u8]) -> u128 {
        match self.kind {
            Kind::SplitBlock => u128::from(SplitBlockBloomFilter::hash(key)),
            _ => hash128(key),
        }
    }

    /// [`contains`](Self::contains) by the hash [`hash`](Self::hash) returns.
    pub fn contains_hash(&self, hash: u128) -> bool {
        let words = LeWords(self.payload);
        match self.kind {
            Kind::Classic => classic::contains_in(&words, self.slots, self.probes, hash),
            Kind::Blocked => blocked::contains_in(&words, self.slots, self.probes, hash),
            Kind::SplitBlock => split_block::contains_in(self.payload, self.slots, hash as u64),
            Kind::Counting => counting::contains_in(&words, self.slots, self.probes, hash),
        }
    }
}
