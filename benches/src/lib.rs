//! Shared pieces of the workspace's benchmarks: deterministic key and value
//! generators, so every bench and every peer sees the same inputs; and the
//! [`report`] harness behind `cargo run --release -p benches --bin report`.
// Denied, not forbidden: opening LMDB (heed) is `unsafe` by its API, allowed
// in that adapter alone.
#![deny(unsafe_code)]

pub mod report;

use std::time::Duration;

/// The criterion settings every bench file uses: short warm-up and
/// measurement, so a full run fits a shared 2-core machine; ratios against a
/// peer measured in the same run are what the READMEs quote.
pub fn criterion(measurement_secs: u64) -> criterion::Criterion {
    criterion::Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(measurement_secs))
        .sample_size(20)
}

/// SplitMix64: a tiny, fast, well-mixed generator. Benchmarks need inputs that
/// are reproducible across runs and machines, not cryptographic randomness.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    /// The next 64 pseudo-random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// `count` distinct 16-byte keys: the big-endian index, then 8 bytes of
/// index-derived noise. Distinct because the index part is.
pub fn keys_16(count: u64, seed: u64) -> Vec<[u8; 16]> {
    let mut rng = SplitMix64::new(seed);
    (0..count)
        .map(|i| {
            let mut key = [0u8; 16];
            key[..8].copy_from_slice(&rng.next_u64().to_be_bytes());
            key[8..].copy_from_slice(&i.to_be_bytes());
            key
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_distinct_and_reproducible() {
        let a = keys_16(10_000, 7);
        let b = keys_16(10_000, 7);
        assert_eq!(a, b);
        let set: std::collections::HashSet<_> = a.iter().collect();
        assert_eq!(set.len(), a.len());
        assert_ne!(keys_16(10, 8), keys_16(10, 7));
    }
}
