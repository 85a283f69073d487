//! `Db::open_read_only` (issue 20, item 8): reads, `check` and `stats`
//! change no byte and no name of the store; several read-only handles share
//! the lock, and a writer and a reader-only handle exclude each other; every
//! write is `Error::ReadOnly`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;

use larder_btree::{Db, Durability, Error, Options};
use vfs::{Fs, MemFs, OpenMode, OsFs};

fn options() -> Options {
    Options {
        page_size_bytes: 512,
        initial_size_bytes: 0,
        ..Options::default()
    }
}

/// Every file of `dir` with its bytes.
fn snapshot(fs: &dyn Fs, dir: &Path) -> BTreeMap<OsString, Vec<u8>> {
    fs.list_dir(dir)
        .unwrap()
        .into_iter()
        .map(|name| {
            let f = fs.open(&dir.join(&name), OpenMode::Read).unwrap();
            let mut bytes = vec![0u8; f.len().unwrap() as usize];
            f.read_exact_at(&mut bytes, 0).unwrap();
            (name, bytes)
        })
        .collect()
}

/// Durable commits, then one that is acknowledged but not synced.
fn build(fs: Arc<dyn Fs>, path: &Path) {
    let db = Db::open_with_fs(fs, path, options()).unwrap();
    for round in 0..3u32 {
        let mut txn = db.begin_write().unwrap();
        for i in 0..300u32 {
            txn.insert(
                &(i * 7 + round).to_be_bytes(),
                &vec![round as u8; 40 + i as usize % 700],
            )
            .unwrap();
        }
        txn.commit().unwrap();
    }
    let mut txn = db.begin_write().unwrap();
    txn.set_durability(Durability::None);
    txn.insert(b"not synced", b"x").unwrap();
    txn.commit().unwrap();
}

/// Reads everything a reading command would, on a read-only handle.
fn read_all(db: &Db) {
    let read = db.begin_read().unwrap();
    assert_eq!(read.iter().count() as u64, read.len());
    assert!(read.get(&7u32.to_be_bytes()).unwrap().is_some());
    assert_eq!(
        read.get(b"not synced").unwrap(),
        None,
        "the last durable commit"
    );
    let upper = 1000u32.to_be_bytes();
    let forward = read.range(..upper.as_slice()).count();
    assert!(forward > 100);
    assert_eq!(read.range(..upper.as_slice()).rev().count(), forward);
    db.check().unwrap();
    db.stats().unwrap();
    db.sync().unwrap(); // nothing to do
    assert!(matches!(db.begin_write(), Err(Error::ReadOnly { .. })));
    assert!(matches!(db.compact(), Err(Error::ReadOnly { .. })));
    drop(read);
}

#[test]
fn a_read_only_open_changes_no_byte_and_no_name_on_a_simulated_disk() {
    let fs = Arc::new(MemFs::new());
    fs.create_dir_all(Path::new("/store")).unwrap();
    fs.sync_dir(Path::new("/")).unwrap();
    build(fs.clone(), Path::new("/store/db"));
    let before = snapshot(&*fs, Path::new("/store"));
    let syncs = fs.sync_count();
    let db = Db::open_read_only_with_fs(fs.clone(), "/store/db", options()).unwrap();
    read_all(&db);
    drop(db);
    assert_eq!(snapshot(&*fs, Path::new("/store")), before);
    assert_eq!(fs.sync_count(), syncs, "a read-only open syncs nothing");
    // The durable state is unchanged too: a power loss now loses nothing
    // more than it would have before.
    let after_crash = fs.crash(vfs::CrashOptions::default());
    assert_eq!(
        snapshot(&after_crash, Path::new("/store")).len(),
        before.len()
    );
}

#[test]
fn a_read_only_open_changes_no_byte_and_no_name_on_a_real_disk() {
    let dir = tempfile::tempdir().unwrap();
    let fs: Arc<dyn Fs> = Arc::new(OsFs::new());
    let path = dir.path().join("db");
    build(fs.clone(), &path);
    let before = snapshot(&*fs, dir.path());
    let modified: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().modified().unwrap())
        .collect();
    {
        let a = Db::open_read_only_with_fs(fs.clone(), &path, options()).unwrap();
        let b = Db::open_read_only_with_fs(fs.clone(), &path, options()).unwrap();
        read_all(&a);
        read_all(&b);
        // A writer is refused while readers hold the shared lock.
        assert!(matches!(
            Db::open_with_fs(fs.clone(), &path, options()),
            Err(Error::Io(vfs::Error::Locked { .. }))
        ));
    }
    assert_eq!(snapshot(&*fs, dir.path()), before);
    let modified_after: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().modified().unwrap())
        .collect();
    assert_eq!(modified_after, modified);
    // And a read-only open is refused while the writer has it.
    let w = Db::open_with_fs(fs.clone(), &path, options()).unwrap();
    assert!(matches!(
        Db::open_read_only_with_fs(fs.clone(), &path, options()),
        Err(Error::Io(vfs::Error::Locked { .. }))
    ));
    drop(w);
    Db::open_read_only_with_fs(fs, &path, options()).unwrap();
}

#[test]
fn a_read_only_open_without_a_lock_file_does_not_create_one() {
    let fs = Arc::new(MemFs::new());
    build(fs.clone(), Path::new("/db"));
    fs.remove_file(Path::new("/db.lock")).unwrap();
    let before = snapshot(&*fs, Path::new("/"));
    let db = Db::open_read_only_with_fs(fs.clone(), "/db", options()).unwrap();
    read_all(&db);
    drop(db);
    assert_eq!(snapshot(&*fs, Path::new("/")), before);
    assert!(!fs.exists(Path::new("/db.lock")).unwrap());
}

#[test]
fn a_read_only_open_of_no_database_creates_nothing() {
    let fs = Arc::new(MemFs::new());
    assert!(matches!(
        Db::open_read_only_with_fs(fs.clone(), "/db", options()),
        Err(Error::Missing { .. })
    ));
    assert!(fs.list_dir(Path::new("/")).unwrap().is_empty());
    fs.open(Path::new("/db"), OpenMode::Truncate).unwrap();
    assert!(matches!(
        Db::open_read_only_with_fs(fs.clone(), "/db", options()),
        Err(Error::Empty { .. })
    ));
    assert_eq!(snapshot(&*fs, Path::new("/")).len(), 1);
}

#[test]
fn a_read_only_open_reports_a_damaged_older_meta_and_writes_nothing() {
    let fs = Arc::new(MemFs::new());
    build(fs.clone(), Path::new("/db"));
    // A durable commit after the unsynced one, so no page is newer than
    // the newest meta page (else damage to the other one is refused).
    let db = Db::open_with_fs(fs.clone(), "/db", options()).unwrap();
    let mut txn = db.begin_write().unwrap();
    txn.insert(b"durable", b"y").unwrap();
    txn.commit().unwrap();
    drop(db);
    let older = Db::open_with_fs(fs.clone(), "/db", options())
        .unwrap()
        .recovery()
        .slot
        ^ 1;
    fs.flip_bit(Path::new("/db"), older * 512 + 40, 1).unwrap();
    let before = snapshot(&*fs, Path::new("/"));
    let db = Db::open_read_only_with_fs(fs.clone(), "/db", options()).unwrap();
    assert!(!db.recovery().is_clean());
    assert!(matches!(db.check(), Err(Error::Corruption { page, .. }) if page == older));
    drop(db);
    assert_eq!(snapshot(&*fs, Path::new("/")), before);
}
