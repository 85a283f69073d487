//! Range deletes (`Db::delete_range`, `WriteBatch::delete_range`): against
//! a `BTreeMap` model with tombstones across memtables, L0 and deeper
//! levels, snapshots, recovery from the log, power loss at every sync
//! point, damage to a table's range-deletion section, and that a lookup
//! under a deleted range reads O(1) tables.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use larder_lsm::{Db, Durability, Error, Options, WriteBatch};
use proptest::prelude::*;
use vfs::crash_test::{ExploreOptions, explore};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn key(i: u32) -> Vec<u8> {
    format!("k{i:06}").into_bytes()
}

fn contents(db: &Db) -> Model {
    db.iter()
        .map(|r| {
            let (k, v) = r.expect("iterate");
            (k.to_vec(), v.to_vec())
        })
        .collect()
}

fn model_delete_range(m: &mut Model, start: &[u8], end: &[u8]) {
    let doomed: Vec<Vec<u8>> = m
        .range(start.to_vec()..end.to_vec())
        .map(|(k, _)| k.clone())
        .collect();
    for k in doomed {
        m.remove(&k);
    }
}

#[test]
fn delete_range_hides_keys_in_the_memtable_tables_and_after_reopen() {
    let fs: Arc<dyn vfs::Fs> = Arc::new(vfs::MemFs::new());
    let opts = common::tiny_options();
    let db = Db::open_with_fs(Arc::clone(&fs), "/db", opts.clone()).expect("open");
    let mut model = Model::new();
    for i in 0..300 {
        db.put(key(i), format!("v{i}")).expect("put");
        model.insert(key(i), format!("v{i}").into_bytes());
    }
    db.flush().expect("flush");
    db.compact_range::<&[u8], _>(..).expect("compact");
    db.delete_range(key(50)..key(120)).expect("delete_range");
    model_delete_range(&mut model, &key(50), &key(120));
    // A key written after the tombstone is visible.
    db.put(key(60), "back").expect("put");
    model.insert(key(60), b"back".to_vec());
    // Included end, excluded start.
    db.delete_range(key(200)..=key(210)).expect("delete_range");
    model_delete_range(&mut model, &key(200), &key(211));
    let snap = db.snapshot();
    let at_snap = model.clone();
    db.delete_range(key(0)..key(10)).expect("delete_range");
    model_delete_range(&mut model, &key(0), &key(10));
    assert_eq!(contents(&db), model);
    assert_eq!(db.get(&key(55)).expect("get"), None);
    assert_eq!(
        db.get(&key(60)).expect("get").as_deref(),
        Some(&b"back"[..])
    );
    assert_eq!(snap.get(&key(5)).expect("get").as_deref(), Some(&b"v5"[..]));
    let rev: Vec<Vec<u8>> = db.iter().rev().map(|r| r.expect("it").0.to_vec()).collect();
    let want: Vec<Vec<u8>> = model.keys().rev().cloned().collect();
    assert_eq!(rev, want);
    drop(snap);
    // Recovery from the log alone.
    db.close().expect("close");
    let db = Db::open_with_fs(Arc::clone(&fs), "/db", opts.clone()).expect("reopen");
    assert_eq!(contents(&db), model);
    // Through flush and compaction to the bottom: tombstones are dropped
    // with what they covered.
    db.flush().expect("flush");
    assert_eq!(contents(&db), model);
    db.compact_range::<&[u8], _>(..).expect("compact");
    assert_eq!(contents(&db), model);
    let d = db.describe().expect("describe");
    let range_tombstones: u64 = d
        .levels
        .iter()
        .flat_map(|l| &l.tables)
        .map(|t| t.range_tombstones)
        .sum();
    assert_eq!(range_tombstones, 0, "{d:?}");
    assert!(db.verify().expect("verify").is_clean());
    let _ = at_snap;
    db.close().expect("close");
}

#[test]
fn delete_range_bounds_are_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), Options::default()).expect("open");
    db.put("a", "1").expect("put");
    assert!(matches!(
        db.delete_range::<&[u8], _>(&b"a"[..]..),
        Err(Error::InvalidRange(_))
    ));
    assert!(matches!(
        db.delete_range(&b"b"[..]..&b"a"[..]),
        Err(Error::InvalidRange(_))
    ));
    db.delete_range(&b"a"[..]..&b"a"[..]).expect("empty range");
    assert_eq!(db.get(b"a").expect("get").as_deref(), Some(&b"1"[..]));
    // From the empty key.
    db.delete_range::<&[u8], _>(..&b"b"[..])
        .expect("delete_range");
    assert_eq!(db.get(b"a").expect("get"), None);
    let mut b = WriteBatch::new();
    b.put("c", "3");
    b.delete_range("c", "d");
    b.put("cc", "4");
    db.write(b).expect("write");
    assert_eq!(db.get(b"c").expect("get"), None);
    assert_eq!(db.get(b"cc").expect("get").as_deref(), Some(&b"4"[..]));
    db.close().expect("close");
}

#[test]
fn a_transaction_that_read_a_key_conflicts_with_a_range_delete_of_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), Options::default()).expect("open");
    db.put("a", "1").expect("put");
    let mut tx = db.transaction().expect("transaction");
    assert!(tx.get(b"a").expect("get").is_some());
    tx.put("b", "2");
    db.delete_range("a".."b").expect("delete_range");
    assert!(matches!(tx.commit(), Err(Error::Conflict { .. })));
    db.close().expect("close");
}

/// A get of a key under a range delete of 100,000 keys in tables probes
/// the table holding the tombstone and stops: not one table per level
/// beneath it, and never every key.
#[test]
fn a_get_under_a_range_delete_probes_a_constant_number_of_tables() {
    const N: u32 = 100_000;
    let opts = Options {
        write_buffer_size_bytes: 256 << 10,
        table_size_target_bytes: 128 << 10,
        level1_bytes_max: 512 << 10,
        ..Options::default()
    };
    let fs: Arc<dyn vfs::Fs> = Arc::new(vfs::MemFs::new());
    let db = Db::open_with_fs(fs, "/db", opts).expect("open");
    let mut b = WriteBatch::new();
    for i in 0..N {
        b.put(key(i), "value-value-value");
        if b.len() == 1000 {
            db.write(std::mem::take(&mut b)).expect("write");
        }
    }
    db.flush().expect("flush");
    db.wait_idle().expect("idle");
    let levels = db.stats().levels.iter().filter(|l| l.files > 0).count();
    assert!(levels >= 2, "{:?}", db.stats().levels);
    db.delete_range(key(0)..key(N)).expect("delete_range");
    // In the memtable: no table read at all.
    let before = db.stats();
    for i in (0..N).step_by(997) {
        assert_eq!(db.get(&key(i)).expect("get"), None);
    }
    let after = db.stats();
    assert_eq!(after.tables_probed, before.tables_probed);
    // In an L0 table, above the levels holding the keys.
    db.flush().expect("flush");
    let before = db.stats();
    let mut gets = 0;
    for i in (0..N).step_by(997) {
        assert_eq!(db.get(&key(i)).expect("get"), None);
        gets += 1;
    }
    let after = db.stats();
    let per_get = (after.tables_probed - before.tables_probed) as f64 / f64::from(gets);
    assert!(per_get <= 1.0, "{per_get} tables per get");
    assert_eq!(db.iter().next().map(|r| r.is_ok()), None);
    assert_eq!(db.iter().next_back().map(|r| r.is_ok()), None);
    db.close().expect("close");
}

/// The one table file in `dir` and its bytes.
fn only_table(fs: &dyn vfs::Fs, dir: &Path) -> (PathBuf, Vec<u8>) {
    let name = fs
        .list_dir(dir)
        .expect("list")
        .into_iter()
        .find(|n| n.to_string_lossy().ends_with(".sst"))
        .expect("a table");
    let path = dir.join(name);
    let data = fs
        .open(&path, vfs::OpenMode::Read)
        .and_then(|f| f.map())
        .expect("read")
        .to_vec();
    (path, data)
}

/// Where the range-deletion section of table bytes `data` lies (its
/// properties block's tail): where its fragment bytes start, where its
/// CRC is, and where the properties block starts.
fn section(data: &[u8]) -> (usize, usize, usize) {
    let foot = data.len() - 64;
    let u64_at = |p: usize| u64::from_le_bytes(data[p..p + 8].try_into().expect("8"));
    let (off, size) = (u64_at(foot + 32) as usize, u64_at(foot + 40) as usize);
    assert_eq!(
        u32::from_le_bytes(data[foot + 48..foot + 52].try_into().expect("4")),
        2,
        "a table with range tombstones is version 2"
    );
    // The block body ends 5 bytes (the trailer) before the handle's end;
    // the section ends with its CRC, its fragments before that.
    let body_end = off + size - 5;
    let crc_at = body_end - 4;
    // The section's length field: the u32 n with n + 8 bytes left.
    let len_at = (off..crc_at)
        .find(|&p| {
            u32::from_le_bytes(data[p..p + 4].try_into().expect("4")) as usize + p + 8 == body_end
        })
        .expect("section length");
    (len_at + 4, crc_at, off)
}

/// `verify` reads the section again: damage after open is reported with
/// the table and the properties block's offset.
#[test]
fn verify_reports_damage_to_the_range_deletion_section() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), Options::default()).expect("open");
    db.put("a", "1").expect("put");
    db.delete_range("b".."m").expect("delete_range");
    db.flush().expect("flush");
    assert!(db.verify().expect("verify").is_clean());
    let (path, data) = only_table(&vfs::OsFs, dir.path());
    let (body_at, _, block_at) = section(&data);
    // One byte rewritten in place (the table stays mapped by the store).
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open table");
    std::os::unix::fs::FileExt::write_at(&f, &[data[body_at + 2] ^ 0x10], (body_at + 2) as u64)
        .expect("damage");
    let report = db.verify().expect("verify");
    assert!(!report.is_clean());
    match &report.problems[..] {
        [larder_lsm::Problem::Table { file, offset, .. }] => {
            assert_eq!(file, &path);
            assert_eq!(*offset, block_at as u64);
        }
        other => panic!("expected one table problem, got {other:?}"),
    }
    drop(db);
}

#[test]
fn damage_in_the_range_deletion_section_is_reported() {
    let mem = vfs::MemFs::new();
    let fs: Arc<dyn vfs::Fs> = Arc::new(mem.clone());
    let opts = Options::default();
    let db = Db::open_with_fs(Arc::clone(&fs), "/db", opts.clone()).expect("open");
    db.put("a", "1").expect("put");
    db.delete_range("b".."m").expect("delete_range");
    db.flush().expect("flush");
    let d = db.describe().expect("describe");
    let t = &d.levels[0].tables[0];
    assert_eq!(t.range_tombstones, 1);
    // The table's key range covers its tombstone (the end taken as
    // inclusive).
    assert_eq!(
        (&t.smallest_key[..], &t.largest_key[..]),
        (&b"a"[..], &b"m"[..])
    );
    assert!(db.verify().expect("verify").is_clean());
    db.close().expect("close");
    let (path, data) = only_table(&*fs, Path::new("/db"));
    let (body_at, crc_at, block_at) = section(&data);

    // A flipped bit: the block's checksum fails, at open.
    mem.flip_bit(&path, body_at as u64 + 2, 3).expect("flip");
    match Db::open_with_fs(Arc::clone(&fs), "/db", opts.clone()) {
        Err(Error::Corruption { file, offset, .. }) => {
            assert_eq!(file, path);
            assert_eq!(offset, block_at as u64);
        }
        other => panic!("expected corruption, got {:?}", other.map(|_| ())),
    }

    // The fragment count changed and both checksums made to match: the
    // section's own order checks refuse it.
    let mut bad = data.clone();
    bad[body_at] = 7;
    let crc = crc32fast::hash(&bad[body_at..crc_at]);
    bad[crc_at..crc_at + 4].copy_from_slice(&crc.to_le_bytes());
    let body_end = crc_at + 4;
    let mut h = crc32fast::Hasher::new();
    h.update(&bad[block_at..body_end + 1]);
    let crc = h.finalize();
    bad[body_end + 1..body_end + 5].copy_from_slice(&crc.to_le_bytes());
    let f = fs.open(&path, vfs::OpenMode::Truncate).expect("open table");
    f.append(&bad).expect("write");
    f.sync_data().expect("sync");
    match Db::open_with_fs(Arc::clone(&fs), "/db", opts) {
        Err(Error::Corruption { file, what, .. }) => {
            assert_eq!(file, path);
            assert!(what.starts_with("range-del"), "{what}");
        }
        other => panic!("expected corruption, got {:?}", other.map(|_| ())),
    }
}

/// One step of the model test.
#[derive(Clone, Debug)]
enum Op {
    Put(u32, u8),
    Delete(u32),
    DeleteRange(u32, u32),
    Get(u32),
    Scan(u32, u32, bool),
    Snapshot,
    CheckSnapshot,
    Flush,
    Compact,
    CompactRange(u32, u32),
}

/// Keys of the model test.
const KEYS: u32 = 400;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        16 => (0..KEYS, any::<u8>()).prop_map(|(k, v)| Op::Put(k, v)),
        2 => (0..KEYS).prop_map(Op::Delete),
        2 => (0..KEYS, 0..60u32).prop_map(|(a, n)| Op::DeleteRange(a, a + n)),
        3 => (0..KEYS).prop_map(Op::Get),
        2 => (0..KEYS, 0..120u32, any::<bool>()).prop_map(|(a, n, r)| Op::Scan(a, a + n, r)),
        1 => Just(Op::Snapshot),
        1 => Just(Op::CheckSnapshot),
        1 => Just(Op::Flush),
        1 => Just(Op::Compact),
        1 => (0..KEYS, 0..40u32).prop_map(|(a, n)| Op::CompactRange(a, a + n)),
    ]
}

fn value(k: u32, v: u8) -> Vec<u8> {
    // Every third value is long enough for a blob.
    let n = if v.is_multiple_of(3) { 48 } else { 16 };
    format!("{k}-{v}-{}", "x".repeat(n)).into_bytes()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn range_deletes_match_the_model(ops in prop::collection::vec(op(), 1..400)) {
        let fs: Arc<dyn vfs::Fs> = Arc::new(vfs::MemFs::new());
        let opts = Options {
            blob_threshold_bytes: Some(40),
            write_buffer_size_bytes: 1024,
            table_size_target_bytes: 512,
            level1_bytes_max: 2048,
            ..common::tiny_options()
        };
        let db = Db::open_with_fs(fs, "/db", opts).expect("open");
        let mut model = Model::new();
        let mut snaps: Vec<(larder_lsm::Snapshot, Model)> = Vec::new();
        for op in ops {
            match op {
                Op::Put(k, v) => {
                    db.put(key(k), value(k, v)).expect("put");
                    model.insert(key(k), value(k, v));
                }
                Op::Delete(k) => {
                    db.delete(key(k)).expect("delete");
                    model.remove(&key(k));
                }
                Op::DeleteRange(a, b) => {
                    db.delete_range(key(a)..key(b)).expect("delete_range");
                    model_delete_range(&mut model, &key(a), &key(b));
                }
                Op::Get(k) => {
                    prop_assert_eq!(
                        db.get(&key(k)).expect("get").map(|v| v.to_vec()),
                        model.get(&key(k)).cloned()
                    );
                }
                Op::Scan(a, b, rev) => {
                    let it = db.range(key(a)..key(b));
                    let got: Vec<(Vec<u8>, Vec<u8>)> = if rev {
                        common::collect(it.rev())
                    } else {
                        common::collect(it)
                    };
                    let mut want: Vec<(Vec<u8>, Vec<u8>)> = model
                        .range(key(a)..key(b))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    if rev {
                        want.reverse();
                    }
                    prop_assert_eq!(got, want);
                }
                Op::Snapshot => {
                    if snaps.len() == 3 {
                        snaps.remove(0);
                    }
                    snaps.push((db.snapshot(), model.clone()));
                }
                Op::CheckSnapshot => {
                    for (s, m) in &snaps {
                        let got: Model = s
                            .iter()
                            .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
                            .collect::<Result<_, _>>()
                            .expect("snapshot scan");
                        prop_assert_eq!(&got, m);
                        for k in (0..KEYS).step_by(7) {
                            prop_assert_eq!(
                                s.get(&key(k)).expect("get").map(|v| v.to_vec()),
                                m.get(&key(k)).cloned()
                            );
                        }
                    }
                }
                Op::Flush => db.flush().expect("flush"),
                Op::Compact => db.compact_range::<&[u8], _>(..).expect("compact"),
                Op::CompactRange(a, b) => db.compact_range(key(a)..key(b)).expect("compact"),
            }
        }
        prop_assert_eq!(contents(&db), model.clone());
        if std::env::var_os("RANGEDEL_DEBUG").is_some() {
            let d = db.describe().expect("describe");
            let per_level: Vec<(usize, u64)> = d.levels.iter().map(|l| (l.tables.len(), l.tables.iter().map(|t| t.range_tombstones).sum())).collect();
            eprintln!("levels {per_level:?}");
        }
        let rev: Vec<Vec<u8>> = db.iter().rev().map(|r| r.expect("it").0.to_vec()).collect();
        prop_assert_eq!(rev, model.keys().rev().cloned().collect::<Vec<_>>());
        db.wait_idle().expect("idle");
        prop_assert_eq!(contents(&db), model.clone());
        prop_assert!(db.verify().expect("verify").is_clean());
        drop(snaps);
        db.close().expect("close");
    }
}

/// A write of the crash workload: puts, deletes and range deletes.
#[derive(Clone, Debug)]
enum Write {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    Range(Vec<u8>, Vec<u8>),
}

fn apply(model: &mut Model, ws: &[Write]) {
    for w in ws {
        match w {
            Write::Put(k, v) => {
                model.insert(k.clone(), v.clone());
            }
            Write::Delete(k) => {
                model.remove(k);
            }
            Write::Range(a, b) => model_delete_range(model, a, b),
        }
    }
}

#[derive(Debug, Default)]
struct Outcome {
    acked: Vec<Vec<Write>>,
    in_flight: Option<Vec<Write>>,
}

fn crash_options() -> Options {
    Options {
        durability: Durability::Immediate,
        ..common::blob_churn_options()
    }
}

fn crash_workload(fs: Arc<dyn vfs::Fs>) -> Outcome {
    let mut out = Outcome::default();
    let Ok(db) = Db::open_with_fs(fs, "/db", crash_options()) else {
        return out;
    };
    for i in 0..60u32 {
        let ws = match i % 6 {
            4 => vec![Write::Range(key(i * 7 % 40), key(i * 7 % 40 + 6))],
            5 => vec![
                Write::Put(key(i % 40), b"batched".to_vec()),
                Write::Range(key((i + 9) % 40), key((i + 9) % 40 + 3)),
                Write::Delete(key((i + 20) % 40)),
            ],
            _ => vec![Write::Put(
                key(i * 3 % 40),
                format!("v{i}-{}", "y".repeat((i % 3) as usize * 25)).into_bytes(),
            )],
        };
        let mut b = WriteBatch::new();
        for w in &ws {
            match w {
                Write::Put(k, v) => b.put(k.clone(), v.clone()),
                Write::Delete(k) => b.delete(k.clone()),
                Write::Range(a, z) => b.delete_range(a.clone(), z.clone()),
            }
        }
        out.in_flight = Some(ws.clone());
        if db.write(b).is_err() {
            return out;
        }
        out.acked.push(ws);
        out.in_flight = None;
        let r = match i {
            20 | 40 => db.flush(),
            50 => db.compact_range::<&[u8], _>(..),
            _ => Ok(()),
        };
        if r.is_err() {
            return out;
        }
    }
    let _ = db.wait_idle();
    let _ = db.close();
    out
}

#[test]
fn power_loss_at_every_sync_point_keeps_range_deletes_whole() {
    let opts = ExploreOptions::default();
    let report = explore(&opts, crash_workload, |point, disk, outcome| {
        let db = Db::open_with_fs(Arc::new(disk), "/db", crash_options())
            .unwrap_or_else(|e| panic!("{point:?}: recovery failed: {e}"));
        let mut before = Model::new();
        for ws in &outcome.acked {
            apply(&mut before, ws);
        }
        let mut after = before.clone();
        if let Some(ws) = &outcome.in_flight {
            apply(&mut after, ws);
        }
        let got = contents(&db);
        assert!(
            got == before || got == after,
            "{point:?}: recovered state is neither the acknowledged writes nor them plus the one in flight"
        );
        for k in 0..46 {
            assert_eq!(
                db.get(&key(k)).expect("get").map(|v| v.to_vec()),
                got.get(&key(k)).cloned(),
                "{point:?}"
            );
        }
        let _ = db.close();
    });
    assert!(report.syncs > 60, "{report:?}");
}

/// Large values a range delete covers become blob garbage once compaction
/// drops them, as point deletes' do, and their blob files go.
#[test]
fn values_dropped_under_a_range_delete_free_their_blobs() {
    let fs: Arc<dyn vfs::Fs> = Arc::new(vfs::MemFs::new());
    let opts = Options {
        blob_threshold_bytes: Some(100),
        l0_compaction_trigger: 1000,
        l0_slowdown_trigger: 1000,
        l0_stop_trigger: 1000,
        ..common::tiny_options()
    };
    let db = Db::open_with_fs(Arc::clone(&fs), "/db", opts).expect("open");
    for i in 0..60 {
        db.put(key(i), vec![b'v'; 500]).expect("put");
    }
    db.put("small", "kept").expect("put");
    db.flush().expect("flush");
    let before = db.stats();
    assert!(before.blob_live_bytes >= 60 * 500, "{before:?}");
    db.delete_range(key(0)..key(60)).expect("delete_range");
    db.flush().expect("flush");
    db.compact_range::<&[u8], _>(..).expect("compact");
    db.wait_idle().expect("idle");
    let after = db.stats();
    assert_eq!(after.blob_live_bytes, 0, "{after:?}");
    assert_eq!(
        after.blob_files,
        common::blob_files_on_disk(&*fs),
        "{after:?}"
    );
    assert_eq!(
        contents(&db),
        Model::from([(b"small".to_vec(), b"kept".to_vec())])
    );
    db.close().expect("close");
}

/// A checkpoint copies range tombstones in tables and in the log alike;
/// `prefix` iterates around them in both directions.
#[test]
fn checkpoints_and_prefix_scans_keep_range_deletes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path().join("db"), common::tiny_options()).expect("open");
    let mut model = Model::new();
    for i in 0..200 {
        db.put(key(i), format!("v{i}")).expect("put");
        model.insert(key(i), format!("v{i}").into_bytes());
    }
    db.delete_range(key(10)..key(90)).expect("delete_range");
    model_delete_range(&mut model, &key(10), &key(90));
    db.flush().expect("flush");
    db.delete_range(key(150)..key(160)).expect("delete_range");
    model_delete_range(&mut model, &key(150), &key(160));
    db.checkpoint(&dir.path().join("copy")).expect("checkpoint");
    db.close().expect("close");
    let copy = Db::open(dir.path().join("copy"), common::tiny_options()).expect("open copy");
    assert_eq!(contents(&copy), model);
    let want: Vec<Vec<u8>> = model
        .keys()
        .filter(|k| k.starts_with(b"k0001"))
        .cloned()
        .collect();
    let fwd: Vec<Vec<u8>> = copy
        .prefix(b"k0001")
        .map(|r| r.expect("scan").0.to_vec())
        .collect();
    assert_eq!(fwd, want);
    let back: Vec<Vec<u8>> = copy
        .prefix(b"k0001")
        .rev()
        .map(|r| r.expect("scan").0.to_vec())
        .collect();
    assert_eq!(back, want.iter().rev().cloned().collect::<Vec<_>>());
    copy.close().expect("close");
}

/// Block lookups of tables on an object store (the memory cache's hits
/// and misses count every one).
fn block_lookups(db: &Db) -> u64 {
    let s = db.stats().table_store;
    s.memory_cache_hits + s.memory_cache_misses
}

/// Scans and gets over a deleted range do not read the blocks beneath it:
/// with tables on an object store, where every block lookup is counted, a
/// scan of the whole store in either direction reads a handful of the
/// 1,800 blocks the deleted range spans (19 in each direction when this
/// was written), and gets under it none, with the tombstone in the
/// memtable and in a table.
#[test]
fn scans_and_gets_over_a_deleted_range_read_few_blocks() {
    const N: u32 = 20_000;
    let store: Arc<dyn objstore::Store> = Arc::new(objstore::MemStore::new());
    let opts = Options {
        table_store: Some(store),
        block_size_bytes: 256,
        write_buffer_size_bytes: 256 << 10,
        ..Options::default()
    };
    let fs: Arc<dyn vfs::Fs> = Arc::new(vfs::MemFs::new());
    let db = Db::open_with_fs(fs, "/db", opts).expect("open");
    let mut b = WriteBatch::new();
    for i in 0..N {
        b.put(key(i), format!("value-{i}"));
        if b.len() == 1000 {
            db.write(std::mem::take(&mut b)).expect("write");
        }
    }
    db.flush().expect("flush");
    db.wait_idle().expect("idle");
    let blocks: u64 = db
        .describe()
        .expect("describe")
        .levels
        .iter()
        .flat_map(|l| &l.tables)
        .map(|t| t.blocks)
        .sum();
    assert!(blocks >= 1000, "{blocks} blocks");
    db.delete_range(key(100)..key(N - 100))
        .expect("delete_range");
    for flushed in [false, true] {
        if flushed {
            db.flush().expect("flush");
        }
        let before = block_lookups(&db);
        assert_eq!(db.iter().count(), 200);
        let forward = block_lookups(&db) - before;
        let before = block_lookups(&db);
        assert_eq!(db.iter().rev().count(), 200);
        let backward = block_lookups(&db) - before;
        let before = block_lookups(&db);
        for i in (100..N - 100).step_by(97) {
            assert_eq!(db.get(&key(i)).expect("get"), None);
        }
        let gets = block_lookups(&db) - before;
        // The 200 live keys take a few blocks at each end of the range.
        assert!(
            forward <= 40 && backward <= 40 && gets == 0,
            "flushed {flushed}: {forward} and {backward} blocks per scan, {gets} for the gets, of {blocks}"
        );
    }
    db.close().expect("close");
}
