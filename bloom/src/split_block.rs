//! `SplitBlockBloomFilter`: the split-block Bloom filter of the Apache Parquet
//! format, byte for byte.

use xxhash_rust::xxh64::xxh64;

use crate::bits;
use crate::error::{Error, Result, invalid};
use crate::format::{self, Header, Kind};

/// The eight odd constants of the Parquet specification: each picks the bit
/// of one 32-bit word of a block.
pub const SALT: [u32; 8] = [
    0x47b6_137b,
    0x4497_4d91,
    0x8824_ad5b,
    0xa2b7_289d,
    0x7054_95c7,
    0x2df1_424b,
    0x9efc_4947,
    0x5c6b_fb31,
];

/// Bytes in a block: eight 32-bit words.
pub(crate) const BLOCK_BYTES: usize = 32;

/// Largest bitset the Parquet specification allows writers to produce.
pub(crate) const MAX_BYTES: usize = 128 * 1024 * 1024;

/// The split-block Bloom filter (SBBF) of the Apache Parquet specification
/// (`BloomFilter.md`): `z` blocks of eight 32-bit words; a key's 64-bit
/// xxh64 (seed 0) hash picks block `((hash >> 32) * z) >> 32`, and its low
/// 32 bits `x` set, in each word `i`, bit `(x * SALT[i]) >> 27`.
///
/// Exactly eight bits per key, one per word, so a lookup touches one 32-byte
/// block. [`from_parquet_bitset`](Self::from_parquet_bitset) and
/// [`to_parquet_bitset`](Self::to_parquet_bitset) read and write the bitset
/// Parquet files store after a column chunk's `BloomFilterHeader`
/// (words little-endian). Parquet hashes a value's plain encoding: a
/// `BYTE_ARRAY` as its bytes, an `INT32` as 4 little-endian bytes, and so on;
/// [`insert`](Self::insert) takes those bytes.
///
/// This kind hashes with xxh64, not the xxh3-128 the other kinds share,
/// because the specification says so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitBlockBloomFilter {
    blocks: Vec<[u32; 8]>,
}

impl SplitBlockBloomFilter {
    /// A filter sized for `expected_items` keys at `false_positive_rate`, as
    /// Parquet writers size theirs: `m = -8 n / ln(1 - p^(1/8))` bits, rounded
    /// up to whole blocks and to a power of two, at most 128 MiB.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `expected_items` is 0 or the rate is not
    /// in (0, 1).
    pub fn with_rate(
        expected_items: u64,
        false_positive_rate: f64,
    ) -> Result<SplitBlockBloomFilter> {
        bits::check_rate(expected_items, false_positive_rate)?;
        let bits = -8.0 * expected_items as f64 / (1.0 - false_positive_rate.powf(1.0 / 8.0)).ln();
        let bytes = ((bits / 8.0).ceil() as u64).clamp(BLOCK_BYTES as u64, MAX_BYTES as u64);
        let bytes = bytes.next_power_of_two().min(MAX_BYTES as u64);
        SplitBlockBloomFilter::with_bytes(bytes as usize)
    }

    /// A filter of `bytes` bytes.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] unless `bytes` is a positive multiple of 32
    /// no larger than 128 MiB.
    pub fn with_bytes(bytes: usize) -> Result<SplitBlockBloomFilter> {
        if bytes == 0 || !bytes.is_multiple_of(BLOCK_BYTES) || bytes > MAX_BYTES {
            return Err(invalid(
                "bytes",
                bytes,
                "must be a positive multiple of 32, at most 128 MiB",
            ));
        }
        Ok(SplitBlockBloomFilter {
            blocks: vec![[0; 8]; bytes / BLOCK_BYTES],
        })
    }

    /// Reads the bitset of a Parquet bloom filter (the bytes after its
    /// `BloomFilterHeader`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] unless its length is a positive multiple of
    /// 32 no larger than 128 MiB.
    pub fn from_parquet_bitset(bitset: &[u8]) -> Result<SplitBlockBloomFilter> {
        let mut filter = SplitBlockBloomFilter::with_bytes(bitset.len())?;
        for (block, chunk) in filter
            .blocks
            .iter_mut()
            .zip(bitset.chunks_exact(BLOCK_BYTES))
        {
            for (word, bytes) in block.iter_mut().zip(chunk.chunks_exact(4)) {
                *word = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            }
        }
        Ok(filter)
    }

    /// The bitset as a Parquet file stores it.
    pub fn to_parquet_bitset(&self) -> Vec<u8> {
        self.blocks
            .iter()
            .flat_map(|b| b.iter().flat_map(|w| w.to_le_bytes()))
            .collect()
    }

    /// The hash Parquet uses: xxh64 with seed 0.
    pub fn hash(key: &[u8]) -> u64 {
        xxh64(key, 0)
    }

    /// Adds a key (its plain-encoded bytes).
    pub fn insert(&mut self, key: &[u8]) {
        self.insert_hash(Self::hash(key));
    }

    /// Adds a key by its xxh64 (seed 0) hash.
    pub fn insert_hash(&mut self, hash: u64) {
        let index = block_index(hash, self.blocks.len() as u64);
        let block = &mut self.blocks[index];
        let x = hash as u32;
        for (word, salt) in block.iter_mut().zip(SALT) {
            *word |= 1 << (x.wrapping_mul(salt) >> 27);
        }
    }

    /// Whether the key may have been added.
    pub fn contains(&self, key: &[u8]) -> bool {
        self.contains_hash(Self::hash(key))
    }

    /// [`contains`](Self::contains) by xxh64 (seed 0) hash.
    pub fn contains_hash(&self, hash: u64) -> bool {
        let block = &self.blocks[block_index(hash, self.blocks.len() as u64)];
        block_contains(|i| block[i], hash)
    }

    /// Adds every key of `other`.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] unless both have the same size.
    pub fn union(&mut self, other: &SplitBlockBloomFilter) -> Result<()> {
        self.check_same_shape(other)?;
        for (a, b) in self.blocks.iter_mut().zip(&other.blocks) {
            for (x, y) in a.iter_mut().zip(b) {
                *x |= y;
            }
        }
        Ok(())
    }

    fn check_same_shape(&self, other: &SplitBlockBloomFilter) -> Result<()> {
        if self.blocks.len() != other.blocks.len() {
            return Err(Error::ShapeMismatch {
                left: format!("{} blocks", self.blocks.len()),
                right: format!("{} blocks", other.blocks.len()),
            });
        }
        Ok(())
    }

    /// The false-positive rate at the current fill: the mean over blocks of
    /// the product over words of (bits set / 32).
    pub fn false_positive_rate(&self) -> f64 {
        let sum: f64 = self
            .blocks
            .iter()
            .map(|b| {
                b.iter()
                    .map(|w| f64::from(w.count_ones()) / 32.0)
                    .product::<f64>()
            })
            .sum();
        sum / self.blocks.len() as f64
    }

    /// Removes every key.
    pub fn clear(&mut self) {
        self.blocks.fill([0; 8]);
    }

    /// Size of the bitset in bytes.
    pub fn len_bytes(&self) -> usize {
        self.blocks.len() * BLOCK_BYTES
    }

    /// Serializes the filter (see `FORMAT.md`); the payload is exactly the
    /// Parquet bitset.
    pub fn to_bytes(&self) -> Vec<u8> {
        format::encode(
            Kind::SplitBlock,
            self.blocks.len() as u64,
            8,
            &self.to_parquet_bitset(),
        )
    }

    /// Decodes a filter written by [`to_bytes`](Self::to_bytes).
    ///
    /// # Errors
    ///
    /// Truncated, corrupt (CRC) or wrong-kind bytes, each its own variant.
    pub fn from_bytes(bytes: &[u8]) -> Result<SplitBlockBloomFilter> {
        let (_, payload) = format::decode(bytes, Some(Kind::SplitBlock))?;
        SplitBlockBloomFilter::from_parquet_bitset(payload)
    }
}

#[inline(always)]
fn block_index(hash: u64, blocks: u64) -> usize {
    (((hash >> 32) * blocks) >> 32) as usize
}

#[inline(always)]
fn block_contains(word: impl Fn(usize) -> u32, hash: u64) -> bool {
    let x = hash as u32;
    SALT.iter()
        .enumerate()
        .all(|(i, salt)| word(i) & (1 << (x.wrapping_mul(*salt) >> 27)) != 0)
}

/// The membership test over a serialized bitset, for `FilterRef`.
pub(crate) fn contains_in(bitset: &[u8], blocks: u64, hash: u64) -> bool {
    let base = block_index(hash, blocks) * BLOCK_BYTES;
    block_contains(
        |i| {
            let at = base + i * 4;
            u32::from_le_bytes([bitset[at], bitset[at + 1], bitset[at + 2], bitset[at + 3]])
        },
        hash,
    )
}

pub(crate) fn check_header(header: &Header) -> Result<()> {
    let bad =
        header.slots == 0 || header.slots > (MAX_BYTES / BLOCK_BYTES) as u64 || header.probes != 8;
    if bad {
        return Err(Error::BadHeader {
            reason: "split-block filter must have 1..=4Mi blocks and 8 probes",
        });
    }
    Ok(())
}
