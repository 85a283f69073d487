//! Bulk ingest: `TableWriter` files added by `Db::ingest` into an empty
//! store, over memtable and table data, into gaps (the bottom level),
//! invisible to older snapshots, checked fully before the edit (a flipped
//! byte or a truncation is refused), against a model (proptest), and cut
//! by power loss at every sync point (all of a file's keys or none).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use larder_lsm::{Db, Error, IngestMethod, Options, TableWriter};
use objstore::Store;
use proptest::prelude::*;
use vfs::crash_test::{ExploreOptions, explore};
use vfs::{Fs, OpenMode};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn key(i: u32) -> Vec<u8> {
    format!("key{i:05}").into_bytes()
}

/// Writes `pairs` (sorted; `None` is a delete) with a `TableWriter` at
/// `path` on `fs`; returns the files.
fn write_run(
    fs: &Arc<dyn Fs>,
    path: &str,
    pairs: &[(Vec<u8>, Option<Vec<u8>>)],
    opts: &Options,
) -> Vec<PathBuf> {
    let mut w = TableWriter::create_with_fs(Arc::clone(fs), path, opts).expect("writer");
    for (k, v) in pairs {
        match v {
            Some(v) => w.put(k.clone(), v.clone()).expect("put"),
            None => w.delete(k.clone()).expect("delete"),
        }
    }
    w.finish()
        .expect("finish")
        .into_iter()
        .map(|t| t.path)
        .collect()
}

fn puts(range: std::ops::Range<u32>, tag: &str) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    range
        .map(|i| (key(i), Some(format!("{tag}{i}").into_bytes())))
        .collect()
}

fn contents(db: &Db) -> Model {
    db.iter()
        .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).expect("iter"))
        .collect()
}

fn mem() -> Arc<dyn Fs> {
    let fs: Arc<dyn Fs> = Arc::new(vfs::MemFs::new());
    fs.create_dir_all(Path::new("/in")).expect("mkdir");
    fs
}

fn level_files(db: &Db) -> Vec<usize> {
    db.stats().levels.iter().map(|l| l.files).collect()
}

#[test]
fn ingest_into_an_empty_db_lands_in_the_bottom_level_unchanged() {
    let fs = mem();
    let opts = common::tiny_options();
    let files = write_run(&fs, "/in/a.sst", &puts(0..300, "v"), &opts);
    assert!(files.len() > 1, "tiny tables: the run is cut into several");
    let db = Db::open_with_fs(Arc::clone(&fs), "/db", opts.clone()).expect("open");
    let info = db.ingest(&files).expect("ingest");
    assert_eq!(info.sequence, 0);
    assert_eq!(info.tables.len(), files.len());
    for t in &info.tables {
        assert_eq!(t.level, 6, "{info:?}");
        // MemFs has no hard links.
        assert_eq!(t.method, IngestMethod::Copied);
    }
    let model: Model = (0..300)
        .map(|i| (key(i), format!("v{i}").into_bytes()))
        .collect();
    assert_eq!(contents(&db), model);
    assert_eq!(
        db.get(&key(123)).expect("get").as_deref(),
        Some(&b"v123"[..])
    );
    let rev: Vec<_> = db.iter().rev().take(1).map(|r| r.expect("rev").0).collect();
    assert_eq!(rev[0].as_ref(), key(299).as_slice());
    // The caller's files are left alone.
    for f in &files {
        assert!(fs.exists(f).expect("exists"));
    }
    assert!(db.verify().expect("verify").problems.is_empty());
    db.close().expect("close");
    let db = Db::open_with_fs(fs, "/db", opts).expect("reopen");
    assert_eq!(contents(&db), model);
}

#[test]
fn ingest_over_memtable_data_flushes_it_and_wins() {
    let fs = mem();
    let opts = common::tiny_options();
    let db = Db::open_with_fs(Arc::clone(&fs), "/db", opts.clone()).expect("open");
    db.put(key(5), "old").expect("put");
    db.put(key(500), "outside").expect("put");
    db.delete(key(7)).expect("delete");
    let mut run = puts(0..20, "new");
    run[3].1 = None; // ingest deletes key 3, which the memtable does not hold
    let files = write_run(&fs, "/in/a.sst", &run, &opts);
    let info = db.ingest(&files).expect("ingest");
    assert!(info.sequence > 0, "{info:?}");
    assert!(
        info.tables
            .iter()
            .all(|t| t.method == IngestMethod::Rewritten)
    );
    assert_eq!(db.get(&key(5)).expect("get").as_deref(), Some(&b"new5"[..]));
    assert_eq!(db.get(&key(7)).expect("get").as_deref(), Some(&b"new7"[..]));
    assert_eq!(db.get(&key(3)).expect("get"), None);
    assert_eq!(
        db.get(&key(500)).expect("get").as_deref(),
        Some(&b"outside"[..])
    );
    // Later writes win over the ingested ones.
    db.put(key(6), "later").expect("put");
    assert_eq!(
        db.get(&key(6)).expect("get").as_deref(),
        Some(&b"later"[..])
    );
    db.compact_range::<&[u8], _>(..).expect("compact");
    assert_eq!(
        db.get(&key(6)).expect("get").as_deref(),
        Some(&b"later"[..])
    );
    assert_eq!(db.get(&key(5)).expect("get").as_deref(), Some(&b"new5"[..]));
    db.close().expect("close");
    let db = Db::open_with_fs(fs, "/db", opts).expect("reopen");
    assert_eq!(
        db.get(&key(6)).expect("get").as_deref(),
        Some(&b"later"[..])
    );
    assert_eq!(db.get(&key(3)).expect("get"), None);
    db.put(key(8), "after reopen").expect("put");
    assert_eq!(
        db.get(&key(8)).expect("get").as_deref(),
        Some(&b"after reopen"[..])
    );
}

#[test]
fn ingest_goes_above_the_shallowest_overlapping_level() {
    let fs = mem();
    let opts = Options {
        l0_compaction_trigger: 100,
        l0_slowdown_trigger: 100,
        l0_stop_trigger: 200,
        ..common::tiny_options()
    };
    let db = Db::open_with_fs(Arc::clone(&fs), "/db", opts.clone()).expect("open");
    // Keys 0..100 compacted down; then an L0 table over 200..210.
    for i in 0..100 {
        db.put(key(i), "deep").expect("put");
    }
    db.compact_range::<&[u8], _>(..).expect("compact");
    for i in 200..210 {
        db.put(key(i), "l0").expect("put");
    }
    db.flush().expect("flush");
    let levels = level_files(&db);
    assert!(levels[0] >= 1, "{levels:?}");
    let deepest = levels.iter().rposition(|&n| n > 0).expect("tables");
    assert!(deepest >= 1);
    // Overlaps the deep tables only: just above the shallowest of them.
    let shallowest_deep = (1..7).find(|&l| levels[l] > 0).expect("deep level");
    let a = write_run(&fs, "/in/a.sst", &puts(50..60, "a"), &opts);
    let info = db.ingest(&a).expect("ingest a");
    assert_eq!(
        info.tables[0].level,
        shallowest_deep - 1,
        "{levels:?} {info:?}"
    );
    // Overlaps L0: goes to L0.
    let b = write_run(&fs, "/in/b.sst", &puts(205..207, "b"), &opts);
    let info = db.ingest(&b).expect("ingest b");
    assert_eq!(info.tables[0].level, 0);
    // Overlaps nothing: the bottom level, unchanged.
    let c = write_run(&fs, "/in/c.sst", &puts(1000..1010, "c"), &opts);
    let info = db.ingest(&c).expect("ingest c");
    assert_eq!(info.tables[0].level, 6);
    assert_eq!(info.sequence, 0);
    assert_eq!(db.get(&key(55)).expect("get").as_deref(), Some(&b"a55"[..]));
    assert_eq!(
        db.get(&key(20)).expect("get").as_deref(),
        Some(&b"deep"[..])
    );
    assert_eq!(
        db.get(&key(205)).expect("get").as_deref(),
        Some(&b"b205"[..])
    );
    assert_eq!(db.get(&key(209)).expect("get").as_deref(), Some(&b"l0"[..]));
    assert_eq!(
        db.get(&key(1005)).expect("get").as_deref(),
        Some(&b"c1005"[..])
    );
    let before = contents(&db);
    db.compact_range::<&[u8], _>(..).expect("compact");
    assert_eq!(contents(&db), before);
}

#[test]
fn a_snapshot_taken_before_ingest_does_not_see_it() {
    let fs = mem();
    let opts = common::tiny_options();
    let db = Db::open_with_fs(Arc::clone(&fs), "/db", opts.clone()).expect("open");
    db.put(key(1), "before").expect("put");
    let snap = db.snapshot();
    // No overlap with the data, but a live snapshot: a fresh sequence number.
    let files = write_run(&fs, "/in/a.sst", &puts(100..110, "x"), &opts);
    let info = db.ingest(&files).expect("ingest");
    assert!(info.sequence > 0);
    assert_eq!(snap.get(&key(105)).expect("get"), None);
    assert_eq!(snap.iter().count(), 1);
    assert_eq!(snap.iter().rev().count(), 1);
    assert_eq!(
        db.get(&key(105)).expect("get").as_deref(),
        Some(&b"x105"[..])
    );
    // Over the snapshot's own key.
    let files = write_run(&fs, "/in/b.sst", &puts(1..2, "y"), &opts);
    db.ingest(&files).expect("ingest");
    assert_eq!(
        snap.get(&key(1)).expect("get").as_deref(),
        Some(&b"before"[..])
    );
    assert_eq!(db.get(&key(1)).expect("get").as_deref(), Some(&b"y1"[..]));
    db.compact_range::<&[u8], _>(..).expect("compact");
    assert_eq!(
        snap.get(&key(1)).expect("get").as_deref(),
        Some(&b"before"[..])
    );
    // A transaction that read the key conflicts with the ingest.
    let mut tx = db.transaction().expect("transaction");
    assert_eq!(tx.get(&key(2)).expect("get"), None);
    let files = write_run(&fs, "/in/c.sst", &puts(2..3, "z"), &opts);
    db.ingest(&files).expect("ingest");
    tx.put(key(2), "tx");
    assert!(matches!(tx.commit(), Err(Error::Conflict { .. })));
}

#[test]
fn writer_refuses_unsorted_and_duplicate_keys() {
    let fs = mem();
    let mut w = TableWriter::create_with_fs(Arc::clone(&fs), "/in/a.sst", &Options::default())
        .expect("writer");
    w.put("b", "1").expect("put");
    match w.put("a", "2") {
        Err(Error::KeyOrder { previous, key }) => {
            assert_eq!(previous, b"b");
            assert_eq!(key, b"a");
        }
        r => panic!("{r:?}"),
    }
    assert!(matches!(w.delete("b"), Err(Error::KeyOrder { .. })));
    w.put("c", "3").expect("still usable");
    let t = w.finish().expect("finish");
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].entries, 2);
    assert_eq!(t[0].smallest, b"b");
    assert_eq!(t[0].largest, b"c");
}

#[test]
fn overlapping_files_are_refused() {
    let fs = mem();
    let opts = Options::default();
    let db = Db::open_with_fs(Arc::clone(&fs), "/db", opts.clone()).expect("open");
    let a = write_run(&fs, "/in/a.sst", &puts(0..10, "a"), &opts);
    let b = write_run(&fs, "/in/b.sst", &puts(5..15, "b"), &opts);
    let files = [a[0].clone(), b[0].clone()];
    match db.ingest(&files) {
        Err(Error::IngestOverlap { first, second }) => {
            assert_eq!(first, a[0]);
            assert_eq!(second, b[0]);
        }
        r => panic!("{r:?}"),
    }
    assert_eq!(db.iter().count(), 0);
}

/// Copies `/in/a.sst` to `/in/bad.sst` with `damage` applied.
fn damaged_copy(fs: &Arc<dyn Fs>, damage: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
    let src = fs
        .open(Path::new("/in/a.sst"), OpenMode::Read)
        .expect("open");
    let mut bytes = vec![0u8; src.len().expect("len") as usize];
    src.read_exact_at(&mut bytes, 0).expect("read");
    damage(&mut bytes);
    let to = PathBuf::from("/in/bad.sst");
    let f = fs.open(&to, OpenMode::Truncate).expect("create");
    f.append(&bytes).expect("write");
    f.sync_data().expect("sync");
    to
}

#[test]
fn a_damaged_file_is_refused_naming_file_and_offset() {
    let fs = mem();
    let opts = Options {
        block_size_bytes: 512,
        ..Options::default()
    };
    write_run(&fs, "/in/a.sst", &puts(0..200, "value"), &opts);
    let len = fs
        .open(Path::new("/in/a.sst"), OpenMode::Read)
        .expect("open")
        .len()
        .expect("len") as usize;
    let db = Db::open_with_fs(Arc::clone(&fs), "/db", opts).expect("open");
    // A flipped byte in every position class: header, data blocks, meta
    // blocks, footer.
    for at in [3, 100, 700, len / 2, len - 100, len - 20, len - 1] {
        let bad = damaged_copy(&fs, |b| b[at] ^= 0x40);
        match db.ingest(&[&bad]) {
            Err(Error::Corruption { file, .. }) => assert_eq!(file, bad, "flip at {at}"),
            r => panic!("flip at {at}: {r:?}"),
        }
        assert_eq!(db.iter().count(), 0, "flip at {at}: nothing ingested");
    }
    for cut in [0, 10, len / 2, len - 1] {
        let bad = damaged_copy(&fs, |b| b.truncate(cut));
        match db.ingest(&[&bad]) {
            Err(Error::Corruption { file, .. }) => assert_eq!(file, bad, "cut at {cut}"),
            r => panic!("cut at {cut}: {r:?}"),
        }
    }
    assert_eq!(db.iter().count(), 0);
    // A table of the database itself (its entries have sequence numbers)
    // is no TableWriter output.
    db.put("x", "1").expect("put");
    db.flush().expect("flush");
    let own: Vec<PathBuf> = fs
        .list_dir(Path::new("/db"))
        .expect("list")
        .into_iter()
        .filter(|n| n.to_string_lossy().ends_with(".sst"))
        .map(|n| Path::new("/db").join(n))
        .collect();
    assert!(matches!(db.ingest(&own), Err(Error::Corruption { .. })));
}

#[test]
fn ingest_with_tables_on_an_object_store_uploads_them() {
    let fs = mem();
    let store = Arc::new(objstore::MemStore::new());
    let opts = Options {
        table_store: Some(Arc::clone(&store) as Arc<dyn objstore::Store>),
        ..common::tiny_options()
    };
    let files = write_run(&fs, "/in/a.sst", &puts(0..100, "v"), &opts);
    let db = Db::open_with_fs(Arc::clone(&fs), "/db", opts.clone()).expect("open");
    let info = db.ingest(&files).expect("ingest");
    assert!(
        info.tables
            .iter()
            .all(|t| t.method == IngestMethod::Rewritten)
    );
    let objects = store.list("tables/").expect("list").len();
    assert_eq!(objects, files.len());
    db.close().expect("close");
    let db = Db::open_with_fs(fs, "/db", opts).expect("reopen");
    assert_eq!(db.get(&key(42)).expect("get").as_deref(), Some(&b"v42"[..]));
    assert_eq!(db.iter().count(), 100);
}

/// One step of the model test.
#[derive(Clone, Debug)]
enum Step {
    Put(u32, u8),
    Delete(u32),
    /// A sorted run over `[start, start + len)`, every `stride`-th key,
    /// deleting where `(i + salt) % 5 == 0`.
    Ingest {
        start: u32,
        len: u32,
        stride: u32,
        salt: u8,
    },
    Get(u32),
    Flush,
    Compact,
    Snapshot,
    Scan,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..200u32, any::<u8>()).prop_map(|(k, v)| Step::Put(k, v)),
        2 => (0..200u32).prop_map(Step::Delete),
        2 => (0..200u32, 1..60u32, 1..4u32, any::<u8>())
            .prop_map(|(start, len, stride, salt)| Step::Ingest { start, len, stride, salt }),
        2 => (0..200u32).prop_map(Step::Get),
        1 => Just(Step::Flush),
        1 => Just(Step::Compact),
        1 => Just(Step::Snapshot),
        1 => Just(Step::Scan),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn ingest_matches_a_model(steps in proptest::collection::vec(step(), 1..40)) {
        let fs = mem();
        let opts = common::tiny_options();
        let db = Db::open_with_fs(Arc::clone(&fs), "/db", opts.clone()).expect("open");
        let mut model = Model::new();
        let mut snaps: Vec<(larder_lsm::Snapshot, Model)> = Vec::new();
        for (n, s) in steps.iter().enumerate() {
            match *s {
                Step::Put(k, v) => {
                    db.put(key(k), vec![v; 3]).expect("put");
                    model.insert(key(k), vec![v; 3]);
                }
                Step::Delete(k) => {
                    db.delete(key(k)).expect("delete");
                    model.remove(&key(k));
                }
                Step::Ingest { start, len, stride, salt } => {
                    let run: Vec<_> = (start..start + len)
                        .step_by(stride as usize)
                        .map(|i| {
                            let v = ((i + u32::from(salt)) % 5 != 0)
                                .then(|| format!("ing{n}-{i}").into_bytes());
                            (key(i), v)
                        })
                        .collect();
                    let files = write_run(&fs, &format!("/in/{n}.sst"), &run, &opts);
                    db.ingest(&files).expect("ingest");
                    for (k, v) in run {
                        match v {
                            Some(v) => model.insert(k, v),
                            None => model.remove(&k),
                        };
                    }
                }
                Step::Get(k) => {
                    prop_assert_eq!(db.get(&key(k)).expect("get").map(|b| b.to_vec()), model.get(&key(k)).cloned());
                }
                Step::Flush => db.flush().expect("flush"),
                Step::Compact => db.compact_range::<&[u8], _>(..).expect("compact"),
                Step::Snapshot => snaps.push((db.snapshot(), model.clone())),
                Step::Scan => {
                    prop_assert_eq!(&contents(&db), &model);
                    let rev: Vec<Vec<u8>> = db.iter().rev().map(|r| r.expect("rev").0.to_vec()).collect();
                    let want: Vec<Vec<u8>> = model.keys().rev().cloned().collect();
                    prop_assert_eq!(rev, want);
                }
            }
        }
        prop_assert_eq!(&contents(&db), &model);
        for (snap, m) in &snaps {
            let got: Model = snap.iter().map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).expect("snap")).collect();
            prop_assert_eq!(&got, m);
        }
        drop(snaps);
        db.close().expect("close");
        let db = Db::open_with_fs(fs, "/db", opts).expect("reopen");
        prop_assert_eq!(&contents(&db), &model);
    }
}

/// The crash workload: writes, then two ingests (one into a gap, one over
/// written keys); returns how far it got: 1 once the writes are synced,
/// plus one per ingest that returned Ok.
fn crash_workload(fs: Arc<dyn Fs>) -> usize {
    let opts = common::tiny_options();
    if fs.create_dir_all(Path::new("/in")).is_err() {
        return 0;
    }
    let Ok(db) = Db::open_with_fs(Arc::clone(&fs), "/db", opts.clone()) else {
        return 0;
    };
    for i in 0..20 {
        if db.put(key(i), "w").is_err() {
            return 0;
        }
    }
    if db.sync().is_err() {
        return 0;
    }
    let mut done = 1;
    for (name, range) in [("gap", 100..160), ("over", 10..40)] {
        let Ok(mut w) =
            TableWriter::create_with_fs(Arc::clone(&fs), format!("/in/{name}.sst"), &opts)
        else {
            return done;
        };
        for (k, v) in puts(range, name) {
            if w.put(k, v.expect("put")).is_err() {
                return done;
            }
        }
        let Ok(files) = w.finish() else {
            return done;
        };
        let paths: Vec<PathBuf> = files.into_iter().map(|t| t.path).collect();
        if db.ingest(&paths).is_err() {
            return done;
        }
        done += 1;
    }
    let _ = db.close();
    done
}

#[test]
fn power_loss_during_ingest_keeps_all_of_a_file_or_none() {
    let opts = ExploreOptions::default();
    let report = explore(&opts, crash_workload, |point, disk, done| {
        let db = Db::open_with_fs(Arc::new(disk), "/db", common::tiny_options())
            .unwrap_or_else(|e| panic!("{point:?}: recovery failed: {e}"));
        let got = contents(&db);
        for (name, range) in [("gap", 100..160u32), ("over", 10..40)] {
            let present = range
                .clone()
                .filter(|&i| {
                    got.get(&key(i))
                        .is_some_and(|v| v.starts_with(name.as_bytes()))
                })
                .count();
            assert!(
                present == 0 || present == range.len(),
                "{point:?}: {present} of the {name} run's keys survived"
            );
        }
        // Every ingest that returned is durable.
        if done >= 2 {
            assert_eq!(
                got.get(&key(100)).map(Vec::as_slice),
                Some(&b"gap100"[..]),
                "{point:?}"
            );
        }
        if done >= 3 {
            assert_eq!(
                got.get(&key(10)).map(Vec::as_slice),
                Some(&b"over10"[..]),
                "{point:?}"
            );
        }
        // The writes before the ingests were synced.
        if done >= 1 {
            assert_eq!(
                got.get(&key(0)).map(Vec::as_slice),
                Some(&b"w"[..]),
                "{point:?}"
            );
        }
        db.put("after", "x").expect("write after recovery");
        db.close().expect("close");
    });
    assert!(report.syncs > 10, "{report:?}");
    eprintln!("{report:?}");
}
