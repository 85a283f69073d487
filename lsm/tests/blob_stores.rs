//! Blob files on `k + m` object stores (`Options::blob_stores`): on buckets
//! of a real S3 server with a whole store failing (`FaultObjectStore`) or
//! emptied; a read-only open that writes nothing to any store; garbage
//! collection that deletes only obsolete blob objects; an upload refused;
//! and a power cut of the local disk at every sync point.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use larder_lsm::{BlobCode, Db, Error, Options, Problem};
use objstore::testing::S3Server;
use objstore::{
    FaultObjectStore, MemStore, ObjectFault, ObjectMeta, PutMode, RemoteOptions, RemoteStore, Store,
};
use vfs::MemFs;
use vfs::crash_test::{ExploreOptions, explore};

const K: usize = 2;
const M: usize = 1;
const N: u32 = 120;

fn code() -> BlobCode {
    BlobCode {
        data_shards: K,
        parity_shards: M,
    }
}

fn opts(stores: &[Arc<dyn Store>]) -> Options {
    Options {
        blob_threshold_bytes: Some(1000),
        blob_code: code(),
        blob_stores: stores.to_vec(),
        ..common::tiny_options()
    }
}

fn mem_stores() -> Vec<Arc<dyn Store>> {
    (0..K + M)
        .map(|_| Arc::new(MemStore::new()) as Arc<dyn Store>)
        .collect()
}

fn key(i: u32) -> Vec<u8> {
    format!("key{i:05}").into_bytes()
}

fn value(i: u32, round: u32) -> Vec<u8> {
    // Alternately large (separated) and small (inline).
    let len = if i.is_multiple_of(2) {
        1000 + (i as usize * 37) % 3000
    } else {
        20
    };
    (0..len)
        .map(|j| (i as usize * 31 + j + round as usize * 7) as u8)
        .collect()
}

fn fill(fs: &MemFs, opts: &Options) {
    fill_n(fs, opts, N);
}

/// Writes keys `0..n`, flushes and compacts.
fn fill_n(fs: &MemFs, opts: &Options, n: u32) {
    let db = Db::open_with_fs(Arc::new(fs.clone()), "/db", opts.clone()).expect("open");
    for i in 0..n {
        db.put(key(i), value(i, 0)).expect("put");
    }
    db.flush().expect("flush");
    db.compact_range::<&[u8], _>(..).expect("compact");
    db.close().expect("close");
}

fn read_all(db: &Db) {
    read_n(db, N);
}

/// Checks keys `0..n` by gets and a scan.
fn read_n(db: &Db, n: u32) {
    for i in 0..n {
        assert_eq!(
            db.get(&key(i)).expect("get").as_deref(),
            Some(value(i, 0).as_slice()),
            "key {i}"
        );
    }
    let all = common::collect(db.range::<&[u8], _>(..));
    assert_eq!(all.len(), n as usize);
    for (i, (k, v)) in all.into_iter().enumerate() {
        assert_eq!((k, v), (key(i as u32), value(i as u32, 0)));
    }
}

/// Blob ids with a shard object in `store`.
fn blob_objects(store: &dyn Store) -> BTreeSet<String> {
    store
        .list("blobs/")
        .expect("list")
        .into_iter()
        .map(|m| m.name)
        .collect()
}

#[test]
fn blobs_on_k_plus_m_buckets_of_a_real_s3_server_survive_losing_m() {
    let server = S3Server::start().expect("S3 server");
    let remote = RemoteOptions {
        request_timeout: Duration::from_secs(10),
        retries_max: 1,
        backoff_base: Duration::from_millis(1),
        backoff_max: Duration::from_millis(2),
        ..RemoteOptions::default()
    };
    let faults: Vec<Arc<FaultObjectStore>> = ["shard-a", "shard-b", "shard-c"]
        .iter()
        .map(|b| Arc::new(FaultObjectStore::new(server.bucket(b).expect("bucket"))))
        .collect();
    let stores: Vec<Arc<dyn Store>> = faults
        .iter()
        .map(|f| {
            let inner = Arc::clone(f) as Arc<dyn object_store::ObjectStore>;
            Arc::new(RemoteStore::with_options(inner, "db1/blobs", remote.clone()).expect("store"))
                as Arc<dyn Store>
        })
        .collect();
    // Fewer keys than elsewhere: every request goes through a debug build
    // of an S3 server and client.
    const N_S3: u32 = 30;
    let fs = MemFs::new();
    let opts = opts(&stores);
    fill_n(&fs, &opts, N_S3);
    for s in &stores {
        assert!(!blob_objects(&**s).is_empty(), "{}", s.location());
    }
    let open = || Db::open_with_fs(Arc::new(fs.clone()), "/db", opts.clone()).expect("open");

    // A whole store failing (every request refused): nothing is lost.
    faults[2].fail_when(|_, _| true, ObjectFault::Error);
    let db = open();
    read_n(&db, N_S3);
    let r = db.verify().expect("verify");
    assert!(r.lost_nothing() && !r.is_clean(), "{r:?}");
    assert!(
        r.problems
            .iter()
            .all(|p| matches!(p, Problem::BlobDegraded { bad_shards, .. } if *bad_shards == [2])),
        "{r:?}"
    );
    // More than m failing (data shard 0 too, which holds the first
    // values): a clear error naming the key, never a wrong value.
    faults[0].fail_when(|_, _| true, ObjectFault::Error);
    let r = db.get(&key(0));
    assert!(
        matches!(&r, Err(Error::BlobUnavailable { key: k, .. }) if *k == key(0)),
        "{r:?}"
    );
    assert_eq!(
        db.get(&key(1)).expect("inline").as_deref(),
        Some(&value(1, 0)[..])
    );
    drop(db);
    faults[0].clear_faults();
    faults[2].clear_faults();

    // A bucket emptied behind the engine's back: reads decode from the
    // rest, and repair_blobs rebuilds every shard object.
    for name in blob_objects(&*stores[0]) {
        stores[0].delete(&name).expect("delete");
    }
    let db = open();
    read_n(&db, N_S3);
    let repaired = db.repair_blobs().expect("repair");
    assert!(repaired.shards_rebuilt > 0, "{repaired:?}");
    assert!(repaired.after.is_clean(), "{repaired:?}");
    assert_eq!(blob_objects(&*stores[0]), blob_objects(&*stores[1]));
}

/// Every object of every store, with its bytes.
fn snapshot(stores: &[Arc<dyn Store>]) -> Vec<BTreeMap<String, Bytes>> {
    stores
        .iter()
        .map(|s| {
            s.list("")
                .expect("list")
                .into_iter()
                .map(|m| {
                    let bytes = s.get(&m.name).expect("get").0;
                    (m.name, bytes)
                })
                .collect()
        })
        .collect()
}

#[test]
fn a_read_only_open_writes_nothing_to_any_store() {
    let stores = mem_stores();
    let fs = MemFs::new();
    let o = opts(&stores);
    fill(&fs, &o);
    // Leave an unrecorded blob object behind, as an upload cut short
    // would: a read-only open must not delete it.
    stores[0]
        .put(
            "blobs/0000000000000001.shard",
            Bytes::from_static(b"left"),
            PutMode::Overwrite,
        )
        .expect("put");
    let before = snapshot(&stores);
    let db = Db::open_read_only_with_fs(Arc::new(fs.clone()), "/db", o).expect("open");
    read_all(&db);
    assert!(db.verify().expect("verify").is_clean());
    drop(db);
    assert_eq!(snapshot(&stores), before);
    // Read-only over stores that were never written: no manifest object
    // appears.
    let empty = mem_stores();
    let fresh = MemFs::new();
    fill(
        &fresh,
        &Options {
            blob_threshold_bytes: None,
            ..opts(&empty)
        },
    );
    let before = snapshot(&empty);
    let db = Db::open_read_only_with_fs(Arc::new(fresh), "/db", opts(&empty)).expect("open");
    drop(db);
    assert_eq!(snapshot(&empty), before);
}

#[test]
fn garbage_collection_deletes_only_obsolete_blob_objects() {
    let stores = mem_stores();
    let fs = MemFs::new();
    let o = Options {
        l0_compaction_trigger: 1000,
        l0_slowdown_trigger: 1000,
        l0_stop_trigger: 1000,
        ..opts(&stores)
    };
    let db = Db::open_with_fs(Arc::new(fs.clone()), "/db", o).expect("open");
    for round in 0..3 {
        for i in 0..N {
            db.put(key(i), value(i, round)).expect("put");
        }
        db.flush().expect("flush");
    }
    let before = db.stats();
    assert_eq!(blob_objects(&*stores[0]).len(), before.blob_files);
    // A scan open across the compaction keeps what it reads.
    let mut held = db.range::<&[u8], _>(..);
    db.compact_range::<&[u8], _>(..).expect("compact");
    db.wait_idle().expect("idle");
    let (k0, v0) = held.next().expect("first").expect("read");
    assert_eq!((&k0[..], &v0[..]), (&key(0)[..], &value(0, 2)[..]));
    assert_eq!(common::collect(held).len(), N as usize - 1);
    db.flush().expect("flush deletes what the scan held");
    db.wait_idle().expect("idle");
    let after = db.stats();
    assert!(
        after.blob_files < before.blob_files,
        "{before:?}\n{after:?}"
    );
    assert!(after.blob_files_deleted > 0, "{after:?}");
    for s in &stores {
        assert_eq!(
            blob_objects(&**s).len(),
            after.blob_files,
            "{}",
            s.location()
        );
    }
    for i in 0..N {
        assert_eq!(
            db.get(&key(i)).expect("get").as_deref(),
            Some(&value(i, 2)[..])
        );
    }
    db.close().expect("close");
}

#[test]
fn describe_names_the_stores_and_counts_shard_objects() {
    let stores = mem_stores();
    let fs = MemFs::new();
    let o = opts(&stores);
    fill(&fs, &o);
    let db = Db::open_with_fs(Arc::new(fs), "/db", o).expect("open");
    let d = db.describe().expect("describe");
    assert!(d.problems.is_empty(), "{:?}", d.problems);
    let blobs = d.blobs.expect("blob store described");
    let locations: Vec<std::path::PathBuf> = stores.iter().map(|s| s.location().into()).collect();
    assert_eq!(blobs.dirs, locations);
    assert_eq!((blobs.data_shards, blobs.parity_shards), (K, M));
    assert!(!blobs.files.is_empty());
    for f in &blobs.files {
        assert_eq!(f.shard_files, K + M, "{f:?}");
        assert!(f.size_bytes > f.value_bytes, "{f:?}");
    }
    // A lost shard object is a problem naming the blob.
    let victim = blobs.files[0].id;
    stores[2]
        .delete(&format!("blobs/{victim:016x}.shard"))
        .expect("delete");
    let d = db.describe().expect("describe");
    assert!(
        d.problems.iter().any(|p| p.contains("2 of 3 shard files")),
        "{:?}",
        d.problems
    );
}

/// A store whose uploads can be refused.
#[derive(Debug, Default)]
struct Refusing {
    inner: MemStore,
    refuse: AtomicBool,
}

impl Store for Refusing {
    fn put(&self, name: &str, data: Bytes, mode: PutMode) -> objstore::Result<ObjectMeta> {
        if self.refuse.load(Ordering::SeqCst) {
            return Err(objstore::Error::Remote {
                op: "put",
                name: name.to_owned(),
                cause: "refused by the test".to_owned(),
            });
        }
        self.inner.put(name, data, mode)
    }
    fn get(&self, name: &str) -> objstore::Result<(Bytes, ObjectMeta)> {
        self.inner.get(name)
    }
    fn get_range(&self, name: &str, range: std::ops::Range<u64>) -> objstore::Result<Bytes> {
        self.inner.get_range(name, range)
    }
    fn head(&self, name: &str) -> objstore::Result<ObjectMeta> {
        self.inner.head(name)
    }
    fn list(&self, prefix: &str) -> objstore::Result<Vec<ObjectMeta>> {
        self.inner.list(prefix)
    }
    fn delete(&self, name: &str) -> objstore::Result<()> {
        self.inner.delete(name)
    }
    fn location(&self) -> String {
        "refusing".to_owned()
    }
}

#[test]
fn a_refused_upload_fails_the_flush_and_names_no_blob() {
    let refusing = Arc::new(Refusing::default());
    let mut stores = mem_stores();
    stores[1] = Arc::clone(&refusing) as Arc<dyn Store>;
    let fs = MemFs::new();
    let o = Options {
        durability: larder_lsm::Durability::Immediate,
        ..opts(&stores)
    };
    let db = Db::open_with_fs(Arc::new(fs.clone()), "/db", o.clone()).expect("open");
    for i in 0..N / 2 {
        db.put(key(i), value(i, 0)).expect("put");
    }
    db.wait_idle().expect("idle");
    for i in N / 2..N {
        db.put(key(i), value(i, 0)).expect("put");
    }
    refusing.refuse.store(true, Ordering::SeqCst);
    // However far background flushes got, the memtable now holds a value
    // to separate: the flush must upload a blob file, and is refused (or
    // the put is, if a background flush was refused first).
    let r = db.put(key(0), value(0, 0)).and_then(|()| db.flush());
    assert!(r.is_err(), "{r:?}");
    drop(db);
    // The shards of the refused blob uploaded to the other stores were
    // taken back: every store holds the same blobs.
    let first = blob_objects(&*stores[0]);
    for s in &stores {
        assert_eq!(blob_objects(&**s), first, "{}", s.location());
    }
    refusing.refuse.store(false, Ordering::SeqCst);
    let db = Db::open_with_fs(Arc::new(fs), "/db", o).expect("reopen");
    read_all(&db);
    db.flush().expect("flush");
    db.wait_idle().expect("idle");
    read_all(&db);
    assert!(db.verify().expect("verify").is_clean());
    for s in &stores {
        assert_eq!(
            blob_objects(&**s).len(),
            db.stats().blob_files,
            "{}",
            s.location()
        );
    }
}

/// What a crash workload acknowledged.
#[derive(Debug, Default)]
struct Outcome {
    acked: BTreeMap<Vec<u8>, Vec<u8>>,
    in_flight: Option<(Vec<u8>, Vec<u8>)>,
}

fn crash_opts(stores: &[Arc<dyn Store>]) -> Options {
    Options {
        blob_stores: stores.to_vec(),
        blob_code: code(),
        ..common::blob_churn_options()
    }
}

fn crash_key(i: u32) -> Vec<u8> {
    format!("key{:03}", i % 30).into_bytes()
}

fn crash_value(i: u32) -> Vec<u8> {
    let len = if i % 5 < 2 { 40 + i as usize % 60 } else { 8 };
    vec![b'a' + (i % 26) as u8; len]
}

fn crash_workload(fs: Arc<dyn vfs::Fs>, stores: &[Arc<dyn Store>]) -> Outcome {
    let mut out = Outcome::default();
    let Ok(db) = Db::open_with_fs(fs, "/db", crash_opts(stores)) else {
        return out;
    };
    for i in 0..60u32 {
        let (k, v) = (crash_key(i), crash_value(i));
        out.in_flight = Some((k.clone(), v.clone()));
        if db.put(k.clone(), v.clone()).is_err() {
            return out;
        }
        out.in_flight = None;
        out.acked.insert(k, v);
        if i % 15 == 14 && db.flush().is_err() {
            return out;
        }
        if i == 44 && db.compact_range::<&[u8], _>(..).is_err() {
            return out;
        }
    }
    let _ = db.wait_idle();
    let _ = db.close();
    out
}

#[test]
fn power_loss_at_every_sync_point_with_blobs_on_stores_keeps_every_synced_write() {
    let explore_opts = ExploreOptions {
        tear: false,
        ..ExploreOptions::default()
    };
    let report = explore(
        &explore_opts,
        |fs| {
            let stores = mem_stores();
            (crash_workload(fs, &stores), stores)
        },
        |point, disk, (outcome, stores)| {
            let fs: Arc<dyn vfs::Fs> = Arc::new(disk);
            let db = Db::open_with_fs(Arc::clone(&fs), "/db", crash_opts(&stores))
                .unwrap_or_else(|e| panic!("{point:?}: recovery failed: {e}"));
            let got: BTreeMap<Vec<u8>, Vec<u8>> = common::collect(db.range::<&[u8], _>(..))
                .into_iter()
                .collect();
            let mut with = outcome.acked.clone();
            if let Some((k, v)) = &outcome.in_flight {
                with.insert(k.clone(), v.clone());
            }
            assert!(
                got == outcome.acked || got == with,
                "{point:?}: recovered {got:?}\nacked {:?}",
                outcome.acked
            );
            // Every blob the manifest names has all its shard objects,
            // and (open removed what the crash left unrecorded) no other
            // blob object is left.
            let r = db.verify().expect("verify");
            assert!(r.is_clean(), "{point:?}: {r:?}");
            db.wait_idle().expect("idle");
            let files = db.stats().blob_files;
            db.close().expect("close");
            let quiet = Options {
                l0_compaction_trigger: 1000,
                l0_slowdown_trigger: 1000,
                l0_stop_trigger: 1000,
                blob_gc_ratio: 1.0,
                ..crash_opts(&stores)
            };
            let db = Db::open_with_fs(fs, "/db", quiet).expect("second reopen");
            let files = files.max(db.stats().blob_files);
            for s in &stores {
                assert_eq!(
                    blob_objects(&**s).len(),
                    db.stats().blob_files,
                    "{point:?}: blob objects differ from the manifest's ({files})"
                );
            }
        },
    );
    assert!(report.syncs > 40, "{report:?}");
}

/// The power cut of [`CutStore`]s: at the `cut_at`-th put to any of them
/// that put lands (`landed`) or not and fails, every later request to any
/// of them fails, and the local disk fails from its next sync on.
#[derive(Debug)]
struct Cut {
    disk: MemFs,
    cut_at: u64,
    landed: bool,
    puts: std::sync::atomic::AtomicU64,
}

/// One blob store under a shared [`Cut`].
#[derive(Debug)]
struct CutStore {
    inner: Arc<MemStore>,
    cut: Arc<Cut>,
}

impl CutStore {
    fn dead(&self, name: &str) -> objstore::Error {
        objstore::Error::Remote {
            op: "any",
            name: name.to_owned(),
            cause: "the power is cut".to_owned(),
        }
    }

    fn check(&self, name: &str) -> objstore::Result<()> {
        if self.cut.puts.load(Ordering::SeqCst) >= self.cut.cut_at {
            return Err(self.dead(name));
        }
        Ok(())
    }
}

impl Store for CutStore {
    fn put(&self, name: &str, data: Bytes, mode: PutMode) -> objstore::Result<ObjectMeta> {
        let n = self.cut.puts.fetch_add(1, Ordering::SeqCst) + 1;
        if n < self.cut.cut_at {
            return self.inner.put(name, data, mode);
        }
        if n == self.cut.cut_at {
            if self.cut.landed {
                self.inner.put(name, data, mode)?;
            }
            let disk = &self.cut.disk;
            disk.crash_before_sync(
                disk.sync_count() + 1,
                vfs::CrashOptions {
                    seed: 0,
                    tear: false,
                },
            );
        }
        Err(self.dead(name))
    }
    fn get(&self, name: &str) -> objstore::Result<(Bytes, ObjectMeta)> {
        self.check(name)?;
        self.inner.get(name)
    }
    fn get_range(&self, name: &str, range: std::ops::Range<u64>) -> objstore::Result<Bytes> {
        self.check(name)?;
        self.inner.get_range(name, range)
    }
    fn head(&self, name: &str) -> objstore::Result<ObjectMeta> {
        self.check(name)?;
        self.inner.head(name)
    }
    fn list(&self, prefix: &str) -> objstore::Result<Vec<ObjectMeta>> {
        self.check(prefix)?;
        self.inner.list(prefix)
    }
    fn delete(&self, name: &str) -> objstore::Result<()> {
        self.check(name)?;
        self.inner.delete(name)
    }
    fn location(&self) -> String {
        "cut://".to_owned()
    }
}

/// Runs the crash workload on blob stores cut at their `cut_at`-th put;
/// returns the crashed disk, the stores' contents and what the workload
/// acknowledged.
fn cut_run(cut_at: u64, landed: bool) -> (MemFs, Vec<Arc<dyn Store>>, Outcome, u64) {
    let disk = MemFs::new();
    let cut = Arc::new(Cut {
        disk: disk.clone(),
        cut_at,
        landed,
        puts: std::sync::atomic::AtomicU64::new(0),
    });
    let inner: Vec<Arc<MemStore>> = (0..K + M).map(|_| Arc::new(MemStore::new())).collect();
    let stores: Vec<Arc<dyn Store>> = inner
        .iter()
        .map(|i| {
            Arc::new(CutStore {
                inner: Arc::clone(i),
                cut: Arc::clone(&cut),
            }) as Arc<dyn Store>
        })
        .collect();
    let outcome = crash_workload(Arc::new(disk.clone()), &stores);
    let image = disk.crashed_image().unwrap_or_else(|| {
        disk.crash(vfs::CrashOptions {
            seed: 0,
            tear: false,
        })
    });
    let plain = inner.into_iter().map(|i| i as Arc<dyn Store>).collect();
    (image, plain, outcome, cut.puts.load(Ordering::SeqCst))
}

#[test]
fn a_crash_at_every_blob_shard_upload_keeps_every_synced_write() {
    let (_, _, done, puts) = cut_run(u64::MAX, false);
    assert_eq!(done.acked.len(), 30, "the workload finished");
    assert!(puts > 10, "{puts} puts");
    eprintln!("{puts} blob store puts, each cut before and after it lands");
    for cut_at in 1..=puts {
        for landed in [false, true] {
            let (image, stores, outcome, _) = cut_run(cut_at, landed);
            let point = format!("put {cut_at} of {puts} (landed: {landed})");
            let fs: Arc<dyn vfs::Fs> = Arc::new(image);
            let db = Db::open_with_fs(Arc::clone(&fs), "/db", crash_opts(&stores))
                .unwrap_or_else(|e| panic!("{point}: recovery failed: {e}"));
            let got: BTreeMap<Vec<u8>, Vec<u8>> = common::collect(db.range::<&[u8], _>(..))
                .into_iter()
                .collect();
            let mut with = outcome.acked.clone();
            if let Some((k, v)) = &outcome.in_flight {
                with.insert(k.clone(), v.clone());
            }
            assert!(
                got == outcome.acked || got == with,
                "{point}: recovered {got:?}"
            );
            let r = db.verify().expect("verify");
            assert!(r.is_clean(), "{point}: {r:?}");
            db.close().expect("close");
            let quiet = Options {
                l0_compaction_trigger: 1000,
                l0_slowdown_trigger: 1000,
                l0_stop_trigger: 1000,
                blob_gc_ratio: 1.0,
                ..crash_opts(&stores)
            };
            let db = Db::open_with_fs(fs, "/db", quiet).expect("second reopen");
            for s in &stores {
                assert_eq!(
                    blob_objects(&**s).len(),
                    db.stats().blob_files,
                    "{point}: blob objects differ from the manifest's"
                );
            }
        }
    }
}
