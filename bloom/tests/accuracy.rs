//! False-positive rates measured on a million keys, against theory.

use larder_bloom::{BlockedBloomFilter, BloomFilter, CountingBloomFilter, SplitBlockBloomFilter};

const KEYS: u64 = 1_000_000;

fn present(i: u64) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(b"present:");
    key[8..].copy_from_slice(&i.to_le_bytes());
    key
}

fn absent(i: u64) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(b"absent::");
    key[8..].copy_from_slice(&i.to_le_bytes());
    key
}

fn measured_rate(contains: impl Fn(&[u8]) -> bool) -> f64 {
    let hits = (0..KEYS).filter(|&i| contains(&absent(i))).count();
    hits as f64 / KEYS as f64
}

#[test]
fn classic_filter_rate_is_within_15_percent_of_target() {
    for target in [0.01, 0.001] {
        let mut filter = BloomFilter::with_rate(KEYS, target).unwrap();
        for i in 0..KEYS {
            filter.insert(&present(i));
        }
        assert!((0..KEYS).all(|i| filter.contains(&present(i))));
        let rate = measured_rate(|k| filter.contains(k));
        println!(
            "classic target {target}: measured {rate:.5}, {} bits/key, k = {}",
            filter.bits() as f64 / KEYS as f64,
            filter.probes()
        );
        assert!(
            (rate - target).abs() <= 0.15 * target,
            "target {target}, measured {rate}"
        );
        // The fill-based estimate agrees with the measurement.
        let predicted = filter.false_positive_rate();
        assert!(
            (predicted - rate).abs() <= 0.15 * target,
            "predicted {predicted}, measured {rate}"
        );
    }
}

#[test]
fn blocked_and_split_block_filters_meet_their_target_rate() {
    for target in [0.01, 0.001] {
        let mut blocked = BlockedBloomFilter::with_rate(KEYS, target).unwrap();
        let mut split = SplitBlockBloomFilter::with_rate(KEYS, target).unwrap();
        let mut counting = CountingBloomFilter::with_rate(KEYS, target).unwrap();
        for i in 0..KEYS {
            blocked.insert(&present(i));
            split.insert(&present(i));
            counting.insert(&present(i));
        }
        let blocked_rate = measured_rate(|k| blocked.contains(k));
        let split_rate = measured_rate(|k| split.contains(k));
        let counting_rate = measured_rate(|k| counting.contains(k));
        println!(
            "target {target}: blocked {blocked_rate:.5} ({:.2} bits/key, k = {}), split-block {split_rate:.5} ({:.2} bits/key), counting {counting_rate:.5}",
            blocked.bits() as f64 / KEYS as f64,
            blocked.probes(),
            split.len_bytes() as f64 * 8.0 / KEYS as f64,
        );
        // Sized by the block-load model, the blocked filter meets the target.
        assert!(
            blocked_rate <= target * 1.15,
            "blocked {blocked_rate} vs {target}"
        );
        // Parquet's sizing rounds up to a power of two, so it only gets better.
        assert!(
            split_rate <= target * 1.15,
            "split {split_rate} vs {target}"
        );
        assert!(
            (counting_rate - target).abs() <= 0.15 * target,
            "counting {counting_rate} vs {target}"
        );
    }
}

#[test]
fn blocked_filter_at_equal_bits_per_key_is_less_accurate_than_classic() {
    // 10 bits per key, the best k for each.
    let bits = KEYS * 10;
    let mut classic = BloomFilter::with_bits(bits, 7).unwrap();
    let mut blocked = BlockedBloomFilter::with_bits(bits, 7).unwrap();
    for i in 0..KEYS {
        classic.insert(&present(i));
        blocked.insert(&present(i));
    }
    let classic_rate = measured_rate(|k| classic.contains(k));
    let blocked_rate = measured_rate(|k| blocked.contains(k));
    println!("10 bits/key, k = 7: classic {classic_rate:.5}, blocked {blocked_rate:.5}");
    assert!(classic_rate < 0.0095, "{classic_rate}");
    assert!(
        blocked_rate > classic_rate && blocked_rate < 0.02,
        "{blocked_rate}"
    );
}
