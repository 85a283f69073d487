//! Deterministic end-to-end checks at a size the property test does not reach.

use std::collections::BTreeMap;
use std::sync::Arc;

use btree::{Db, Options};
use rand::{Rng, SeedableRng, rngs::StdRng};

fn options(page: u32) -> Options {
    Options {
        page_size_bytes: page,
        ..Options::default()
    }
}

#[test]
fn many_commits_of_random_changes_match_a_btreemap_and_reuse_pages() {
    let fs = Arc::new(vfs::MemFs::new());
    let db = Db::open(fs.clone(), "/db", options(512)).unwrap();
    let mut model = BTreeMap::new();
    let mut rng = StdRng::seed_from_u64(7);
    for round in 0..200 {
        let mut txn = db.begin_write().unwrap();
        for _ in 0..50 {
            let k = rng.random_range(0..3000u32).to_be_bytes().to_vec();
            if rng.random_range(0..3) == 0 {
                assert_eq!(txn.remove(&k).unwrap().map(|b| b.to_vec()), model.remove(&k));
            } else {
                let v = vec![round as u8; rng.random_range(0..200)];
                txn.insert(&k, &v).unwrap();
                model.insert(k, v);
            }
        }
        txn.commit().unwrap();
    }
    let stats = db.check().unwrap();
    assert_eq!(stats.entries, model.len() as u64);
    assert!(stats.height >= 3, "{stats:?}");
    let read = db.begin_read().unwrap();
    let got: BTreeMap<Vec<u8>, Vec<u8>> = read.iter().map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap()).collect();
    assert_eq!(got, model);
    // Freed pages are reused: the file holds little more than the live data.
    let live = stats.branch_pages + stats.leaf_pages + stats.overflow_pages + stats.free_tree_pages;
    assert!(stats.page_count < live * 3, "{stats:?}");
    drop(read);
    drop(db);
    let db = Db::open(fs, "/db", options(512)).unwrap();
    db.check().unwrap();
    let read = db.begin_read().unwrap();
    assert_eq!(read.len(), model.len() as u64);
}

#[test]
fn deleting_everything_leaves_an_empty_tree_and_free_pages() {
    let fs = Arc::new(vfs::MemFs::new());
    let db = Db::open(fs, "/db", options(512)).unwrap();
    let mut txn = db.begin_write().unwrap();
    for i in 0..5000u32 {
        txn.insert(&i.to_be_bytes(), &[1; 40]).unwrap();
    }
    txn.commit().unwrap();
    let before = db.check().unwrap();
    let mut txn = db.begin_write().unwrap();
    for i in 0..5000u32 {
        assert!(txn.remove(&i.to_be_bytes()).unwrap().is_some());
    }
    txn.commit().unwrap();
    let after = db.check().unwrap();
    assert_eq!((after.entries, after.height, after.leaf_pages), (0, 0, 0));
    assert!(after.free_pages >= before.leaf_pages, "{before:?} {after:?}");
}
