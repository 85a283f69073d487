//! Merge and reduce are exact: they give the registers a sketch fed the
//! same items directly would have.

use larder_hyperloglog::{Error, HashMode, HyperLogLog};
use proptest::prelude::*;

fn sketch(precision: u8, hashes: &[u64]) -> HyperLogLog {
    let mut s = HyperLogLog::new(precision).unwrap();
    for &h in hashes {
        s.insert_hash(h);
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn merge_equals_the_sketch_of_the_union(a in prop::collection::vec(any::<u64>(), 0..2000), b in prop::collection::vec(any::<u64>(), 0..2000), p in 4u8..=14) {
        let mut merged = sketch(p, &a);
        merged.merge(&sketch(p, &b)).unwrap();
        let union: Vec<u64> = a.iter().chain(&b).copied().collect();
        prop_assert_eq!(merged, sketch(p, &union));
    }

    #[test]
    fn reduce_equals_the_sketch_built_at_the_lower_precision(hashes in prop::collection::vec(any::<u64>(), 0..3000), high in 4u8..=18, drop in 0u8..=14) {
        let low = high.saturating_sub(drop).max(4);
        prop_assert_eq!(sketch(high, &hashes).reduce(low).unwrap(), sketch(low, &hashes));
    }

    #[test]
    fn redis_mode_reduce_equals_the_sketch_built_at_the_lower_precision(hashes in prop::collection::vec(any::<u64>(), 0..3000), high in 4u8..=18, drop in 0u8..=14) {
        let low = high.saturating_sub(drop).max(4);
        let build = |p: u8| {
            let mut s = HyperLogLog::with_mode(p, HashMode::Redis).unwrap();
            for &h in &hashes {
                s.insert_hash(h);
            }
            s
        };
        prop_assert_eq!(build(high).reduce(low).unwrap(), build(low));
    }

    #[test]
    fn reduce_then_merge_equals_merge_then_reduce(a in prop::collection::vec(any::<u64>(), 0..2000), b in prop::collection::vec(any::<u64>(), 0..2000)) {
        let (sa, sb) = (sketch(14, &a), sketch(14, &b));
        let mut reduced_first = sa.reduce(10).unwrap();
        reduced_first.merge(&sb.reduce(10).unwrap()).unwrap();
        let mut merged_first = sa.clone();
        merged_first.merge(&sb).unwrap();
        prop_assert_eq!(reduced_first, merged_first.reduce(10).unwrap());
    }

    #[test]
    fn round_trip_keeps_every_register(hashes in prop::collection::vec(any::<u64>(), 0..5000), p in 4u8..=18) {
        let s = sketch(p, &hashes);
        let back = HyperLogLog::from_bytes(&s.to_bytes()).unwrap();
        prop_assert_eq!(back.count(), s.count());
        prop_assert_eq!(back, s);
    }
}

#[test]
fn merge_and_reduce_refuse_bad_precisions() {
    let mut a = HyperLogLog::new(12).unwrap();
    let b = HyperLogLog::new(14).unwrap();
    assert!(matches!(
        a.merge(&b),
        Err(Error::PrecisionMismatch {
            left: 12,
            right: 14
        })
    ));
    assert!(matches!(
        a.reduce(13),
        Err(Error::ReduceUp { from: 12, to: 13 })
    ));
    assert!(matches!(
        a.reduce(3),
        Err(Error::Precision { precision: 3, .. })
    ));
    assert!(matches!(
        HyperLogLog::new(19),
        Err(Error::Precision {
            precision: 19,
            min: 4,
            max: 18
        })
    ));
}

#[test]
fn the_largest_register_value_is_reachable_and_counted() {
    let mut s = HyperLogLog::new(4).unwrap();
    // Top 4 bits pick register 0; the other 60 bits are all zero.
    s.insert_hash(0);
    assert_eq!(s.register(0), Some(61));
    s.insert_hash(u64::MAX);
    assert_eq!(s.register(15), Some(1));
    assert!(s.count() >= 1);
}

#[test]
fn small_sets_count_close_to_exactly_at_p14() {
    for n in [0u64, 1, 2, 10, 50, 100] {
        let mut s = HyperLogLog::new(14).unwrap();
        for i in 0..n {
            s.insert(&i.to_le_bytes());
        }
        assert!(s.count().abs_diff(n) <= 1, "n={n}: counted {}", s.count());
    }
}
