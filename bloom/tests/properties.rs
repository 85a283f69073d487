//! Property tests: every kind against a `HashSet` model.

use larder_bloom::{
    BlockedBloomFilter, BloomFilter, CountingBloomFilter, FilterRef, SplitBlockBloomFilter,
};
use proptest::collection::vec;
use proptest::prelude::*;

fn keys() -> impl Strategy<Value = Vec<Vec<u8>>> {
    vec(vec(any::<u8>(), 0..24), 0..200)
}

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(64)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn no_false_negatives_for_any_kind(keys in keys(), probes in 1u32..12) {
        let n = keys.len() as u64 + 1;
        let mut classic = BloomFilter::with_bits(n * 8, probes).unwrap();
        let mut blocked = BlockedBloomFilter::with_bits(n * 8, probes).unwrap();
        let mut split = SplitBlockBloomFilter::with_rate(n, 0.01).unwrap();
        let mut counting = CountingBloomFilter::with_counters(n * 8, probes).unwrap();
        for key in &keys {
            classic.insert(key);
            blocked.insert(key);
            split.insert(key);
            counting.insert(key);
        }
        for key in &keys {
            prop_assert!(classic.contains(key));
            prop_assert!(blocked.contains(key));
            prop_assert!(split.contains(key));
            prop_assert!(counting.contains(key));
        }
    }

    #[test]
    fn counting_filter_has_no_false_negatives_after_removing_other_inserted_keys(
        keys in vec(vec(any::<u8>(), 0..16), 1..200),
        remove_every in 2usize..5,
    ) {
        let mut filter = CountingBloomFilter::with_rate(keys.len() as u64, 0.01).unwrap();
        for key in &keys {
            filter.insert(key);
        }
        let mut remaining: std::collections::HashMap<&[u8], usize> = Default::default();
        for key in &keys {
            *remaining.entry(key.as_slice()).or_default() += 1;
        }
        for key in keys.iter().step_by(remove_every) {
            prop_assert!(filter.remove(key));
            *remaining.get_mut(key.as_slice()).unwrap() -= 1;
        }
        for (key, count) in remaining {
            if count > 0 {
                prop_assert!(filter.contains(key));
            }
        }
    }

    #[test]
    fn round_trip_answers_exactly_like_the_original(
        keys in keys(),
        probes in vec(vec(any::<u8>(), 0..24), 0..100),
    ) {
        let n = keys.len() as u64 + 1;
        let mut classic = BloomFilter::with_rate(n, 0.05).unwrap();
        let mut blocked = BlockedBloomFilter::with_rate(n, 0.05).unwrap();
        let mut split = SplitBlockBloomFilter::with_rate(n, 0.05).unwrap();
        let mut counting = CountingBloomFilter::with_rate(n, 0.05).unwrap();
        for key in &keys {
            classic.insert(key);
            blocked.insert(key);
            split.insert(key);
            counting.insert(key);
        }
        let classic_bytes = classic.to_bytes();
        let blocked_bytes = blocked.to_bytes();
        let split_bytes = split.to_bytes();
        let counting_bytes = counting.to_bytes();
        prop_assert_eq!(&BloomFilter::from_bytes(&classic_bytes).unwrap(), &classic);
        prop_assert_eq!(&BlockedBloomFilter::from_bytes(&blocked_bytes).unwrap(), &blocked);
        prop_assert_eq!(&SplitBlockBloomFilter::from_bytes(&split_bytes).unwrap(), &split);
        prop_assert_eq!(&CountingBloomFilter::from_bytes(&counting_bytes).unwrap(), &counting);
        let views = [
            FilterRef::new(&classic_bytes).unwrap(),
            FilterRef::new(&blocked_bytes).unwrap(),
            FilterRef::new(&split_bytes).unwrap(),
            FilterRef::new(&counting_bytes).unwrap(),
        ];
        for key in keys.iter().chain(&probes) {
            prop_assert_eq!(views[0].contains(key), classic.contains(key));
            prop_assert_eq!(views[1].contains(key), blocked.contains(key));
            prop_assert_eq!(views[2].contains(key), split.contains(key));
            prop_assert_eq!(views[3].contains(key), counting.contains(key));
        }
    }

    #[test]
    fn union_equals_the_filter_built_from_both_key_sets(a in keys(), b in keys()) {
        let n = 512;
        let build = |keys: &[&Vec<u8>]| {
            let mut classic = BloomFilter::with_rate(n, 0.01).unwrap();
            let mut blocked = BlockedBloomFilter::with_rate(n, 0.01).unwrap();
            let mut split = SplitBlockBloomFilter::with_rate(n, 0.01).unwrap();
            let mut counting = CountingBloomFilter::with_rate(n, 0.01).unwrap();
            for key in keys {
                classic.insert(key);
                blocked.insert(key);
                split.insert(key);
                counting.insert(key);
            }
            (classic, blocked, split, counting)
        };
        let (mut ca, mut ba, mut sa, mut na) = build(&a.iter().collect::<Vec<_>>());
        let (cb, bb, sb, nb) = build(&b.iter().collect::<Vec<_>>());
        let (cu, bu, su, nu) = build(&a.iter().chain(&b).collect::<Vec<_>>());
        ca.union(&cb).unwrap();
        ba.union(&bb).unwrap();
        sa.union(&sb).unwrap();
        na.union(&nb).unwrap();
        prop_assert_eq!(ca, cu);
        prop_assert_eq!(ba, bu);
        prop_assert_eq!(sa, su);
        prop_assert_eq!(na, nu);
    }
}

#[test]
fn union_and_intersect_refuse_other_shapes() {
    let mut a = BloomFilter::with_bits(1024, 3).unwrap();
    let b = BloomFilter::with_bits(2048, 3).unwrap();
    let c = BloomFilter::with_bits(1024, 4).unwrap();
    assert!(matches!(
        a.union(&b),
        Err(larder_bloom::Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        a.intersect(&c),
        Err(larder_bloom::Error::ShapeMismatch { .. })
    ));
    let mut x = BlockedBloomFilter::with_bits(1024, 3).unwrap();
    let y = BlockedBloomFilter::with_bits(4096, 3).unwrap();
    assert!(matches!(
        x.union(&y),
        Err(larder_bloom::Error::ShapeMismatch { .. })
    ));
}

#[test]
fn intersect_keeps_keys_of_both() {
    let mut a = BloomFilter::with_rate(1000, 0.01).unwrap();
    let mut b = BloomFilter::with_rate(1000, 0.01).unwrap();
    for i in 0u32..500 {
        a.insert(&i.to_le_bytes());
    }
    for i in 250u32..750 {
        b.insert(&i.to_le_bytes());
    }
    a.intersect(&b).unwrap();
    for i in 250u32..500 {
        assert!(a.contains(&i.to_le_bytes()));
    }
    let only_a = (0u32..250).filter(|i| a.contains(&i.to_le_bytes())).count();
    assert!(
        only_a < 50,
        "{only_a} keys of A alone survive the intersection"
    );
}

#[test]
fn constructors_reject_bad_arguments() {
    assert!(matches!(
        BloomFilter::with_rate(0, 0.01),
        Err(larder_bloom::Error::InvalidArgument {
            name: "expected_items",
            ..
        })
    ));
    assert!(matches!(
        BloomFilter::with_rate(10, 1.0),
        Err(larder_bloom::Error::InvalidArgument {
            name: "false_positive_rate",
            ..
        })
    ));
    assert!(matches!(
        BloomFilter::with_rate(10, f64::NAN),
        Err(larder_bloom::Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        BloomFilter::with_bits(0, 3),
        Err(larder_bloom::Error::InvalidArgument { name: "bits", .. })
    ));
    assert!(matches!(
        BlockedBloomFilter::with_bits(512, 0),
        Err(larder_bloom::Error::InvalidArgument { name: "probes", .. })
    ));
    assert!(matches!(
        SplitBlockBloomFilter::with_bytes(33),
        Err(larder_bloom::Error::InvalidArgument { name: "bytes", .. })
    ));
    assert!(matches!(
        CountingBloomFilter::with_counters(64, 33),
        Err(larder_bloom::Error::InvalidArgument { name: "probes", .. })
    ));
}

#[test]
fn estimated_len_tracks_inserted_keys() {
    let mut filter = BloomFilter::with_rate(100_000, 0.01).unwrap();
    for i in 0u64..50_000 {
        filter.insert(&i.to_le_bytes());
    }
    let estimate = filter.estimated_len();
    assert!((estimate - 50_000.0).abs() < 50_000.0 * 0.02, "{estimate}");
    filter.clear();
    assert_eq!(filter.estimated_len(), 0.0);
    assert_eq!(filter.false_positive_rate(), 0.0);
}
