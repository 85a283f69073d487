//! A log the manifest recorded as sealed (tag 11, `FORMAT.md`) that is
//! missing or shorter than recorded is corruption naming the log, the
//! recorded length and the length found, for read-only and read-write
//! opens alike, and the refused open changes nothing. A truncation removes
//! the log's own seal marker, so without the record such a log read as a
//! torn tail and keys silently read older values (issue 20).
//!
//! A log never recorded (a crash before close) keeps the marker rule: a cut
//! after the last durable marker is a torn tail, never false corruption.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use larder_lsm::{Db, Durability, Error, Options};
use vfs::{Fs, MemFs, OpenMode};

fn opts() -> Options {
    Options {
        durability: Durability::Immediate,
        ..Options::default()
    }
}

fn logs(fs: &MemFs) -> Vec<PathBuf> {
    common::snapshot(fs, Path::new("/db"))
        .into_keys()
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect()
}

/// Two live logs, both sealed by a clean close: the first holds `v1` of
/// every key and is replayed (kept live) by the second session, which
/// overwrites half the keys with `v2` in the second log. A table holds
/// `v0` of every key.
fn store(fs: &MemFs) {
    let shared: Arc<dyn Fs> = Arc::new(fs.clone());
    let db = Db::open_with_fs(Arc::clone(&shared), "/db", opts()).expect("open");
    for i in 0..40 {
        db.put(format!("k{i:02}"), "v0").expect("put");
    }
    db.flush().expect("flush");
    for i in 0..40 {
        db.put(format!("k{i:02}"), "v1").expect("put");
    }
    db.close().expect("close");
    let db = Db::open_with_fs(shared, "/db", opts()).expect("reopen");
    for i in 0..20 {
        db.put(format!("k{i:02}"), "v2").expect("put");
    }
    db.close().expect("close");
    assert_eq!(logs(fs).len(), 2, "{:?}", logs(fs));
}

fn cut(fs: &MemFs, path: &Path, len: usize) {
    let data = fs
        .open(path, OpenMode::Read)
        .and_then(|f| f.map())
        .expect("read")
        .to_vec();
    let f = fs.open(path, OpenMode::Truncate).expect("open");
    f.append(&data[..len]).expect("write");
    f.sync_data().expect("sync");
}

/// From a log's length, the length to cut it to (`None`: delete it).
type Damage = Box<dyn Fn(usize) -> Option<usize>>;

/// Length of a log's file header record (magic, version).
const HEADER_LEN: usize = 19;

#[test]
fn a_sealed_log_cut_short_or_deleted_is_refused_naming_it() {
    for which in 0..2 {
        let damages: Vec<(&str, Damage)> = vec![
            ("truncate to 0", Box::new(|_| Some(0))),
            ("truncate to the header", Box::new(|_| Some(HEADER_LEN))),
            ("truncate mid-record", Box::new(|len| Some(len / 2))),
            ("cut the last byte", Box::new(|len| Some(len - 1))),
            ("delete", Box::new(|_| None)),
        ];
        for (name, damage) in damages {
            let fs = MemFs::new();
            store(&fs);
            let log = logs(&fs)[which].clone();
            let sealed_len = common::snapshot(&fs, Path::new("/db"))[&log].len();
            let found = match damage(sealed_len) {
                Some(len) => {
                    cut(&fs, &log, len);
                    len
                }
                None => {
                    fs.remove_file(&log).expect("rm");
                    0
                }
            };
            let before = common::snapshot(&fs, Path::new("/db"));
            let shared: Arc<dyn Fs> = Arc::new(fs.clone());
            for read_only in [true, false] {
                let r = if read_only {
                    Db::open_read_only_with_fs(Arc::clone(&shared), "/db", opts())
                } else {
                    Db::open_with_fs(Arc::clone(&shared), "/db", opts())
                };
                match r {
                    Err(Error::Corruption {
                        file,
                        expected,
                        found: f,
                        ..
                    }) => {
                        assert_eq!(file, log, "log {which}, {name}, read-only {read_only}");
                        assert_eq!(
                            (expected, f),
                            (sealed_len as u64, found as u64),
                            "log {which}, {name}, read-only {read_only}"
                        );
                    }
                    Err(e) => panic!("log {which}, {name}, read-only {read_only}: {e}"),
                    Ok(_) => panic!("log {which}, {name}, read-only {read_only}: opened"),
                }
                assert!(
                    common::snapshot(&fs, Path::new("/db")) == before,
                    "log {which}, {name}: a refused open (read-only {read_only}) changed the store"
                );
            }
        }
    }
}

/// Damage before the recorded length that leaves the file as long (its
/// seal marker zeroed) is refused too: the manifest says those bytes were
/// whole.
#[test]
fn a_sealed_log_with_its_seal_marker_destroyed_is_refused() {
    let fs = MemFs::new();
    store(&fs);
    let log = logs(&fs)[1].clone();
    let mut data = common::snapshot(&fs, Path::new("/db"))[&log].clone();
    let len = data.len();
    // The seal marker is the last record: 7-byte header, 8-byte length.
    for b in &mut data[len - 15..] {
        *b = 0;
    }
    let f = fs.open(&log, OpenMode::Truncate).expect("open");
    f.append(&data).expect("write");
    f.sync_data().expect("sync");
    let before = common::snapshot(&fs, Path::new("/db"));
    let r = Db::open_read_only_with_fs(Arc::new(fs.clone()), "/db", opts());
    match r {
        Err(Error::Corruption {
            file,
            expected,
            found,
            ..
        }) => {
            assert_eq!(file, log);
            assert_eq!(expected, len as u64);
            assert!(found < expected, "{found}");
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("opened"),
    }
    assert!(common::snapshot(&fs, Path::new("/db")) == before);
}

/// Every key reads its newest value after a clean close, twice over (the
/// sealed records are carried into each new manifest), and bytes appended
/// after a sealed log's end change nothing.
#[test]
fn sealed_logs_reopen_cleanly_and_garbage_after_the_seal_is_ignored() {
    let fs = MemFs::new();
    store(&fs);
    let log = logs(&fs)[1].clone();
    fs.open(&log, OpenMode::Append)
        .and_then(|f| f.append(&[0xa5; 100]))
        .expect("append");
    for _ in 0..2 {
        let db = Db::open_with_fs(Arc::new(fs.clone()), "/db", opts()).expect("open");
        for i in 0..40 {
            let want: &[u8] = if i < 20 { b"v2" } else { b"v1" };
            assert_eq!(
                db.get(format!("k{i:02}").as_bytes())
                    .expect("get")
                    .as_deref(),
                Some(want)
            );
        }
        db.close().expect("close");
    }
}

/// A log left by a crash (no close) was never recorded as sealed: a cut
/// after its last durable marker is a torn tail, dropped, not corruption.
#[test]
fn an_unsealed_log_cut_at_its_tail_is_a_torn_tail() {
    let fs = MemFs::new();
    let db = Db::open_with_fs(Arc::new(fs.clone()), "/db", opts()).expect("open");
    db.put("a", "1").expect("put");
    db.put("b", "x".repeat(300)).expect("put");
    drop(db);
    let log = logs(&fs)[0].clone();
    let len = common::snapshot(&fs, Path::new("/db"))[&log].len();
    cut(&fs, &log, len - 100);
    for read_only in [true, false] {
        let db = if read_only {
            Db::open_read_only_with_fs(Arc::new(fs.clone()), "/db", opts())
        } else {
            Db::open_with_fs(Arc::new(fs.clone()), "/db", opts())
        }
        .expect("open");
        assert_eq!(db.get(b"a").expect("get").as_deref(), Some(&b"1"[..]));
        assert_eq!(db.get(b"b").expect("get"), None);
        db.close().expect("close");
    }
}
