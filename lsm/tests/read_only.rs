//! `Db::open_read_only`: replays in memory and writes nothing, shares the
//! directory with other readers, excludes a writer, and refuses writes.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use larder_lsm::{Db, Durability, Error, Options};
use vfs::{Fs, MemFs, OpenMode};

fn opts() -> Options {
    Options {
        durability: Durability::Immediate,
        blob_threshold_bytes: Some(100),
        ..Options::default()
    }
}

/// A store with a table, a blob, writes only in the log, and a torn tail
/// at the end of the log (left by a crash).
fn store(fs: &MemFs) {
    let db = Db::open_with_fs(Arc::new(fs.clone()), "/db", opts()).expect("open");
    db.put("flushed", "in a table").expect("put");
    db.put("large", vec![7u8; 500]).expect("put");
    db.flush().expect("flush");
    db.put("logged", "only in the log").expect("put");
    db.put("torn", "x".repeat(300)).expect("put");
    // A crash, not a close: a log sealed by a close and then cut would be
    // damage, not a torn tail.
    drop(db);
    let logs: Vec<PathBuf> = common::snapshot(fs, Path::new("/db"))
        .into_keys()
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    assert_eq!(logs.len(), 1, "{logs:?}");
    // Cut the last record: a crash mid-append.
    let data = common::snapshot(fs, Path::new("/db"))[&logs[0]].clone();
    let f = fs.open(&logs[0], OpenMode::Truncate).expect("open");
    f.append(&data[..data.len() - 100]).expect("write");
    f.sync_data().expect("sync");
}

#[test]
fn read_only_open_changes_no_byte_and_no_name() {
    let fs = MemFs::new();
    store(&fs);
    let before = common::snapshot(&fs, Path::new("/db"));
    let db = Db::open_read_only_with_fs(Arc::new(fs.clone()), "/db", opts()).expect("open");
    assert!(db.is_read_only());
    assert_eq!(
        db.get(b"flushed").expect("get").as_deref(),
        Some(&b"in a table"[..])
    );
    assert_eq!(
        db.get(b"large").expect("get").as_deref(),
        Some(&[7u8; 500][..])
    );
    assert_eq!(
        db.get(b"logged").expect("get").as_deref(),
        Some(&b"only in the log"[..])
    );
    assert_eq!(db.get(b"torn").expect("get"), None);
    assert_eq!(db.range::<&[u8], _>(..).count(), 3);
    let report = db.verify().expect("verify");
    assert!(report.problems.is_empty(), "{report:?}");
    db.close().expect("close");
    assert!(
        common::snapshot(&fs, Path::new("/db")) == before,
        "a read-only open changed the directory"
    );
}

#[test]
fn writes_on_a_read_only_handle_are_refused() {
    let fs = MemFs::new();
    store(&fs);
    let db = Db::open_read_only_with_fs(Arc::new(fs.clone()), "/db", opts()).expect("open");
    assert!(matches!(db.put("k", "v"), Err(Error::ReadOnly)));
    assert!(matches!(db.delete("k"), Err(Error::ReadOnly)));
    assert!(matches!(db.flush(), Err(Error::ReadOnly)));
    assert!(matches!(db.sync(), Err(Error::ReadOnly)));
    assert!(matches!(
        db.compact_range::<&[u8], _>(..),
        Err(Error::ReadOnly)
    ));
    assert!(matches!(db.repair_blobs(), Err(Error::ReadOnly)));
}

#[test]
fn readers_share_the_directory_and_exclude_a_writer() {
    let fs = MemFs::new();
    store(&fs);
    let shared: Arc<dyn Fs> = Arc::new(fs.clone());
    let a = Db::open_read_only_with_fs(Arc::clone(&shared), "/db", opts()).expect("reader a");
    let b = Db::open_read_only_with_fs(Arc::clone(&shared), "/db", opts()).expect("reader b");
    let w = Db::open_with_fs(Arc::clone(&shared), "/db", opts());
    assert!(
        matches!(w, Err(Error::Io(vfs::Error::Locked { .. }))),
        "{w:?}"
    );
    drop(a);
    drop(b);
    let w = Db::open_with_fs(Arc::clone(&shared), "/db", opts()).expect("writer");
    let r = Db::open_read_only_with_fs(Arc::clone(&shared), "/db", opts());
    assert!(
        matches!(r, Err(Error::Io(vfs::Error::Locked { .. }))),
        "{r:?}"
    );
    drop(w);
}

#[test]
fn read_only_open_of_an_empty_directory_is_an_empty_store() {
    let fs = MemFs::new();
    fs.create_dir_all(Path::new("/db")).expect("mkdir");
    let db = Db::open_read_only_with_fs(Arc::new(fs.clone()), "/db", opts()).expect("open");
    assert_eq!(db.get(b"k").expect("get"), None);
    drop(db);
    assert!(common::snapshot(&fs, Path::new("/db")).is_empty());
}
