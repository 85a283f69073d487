//! Damage that recovery must report instead of hiding (issue 20): a
//! manifest whose last edit was reverted, a missing `CURRENT`, a lost
//! newest blob file, and the level-0 table each open used to write.
//! Every refusal leaves the directory exactly as it was.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use larder_lsm::{Db, Durability, Error, Options, Problem};
use vfs::{Fs, MemFs, OpenMode};

fn opts() -> Options {
    Options {
        durability: Durability::Immediate,
        compression: false,
        blob_threshold_bytes: None,
        // No background compaction: the flush's edit stays the last one.
        l0_compaction_trigger: 100,
        l0_slowdown_trigger: 100,
        l0_stop_trigger: 100,
        ..Options::default()
    }
}

fn key(i: u32) -> String {
    format!("key{i:05}")
}

fn value(i: u32, round: u32) -> String {
    format!("value-{i}-{round}-{}", "v".repeat(40))
}

fn names_with(fs: &MemFs, suffix: &str) -> Vec<PathBuf> {
    common::snapshot(fs, Path::new("/db"))
        .into_keys()
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect()
}

fn the_manifest(fs: &MemFs) -> PathBuf {
    let m: Vec<PathBuf> = common::snapshot(fs, Path::new("/db"))
        .into_keys()
        .filter(|p| p.to_string_lossy().contains("MANIFEST-"))
        .collect();
    assert_eq!(m.len(), 1, "{m:?}");
    m[0].clone()
}

fn rewrite(fs: &MemFs, path: &Path, data: &[u8]) {
    let f = fs.open(path, OpenMode::Truncate).expect("open");
    f.append(data).expect("write");
    f.sync_data().expect("sync");
}

/// A store whose manifest's last edit is a flush that deleted its log:
/// 200 keys in a table, written in a log that is gone.
fn store_after_flush(fs: &MemFs) {
    let db = Db::open_with_fs(Arc::new(fs.clone()), "/db", opts()).expect("open");
    for i in 0..200 {
        db.put(key(i), value(i, 0)).expect("put");
    }
    db.flush().expect("flush");
    // Dropped, not closed: `close` seals the manifest with a durable
    // marker, after which damage to the last edit is found by the log
    // reader (tests/wal_damage.rs). Without the seal, as a crash right after
    // the flush leaves it, only the missing log tells.
    drop(db);
}

fn assert_refused_naming_manifest(fs: &MemFs, manifest: &Path, bad_tail_max: u64) {
    let before = common::snapshot(fs, Path::new("/db"));
    for read_only in [false, true] {
        let r = if read_only {
            Db::open_read_only_with_fs(Arc::new(fs.clone()), "/db", opts())
        } else {
            Db::open_with_fs(Arc::new(fs.clone()), "/db", opts())
        };
        match r {
            Err(Error::Corruption { file, offset, .. }) => {
                assert_eq!(file, manifest, "read_only {read_only}");
                assert!(
                    offset > 0 && offset <= bad_tail_max,
                    "offset {offset} of the bad tail, at most {bad_tail_max}"
                );
            }
            other => panic!("read_only {read_only}: expected corruption, got {other:?}"),
        }
        assert!(
            common::snapshot(fs, Path::new("/db")) == before,
            "a refused open changed the directory"
        );
    }
}

#[test]
fn flipped_last_manifest_edit_after_its_log_was_deleted_is_refused() {
    let fs = MemFs::new();
    store_after_flush(&fs);
    let manifest = the_manifest(&fs);
    let mut data = common::snapshot(&fs, Path::new("/db"))[&manifest].clone();
    let len = data.len() as u64;
    // The last byte belongs to the flush's edit.
    *data.last_mut().expect("non-empty") ^= 0x10;
    rewrite(&fs, &manifest, &data);
    assert_refused_naming_manifest(&fs, &manifest, len - 1);
}

#[test]
fn manifest_truncated_into_its_last_edit_is_refused() {
    for cut in [1, 5, 12] {
        let fs = MemFs::new();
        store_after_flush(&fs);
        let manifest = the_manifest(&fs);
        let data = common::snapshot(&fs, Path::new("/db"))[&manifest].clone();
        let len = data.len() - cut;
        rewrite(&fs, &manifest, &data[..len]);
        assert_refused_naming_manifest(&fs, &manifest, len as u64);
    }
}

#[test]
fn a_table_the_manifest_names_missing_is_corruption_naming_it() {
    let fs = MemFs::new();
    store_after_flush(&fs);
    let tables = names_with(&fs, ".sst");
    assert_eq!(tables.len(), 1);
    fs.remove_file(&tables[0]).expect("rm");
    let before = common::snapshot(&fs, Path::new("/db"));
    let r = Db::open_with_fs(Arc::new(fs.clone()), "/db", opts());
    assert!(
        matches!(&r, Err(Error::Corruption { file, .. }) if *file == tables[0]),
        "{r:?}"
    );
    assert!(common::snapshot(&fs, Path::new("/db")) == before);
}

#[test]
fn missing_current_in_a_used_directory_is_refused() {
    // With a table, and with only a log holding writes.
    for flush in [true, false] {
        let fs = MemFs::new();
        let db = Db::open_with_fs(Arc::new(fs.clone()), "/db", opts()).expect("open");
        db.put("k", "v").expect("put");
        if flush {
            db.flush().expect("flush");
        }
        db.close().expect("close");
        fs.remove_file(Path::new("/db/CURRENT")).expect("rm");
        let before = common::snapshot(&fs, Path::new("/db"));
        for read_only in [false, true] {
            let r = if read_only {
                Db::open_read_only_with_fs(Arc::new(fs.clone()), "/db", opts())
            } else {
                Db::open_with_fs(Arc::new(fs.clone()), "/db", opts())
            };
            assert!(
                matches!(&r, Err(Error::Corruption { file, .. }) if file.ends_with("CURRENT")),
                "flush {flush}, read_only {read_only}: {r:?}"
            );
            assert!(common::snapshot(&fs, Path::new("/db")) == before);
        }
    }
}

#[test]
fn a_store_that_never_held_data_without_current_opens_as_new() {
    // What a crash while creating the store leaves: a manifest naming no
    // table and an empty log.
    let fs = MemFs::new();
    Db::open_with_fs(Arc::new(fs.clone()), "/db", opts())
        .expect("open")
        .close()
        .expect("close");
    fs.remove_file(Path::new("/db/CURRENT")).expect("rm");
    let db = Db::open_with_fs(Arc::new(fs.clone()), "/db", opts()).expect("new store");
    assert_eq!(db.get(b"k").expect("get"), None);
}

#[test]
fn open_put_close_cycles_leave_no_level0_table() {
    let fs = MemFs::new();
    for round in 0..20 {
        let db = Db::open_with_fs(Arc::new(fs.clone()), "/db", opts()).expect("open");
        db.put(key(round), value(round, round)).expect("put");
        db.close().expect("close");
    }
    assert_eq!(names_with(&fs, ".sst"), Vec::<PathBuf>::new());
    let db = Db::open_with_fs(Arc::new(fs.clone()), "/db", opts()).expect("open");
    assert_eq!(db.stats().levels[0].files, 0);
    for round in 0..20 {
        assert_eq!(
            db.get(key(round).as_bytes()).expect("get").as_deref(),
            Some(value(round, round).as_bytes())
        );
    }
    // The logs wait for the memtable's flush, then go.
    db.flush().expect("flush");
    // The flushing thread deletes the old logs after it installs the
    // table; closing waits for it.
    db.close().expect("close");
    assert_eq!(names_with(&fs, ".log").len(), 1);
    assert_eq!(names_with(&fs, ".sst").len(), 1);
}

fn blob_opts() -> Options {
    Options {
        blob_threshold_bytes: Some(100),
        ..opts()
    }
}

fn big(i: u32, round: u32) -> Vec<u8> {
    format!("{i}-{round}-").repeat(40).into_bytes()
}

#[test]
fn a_lost_newest_blob_keeps_its_id_and_verify_reports_it_lost() {
    let fs = MemFs::new();
    let db = Db::open_with_fs(Arc::new(fs.clone()), "/db", blob_opts()).expect("open");
    for round in 0..2 {
        for i in 0..20 {
            db.put(key(round * 100 + i), big(i, round)).expect("put");
        }
        db.flush().expect("flush");
    }
    db.close().expect("close");
    let mut shards = names_with(&fs, ".shard");
    shards.sort();
    assert_eq!(shards.len(), 2, "{shards:?}");
    let lost = shards.pop().expect("newest");
    fs.remove_file(&lost).expect("rm newest blob");

    let db = Db::open_with_fs(Arc::new(fs.clone()), "/db", blob_opts()).expect("reopen");
    for i in 0..20 {
        db.put(key(200 + i), big(i, 2)).expect("put");
    }
    db.flush().expect("flush");
    let now = names_with(&fs, ".shard");
    assert!(
        !now.contains(&lost),
        "the lost blob's id was reused: {now:?}"
    );
    assert_eq!(now.len(), 2, "{now:?}");
    let report = db.verify().expect("verify");
    let lost_id = u64::from_str_radix(lost.file_stem().and_then(|s| s.to_str()).expect("name"), 16)
        .expect("hex id");
    assert!(
        report
            .problems
            .iter()
            .all(|p| matches!(p, Problem::BlobLost { blob, .. } if *blob == lost_id)),
        "{:?}",
        report.problems
    );
    match report.problems.as_slice() {
        [Problem::BlobLost { keys, .. }] => assert_eq!(keys.len(), 20),
        other => panic!("{other:?}"),
    }
    for i in 0..20 {
        assert_eq!(
            db.get(key(200 + i).as_bytes())
                .expect("new value")
                .as_deref(),
            Some(&big(i, 2)[..])
        );
        assert_eq!(
            db.get(key(i).as_bytes()).expect("old value").as_deref(),
            Some(&big(i, 0)[..])
        );
    }
}

/// The same refusal with blobs: neither the refused open nor the blob store
/// it looked at changes a byte, not even the leftover of an interrupted
/// blob write.
#[test]
fn refused_open_leaves_the_blob_store_alone() {
    let fs = MemFs::new();
    let db = Db::open_with_fs(Arc::new(fs.clone()), "/db", blob_opts()).expect("open");
    for i in 0..20 {
        db.put(key(i), big(i, 0)).expect("put");
    }
    db.flush().expect("flush");
    // Unsealed, as in `store_after_flush`.
    drop(db);
    let leftover = Path::new("/db/blobs/00000000000000ff.pending");
    rewrite(&fs, leftover, b"half a blob");
    let manifest = the_manifest(&fs);
    let data = common::snapshot(&fs, Path::new("/db"))[&manifest].clone();
    rewrite(&fs, &manifest, &data[..data.len() - 3]);
    let before = common::snapshot(&fs, Path::new("/db"));
    let r = Db::open_with_fs(Arc::new(fs.clone()), "/db", blob_opts());
    assert!(
        matches!(&r, Err(Error::Corruption { file, .. }) if *file == manifest),
        "{r:?}"
    );
    assert!(common::snapshot(&fs, Path::new("/db")) == before);
}

/// A compaction's edit damaged after its inputs were deleted: the older
/// state names tables that are gone, so the open is refused, naming the
/// manifest.
#[test]
fn flipped_last_manifest_edit_after_a_compaction_deleted_its_inputs_is_refused() {
    let fs = MemFs::new();
    let db = Db::open_with_fs(Arc::new(fs.clone()), "/db", opts()).expect("open");
    for round in 0..2 {
        for i in 0..100 {
            db.put(key(i), value(i, round)).expect("put");
        }
        db.flush().expect("flush");
    }
    let inputs = names_with(&fs, ".sst");
    assert_eq!(inputs.len(), 2);
    db.compact_range::<&[u8], _>(..).expect("compact");
    // Unsealed, as in `store_after_flush`.
    drop(db);
    // An input a background thread still held at close is deleted by the
    // engine later; delete it now, as that would.
    for t in &inputs {
        if names_with(&fs, ".sst").contains(t) {
            fs.remove_file(t).expect("rm input");
        }
    }
    let manifest = the_manifest(&fs);
    let mut data = common::snapshot(&fs, Path::new("/db"))[&manifest].clone();
    let len = data.len() as u64;
    *data.last_mut().expect("non-empty") ^= 0x01;
    rewrite(&fs, &manifest, &data);
    assert_refused_naming_manifest(&fs, &manifest, len - 1);
}
