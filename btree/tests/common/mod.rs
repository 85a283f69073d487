//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;

use larder_btree::Db;

/// What a test expects the tree to hold.
pub(crate) type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// Every pair of the tree, through a fresh read transaction.
pub(crate) fn contents(db: &Db) -> Model {
    let read = db.begin_read().unwrap();
    read.iter()
        .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
        .collect()
}
