//! Model-based tests: random operations against a `BTreeMap`, with tiny
//! buffers so memtables, L0, deep levels and tombstones are all exercised.
//! Every feature runs together: puts, deletes, range deletes, merges (the
//! append operator), batches mixing them, optimistic transactions (with a
//! write between a read and the commit that must make it conflict),
//! snapshots, flushes, compactions and reopens, on every table store; and
//! with a TTL and a manual clock that moves forward, where merges give way
//! (a store takes a TTL or a merge operator, not both).

mod common;

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use larder_lsm::{AppendOperator, Db, ManualClock, WriteBatch};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Put(u8, u16),
    Delete(u8),
    Batch(Vec<(u8, Option<u16>)>),
    /// `delete_range(key(a)..key(b))`.
    DeleteRange(u8, u8),
    Merge(u8, u16),
    /// A batch of every kind of write: `(what % 4, k, v)` is a put, a
    /// delete, a merge or a range delete of `key(k)..key(k + v % 8)`.
    MixedBatch(Vec<(u8, u8, u16)>),
    /// A transaction: reads, writes (`None` deletes), and maybe another
    /// writer's put before the commit.
    Txn(Vec<u8>, Vec<(u8, Option<u16>)>, Option<u8>),
    /// Moves the clock forward `n % 150` ms (with a TTL of 100 ms).
    Advance(u16),
    /// A sorted run of puts and deletes written with a `TableWriter` and
    /// ingested (it wins over everything written before).
    Ingest(Vec<(u8, Option<u16>)>),
    Get(u8),
    Range(u8, u8, bool),
    Prefix(u8, bool),
    TakeSnapshot,
    ReadSnapshot(usize, u8, u8),
    DropSnapshot(usize),
    Flush,
    Compact(u8, u8),
    Reopen,
}

fn key(k: u8) -> Vec<u8> {
    format!("key{:03}", k % 120).into_bytes()
}

fn value(k: u8, v: u16) -> Vec<u8> {
    // Values of varied length so blocks split at different places.
    let mut out = format!("v{v}-").into_bytes();
    out.resize(4 + (usize::from(v) * 7 + usize::from(k)) % 90, b'x');
    out
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        20 => (any::<u8>(), any::<u16>()).prop_map(|(k, v)| Op::Put(k, v)),
        6 => any::<u8>().prop_map(Op::Delete),
        4 => prop::collection::vec((any::<u8>(), prop::option::of(any::<u16>())), 1..8).prop_map(Op::Batch),
        2 => (any::<u8>(), any::<u8>()).prop_map(|(a, b)| Op::DeleteRange(a, b)),
        6 => (any::<u8>(), any::<u16>()).prop_map(|(k, v)| Op::Merge(k, v)),
        2 => prop::collection::vec((any::<u8>(), any::<u8>(), any::<u16>()), 1..8).prop_map(Op::MixedBatch),
        2 => (
            prop::collection::vec(any::<u8>(), 0..4),
            prop::collection::vec((any::<u8>(), prop::option::of(any::<u16>())), 0..4),
            prop::option::of(any::<u8>()),
        )
            .prop_map(|(r, w, i)| Op::Txn(r, w, i)),
        3 => any::<u16>().prop_map(Op::Advance),
        2 => prop::collection::vec((any::<u8>(), prop::option::of(any::<u16>())), 1..24).prop_map(Op::Ingest),
        8 => any::<u8>().prop_map(Op::Get),
        3 => (any::<u8>(), any::<u8>(), any::<bool>()).prop_map(|(a, b, r)| Op::Range(a, b, r)),
        2 => (any::<u8>(), any::<bool>()).prop_map(|(a, r)| Op::Prefix(a, r)),
        2 => Just(Op::TakeSnapshot),
        3 => (any::<usize>(), any::<u8>(), any::<u8>()).prop_map(|(i, a, b)| Op::ReadSnapshot(i, a, b)),
        1 => any::<usize>().prop_map(Op::DropSnapshot),
        2 => Just(Op::Flush),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(a, b)| Op::Compact(a, b)),
        1 => Just(Op::Reopen),
    ]
}

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// When each key was last put, in ms of the manual clock.
type Born = BTreeMap<Vec<u8>, u64>;

/// The TTL of the timed runs.
const TTL_MS: u64 = 100;

/// Drops what expired by `now`: the clock only moves forward, so an
/// expired key stays gone until it is written again, for every reader.
fn expire(m: &mut Model, born: &Born, now: u64) {
    m.retain(|k, _| born.get(k).is_none_or(|&b| b + TTL_MS > now));
}

/// A merge operand.
fn operand(v: u16) -> Vec<u8> {
    format!("m{}", v % 1000).into_bytes()
}

/// What the append operator makes of a merge into the model.
fn merge_into(m: &mut Model, k: Vec<u8>, operand: Vec<u8>) {
    let v = match m.remove(&k) {
        Some(mut old) => {
            old.push(b',');
            old.extend_from_slice(&operand);
            old
        }
        None => operand,
    };
    m.insert(k, v);
}

/// `delete_range(lo..hi)` on the model (empty if `lo >= hi`).
fn delete_range(m: &mut Model, lo: &[u8], hi: &[u8]) {
    if lo < hi {
        let doomed: Vec<Vec<u8>> = m
            .range::<[u8], _>((Bound::Included(lo), Bound::Excluded(hi)))
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            m.remove(&k);
        }
    }
}

fn model_range(m: &Model, lo: &[u8], hi: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    if lo > hi {
        return Vec::new();
    }
    m.range::<[u8], _>((Bound::Included(lo), Bound::Included(hi)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn run(ops: Vec<Op>, opts: larder_lsm::Options) {
    run_timed(ops, opts, None);
}

/// [`run`], with a TTL of [`TTL_MS`] on `clock` if given (merges are then
/// skipped), else with the append merge operator.
fn run_timed(ops: Vec<Op>, opts: larder_lsm::Options, clock: Option<Arc<ManualClock>>) {
    let opts = match &clock {
        Some(c) => larder_lsm::Options {
            ttl: Some(std::time::Duration::from_millis(TTL_MS)),
            clock: Arc::clone(c) as Arc<dyn larder_lsm::Clock>,
            ..opts
        },
        None => larder_lsm::Options {
            merge_operator: Some(Arc::new(AppendOperator::new(","))),
            ..opts
        },
    };
    let timed = clock.is_some();
    let mut now: u64 = 0;
    let mut born = Born::new();
    let mut ingests = 0u32;
    // An in-memory disk: the model checks logic, and a real disk's syncs
    // would make each case take seconds.
    let fs: Arc<dyn vfs::Fs> = Arc::new(vfs::MemFs::new());
    fs.create_dir_all(std::path::Path::new("/ext"))
        .expect("a directory for runs to ingest");
    let open = |opts: &larder_lsm::Options| Db::open_with_fs(Arc::clone(&fs), "/db", opts.clone());
    let mut db = Some(open(&opts).expect("open"));
    let mut model = Model::new();
    let mut snaps: Vec<(larder_lsm::Snapshot, Model, Born)> = Vec::new();
    for op in ops {
        let d = db.as_ref().expect("db open");
        match op {
            Op::Put(k, v) => {
                d.put(key(k), value(k, v)).expect("put");
                model.insert(key(k), value(k, v));
                born.insert(key(k), now);
            }
            Op::Delete(k) => {
                d.delete(key(k)).expect("delete");
                model.remove(&key(k));
            }
            Op::Batch(ops) => {
                let mut b = WriteBatch::new();
                for (k, v) in ops {
                    match v {
                        Some(v) => {
                            b.put(key(k), value(k, v));
                            model.insert(key(k), value(k, v));
                            born.insert(key(k), now);
                        }
                        None => {
                            b.delete(key(k));
                            model.remove(&key(k));
                        }
                    }
                }
                d.write(b).expect("write");
            }
            Op::DeleteRange(a, b) => {
                let (lo, hi) = (key(a).min(key(b)), key(a).max(key(b)));
                d.delete_range(lo.as_slice()..hi.as_slice())
                    .expect("delete_range");
                delete_range(&mut model, &lo, &hi);
            }
            Op::Merge(..) if timed => {}
            Op::Merge(k, v) => {
                d.merge(key(k), operand(v)).expect("merge");
                merge_into(&mut model, key(k), operand(v));
            }
            Op::MixedBatch(ops) => {
                let mut b = WriteBatch::new();
                for (what, k, v) in ops {
                    match what % 4 {
                        0 => {
                            b.put(key(k), value(k, v));
                            model.insert(key(k), value(k, v));
                            born.insert(key(k), now);
                        }
                        1 => {
                            b.delete(key(k));
                            model.remove(&key(k));
                        }
                        2 if timed => {}
                        2 => {
                            b.merge(key(k), operand(v));
                            merge_into(&mut model, key(k), operand(v));
                        }
                        _ => {
                            let (lo, hi) = (key(k), key(k.saturating_add((v % 8) as u8)));
                            b.delete_range(lo.clone(), hi.clone());
                            delete_range(&mut model, &lo, &hi);
                        }
                    }
                }
                d.write(b).expect("write");
            }
            Op::Txn(reads, writes, interfere) => {
                let mut t = d.transaction().expect("begin");
                let mut view = model.clone();
                let mut touched = std::collections::BTreeSet::new();
                for (k, v) in &writes {
                    match v {
                        Some(v) => {
                            t.put(key(*k), value(*k, *v));
                            view.insert(key(*k), value(*k, *v));
                        }
                        None => {
                            t.delete(key(*k));
                            view.remove(&key(*k));
                        }
                    }
                    touched.insert(key(*k));
                }
                for k in &reads {
                    let got = t.get(&key(*k)).expect("txn get").map(|v| v.to_vec());
                    assert_eq!(got, view.get(&key(*k)).cloned(), "txn get");
                    touched.insert(key(*k));
                }
                let conflict = match interfere {
                    Some(k) => {
                        d.put(key(k), value(k, 7)).expect("put");
                        model.insert(key(k), value(k, 7));
                        born.insert(key(k), now);
                        !writes.is_empty() && touched.contains(&key(k))
                    }
                    None => false,
                };
                match t.commit() {
                    Ok(()) if !conflict => {
                        for (k, v) in &writes {
                            match v {
                                Some(v) => {
                                    born.insert(key(*k), now);
                                    model.insert(key(*k), value(*k, *v))
                                }
                                None => model.remove(&key(*k)),
                            };
                        }
                    }
                    Err(larder_lsm::Error::Conflict { key: c }) if conflict => {
                        assert_eq!(Some(c), interfere.map(key));
                    }
                    r => panic!("commit: {r:?}, a conflict expected: {conflict}"),
                }
            }
            Op::Get(k) => {
                let got = d.get(&key(k)).expect("get").map(|v| v.to_vec());
                assert_eq!(
                    got,
                    model.get(&key(k)).cloned(),
                    "get {:?}",
                    String::from_utf8_lossy(&key(k))
                );
            }
            Op::Range(a, b, rev) => {
                let (lo, hi) = (key(a), key(b));
                let mut want = model_range(&model, &lo, &hi);
                let got = if rev {
                    want.reverse();
                    common::collect(d.range(lo.as_slice()..=hi.as_slice()).rev())
                } else {
                    common::collect(d.range(lo.as_slice()..=hi.as_slice()))
                };
                common::assert_same(&got, &want, "range");
            }
            Op::Prefix(a, rev) => {
                let p = &key(a)[..5];
                let mut want: Vec<_> = model
                    .iter()
                    .filter(|(k, _)| k.starts_with(p))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let got = if rev {
                    want.reverse();
                    common::collect(d.prefix(p).rev())
                } else {
                    common::collect(d.prefix(p))
                };
                common::assert_same(&got, &want, "range");
            }
            Op::Advance(ms) if timed => {
                let ms = u64::from(ms % 150);
                if let Some(c) = &clock {
                    c.advance(std::time::Duration::from_millis(ms));
                }
                now += ms;
                expire(&mut model, &born, now);
                for (_, m, b) in &mut snaps {
                    expire(m, b, now);
                }
            }
            Op::Advance(_) => {}
            Op::Ingest(run) => {
                let run: BTreeMap<Vec<u8>, Option<Vec<u8>>> = run
                    .into_iter()
                    .map(|(k, v)| (key(k), v.map(|v| value(k, v))))
                    .collect();
                ingests += 1;
                let mut w = larder_lsm::TableWriter::create_with_fs(
                    Arc::clone(&fs),
                    format!("/ext/{ingests}.sst"),
                    &opts,
                )
                .expect("table writer");
                for (k, v) in &run {
                    match v {
                        Some(v) => w.put(k.clone(), v.clone()).expect("writer put"),
                        None => w.delete(k.clone()).expect("writer delete"),
                    }
                }
                let paths: Vec<_> = w
                    .finish()
                    .expect("finish")
                    .into_iter()
                    .map(|t| t.path)
                    .collect();
                d.ingest(&paths).expect("ingest");
                for (k, v) in run {
                    // Ingested entries carry no write time: they never
                    // expire.
                    born.remove(&k);
                    match v {
                        Some(v) => model.insert(k, v),
                        None => model.remove(&k),
                    };
                }
            }
            Op::TakeSnapshot => snaps.push((d.snapshot(), model.clone(), born.clone())),
            Op::ReadSnapshot(i, a, b) => {
                if !snaps.is_empty() {
                    let (s, m, _) = &snaps[i % snaps.len()];
                    let got = s.get(&key(a)).expect("snapshot get").map(|v| v.to_vec());
                    assert_eq!(got, m.get(&key(a)).cloned());
                    let (lo, hi) = (key(a.min(b)), key(a.max(b)));
                    assert_eq!(
                        common::show(&common::collect(s.range(lo.as_slice()..=hi.as_slice()))),
                        common::show(&model_range(m, &lo, &hi))
                    );
                    let whole: Vec<_> = m.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                    common::assert_same(&common::collect(s.iter()), &whole, "snapshot iter");
                }
            }
            Op::DropSnapshot(i) => {
                if !snaps.is_empty() {
                    snaps.remove(i % snaps.len());
                }
            }
            Op::Flush => d.flush().expect("flush"),
            Op::Compact(a, b) => {
                let (lo, hi) = (key(a.min(b)), key(a.max(b)));
                d.compact_range(lo.as_slice()..=hi.as_slice())
                    .expect("compact");
            }
            Op::Reopen => {
                snaps.clear();
                db.take().expect("db").close().expect("close");
                db = Some(open(&opts).expect("reopen"));
            }
        }
    }
    let d = db.expect("db");
    let all: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    common::assert_same(&common::collect(d.iter()), &all, "before close");
    let mut all_rev = all.clone();
    all_rev.reverse();
    common::assert_same(&common::collect(d.iter().rev()), &all_rev, "iter().rev()");
    drop(snaps);
    d.close().expect("close");
    let d = open(&opts).expect("final reopen");
    common::assert_same(
        &common::collect(d.range::<&[u8], _>(..)),
        &all,
        "after reopen",
    );
    // No blob file leaks and none is missing: the store holds exactly the
    // files the manifest records, and each of them still holds live values.
    // (Background work may be between a blob write and its manifest edit:
    // wait until it is idle.)
    d.wait_idle().expect("background work idle");
    let stats = d.stats();
    let on_disk = common::blob_files_on_disk(&*fs);
    assert_eq!(on_disk, stats.blob_files, "{stats:?}");
    let report = d.verify().expect("verify");
    assert!(report.is_clean(), "{report:?}");
    assert!(
        stats.blob_files == 0 || stats.blob_live_bytes > 0,
        "{stats:?}"
    );
    // Tables on a store: the store holds exactly the tables of the tree
    // (none leaked, none missing), and the directory holds none.
    if let Some(store) = &opts.table_store {
        let objects = store.list("tables/").expect("list").len();
        let tables: usize = stats.levels.iter().map(|l| l.files).sum();
        if opts.publish_manifest {
            // Tables the last few published manifests name stay for the
            // readers elsewhere that may read them.
            assert!(objects >= tables, "{stats:?}");
        } else {
            assert_eq!(objects, tables, "{stats:?}");
        }
        assert_eq!(common::table_files_on_disk(&*fs, "/db"), 0);
        // Published: a reader elsewhere sees everything once it is flushed.
        if opts.publish_manifest {
            d.flush().expect("flush");
            // The flush may start a compaction, which deletes the tables it
            // replaced once it has published: a reader opened on the
            // manifest before would find them gone.
            d.wait_idle().expect("idle");
            let reader =
                larder_lsm::Reader::open_with(Arc::clone(store), "", opts.clone()).expect("reader");
            common::assert_same(&common::collect(reader.iter()), &all, "reader");
        }
    }
}

/// Options whose tables live on a fresh in-memory object store.
fn on_store(opts: larder_lsm::Options) -> larder_lsm::Options {
    larder_lsm::Options {
        table_store: Some(Arc::new(objstore::MemStore::new())),
        ..opts
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// With a TTL of 100 ms and a manual clock: entries vanish for every
    /// reader once expired, across flushes, compactions (which drop them),
    /// blob files and reopens; merges are skipped.
    #[test]
    fn db_with_ttl_matches_btreemap_model(ops in prop::collection::vec(op(), 1..400)) {
        let clock = ManualClock::new(std::time::Duration::from_secs(1_000_000));
        run_timed(
            ops,
            larder_lsm::Options { blob_threshold_bytes: Some(40), blob_gc_ratio: 0.3, ..common::tiny_options() },
            Some(clock),
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn db_matches_btreemap_model(ops in prop::collection::vec(op(), 1..400)) {
        run(ops, common::tiny_options());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// The same body, tables on an object store.
    #[test]
    fn db_with_tables_on_a_store_matches_btreemap_model(ops in prop::collection::vec(op(), 1..400)) {
        run(ops, on_store(common::tiny_options()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Tables on a store, blocks through a disk cache too small to hold
    /// them all and a tiny memory cache, the manifest published (and read
    /// back by a `Reader` at the end).
    #[test]
    fn db_with_tables_on_a_store_and_a_disk_cache_matches_btreemap_model(ops in prop::collection::vec(op(), 1..400)) {
        run(ops, larder_lsm::Options {
            table_cache_dir: Some("/cache".into()),
            table_cache_dir_bytes_max: 4096,
            block_cache_bytes: 2048,
            publish_manifest: true,
            ..on_store(common::tiny_options())
        });
    }
}

/// The S3 server the model runs against: one per test binary, a fresh
/// prefix of its bucket per case.
fn s3_server() -> &'static objstore::testing::S3Server {
    static SERVER: std::sync::OnceLock<objstore::testing::S3Server> = std::sync::OnceLock::new();
    SERVER.get_or_init(|| objstore::testing::S3Server::start().expect("start the S3 server"))
}

/// Options whose tables live under a fresh prefix of `inner`, reached
/// through `RemoteStore` (requests, retries and all), the manifest
/// published.
fn on_remote(
    inner: Arc<dyn object_store::ObjectStore>,
    opts: larder_lsm::Options,
) -> larder_lsm::Options {
    static CASE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let case = CASE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let options = objstore::RemoteOptions {
        worker_threads: 1,
        ..objstore::RemoteOptions::default()
    };
    let store = objstore::RemoteStore::with_options(inner, &format!("case{case}"), options)
        .expect("remote store");
    larder_lsm::Options {
        table_store: Some(Arc::new(store)),
        publish_manifest: true,
        ..opts
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// The same body, tables on a real S3 server (`s3s-fs` on 127.0.0.1)
    /// through `RemoteStore`: every table upload, block read, listing,
    /// delete and conditional manifest create is an HTTP request.
    #[test]
    fn db_with_tables_on_the_s3_server_matches_btreemap_model(ops in prop::collection::vec(op(), 1..400)) {
        let bucket = s3_server().bucket("model").expect("bucket");
        run(ops, on_remote(bucket, common::tiny_options()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// The same body, tables on `object_store`'s in-memory store through
    /// `RemoteStore`.
    #[test]
    fn db_with_tables_on_object_stores_in_memory_store_matches_btreemap_model(ops in prop::collection::vec(op(), 1..400)) {
        let inner: Arc<dyn object_store::ObjectStore> = Arc::new(object_store::memory::InMemory::new());
        run(ops, on_remote(inner, common::tiny_options()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// The same body, tables on `object_store`'s local-file store (a
    /// temporary directory) through `RemoteStore`.
    #[test]
    fn db_with_tables_on_object_stores_local_file_store_matches_btreemap_model(ops in prop::collection::vec(op(), 1..400)) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let inner: Arc<dyn object_store::ObjectStore> = Arc::new(
            object_store::local::LocalFileSystem::new_with_prefix(dir.path()).expect("local store"),
        );
        run(ops, on_remote(inner, common::tiny_options()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Key-value separation with a threshold in the middle of the value
    /// lengths (4..94 bytes): about half the values go to blobs, half stay
    /// inline, and a key flips between the two as it is overwritten. A low
    /// garbage ratio makes compactions collect blobs all the time.
    #[test]
    fn db_with_blob_separation_matches_btreemap_model(ops in prop::collection::vec(op(), 1..400)) {
        run(ops, larder_lsm::Options { blob_threshold_bytes: Some(40), blob_gc_ratio: 0.3, ..common::tiny_options() });
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Separation off: every value stays inline, as before the feature.
    #[test]
    fn db_without_blob_separation_matches_btreemap_model(ops in prop::collection::vec(op(), 1..400)) {
        run(ops, larder_lsm::Options { blob_threshold_bytes: None, ..common::tiny_options() });
    }
}

#[test]
fn many_writes_reach_deep_levels_and_read_back() {
    let fs: Arc<dyn vfs::Fs> = Arc::new(vfs::MemFs::new());
    let db = Db::open_with_fs(fs, "/db", common::tiny_options()).expect("open");
    let mut model = Model::new();
    for i in 0..20_000u32 {
        let k = format!("k{:06}", (i * 7919) % 5000).into_bytes();
        if i % 9 == 0 {
            db.delete(k.clone()).expect("delete");
            model.remove(&k);
        } else {
            let v = format!("value{i}").into_bytes();
            db.put(k.clone(), v.clone()).expect("put");
            model.insert(k, v);
        }
    }
    db.flush().expect("flush");
    let stats = db.stats();
    assert!(
        stats.levels.iter().skip(2).any(|l| l.files > 0),
        "{stats:?}"
    );
    for (k, v) in &model {
        assert_eq!(db.get(k).expect("get").as_deref(), Some(v.as_slice()));
    }
    assert_eq!(
        common::collect(db.range::<&[u8], _>(..)),
        model.into_iter().collect::<Vec<_>>()
    );
    db.close().expect("close");
}

/// A flush writes only versions a reader may still see: of a key's versions
/// at or below the oldest snapshot, only the newest (LevelDB's rule; the
/// versions between a snapshot and the newest stay).
#[test]
fn a_flush_drops_versions_no_reader_can_see() {
    let opts = larder_lsm::Options {
        blob_threshold_bytes: None,
        compression: false,
        ..larder_lsm::Options::default()
    };
    let open = || {
        let fs: Arc<dyn vfs::Fs> = Arc::new(vfs::MemFs::new());
        Db::open_with_fs(fs, "/db", opts.clone()).expect("open")
    };
    // No snapshot: only the newest of 400 versions is written.
    let db = open();
    for i in 0..400u32 {
        db.put("k", vec![i as u8; 1000]).expect("put");
    }
    db.flush().expect("flush");
    let s = db.stats();
    assert!(s.flush_bytes < 4 * 1024, "{s:?}");
    assert_eq!(
        db.get(b"k").expect("get").as_deref(),
        Some(&[(399 % 256) as u8; 1000][..])
    );

    // A snapshot after 200 writes: the 199 versions below it go, the one it
    // sees and the 200 after it stay.
    let db = open();
    for i in 0..200u32 {
        db.put("k", vec![i as u8; 1000]).expect("put");
    }
    let snap = db.snapshot();
    for i in 200..400u32 {
        db.put("k", vec![i as u8; 1000]).expect("put");
    }
    db.flush().expect("flush");
    let s = db.stats();
    assert!(
        s.flush_bytes < 210 * 1024 && s.flush_bytes > 200 * 1000,
        "{s:?}"
    );
    assert_eq!(
        snap.get(b"k").expect("get").as_deref(),
        Some(&[199u8; 1000][..])
    );
    assert_eq!(
        db.get(b"k").expect("get").as_deref(),
        Some(&[(399 % 256) as u8; 1000][..])
    );
}
