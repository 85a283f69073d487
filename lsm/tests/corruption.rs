//! Corruption tests: a flipped bit in a WAL record, a data block, an index
//! block or the manifest is reported as `Error::Corruption` naming the file;
//! a torn WAL tail (after a crash) is dropped silently.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use larder_lsm::{Db, Durability, Error, Options};
use vfs::{Fs, MemFs, OpenMode};

fn opts() -> Options {
    Options {
        durability: Durability::Immediate,
        compression: false,
        ..Options::default()
    }
}

fn open(fs: &MemFs) -> larder_lsm::Result<Db> {
    Db::open_with_fs(Arc::new(fs.clone()), "/db", opts())
}

fn key(i: u32) -> String {
    format!("key{i:05}")
}

fn value(i: u32) -> String {
    format!("value-{i}-{}", "v".repeat(40))
}

/// The one file of the DB whose name satisfies `pick`.
fn file(fs: &MemFs, pick: impl Fn(&str) -> bool) -> PathBuf {
    let names: Vec<String> = fs
        .list_dir(Path::new("/db"))
        .expect("list")
        .into_iter()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| pick(n))
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    Path::new("/db").join(&names[0])
}

fn len(fs: &MemFs, path: &Path) -> u64 {
    fs.open(path, OpenMode::Read)
        .and_then(|f| f.len())
        .expect("len")
}

fn names(e: &Error, path: &Path) -> bool {
    matches!(e, Error::Corruption { file, .. } if file == path)
}

/// A DB whose writes are all in the log: closed without a flush, or (when
/// `close` is false) dropped as a crash would leave it, so the manifest
/// never records the log as sealed.
fn db_with_log_closed(n: u32, close: bool) -> (MemFs, PathBuf) {
    let fs = MemFs::new();
    let db = open(&fs).expect("open");
    for i in 0..n {
        db.put(key(i), value(i)).expect("put");
    }
    if close {
        db.close().expect("close");
    } else {
        drop(db);
    }
    let log = file(&fs, |n| n.ends_with(".log"));
    (fs, log)
}

fn db_with_log(n: u32) -> (MemFs, PathBuf) {
    db_with_log_closed(n, true)
}

/// A DB whose writes are all in one table.
fn db_with_table(n: u32) -> (MemFs, PathBuf) {
    let fs = MemFs::new();
    let db = open(&fs).expect("open");
    for i in 0..n {
        db.put(key(i), value(i)).expect("put");
    }
    db.flush().expect("flush");
    db.close().expect("close");
    let table = file(&fs, |n| n.ends_with(".sst"));
    (fs, table)
}

#[test]
fn flipped_bit_in_a_mid_log_record_is_corruption_naming_the_log() {
    let (fs, log) = db_with_log(200);
    fs.flip_bit(&log, len(&fs, &log) / 2, 3).expect("flip");
    match open(&fs) {
        Err(e) => assert!(names(&e, &log), "{e}"),
        Ok(_) => panic!("a corrupt record mid-log was not detected"),
    }
}

#[test]
fn torn_log_tail_is_dropped_silently() {
    // After a crash: a log sealed by a clean close and then cut is damage
    // (tests/sealed_logs.rs).
    let (fs, log) = db_with_log_closed(200, false);
    // Cut the last record in half, as a crash mid-append would.
    let f = fs.open(&log, OpenMode::ReadWrite).expect("open log");
    f.set_len(len(&fs, &log) - 30).expect("truncate");
    drop(f);
    let db = open(&fs).expect("a torn tail is a crash leftover, not an error");
    for i in 0..199 {
        assert_eq!(
            db.get(key(i).as_bytes()).expect("get").as_deref(),
            Some(value(i).as_bytes())
        );
    }
    assert_eq!(db.get(key(199).as_bytes()).expect("get"), None);
}

#[test]
fn flipped_bit_in_a_data_block_is_corruption_naming_the_table() {
    let (fs, table) = db_with_table(500);
    fs.flip_bit(&table, 100, 0).expect("flip"); // inside the first data block
    let db = open(&fs).expect("open reads no data block");
    let r = db.get(key(0).as_bytes());
    assert!(matches!(&r, Err(e) if names(e, &table)), "{r:?}");
    let r: larder_lsm::Result<Vec<_>> = db.range::<&[u8], _>(..).collect();
    assert!(matches!(&r, Err(e) if names(e, &table)), "scan: {r:?}");
}

#[test]
fn flipped_bit_in_the_index_block_is_corruption_naming_the_table() {
    let (fs, table) = db_with_table(500);
    // The index block is the last block before the 64-byte footer; this is
    // a byte of its contents, before its 5-byte trailer.
    fs.flip_bit(&table, len(&fs, &table) - 64 - 5 - 3, 2)
        .expect("flip");
    match open(&fs) {
        Err(e) => assert!(names(&e, &table), "{e}"),
        Ok(_) => panic!("a corrupt index block was not detected"),
    }
}

#[test]
fn flipped_bit_in_the_footer_is_corruption_naming_the_table() {
    let (fs, table) = db_with_table(50);
    fs.flip_bit(&table, len(&fs, &table) - 20, 5).expect("flip");
    assert!(matches!(open(&fs), Err(e) if names(&e, &table)));
}

#[test]
fn flipped_bit_in_the_manifest_is_corruption_naming_the_manifest() {
    let fs = MemFs::new();
    let db = open(&fs).expect("open");
    for round in 0..4 {
        for i in 0..50 {
            db.put(key(i), value(i + round)).expect("put");
        }
        db.flush().expect("flush"); // one manifest edit per flush
    }
    db.close().expect("close");
    let manifest = file(&fs, |n| n.starts_with("MANIFEST-"));
    // The first edit (the whole state at open), followed by more edits.
    fs.flip_bit(&manifest, 30, 1).expect("flip");
    match open(&fs) {
        Err(e) => assert!(names(&e, &manifest), "{e}"),
        Ok(_) => panic!("a corrupt manifest edit was not detected"),
    }
}

#[test]
fn current_naming_no_manifest_is_an_error_not_an_empty_db() {
    let (fs, _) = db_with_table(10);
    let f = fs
        .open(Path::new("/db/CURRENT"), OpenMode::Truncate)
        .expect("open");
    f.append(b"garbage\n").expect("write");
    drop(f);
    assert!(matches!(open(&fs), Err(Error::Corruption { .. })));
}

#[test]
fn second_open_of_a_directory_fails_with_locked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), Options::default()).expect("open");
    let r = Db::open(dir.path(), Options::default());
    assert!(
        matches!(r, Err(Error::Io(vfs::Error::Locked { .. }))),
        "{r:?}"
    );
    db.close().expect("close");
    Db::open(dir.path(), Options::default()).expect("open after close");
}
