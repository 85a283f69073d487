//! `Db::checkpoint` on the real disk: a copy that opens on its own, shares
//! tables and blobs with the source through hard links, and holds every
//! write acknowledged before the call while a writer keeps writing.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use larder_lsm::{Db, Error, Options};

fn small_opts() -> Options {
    Options {
        write_buffer_size_bytes: 64 * 1024,
        blob_threshold_bytes: Some(1024),
        ..Options::default()
    }
}

fn files_with_suffix(dir: &Path, suffix: &str) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    v.sort();
    v
}

#[test]
fn checkpoint_opens_alone_with_the_same_contents_and_shares_tables_and_blobs() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = tmp.path().join("src");
    let cp = tmp.path().join("cp");
    let db = Db::open(&src, small_opts()).expect("open");
    for i in 0..2000u32 {
        db.put(format!("k{i:05}"), format!("v{i}")).expect("put");
    }
    db.put("big", vec![7u8; 5000]).expect("put big");
    db.delete("k00007").expect("delete");
    let info = db.checkpoint(&cp).expect("checkpoint");
    assert!(info.tables >= 1, "{info:?}");
    assert_eq!(info.blob_files, 1, "{info:?}");
    assert_eq!(info.files_copied, 0, "{info:?}");
    assert_eq!(info.files_linked, info.tables + info.blob_files);

    // Same inode: the table is shared, not copied.
    let table = files_with_suffix(&cp, ".sst")
        .into_iter()
        .next()
        .expect("a table");
    let name = table.file_name().expect("name");
    let ino = |p: &Path| std::fs::metadata(p).expect("metadata").ino();
    assert_eq!(ino(&table), ino(&src.join(name)));

    // Later writes and a compaction of the source do not reach the copy.
    db.put("after", "x").expect("put");
    db.put("k00001", "changed").expect("put");
    db.compact_range::<&[u8], _>(..).expect("compact");
    db.close().expect("close");

    let copy = Db::open(&cp, small_opts()).expect("open checkpoint");
    assert_eq!(copy.get(b"after").expect("get"), None);
    assert_eq!(
        copy.get(b"k00001").expect("get").as_deref(),
        Some(&b"v1"[..])
    );
    assert_eq!(copy.get(b"k00007").expect("get"), None);
    assert_eq!(
        copy.get(b"big").expect("get").as_deref(),
        Some(&[7u8; 5000][..])
    );
    let n = copy
        .range::<&[u8], _>(..)
        .collect::<larder_lsm::Result<Vec<_>>>()
        .expect("scan")
        .len();
    assert_eq!(n, 2000);
    assert!(copy.verify().expect("verify").problems.is_empty());
    // The copy is a store of its own: it takes writes and reopens.
    copy.put("mine", "1").expect("put");
    copy.close().expect("close");
    let copy = Db::open_read_only(&cp, small_opts()).expect("reopen");
    assert_eq!(copy.get(b"mine").expect("get").as_deref(), Some(&b"1"[..]));
}

#[test]
fn checkpoint_refuses_an_existing_destination_and_writes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let db = Db::open(tmp.path().join("src"), Options::default()).expect("open");
    db.put("a", "1").expect("put");
    let dest = tmp.path().join("cp");
    std::fs::create_dir(&dest).expect("mkdir");
    std::fs::write(dest.join("keep"), b"mine").expect("write");
    let err = db.checkpoint(&dest).expect_err("refused");
    assert!(
        matches!(&err, Error::CheckpointDestination { path } if *path == dest),
        "{err}"
    );
    let names: Vec<_> = std::fs::read_dir(&dest).expect("read").collect();
    assert_eq!(names.len(), 1);
    // An empty directory is fine.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    db.checkpoint(&empty)
        .expect("checkpoint into an empty directory");
}

#[test]
fn checkpoint_during_writes_holds_every_write_acknowledged_before_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = tmp.path().join("src");
    let db = Db::open(&src, small_opts()).expect("open");
    // The writer publishes the number of keys it has written (each one
    // acknowledged) and keeps going until told to stop.
    let acked = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    // Told once the writer has made some progress (no clock involved).
    let (started_tx, started) = std::sync::mpsc::channel();
    let writer = {
        let (db, acked, stop) = (db.clone(), Arc::clone(&acked), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Acquire) && i < 200_000 {
                db.put(format!("w{i:08}"), format!("{i}")).expect("put");
                i += 1;
                acked.store(i, Ordering::Release);
                if i == 1000 {
                    started_tx.send(()).expect("send");
                }
            }
        })
    };
    started.recv().expect("the writer started");
    let mut checks = Vec::new();
    for round in 0..3 {
        let before = acked.load(Ordering::Acquire);
        let dest = tmp.path().join(format!("cp{round}"));
        db.checkpoint(&dest).expect("checkpoint");
        checks.push((dest, before));
    }
    stop.store(true, Ordering::Release);
    writer.join().expect("writer");
    db.close().expect("close");
    for (dest, before) in checks {
        let copy = Db::open_read_only(&dest, small_opts()).expect("open checkpoint");
        let keys: Vec<u64> = copy
            .range::<&[u8], _>(..)
            .map(|r| {
                let (k, _) = r.expect("scan");
                std::str::from_utf8(&k[1..])
                    .expect("utf8")
                    .parse()
                    .expect("number")
            })
            .collect();
        // A prefix of the write order, at least as long as what was
        // acknowledged before the call.
        assert!(keys.len() as u64 >= before, "{} < {before}", keys.len());
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(*k, i as u64, "a gap: the copy is not a prefix");
        }
        assert!(copy.verify().expect("verify").problems.is_empty());
    }
}
