//! `diff` finds exactly the ranges where two maps differ.

use std::collections::BTreeMap;

use larder_merkle::{Error, RangeTree, Sha256, Xxh3, diff, diff_counted};
use proptest::prelude::*;

type Map = BTreeMap<Vec<u8>, Vec<u8>>;

fn tree(map: &Map, ranges: u32) -> RangeTree<Xxh3> {
    RangeTree::build_uniform(ranges, map.iter()).unwrap()
}

/// The ranges (by index) whose contents differ, computed directly.
fn differing(a: &RangeTree<Xxh3>, ma: &Map, mb: &Map) -> Vec<u64> {
    (0..a.ranges())
        .filter(|&i| {
            let r = a.range(i);
            let pa: Vec<_> = ma.iter().filter(|(k, _)| r.contains(k)).collect();
            let pb: Vec<_> = mb.iter().filter(|(k, _)| r.contains(k)).collect();
            pa != pb
        })
        .collect()
}

fn map() -> impl Strategy<Value = Map> {
    prop::collection::btree_map(
        prop::collection::vec(any::<u8>(), 0..4),
        prop::collection::vec(any::<u8>(), 0..4),
        0..60,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn diff_returns_exactly_the_ranges_that_differ(a in map(), edits in prop::collection::vec((prop::collection::vec(any::<u8>(), 0..4), prop::option::of(prop::collection::vec(any::<u8>(), 0..4))), 0..6), ranges in 1u32..64) {
        let mut b = a.clone();
        for (key, value) in edits {
            match value {
                Some(v) => { b.insert(key, v); }
                None => { b.remove(&key); }
            }
        }
        let (ta, tb) = (tree(&a, ranges), tree(&b, ranges));
        let expected: Vec<_> = differing(&ta, &a, &b).into_iter().map(|i| ta.range(i)).collect();
        prop_assert_eq!(diff(&ta, &tb).unwrap(), expected.clone());
        prop_assert_eq!(ta.root() == tb.root(), expected.is_empty());
        // Repairing b from a in those ranges makes the trees equal.
        for r in &expected {
            b.retain(|k, _| !r.contains(k));
            for (k, v) in a.iter().filter(|(k, _)| r.contains(k)) {
                b.insert(k.clone(), v.clone());
            }
        }
        prop_assert_eq!(&a, &b);
    }
}

#[test]
fn identical_replicas_compare_one_hash() {
    let map: Map = (0u32..10_000)
        .map(|i| (i.to_be_bytes().to_vec(), vec![1]))
        .collect();
    let d = diff_counted(&tree(&map, 4096), &tree(&map, 4096)).unwrap();
    assert!(d.ranges.is_empty());
    assert_eq!(d.hashes_compared, 1);
}

#[test]
fn one_difference_compares_only_the_path_to_it() {
    let a: Map = (0u32..100_000)
        .map(|i| (i.to_be_bytes().to_vec(), vec![1]))
        .collect();
    let mut b = a.clone();
    b.insert(77_777u32.to_be_bytes().to_vec(), vec![2]);
    let d = diff_counted(&tree(&a, 4096), &tree(&b, 4096)).unwrap();
    assert_eq!(d.ranges.len(), 1);
    assert!(d.ranges[0].contains(&77_777u32.to_be_bytes()));
    // Two children compared per level of a 12-level tree, plus the root.
    assert!(d.hashes_compared <= 1 + 2 * 12, "{}", d.hashes_compared);
}

#[test]
fn trees_over_different_boundaries_cannot_be_compared() {
    let map = Map::new();
    assert!(matches!(
        diff(&tree(&map, 4), &tree(&map, 8)),
        Err(Error::BoundaryMismatch)
    ));
}

#[test]
fn unsorted_input_is_an_error() {
    let items = [(b"b".to_vec(), vec![]), (b"a".to_vec(), vec![])];
    assert!(RangeTree::<Sha256>::build(vec![], items).is_err());
    assert!(
        RangeTree::<Sha256>::build(
            vec![b"z".to_vec(), b"a".to_vec()],
            Vec::<(Vec<u8>, Vec<u8>)>::new()
        )
        .is_err()
    );
}
