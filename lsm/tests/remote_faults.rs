//! The engine over a table store that misbehaves: `FaultObjectStore`
//! (errors, lost answers, hangs, slow and short responses) under
//! `RemoteStore`, tables and the published manifest on it, during flushes,
//! compactions, reads and publications.
//!
//! - Transient faults are retried (`RemoteStore`: idempotent requests with
//!   backoff, the conditional manifest and table creates by reading back)
//!   and the engine sees none of them.
//! - A store that keeps failing makes writes fail with an error naming the
//!   object, and loses no acknowledged write.
//! - A read that keeps failing is an error naming the object.
//!
//! Hangs end at the store's request timeout (50 ms here); no test waits on
//! the wall clock for anything else.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use larder_lsm::{Db, Durability, Error, Options, Reader};
use object_store::ObjectStore;
use object_store::memory::InMemory;
use objstore::{FaultObjectStore, ObjectFault, ObjectOp, RemoteOptions, RemoteStore, Store};

fn remote(faults: &FaultObjectStore) -> Arc<dyn Store> {
    let options = RemoteOptions {
        request_timeout: Duration::from_millis(50),
        retries_max: 5,
        backoff_base: Duration::from_millis(1),
        backoff_max: Duration::from_millis(4),
        worker_threads: 1,
        ..RemoteOptions::default()
    };
    Arc::new(RemoteStore::with_options(Arc::new(faults.clone()), "db", options).expect("store"))
}

fn options(store: &Arc<dyn Store>) -> Options {
    Options {
        table_store: Some(Arc::clone(store)),
        publish_manifest: true,
        blob_threshold_bytes: None,
        create_if_missing: true,
        durability: Durability::Immediate,
        ..common::tiny_options()
    }
}

fn key(i: u32) -> Vec<u8> {
    format!("key{:03}", i % 60).into_bytes()
}

fn value(i: u32) -> Vec<u8> {
    format!("value-{i}-{}", "v".repeat((i % 7) as usize * 10)).into_bytes()
}

fn contents(db: &Db) -> BTreeMap<Vec<u8>, Vec<u8>> {
    common::collect(db.range::<&[u8], _>(..))
        .into_iter()
        .collect()
}

/// Writes `from..to`, flushing every 40, reading a key back after each;
/// every call must succeed.
fn write_all(db: &Db, model: &mut BTreeMap<Vec<u8>, Vec<u8>>, from: u32, to: u32) {
    for i in from..to {
        db.put(key(i), value(i)).expect("put");
        model.insert(key(i), value(i));
        let probe = key(i * 7);
        assert_eq!(
            db.get(&probe).expect("get"),
            model.get(&probe).map(|v| bytes::Bytes::from(v.clone()))
        );
        if i % 40 == 39 {
            db.flush().expect("flush");
        }
    }
}

#[test]
fn transient_faults_in_flush_compaction_reads_and_publication_are_retried() {
    let inner: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let faults = FaultObjectStore::new(Arc::clone(&inner));
    // One request in four is faulted, the kind of fault cycling: failed
    // before reaching the store, applied with its answer lost, a short body
    // (a failure for what is not a get), a hang, a slow answer. A retry is
    // a later request, so each request gets through within its retries.
    let seen = Arc::new(AtomicU64::new(0));
    let kinds = [
        ObjectFault::Error,
        ObjectFault::ErrorAfter,
        ObjectFault::ShortBody,
        ObjectFault::Hang,
        ObjectFault::Slow(Duration::from_millis(2)),
    ];
    for (slot, fault) in kinds.into_iter().enumerate() {
        let seen = Arc::clone(&seen);
        let slot = slot as u64;
        faults.fail_when(
            move |_, _| {
                // The first rule counts the request; the others read it.
                let n = if slot == 0 {
                    seen.fetch_add(1, Ordering::SeqCst) + 1
                } else {
                    seen.load(Ordering::SeqCst)
                };
                n % 4 == 0 && (n / 4) % 5 == slot
            },
            fault,
        );
    }
    let store = remote(&faults);
    let fs: Arc<dyn vfs::Fs> = Arc::new(vfs::MemFs::new());
    let db = Db::open_with_fs(Arc::clone(&fs), "/db", options(&store)).expect("open");
    let mut model = BTreeMap::new();
    write_all(&db, &mut model, 0, 200);
    db.compact_range::<&[u8], _>(..).expect("compact");
    write_all(&db, &mut model, 200, 260);
    db.wait_idle().expect("idle");
    assert_eq!(contents(&db), model);
    db.close().expect("close");
    assert!(faults.injected() > 40, "{} faults", faults.injected());

    // Reopened (a cold block cache: reads go to the store, still faulty),
    // everything is there, and a reader elsewhere sees what was flushed.
    let db = Db::open_with_fs(Arc::clone(&fs), "/db", options(&store)).expect("reopen");
    assert_eq!(contents(&db), model);
    for (k, v) in &model {
        assert_eq!(db.get(k).expect("get").as_deref(), Some(v.as_slice()));
    }
    let report = db.verify().expect("verify");
    assert!(report.is_clean(), "{report:?}");
    db.flush().expect("flush");
    db.wait_idle().expect("idle");
    let reader = Reader::open(Arc::clone(&store), "").expect("reader");
    let seen_by_reader: BTreeMap<_, _> = common::collect(reader.range::<&[u8], _>(..))
        .into_iter()
        .collect();
    assert_eq!(seen_by_reader, model);
    db.close().expect("close");
}

/// Whether `e` is a failed request to the table store naming an object
/// under `prefix`, or the engine stopped by one (a background flush or
/// compaction that failed closes it, its reason the request's error).
fn names_object(e: &Error, prefix: &str) -> bool {
    match e {
        Error::Closed { reason: Some(r) } => r.contains(&format!("object {prefix}")),
        Error::TableStore {
            source: objstore::Error::Remote { name, .. } | objstore::Error::Timeout { name, .. },
            ..
        } => name.starts_with(prefix),
        _ => false,
    }
}

/// Whether `e` names the table or published manifest an upload failed
/// for (a background compaction may publish without a new table).
fn names_an_upload(e: &Error) -> bool {
    names_object(e, "tables/") || names_object(e, "manifest/")
}

#[test]
fn a_store_that_refuses_every_upload_fails_writes_clearly_and_loses_no_acknowledged_write() {
    let inner: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let faults = FaultObjectStore::new(Arc::clone(&inner));
    let store = remote(&faults);
    let fs: Arc<dyn vfs::Fs> = Arc::new(vfs::MemFs::new());
    let db = Db::open_with_fs(Arc::clone(&fs), "/db", options(&store)).expect("open");
    let mut acked = BTreeMap::new();
    write_all(&db, &mut acked, 0, 80);

    // From now on no upload lands: tables and manifests alike.
    faults.fail_every(ObjectOp::Put, ObjectFault::Error);
    let mut refused = 0;
    for i in 80..400 {
        match db.put(key(i), value(i)) {
            Ok(()) => {
                acked.insert(key(i), value(i));
            }
            Err(e) => {
                assert!(names_an_upload(&e), "{e:?}");
                refused += 1;
            }
        }
    }
    let flushed = db.flush();
    let e = flushed.expect_err("a flush cannot upload its table");
    assert!(names_an_upload(&e), "{e:?}");
    assert!(refused > 0, "the failed flush stopped the writes");
    drop(db);

    // The store recovers; the same directory reopens with every
    // acknowledged write (the log holds those no table does).
    faults.clear_faults();
    let db = Db::open_with_fs(Arc::clone(&fs), "/db", options(&store)).expect("reopen");
    let got = contents(&db);
    for (k, v) in &acked {
        assert_eq!(got.get(k), Some(v), "acknowledged write of {k:?} lost");
    }
    let report = db.verify().expect("verify");
    assert!(report.is_clean(), "{report:?}");
    db.close().expect("close");
}

#[test]
fn a_read_that_keeps_failing_names_the_object() {
    let inner: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let faults = FaultObjectStore::new(Arc::clone(&inner));
    let store = remote(&faults);
    let fs: Arc<dyn vfs::Fs> = Arc::new(vfs::MemFs::new());
    let db = Db::open_with_fs(Arc::clone(&fs), "/db", options(&store)).expect("open");
    let mut model = BTreeMap::new();
    write_all(&db, &mut model, 0, 120);
    db.flush().expect("flush");
    db.wait_idle().expect("idle");
    db.close().expect("close");

    for fault in [
        ObjectFault::Error,
        ObjectFault::ShortBody,
        ObjectFault::Hang,
    ] {
        // A cold block cache: the open reads each table's footer and index;
        // data blocks are read on demand, and those fail.
        let opts = Options {
            block_cache_bytes: 0,
            ..options(&store)
        };
        let db = Db::open_with_fs(Arc::clone(&fs), "/db", opts).expect("reopen");
        faults.fail_every(ObjectOp::Get, fault);
        let e = db.get(&key(5)).expect_err("the block cannot be read");
        assert!(names_object(&e, "tables/"), "{fault:?}: {e:?}");
        faults.clear_faults();
        assert_eq!(
            db.get(&key(5)).expect("get").as_deref(),
            model.get(&key(5)).map(Vec::as_slice),
            "{fault:?}: the store is back"
        );
        db.close().expect("close");
    }
}

#[test]
fn a_publication_whose_answer_was_lost_is_not_taken_for_a_fence() {
    let inner: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let faults = FaultObjectStore::new(Arc::clone(&inner));
    let store = remote(&faults);
    let fs: Arc<dyn vfs::Fs> = Arc::new(vfs::MemFs::new());
    let db = Db::open_with_fs(Arc::clone(&fs), "/db", options(&store)).expect("open");
    db.put("a", "1").expect("put");
    db.flush().expect("flush");
    db.wait_idle().expect("idle");

    // The next publication lands, its answer is lost, and reading it back
    // fails too: its outcome is unknown to the writer.
    let manifest = |p: &object_store::path::Path| p.as_ref().contains("manifest/");
    faults.fail_nth_when(
        move |op, p| op == ObjectOp::Put && manifest(p),
        1,
        ObjectFault::ErrorAfter,
    );
    faults.fail_when(
        move |op, p| op == ObjectOp::Get && manifest(p),
        ObjectFault::Error,
    );
    // A failed request (the create's unknown outcome, or a fence check
    // that cannot read the manifest back), or the engine stopped by it when
    // a background flush or compaction published; not a fence. The put is
    // refused only if a background publication failed before it.
    let b_acked = db.put("b", "2").is_ok();
    let r = db.flush();
    assert!(
        matches!(r, Err(Error::TableStore { .. } | Error::Closed { .. })),
        "{r:?}"
    );
    faults.clear_faults();

    // The failed publication stopped the engine (`Error::Closed`, naming
    // the manifest), or it goes on; either way it is never fenced by its
    // own publication: the reopened directory finds the newest manifest
    // with its own epoch and claims the next number.
    let db = match db.put("c", "3").and_then(|()| db.flush()) {
        Ok(()) => db,
        Err(e) => {
            assert!(!matches!(e, Error::Fenced { .. }), "{e:?}");
            drop(db);
            let db = Db::open_with_fs(Arc::clone(&fs), "/db", options(&store)).expect("reopen");
            db.put("c", "3").expect("put");
            db.flush().expect("flush");
            db
        }
    };
    db.wait_idle().expect("idle");
    let reader = Reader::open(Arc::clone(&store), "").expect("reader");
    for (k, v) in [("a", "1"), ("b", "2"), ("c", "3")] {
        // A put refused after its log write may be recovered or not.
        if k == "b" && !b_acked {
            continue;
        }
        let got = reader.get(k.as_bytes()).expect("get");
        assert_eq!(got.as_deref(), Some(v.as_bytes()), "{k}");
    }
    db.close().expect("close");
}
