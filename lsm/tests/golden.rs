//! Golden files pin the on-disk format (`FORMAT.md`): a fixed workload must
//! write exactly the bytes in `tests/data/golden/` (WAL, table, manifest,
//! `CURRENT`), and a DB made of those files must read back; a second set in
//! `tests/data/golden_blobs/` does the same with every value in a blob.
//!
//! After a deliberate format change, regenerate with
//! `LSM_BLESS=1 cargo test -p larder-lsm --test golden` and update FORMAT.md.
//! The files of earlier formats stay and must keep opening:
//! `tests/data/golden_v1/` and `tests/data/golden_blobs_v1/` (log version
//! 1, before durable markers), `golden_v2/` and `golden_blobs_v2/` (log
//! version 2, before a write-ahead log named its predecessor).

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::golden::{assert_golden, golden_disk, store_files};
use larder_lsm::{Db, Options};
use vfs::MemFs;

fn golden_dir(blobs: bool) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(if blobs {
        "tests/data/golden_blobs"
    } else {
        "tests/data/golden"
    })
}

/// Without blobs the files pin the inline format (no blob directory); with
/// them, every value of 6 bytes or more goes to a blob, so the table holds
/// references and the manifest records blob files (tags 6, 8 and 9).
fn opts(blobs: bool) -> Options {
    Options {
        compression: false,
        blob_threshold_bytes: if blobs { Some(6) } else { None },
        ..Options::default()
    }
}

/// Writes a table (three puts and a delete, flushed: the flush drops the put
/// the delete shadows, so the table holds two values and a tombstone) and a
/// log (two more
/// writes, not flushed).
fn workload(fs: &MemFs, blobs: bool) {
    let db = Db::open_with_fs(Arc::new(fs.clone()), "/db", opts(blobs)).expect("open");
    db.put("apple", "red").expect("put");
    db.put("banana", "yellow").expect("put");
    db.put("cherry", "dark red").expect("put");
    db.delete("banana").expect("delete");
    db.flush().expect("flush");
    db.put("date", "brown").expect("put");
    db.delete("apple").expect("delete");
    db.close().expect("close");
}

#[test]
fn format_matches_golden_files_byte_for_byte() {
    check_golden(false);
}

#[test]
fn format_with_blobs_matches_golden_files_byte_for_byte() {
    check_golden(true);
}

fn check_golden(blobs: bool) {
    let fs = MemFs::new();
    workload(&fs, blobs);
    assert_golden(&store_files(&fs), &golden_dir(blobs));
}

#[test]
fn golden_files_open_and_read_back() {
    read_back(false, &golden_dir(false));
}

#[test]
fn golden_files_with_blobs_open_and_read_back() {
    read_back(true, &golden_dir(true));
}

/// Files of the first formats (log version 1 without durable markers, a
/// manifest without tag 10's reserved file numbers) still read.
#[test]
fn golden_files_of_log_version_1_open_and_read_back() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    read_back(false, &data.join("golden_v1"));
    read_back(true, &data.join("golden_blobs_v1"));
}

/// Files of log version 2 (durable markers, no predecessor in a log's
/// header) still read.
#[test]
fn golden_files_of_log_version_2_open_and_read_back() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    read_back(false, &data.join("golden_v2"));
    read_back(true, &data.join("golden_blobs_v2"));
}

fn read_back(blobs: bool, dir: &Path) {
    let fs = golden_disk(dir);
    let want = vec![
        (b"cherry".to_vec(), b"dark red".to_vec()),
        (b"date".to_vec(), b"brown".to_vec()),
    ];
    let scan = |db: &Db| -> Vec<(Vec<u8>, Vec<u8>)> {
        db.range::<&[u8], _>(..)
            .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).expect("scan"))
            .collect()
    };
    let fs = Arc::new(fs);
    let db = Db::open_read_only_with_fs(fs.clone(), "/db", opts(blobs)).expect("open read-only");
    assert_eq!(scan(&db), want);
    drop(db);
    let db = Db::open_with_fs(fs, "/db", opts(blobs)).expect("open golden DB");
    assert_eq!(scan(&db), want);
}

// Range deletes (`FORMAT.md`, "Range deletes"): a table of format version
// 2 with a range-deletion section, and a log holding range-delete ops
// (batch op tag 4), in `tests/data/golden_range_del/`.

fn range_del_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden_range_del")
}

/// A table with two overlapping range tombstones (fragmented into three
/// pieces) beside two puts, and a log with a batch of a put and a range
/// delete, then a range delete on its own.
fn range_del_workload(fs: &MemFs) {
    let db = Db::open_with_fs(Arc::new(fs.clone()), "/db", opts(false)).expect("open");
    for k in ["apple", "banana", "cherry", "date", "fig"] {
        db.put(k, "fruit").expect("put");
    }
    db.flush().expect("flush");
    db.delete_range("b".."d").expect("delete_range");
    db.delete_range("c".."e").expect("delete_range");
    db.put("grape", "green").expect("put");
    db.flush().expect("flush");
    let mut b = larder_lsm::WriteBatch::new();
    b.put("cherry", "again");
    b.delete_range("a", "b");
    db.write(b).expect("write");
    db.delete_range("f".."g").expect("delete_range");
    db.close().expect("close");
}

#[test]
fn format_with_range_deletes_matches_golden_files_byte_for_byte() {
    let fs = MemFs::new();
    range_del_workload(&fs);
    assert_golden(&store_files(&fs), &range_del_dir());
}

#[test]
fn golden_files_with_range_deletes_open_and_read_back() {
    let fs = golden_disk(&range_del_dir());
    let want = vec![
        (b"cherry".to_vec(), b"again".to_vec()),
        (b"grape".to_vec(), b"green".to_vec()),
    ];
    let scan = |db: &Db| -> Vec<(Vec<u8>, Vec<u8>)> {
        db.range::<&[u8], _>(..)
            .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).expect("scan"))
            .collect()
    };
    let fs = Arc::new(fs);
    let db = Db::open_read_only_with_fs(fs.clone(), "/db", opts(false)).expect("open read-only");
    assert_eq!(scan(&db), want);
    drop(db);
    let db = Db::open_with_fs(fs, "/db", opts(false)).expect("open golden DB");
    assert_eq!(scan(&db), want);
    let d = db.describe().expect("describe");
    let range_tombstones: u64 = d
        .levels
        .iter()
        .flat_map(|l| &l.tables)
        .map(|t| t.range_tombstones)
        .sum();
    // [b, c) at 6; [c, d) at 7 (the flush keeps only the newest of a
    // fragment's tombstones every reader sees); [d, e) at 7.
    assert_eq!(range_tombstones, 3, "{d:?}");
}
