//! What the examples share: the keys `scale` writes, so the examples that
//! reopen its store (`cold_reads`) ask for the same ones.

/// Key `i` of the store: 8 bytes of a bijective mix of `i` (so the fill
/// order `0..N` is a random permutation of the key order), then `i`.
pub(crate) fn key(i: u64, salt: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&mix(i ^ salt).to_be_bytes());
    k[8..].copy_from_slice(&i.to_be_bytes());
    k
}

/// SplitMix64's finalizer: a bijection on `u64`.
pub(crate) fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
