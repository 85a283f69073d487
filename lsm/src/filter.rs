//! The per-table Bloom filter: the `bloom` crate's cache-blocked filter
//! (one 64-byte block per key, so a probe costs one cache miss), stored in
//! its own serialized form (`bloom/FORMAT.md`: magic, version, kind, shape,
//! words, CRC-32) as the table's filter block.
//!
//! A table decodes its filter once when it is opened and keeps it in
//! memory; a get hashes the user key once ([`key_hash`]) and probes every
//! table's filter with that hash.

use std::path::Path;

use bloom::BlockedBloomFilter;

use crate::{Error, Result};

/// Hash of a user key, as the filters use it (`bloom::hash128`, xxh3-128).
pub(crate) fn key_hash(user_key: &[u8]) -> u128 {
    bloom::hash128(user_key)
}

/// Probes per key for `bits_per_key` bits: about 0.6 per bit, the optimum
/// for a blocked filter (at 10 bits/key, 6 probes: `bloom`'s README measures
/// 0.995% false positives at 9.96 bits/key and k = 6).
fn probes_for(bits_per_key: usize) -> u32 {
    ((bits_per_key as f64) * 0.6).round().clamp(1.0, 16.0) as u32
}

/// The serialized filter over the given key hashes.
pub(crate) fn build(hashes: &[u128], bits_per_key: usize) -> Vec<u8> {
    let bits = (hashes.len() as u64)
        .saturating_mul(bits_per_key as u64)
        .clamp(512, 1 << 40);
    // In range by the clamps above: 512 <= bits <= 2^40, 1 <= probes <= 16.
    let Ok(mut f) = BlockedBloomFilter::with_bits(bits, probes_for(bits_per_key)) else {
        return Vec::new();
    };
    for &h in hashes {
        f.insert_hash(h);
    }
    f.to_bytes()
}

/// Decodes a table's filter block read from `file` at `offset`.
///
/// # Errors
///
/// [`Error::Corruption`] naming the file and block if the bytes are not a
/// blocked filter or fail its CRC.
pub(crate) fn decode(bytes: &[u8], file: &Path, offset: u64) -> Result<BlockedBloomFilter> {
    BlockedBloomFilter::from_bytes(bytes).map_err(|e| match e {
        bloom::Error::Checksum { expected, found } => Error::corruption(
            file,
            offset,
            "filter block checksum",
            u64::from(expected),
            u64::from(found),
        ),
        bloom::Error::Truncated { len, len_min } => Error::corruption(
            file,
            offset,
            "filter block shorter than its header says",
            len_min as u64,
            len as u64,
        ),
        bloom::Error::TrailingBytes { len, len_expected } => Error::corruption(
            file,
            offset,
            "filter block longer than its header says",
            len_expected as u64,
            len as u64,
        ),
        bloom::Error::BadMagic { found } => Error::corruption(
            file,
            offset,
            "filter block magic",
            u64::from(u32::from_le_bytes(*b"BLMF")),
            u64::from(u32::from_le_bytes(found)),
        ),
        bloom::Error::UnsupportedVersion { found, supported } => Error::corruption(
            file,
            offset,
            "filter block version",
            u64::from(supported),
            u64::from(found),
        ),
        bloom::Error::UnknownKind { found } => Error::corruption(
            file,
            offset,
            "filter block kind",
            u64::from(bloom::Kind::Blocked.as_byte()),
            u64::from(found),
        ),
        bloom::Error::WrongKind { expected, found } => Error::corruption(
            file,
            offset,
            "filter block kind",
            u64::from(expected.as_byte()),
            u64::from(found.as_byte()),
        ),
        // The header's fields disagree: `reason` says which; the block's
        // length is the one number to name.
        bloom::Error::BadHeader { reason } => {
            Error::corruption(file, offset, reason, bytes.len() as u64, bytes.len() as u64)
        }
        // Arguments and shapes are checked on building, not decoding.
        _ => Error::corruption(
            file,
            offset,
            "filter block header inconsistent (block bytes)",
            bytes.len() as u64,
            bytes.len() as u64,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_has_no_false_negatives_and_about_one_percent_false_positives() {
        let hashes: Vec<u128> = (0..10_000u32).map(|i| key_hash(&i.to_le_bytes())).collect();
        let bytes = build(&hashes, 10);
        let f = decode(&bytes, Path::new("t"), 0).expect("decode");
        assert!(hashes.iter().all(|&h| f.contains_hash(h)));
        let fp = (10_000..110_000u32)
            .filter(|i| f.contains_hash(key_hash(&i.to_le_bytes())))
            .count();
        assert!(fp < 2_000, "false positives {fp} of 100000");
    }

    #[test]
    fn flipped_filter_byte_is_corruption_naming_the_file() {
        let hashes: Vec<u128> = (0..100u32).map(|i| key_hash(&i.to_le_bytes())).collect();
        let mut bytes = build(&hashes, 10);
        let mid = bytes.len() / 2;
        bytes[mid] ^= 1;
        let r = decode(&bytes, Path::new("000007.sst"), 4096);
        assert!(matches!(
            r,
            Err(Error::Corruption { ref file, offset: 4096, .. }) if file == Path::new("000007.sst")
        ));
    }
}
