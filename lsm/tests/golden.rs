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

use std::path::{Path, PathBuf};
use std::sync::Arc;

use larder_lsm::{Db, Options};
use vfs::{Fs, MemFs, OpenMode};

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

/// Every file under `/db` but the locks, by path relative to it (the blob
/// store's files as `blobs/<name>`).
fn files(fs: &MemFs) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for sub in ["", "blobs"] {
        let dir = Path::new("/db").join(sub);
        let Ok(names) = fs.list_dir(&dir) else {
            continue;
        };
        for n in names {
            let n = n.to_string_lossy().into_owned();
            let path = dir.join(&n);
            if n == "LOCK" || fs.list_dir(&path).is_ok() {
                continue;
            }
            let data = fs
                .open(&path, OpenMode::Read)
                .and_then(|f| f.map())
                .expect("read");
            let rel = if sub.is_empty() {
                n
            } else {
                format!("{sub}/{n}")
            };
            out.push((rel, data.to_vec()));
        }
    }
    out.sort();
    out
}

/// Golden file names, relative to the golden directory, sorted.
fn golden_names(dir: &Path) -> Vec<String> {
    let mut want = Vec::new();
    for sub in ["", "blobs"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for e in entries {
            let e = e.expect("entry");
            if e.file_type().expect("type").is_dir() {
                continue;
            }
            let n = e.file_name().to_string_lossy().into_owned();
            want.push(if sub.is_empty() {
                n
            } else {
                format!("{sub}/{n}")
            });
        }
    }
    want.sort();
    want
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
    let got = files(&fs);
    let dir = golden_dir(blobs);
    if std::env::var_os("LSM_BLESS").is_some() {
        std::fs::create_dir_all(dir.join(if blobs { "blobs" } else { "" })).expect("mkdir");
        for (name, data) in &got {
            std::fs::write(dir.join(name), data).expect("write golden");
        }
    }
    let want = golden_names(&dir);
    let names: Vec<String> = got.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(names, want, "file set changed");
    for (name, data) in &got {
        // The blob store's manifest holds a random store id (the erasure
        // crate's golden files pin its format).
        if name == "blobs/MANIFEST" {
            continue;
        }
        let golden = std::fs::read(dir.join(name)).expect("read golden");
        assert!(
            *data == golden,
            "{name} differs from tests/data/golden/{name}: the on-disk format changed"
        );
    }
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
    let fs = MemFs::new();
    fs.create_dir_all(Path::new("/db/blobs")).expect("mkdir");
    for name in golden_names(dir) {
        let f = fs
            .open(&Path::new("/db").join(&name), OpenMode::CreateNew)
            .expect("create");
        f.append(&std::fs::read(dir.join(&name)).expect("read"))
            .expect("write");
    }
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
    let got = files(&fs);
    let dir = range_del_dir();
    if std::env::var_os("LSM_BLESS").is_some() {
        std::fs::create_dir_all(&dir).expect("mkdir");
        for (name, data) in &got {
            std::fs::write(dir.join(name), data).expect("write golden");
        }
    }
    let names: Vec<String> = got.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(names, golden_names(&dir), "file set changed");
    for (name, data) in &got {
        let golden = std::fs::read(dir.join(name)).expect("read golden");
        assert!(
            *data == golden,
            "{name} differs from tests/data/golden_range_del/{name}: the on-disk format changed"
        );
    }
}

#[test]
fn golden_files_with_range_deletes_open_and_read_back() {
    let dir = range_del_dir();
    let fs = MemFs::new();
    fs.create_dir_all(Path::new("/db")).expect("mkdir");
    for name in golden_names(&dir) {
        let f = fs
            .open(&Path::new("/db").join(&name), OpenMode::CreateNew)
            .expect("create");
        f.append(&std::fs::read(dir.join(&name)).expect("read"))
            .expect("write");
    }
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
