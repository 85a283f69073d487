//! The sparse representation: same registers as dense, exact small counts,
//! small size, and a switch to dense once sparse would be larger.

use larder_hyperloglog::HyperLogLog;
use proptest::prelude::*;

/// Register values of a dense sketch computed straight from the hashes.
fn dense_model(p: u8, hashes: &[u64]) -> Vec<u8> {
    let mut registers = vec![0u8; 1 << p];
    for &h in hashes {
        let index = (h >> (64 - p)) as usize;
        let value = ((h << p) | (1 << (p - 1))).leading_zeros() as u8 + 1;
        registers[index] = registers[index].max(value);
    }
    registers
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn sparse_and_dense_hold_the_same_registers(hashes in prop::collection::vec(any::<u64>(), 0..4000), p in 4u8..=16) {
        let mut sketch = HyperLogLog::new(p).unwrap();
        let mut was_sparse = false;
        for &h in &hashes {
            sketch.insert_hash(h);
            was_sparse |= sketch.is_sparse();
        }
        let model = dense_model(p, &hashes);
        for (i, &v) in model.iter().enumerate() {
            prop_assert_eq!(sketch.register(i), Some(v), "register {} (sparse: {})", i, sketch.is_sparse());
        }
        prop_assert!(was_sparse || hashes.is_empty() || p < 6);
    }

    #[test]
    fn insert_all_equals_inserting_one_by_one(keys in prop::collection::vec(any::<u32>(), 0..6000), p in 4u8..=18, split in 0usize..6000, redis in any::<bool>()) {
        let (mut one, mut all) = if redis {
            (HyperLogLog::redis(), HyperLogLog::redis())
        } else {
            (HyperLogLog::new(p).unwrap(), HyperLogLog::new(p).unwrap())
        };
        for k in &keys {
            one.insert(&k.to_le_bytes());
        }
        // In two calls, so one can start sparse and the other dense.
        let split = split.min(keys.len());
        all.insert_all(keys[..split].iter().map(|k| k.to_le_bytes()));
        all.extend(keys[split..].iter().map(|k| k.to_le_bytes()));
        prop_assert_eq!(&all, &one);
        prop_assert_eq!(all.count(), one.count());
    }
}

#[test]
fn small_sets_count_exactly_while_sparse() {
    for p in 10..=18 {
        for n in 0u64..=100 {
            let mut s = HyperLogLog::new(p).unwrap();
            for i in 0..n {
                s.insert(&i.to_le_bytes());
            }
            assert!(s.is_sparse(), "p={p} n={n}");
            assert!(
                s.count().abs_diff(n) <= 1,
                "p={p} n={n}: counted {}",
                s.count()
            );
        }
    }
}

#[test]
fn a_sketch_of_100_items_costs_bytes_not_kilobytes() {
    let mut s = HyperLogLog::new(14).unwrap();
    for i in 0u32..100 {
        s.insert(&i.to_le_bytes());
    }
    // Header, entry count, 100 four-byte entries, CRC: 416 bytes, vs 12,305
    // for the dense form.
    assert_eq!(s.to_bytes().len(), 8 + 4 + 100 * 4 + 4);
    assert!(s.len_bytes() < 1024, "{}", s.len_bytes());
}

#[test]
fn switches_to_dense_when_sparse_would_be_larger() {
    let mut s = HyperLogLog::new(14).unwrap();
    let mut i = 0u64;
    while s.is_sparse() {
        s.insert(&i.to_le_bytes());
        i += 1;
    }
    // 12,289 packed bytes hold 3,072 four-byte entries.
    assert!((3_073..3_100).contains(&i), "switched after {i} items");
    assert_eq!(s.to_bytes().len(), 8 + 12_289 + 4);
}

#[test]
fn sparse_golden_file_pins_the_bytes() {
    let mut s = HyperLogLog::new(14).unwrap();
    for i in 0u32..5 {
        s.insert(&i.to_le_bytes());
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sparse_p14.bin");
    if std::env::var_os("HLL_BLESS").is_some() {
        std::fs::write(&path, s.to_bytes()).unwrap();
    }
    let golden = std::fs::read(&path).unwrap();
    assert_eq!(s.to_bytes(), golden);
    assert_eq!(&golden[4..8], &[1, 2, 14, 1], "version, sparse, p, xxh3");
    assert_eq!(HyperLogLog::from_bytes(&golden).unwrap(), s);
    for bit in 0..golden.len() * 8 {
        let mut bad = golden.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        assert!(HyperLogLog::from_bytes(&bad).is_err(), "bit {bit}");
    }
}
