//! UltraLogLog against a model computed straight from the hashes: insert,
//! merge and reduce give exactly the registers the model says; small sets
//! count close to exactly.

use std::collections::BTreeSet;

use larder_hyperloglog::{Error, UltraLogLog};
use proptest::prelude::*;

/// Register bytes from the hashes: for each register the set of update
/// values seen, kept as `u << 2 | seen(u - 1) << 1 | seen(u - 2)`.
fn model(p: u8, hashes: &[u64]) -> Vec<u8> {
    let mut seen = vec![BTreeSet::new(); 1 << p];
    for &h in hashes {
        let index = (h >> (64 - p)) as usize;
        let rest = h << p;
        let value = (rest.leading_zeros()).min(64 - u32::from(p)) + 1;
        seen[index].insert(value);
    }
    seen.iter()
        .map(|values| match values.last() {
            None => 0,
            Some(&u) => {
                let below = |d: u32| u > d && values.contains(&(u - d));
                ((u as u8) << 2) | (u8::from(below(1)) << 1) | u8::from(below(2))
            }
        })
        .collect()
}

fn sketch(p: u8, hashes: &[u64]) -> UltraLogLog {
    let mut s = UltraLogLog::new(p).unwrap();
    for &h in hashes {
        s.insert_hash(h);
    }
    s
}

fn registers(s: &UltraLogLog) -> Vec<u8> {
    (0..s.registers()).map(|i| s.register(i).unwrap()).collect()
}

/// Hashes with many leading zeros after the index too, so high and
/// saturated values occur.
fn hashes(max: usize) -> impl Strategy<Value = Vec<u64>> {
    prop::collection::vec(
        (any::<u64>(), 0u32..64).prop_map(|(h, shift)| {
            let top = h & (0xffff << 48);
            top | ((h & ((1 << 48) - 1)) >> (shift % 48))
        }),
        0..max,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn insert_keeps_the_top_value_and_its_two_neighbours(hashes in hashes(3000), p in 4u8..=14) {
        prop_assert_eq!(registers(&sketch(p, &hashes)), model(p, &hashes));
    }

    #[test]
    fn merge_equals_the_sketch_of_the_union(a in hashes(2000), b in hashes(2000), p in 4u8..=12) {
        let mut merged = sketch(p, &a);
        merged.merge(&sketch(p, &b)).unwrap();
        let union: Vec<u64> = a.iter().chain(&b).copied().collect();
        prop_assert_eq!(merged, sketch(p, &union));
    }

    #[test]
    fn reduce_equals_the_sketch_built_at_the_lower_precision(hashes in hashes(3000), high in 4u8..=16, drop in 0u8..=12) {
        let low = high.saturating_sub(drop).max(4);
        let reduced = sketch(high, &hashes).reduce(low).unwrap();
        prop_assert_eq!(registers(&reduced), model(low, &hashes));
    }

    #[test]
    fn round_trip_keeps_every_register(hashes in hashes(4000), p in 4u8..=16) {
        let s = sketch(p, &hashes);
        prop_assert_eq!(UltraLogLog::from_bytes(&s.to_bytes()).unwrap(), s);
    }

    #[test]
    fn insert_all_equals_inserting_one_by_one(keys in prop::collection::vec(any::<u32>(), 0..3000), p in 4u8..=14) {
        let mut one = UltraLogLog::new(p).unwrap();
        for k in &keys {
            one.insert(&k.to_le_bytes());
        }
        let mut all = UltraLogLog::new(p).unwrap();
        all.extend(keys.iter().map(|k| k.to_le_bytes()));
        prop_assert_eq!(all, one);
    }
}

#[test]
fn small_sets_count_close_to_exactly_at_p14() {
    for n in [0u64, 1, 2, 10, 50, 100] {
        let mut s = UltraLogLog::new(14).unwrap();
        for i in 0..n {
            s.insert(&i.to_le_bytes());
        }
        assert!(s.count().abs_diff(n) <= 1, "n={n}: counted {}", s.count());
    }
}

#[test]
fn merge_and_reduce_refuse_bad_precisions() {
    let mut a = UltraLogLog::new(10).unwrap();
    let b = UltraLogLog::new(12).unwrap();
    assert!(matches!(
        a.merge(&b),
        Err(Error::PrecisionMismatch {
            left: 10,
            right: 12
        })
    ));
    assert!(matches!(
        a.reduce(11),
        Err(Error::ReduceUp { from: 10, to: 11 })
    ));
    assert!(matches!(
        a.reduce(3),
        Err(Error::Precision { precision: 3, .. })
    ));
    assert!(matches!(
        UltraLogLog::new(19),
        Err(Error::Precision { precision: 19, .. })
    ));
}

#[test]
fn the_largest_value_is_reachable_and_counted() {
    // Index 0 and all other bits zero: the sentinel caps the value at 65 - p.
    let mut s = UltraLogLog::new(4).unwrap();
    s.insert_hash(0);
    assert_eq!(s.register(0), Some(61 << 2));
    assert!(s.count() >= 1);
    assert_eq!(UltraLogLog::from_bytes(&s.to_bytes()).unwrap(), s);
}
