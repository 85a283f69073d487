//! Golden files for keyspaces: a store with two keyspaces, one dropped
//! keyspace and writes of several keyspaces still in the log, pinned byte
//! for byte (manifest tags 14 to 17, flagged log operations), and opened
//! from the committed files.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::golden::{assert_golden, golden_disk, store_files};
use larder_lsm::{Db, KeyspaceOptions, Options, WriteBatch};
use vfs::MemFs;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden_keyspaces")
}

fn opts() -> Options {
    Options {
        compression: false,
        blob_threshold_bytes: None,
        ..Options::default()
    }
}

fn open(fs: &MemFs) -> Db {
    Db::open_with_fs(Arc::new(fs.clone()), "/db", opts()).expect("open")
}

fn users_options() -> KeyspaceOptions {
    KeyspaceOptions {
        write_buffer_size_bytes: 64 << 10,
        compression: false,
        bloom_bits_per_key: 5,
        blob_threshold_bytes: None,
    }
}

/// `users` flushed into a table, `temp` written and dropped, then one
/// batch across the default keyspace, `users` and `orders` left in the
/// log (with a range delete in `orders`).
fn golden_workload(fs: &MemFs) {
    let db = open(fs);
    let users = db.keyspace_with("users", users_options()).expect("users");
    let orders = db.keyspace("orders").expect("orders");
    let temp = db.keyspace("temp").expect("temp");
    users.put("u1", "ada").expect("put");
    users.put("u2", "grace").expect("put");
    temp.put("t", "gone").expect("put");
    db.put("config", "v1").expect("put");
    db.flush().expect("flush");
    db.drop_keyspace("temp").expect("drop");
    // The dropped keyspace's table goes once no thread holds it (the flush
    // thread may, for a moment): wait for that, so the file set is fixed.
    db.wait_idle().expect("idle");
    let mut b = WriteBatch::new();
    b.put("config", "v2");
    b.delete_in(&users, "u2");
    b.put_in(&orders, "o1", "u1:book");
    b.put_in(&orders, "o2", "u1:pen");
    b.delete_range_in(&orders, "o2", "o3");
    db.write(b).expect("write");
    drop((users, orders, temp));
    db.close().expect("close");
}

#[test]
fn keyspaces_match_golden_files_byte_for_byte() {
    let fs = MemFs::new();
    golden_workload(&fs);
    assert_golden(&store_files(&fs), &golden_dir());
}

fn pairs(
    it: impl Iterator<Item = larder_lsm::Result<(bytes::Bytes, bytes::Bytes)>>,
) -> Vec<(String, String)> {
    it.map(|r| {
        let (k, v) = r.expect("scan");
        (
            String::from_utf8(k.to_vec()).expect("utf-8"),
            String::from_utf8(v.to_vec()).expect("utf-8"),
        )
    })
    .collect()
}

fn owned(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn golden_files_with_keyspaces_open_and_read() {
    let fs = golden_disk(&golden_dir());
    for _ in 0..2 {
        // The second open reads the manifest the first one wrote.
        let db = open(&fs);
        assert_eq!(db.keyspace_names(), ["users", "orders"]);
        let users = db.keyspace("users").expect("users");
        assert_eq!(users.options(), users_options());
        assert_eq!(pairs(users.iter()), owned(&[("u1", "ada")]));
        let orders = db.keyspace("orders").expect("orders");
        assert_eq!(pairs(orders.iter().rev()), owned(&[("o1", "u1:book")]));
        assert_eq!(pairs(db.iter()), owned(&[("config", "v2")]));
        drop((users, orders));
        db.close().expect("close");
    }
}
