//! Range removal against a model on trees several levels deep: random
//! ranges (bounds included, excluded, open), over keys with overflow
//! values, in the default table and a named one; every commit passes the
//! integrity check (each page used or free exactly once).

mod common;

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use larder_btree::{Db, Options};
use proptest::prelude::*;

use common::{Model, contents};

fn options() -> Options {
    Options {
        page_size_bytes: 512,
        initial_size_bytes: 0,
        ..Options::default()
    }
}

fn key(i: u32) -> Vec<u8> {
    format!("k{i:06}").into_bytes()
}

fn value(i: u32) -> Vec<u8> {
    // Every 97th value takes an overflow run.
    vec![
        i as u8;
        if i.is_multiple_of(97) {
            900
        } else {
            (i % 40) as usize
        }
    ]
}

fn bound(kind: u8, i: u32) -> Bound<Vec<u8>> {
    match kind % 3 {
        0 => Bound::Included(key(i)),
        1 => Bound::Excluded(key(i)),
        _ => Bound::Unbounded,
    }
}

fn filled(n: u32) -> (Db, Model) {
    let db = Db::open_with_fs(Arc::new(vfs::MemFs::new()), "/db", options()).unwrap();
    let mut model = Model::new();
    let mut txn = db.begin_write().unwrap();
    for i in 0..n {
        txn.insert(&key(i), &value(i)).unwrap();
        model.insert(key(i), value(i));
    }
    txn.commit().unwrap();
    (db, model)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn remove_range_matches_the_model_and_keeps_every_page_accounted(
        n in 0u32..3000,
        cuts in proptest::collection::vec((0u8..3, 0u32..3100, 0u8..3, 0u32..3100, any::<bool>()), 1..6),
    ) {
        let (db, mut model) = filled(n);
        for (sk, a, ek, b, commit_each) in cuts {
            let (a, b) = (a.min(b), a.max(b));
            let range = (bound(sk, a), bound(ek, b));
            let want: Vec<Vec<u8>> = if matches!((&range.0, &range.1), (Bound::Excluded(x), Bound::Excluded(y)) if x == y) {
                Vec::new()
            } else {
                model.range::<Vec<u8>, _>(range.clone()).map(|(k, _)| k.clone()).collect()
            };
            let mut txn = db.begin_write().unwrap();
            let got = txn.remove_range::<Vec<u8>, _>(range).unwrap();
            prop_assert_eq!(got, want.len() as u64);
            for k in &want {
                model.remove(k);
            }
            prop_assert_eq!(txn.len(), model.len() as u64);
            if commit_each {
                txn.commit().unwrap();
                db.check().unwrap();
            } else {
                txn.abort();
                // Aborted: the model goes back to what is committed.
                model = contents(&db);
            }
        }
        db.check().unwrap();
        prop_assert_eq!(contents(&db), model);
    }
}

#[test]
fn removing_most_of_a_deep_tree_frees_its_pages_and_copies_few() {
    let (db, mut model) = filled(20_000);
    let before = db.check().unwrap();
    assert!(before.height >= 3, "{before:?}");
    let mut txn = db.begin_write().unwrap();
    let n = txn
        .remove_range(key(1_000).as_slice()..key(19_000).as_slice())
        .unwrap();
    assert_eq!(n, 18_000);
    txn.commit().unwrap();
    model.retain(|k, _| k < &key(1_000) || k >= &key(19_000));
    let after = db.check().unwrap();
    assert_eq!(contents(&db), model);
    // Every page the range covered is free; the commit copied only the
    // nodes on the range's two edges (a few per level), beside the free
    // tree that lists the freed pages (4 to a chunk with 512-byte pages).
    let gone = before.branch_pages + before.leaf_pages + before.overflow_pages
        - after.branch_pages
        - after.leaf_pages
        - after.overflow_pages;
    assert!(after.free_pages >= gone, "{before:?} then {after:?}");
    assert!(
        after.page_count <= before.page_count + after.free_tree_pages + 4 * 4,
        "{before:?} then {after:?}"
    );
}

#[test]
fn retain_and_remove_range_in_a_named_table() {
    let db = Db::open_with_fs(Arc::new(vfs::MemFs::new()), "/db", options()).unwrap();
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut txn = db.begin_write().unwrap();
    let mut t = txn.open_table("t").unwrap();
    for i in 0..5000 {
        t.insert(&key(i), &value(i)).unwrap();
        model.insert(key(i), value(i));
    }
    // Runs of 100 kept, 100 dropped: each dropped run goes as one range.
    let removed = t
        .retain(|k, _| {
            let i: u32 = std::str::from_utf8(&k[1..]).unwrap().parse().unwrap();
            (i / 100).is_multiple_of(2)
        })
        .unwrap();
    model.retain(|k, _| {
        let i: u32 = std::str::from_utf8(&k[1..]).unwrap().parse().unwrap();
        (i / 100).is_multiple_of(2)
    });
    assert_eq!(removed, 2500);
    assert_eq!(t.remove_range(key(4_000).as_slice()..).unwrap(), 500);
    model.retain(|k, _| k < &key(4_000));
    assert_eq!(t.len(), model.len() as u64);
    txn.commit().unwrap();
    db.check().unwrap();
    let read = db.begin_read().unwrap();
    let t = read.open_table("t").unwrap().unwrap();
    let got: Model = t
        .iter()
        .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
        .collect();
    assert_eq!(got, model);
}
