//! Crash tests with tables and the published manifest on an object store
//! reached through `RemoteStore` (requests, retries, read-back of
//! conditional puts and all): power loss of the local disk at every sync
//! point, and a cut at every object upload (table uploads and manifest
//! creates alike; the upload lost, or landed with its answer lost) that
//! takes the store and the local disk down together. After each, the
//! writer recovers from the crashed disk image and the same store: every
//! acknowledged (synced) write is there, the write in flight whole or not
//! at all, `verify` is clean, and every table the newest published
//! manifest names is on the store (a `Reader` reads them all).

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use larder_lsm::{Db, Durability, Options, Reader};
use object_store::ObjectStore;
use object_store::memory::InMemory;
use objstore::{FaultObjectStore, ObjectFault, ObjectOp, RemoteOptions, RemoteStore, Store};
use vfs::crash_test::{ExploreOptions, explore};

/// A write: `Some(value)` for a put, `None` for a delete.
type Op = (Vec<u8>, Option<Vec<u8>>);

/// What the workload knows: the writes acknowledged (durable: each is
/// synced), and the one whose call failed, which a crash may keep or drop.
#[derive(Debug, Default)]
struct Outcome {
    acked: Vec<Op>,
    in_flight: Option<Op>,
}

/// `inner` as the engine sees it: quick retries, so a dead store fails
/// fast (the backoff is what `RemoteStore` does, shortened; no test waits
/// on it for its result).
fn remote(inner: Arc<dyn ObjectStore>) -> Arc<dyn Store> {
    let options = RemoteOptions {
        request_timeout: Duration::from_secs(10),
        retries_max: 2,
        backoff_base: Duration::from_millis(1),
        backoff_max: Duration::from_millis(2),
        worker_threads: 1,
        ..RemoteOptions::default()
    };
    Arc::new(RemoteStore::with_options(inner, "db", options).expect("remote store"))
}

fn options(store: Arc<dyn Store>) -> Options {
    Options {
        table_store: Some(store),
        publish_manifest: true,
        blob_threshold_bytes: None,
        create_if_missing: true,
        durability: Durability::Immediate,
        ..common::tiny_options()
    }
}

fn key(i: u32) -> Vec<u8> {
    format!("key{:03}", i % 50).into_bytes()
}

/// Deterministic synced writes with overwrites and deletes, flushes along
/// the way and whatever compactions the background starts. Stops at the
/// first error.
fn workload(fs: Arc<dyn vfs::Fs>, store: Arc<dyn Store>) -> Outcome {
    let mut out = Outcome::default();
    let Ok(db) = Db::open_with_fs(fs, "/db", options(store)) else {
        return out;
    };
    for i in 0..120u32 {
        let op: Op = if i % 9 == 4 {
            (key(i * 7), None)
        } else {
            (
                key(i * 3),
                Some(format!("value-{i}-{}", "x".repeat((i % 5) as usize * 20)).into_bytes()),
            )
        };
        let r = match &op.1 {
            Some(v) => db.put(op.0.clone(), v.clone()),
            None => db.delete(op.0.clone()),
        };
        if r.is_err() {
            out.in_flight = Some(op);
            return out;
        }
        out.acked.push(op);
        if i % 25 == 24 && db.flush().is_err() {
            return out;
        }
    }
    let _ = db.flush();
    let _ = db.wait_idle();
    out
}

fn apply(model: &mut BTreeMap<Vec<u8>, Vec<u8>>, op: &Op) {
    match &op.1 {
        Some(v) => model.insert(op.0.clone(), v.clone()),
        None => model.remove(&op.0),
    };
}

fn contents(
    it: impl Iterator<Item = larder_lsm::Result<(bytes::Bytes, bytes::Bytes)>>,
) -> BTreeMap<Vec<u8>, Vec<u8>> {
    common::collect(it).into_iter().collect()
}

/// Every table the newest published manifest names is on the store: a
/// reader opens them all and reads them whole. `None` if nothing was
/// published yet.
fn published_contents(store: &Arc<dyn Store>, point: &str) -> Option<BTreeMap<Vec<u8>, Vec<u8>>> {
    if store.list("manifest/").expect("list").is_empty() {
        return None;
    }
    let reader = Reader::open(Arc::clone(store), "").unwrap_or_else(|e| {
        panic!("{point}: a table the published manifest names is missing: {e}")
    });
    Some(contents(reader.range::<&[u8], _>(..)))
}

/// Recovers on the crashed disk `fs` and the store `inner` (now without
/// faults) and checks the writes, the tables and what is published.
fn check_recovery(
    point: &str,
    fs: Arc<dyn vfs::Fs>,
    inner: Arc<dyn ObjectStore>,
    outcome: &Outcome,
) {
    let store = remote(inner);
    // What the crash left published names only tables that are there.
    let _ = published_contents(&store, point);
    let db = Db::open_with_fs(Arc::clone(&fs), "/db", options(Arc::clone(&store)))
        .unwrap_or_else(|e| panic!("{point}: recovery failed: {e}"));
    let mut before = BTreeMap::new();
    for op in &outcome.acked {
        apply(&mut before, op);
    }
    let mut after = before.clone();
    if let Some(op) = &outcome.in_flight {
        apply(&mut after, op);
    }
    let got = contents(db.range::<&[u8], _>(..));
    assert!(
        got == before || got == after,
        "{point}: recovered state is neither the acknowledged writes nor them plus the one in flight\n got {got:?}\nwant {before:?}"
    );
    let report = db
        .verify()
        .unwrap_or_else(|e| panic!("{point}: verify: {e}"));
    assert!(report.is_clean(), "{point}: {report:?}");
    // Once flushed and published, a reader elsewhere sees exactly it.
    db.put("after-crash", "yes").expect("write after recovery");
    db.flush().expect("flush after recovery");
    db.wait_idle().expect("idle");
    let mut published = published_contents(&store, point).expect("published after recovery");
    assert_eq!(
        published.remove(&b"after-crash"[..]).as_deref(),
        Some(&b"yes"[..]),
        "{point}"
    );
    assert_eq!(published, got, "{point}: published state differs");
    db.close().expect("close");
}

#[test]
fn power_loss_at_every_sync_point_with_the_manifest_published() {
    // The store is not torn by a power cut: an upload that returned is
    // durable. One seed keeps the run short; the sync points are all here.
    let opts = ExploreOptions {
        seeds: vec![0, u64::MAX],
        tear: false,
    };
    let report = explore(
        &opts,
        |fs| {
            let inner: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
            (workload(fs, remote(Arc::clone(&inner))), inner)
        },
        |point, disk, (outcome, inner)| {
            check_recovery(&format!("{point:?}"), Arc::new(disk), inner, &outcome);
        },
    );
    assert!(report.syncs > 100, "{report:?}");
    eprintln!("{report:?}");
}

/// Cuts the power at the `cut_at`-th upload (a `Put` request, whatever the
/// object): that request fails before it lands, or (`landed`) after; every
/// later request fails, and the local disk fails from its next sync on.
fn cut_at_upload(
    inner: &Arc<dyn ObjectStore>,
    disk: &vfs::MemFs,
    cut_at: u64,
    landed: bool,
) -> Arc<dyn ObjectStore> {
    let fault = FaultObjectStore::new(Arc::clone(inner));
    let puts = AtomicU64::new(0);
    let dead = Arc::new(AtomicBool::new(false));
    let (dead_cut, disk) = (Arc::clone(&dead), disk.clone());
    fault.fail_when(
        move |op, _| {
            if op != ObjectOp::Put || puts.fetch_add(1, Ordering::SeqCst) + 1 != cut_at {
                return false;
            }
            dead_cut.store(true, Ordering::SeqCst);
            disk.crash_before_sync(
                disk.sync_count() + 1,
                vfs::CrashOptions {
                    seed: 0,
                    tear: false,
                },
            );
            true
        },
        if landed {
            ObjectFault::ErrorAfter
        } else {
            ObjectFault::Error
        },
    );
    fault.fail_when(move |_, _| dead.load(Ordering::SeqCst), ObjectFault::Error);
    Arc::new(fault)
}

#[test]
fn a_cut_at_every_object_upload_keeps_every_synced_write() {
    // Count the uploads of an uninterrupted run.
    let inner: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let counting = FaultObjectStore::new(Arc::clone(&inner));
    let done = workload(
        Arc::new(vfs::MemFs::new()),
        remote(Arc::new(counting.clone())),
    );
    assert_eq!(done.in_flight, None, "the workload finished");
    let uploads = counting.op_count(ObjectOp::Put);
    assert!(uploads > 10, "{uploads} uploads");
    let mut manifest_cuts = 0;
    for cut_at in 1..=uploads {
        for landed in [false, true] {
            let disk = vfs::MemFs::new();
            let inner: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
            let faulty = cut_at_upload(&inner, &disk, cut_at, landed);
            let outcome = workload(Arc::new(disk.clone()), remote(faulty));
            let image = disk.crashed_image().unwrap_or_else(|| {
                disk.crash(vfs::CrashOptions {
                    seed: 0,
                    tear: false,
                })
            });
            check_recovery(
                &format!("upload {cut_at} of {uploads} (landed: {landed})"),
                Arc::new(image),
                Arc::clone(&inner),
                &outcome,
            );
            manifest_cuts += usize::from(cut_at == 1);
        }
    }
    assert_eq!(manifest_cuts, 2, "the open's claim was cut too");
    eprintln!("{uploads} uploads, each cut before and after it landed");
}
