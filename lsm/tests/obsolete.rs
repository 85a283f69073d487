//! The obsolete-file policy (`lsm/src/obsolete.rs`): a failed unlink of a
//! table, log or blob file already proven obsolete never stops the engine
//! and never loses data; it is counted in `Stats::obsolete_delete_failures`
//! and retried at the next scan.

mod common;

use std::sync::Arc;

use larder_lsm::{Db, Stats};
use vfs::{Fault, FaultFs, Fs, MemFs, Op};

fn key(i: u32) -> Vec<u8> {
    format!("key{:03}", i % 50).into_bytes()
}

/// Values long enough to go to blob files (`blob_churn_options`).
fn value(i: u32, round: u32) -> Vec<u8> {
    format!("round{round}-{i}-{}", "v".repeat(60)).into_bytes()
}

/// Files in `/db` whose name ends with `ext`.
fn count(fs: &MemFs, ext: &str) -> usize {
    fs.list_dir(std::path::Path::new("/db"))
        .expect("list")
        .iter()
        .filter(|n| n.to_string_lossy().ends_with(ext))
        .count()
}

fn tables_live(s: &Stats) -> usize {
    s.levels.iter().map(|l| l.files).sum()
}

#[test]
fn failed_unlinks_of_obsolete_files_are_counted_retried_and_never_fatal() {
    let mem = MemFs::new();
    let faulty = Arc::new(FaultFs::new(Arc::new(mem.clone())));
    let db = Db::open_with_fs(faulty.clone(), "/db", common::blob_churn_options()).expect("open");
    // Every unlink fails, of every kind of file.
    faulty.fail_when(|op, _| op == Op::RemoveFile, Fault::Eio);
    for round in 0..4 {
        for i in 0..50 {
            db.put(key(i), value(i, round)).expect("put");
        }
        db.flush().expect("a flush whose old log cannot be deleted");
    }
    db.compact_range::<&[u8], _>(..)
        .expect("a compaction whose inputs cannot be deleted");
    db.wait_idle()
        .expect("a failed unlink does not stop the engine");
    let stuck = db.stats();
    assert!(stuck.obsolete_delete_failures > 0, "{stuck:?}");
    // The files stayed, and the engine goes on writing and reading.
    assert!(count(&mem, ".sst") > tables_live(&stuck), "{stuck:?}");
    db.put("after", "ok").expect("put after failed unlinks");
    for i in 0..50 {
        assert_eq!(
            db.get(&key(i)).expect("get").as_deref(),
            Some(value(i, 3).as_slice())
        );
    }

    // The next scan deletes them: only the live files are left.
    faulty.clear_faults();
    db.wait_idle().expect("idle");
    let s = db.stats();
    assert_eq!(count(&mem, ".sst"), tables_live(&s), "{s:?}");
    assert_eq!(common::blob_files_on_disk(&mem), s.blob_files, "{s:?}");
    assert!(s.blob_files_deleted > 0, "{s:?}");
    // The log being written, and at most the one a memtable switch left.
    assert!(count(&mem, ".log") <= 2, "{s:?}");
    db.close().expect("close");

    let db = Db::open_with_fs(Arc::new(mem.clone()), "/db", common::blob_churn_options())
        .expect("reopen");
    for i in 0..50 {
        assert_eq!(
            db.get(&key(i)).expect("get").as_deref(),
            Some(value(i, 3).as_slice())
        );
    }
    assert!(db.verify().expect("verify").is_clean());
    db.close().expect("close");
}

/// Files an open finds obsolete follow the same policy: an unlink that
/// fails does not fail the open; the file goes at a later scan.
#[test]
fn an_open_that_cannot_delete_obsolete_files_still_opens() {
    let mem = MemFs::new();
    let db =
        Db::open_with_fs(Arc::new(mem.clone()), "/db", common::blob_churn_options()).expect("open");
    for i in 0..50 {
        db.put(key(i), value(i, 0)).expect("put");
    }
    db.close().expect("close");
    // The reopen writes a new manifest and finds the old one obsolete.
    let faulty = Arc::new(FaultFs::new(Arc::new(mem.clone())));
    faulty.fail_when(|op, _| op == Op::RemoveFile, Fault::Eio);
    let db = Db::open_with_fs(faulty.clone(), "/db", common::blob_churn_options())
        .expect("an open whose unlinks fail");
    assert!(db.stats().obsolete_delete_failures > 0);
    assert_eq!(manifests(&mem), 2, "the old manifest stays for now");
    faulty.clear_faults();
    db.wait_idle().expect("idle");
    assert_eq!(manifests(&mem), 1);
    db.close().expect("close");
}

fn manifests(fs: &MemFs) -> usize {
    fs.list_dir(std::path::Path::new("/db"))
        .expect("list")
        .iter()
        .filter(|n| n.to_string_lossy().starts_with("MANIFEST-"))
        .count()
}
