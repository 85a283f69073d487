//! The per-table Bloom filter over user keys.
//!
//! This is the one place that knows the filter's bytes. It is a stand-in
//! until the workspace's `bloom` crate lands: swapping to `bloom` changes
//! only this file (and FORMAT.md's filter section).
//!
//! Layout: `probes: u8 | bits[..]`; bit `i` is byte `i / 8`, bit `i % 8`.
//! Probe `j` of a key with xxh3 hash `h` sets bit
//! `(h1 + j * h2) mod (8 * len(bits))`, `h1 = h`, `h2 = (h >> 32) | 1`.

use xxhash_rust::xxh3::xxh3_64;

/// Hash of a user key, as the filter uses it.
pub(crate) fn key_hash(user_key: &[u8]) -> u64 {
    xxh3_64(user_key)
}

/// Builds the filter bytes for the given key hashes.
pub(crate) fn build(hashes: &[u64], bits_per_key: usize) -> Vec<u8> {
    let probes = ((bits_per_key as f64) * std::f64::consts::LN_2)
        .round()
        .clamp(1.0, 30.0) as u8;
    let bits = (hashes.len() * bits_per_key).max(64);
    let bytes = bits.div_ceil(8);
    let bits = bytes as u64 * 8;
    let mut out = vec![0u8; 1 + bytes];
    out[0] = probes;
    for &h in hashes {
        let (mut x, d) = (h, (h >> 32) | 1);
        for _ in 0..probes {
            let bit = x % bits;
            out[1 + (bit / 8) as usize] |= 1 << (bit % 8);
            x = x.wrapping_add(d);
        }
    }
    out
}

/// Whether the key with hash `h` may be in the filter `bytes`. A malformed
/// filter answers "maybe", which costs a block read, never a wrong answer.
pub(crate) fn may_contain(bytes: &[u8], h: u64) -> bool {
    let Some((&probes, bits_bytes)) = bytes.split_first() else {
        return true;
    };
    if bits_bytes.is_empty() || probes == 0 || probes > 30 {
        return true;
    }
    let bits = bits_bytes.len() as u64 * 8;
    let (mut x, d) = (h, (h >> 32) | 1);
    for _ in 0..probes {
        let bit = x % bits;
        if bits_bytes[(bit / 8) as usize] & (1 << (bit % 8)) == 0 {
            return false;
        }
        x = x.wrapping_add(d);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_has_no_false_negatives_and_few_false_positives() {
        let hashes: Vec<u64> = (0..10_000u32).map(|i| key_hash(&i.to_le_bytes())).collect();
        let f = build(&hashes, 10);
        assert!(hashes.iter().all(|&h| may_contain(&f, h)));
        let fp = (10_000..110_000u32)
            .filter(|i| may_contain(&f, key_hash(&i.to_le_bytes())))
            .count();
        assert!(fp < 2_000, "false positives {fp} of 100000");
    }
}
