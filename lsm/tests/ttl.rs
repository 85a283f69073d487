//! Time to live (`Options::ttl`) with a manual clock: expired entries are
//! invisible to every read at once and dropped by compaction, never let an
//! older version resurface, survive the log and reopens with their write
//! time, expire in blob files too (and blob GC frees them), and a store
//! holding timed entries keeps its golden bytes. A model test drives it all
//! with small buffers; a crash test cuts power at every sync point.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::golden::{assert_golden, store_files};
use larder_lsm::{Db, ManualClock, Options, WriteBatch};
use proptest::prelude::*;
use vfs::MemFs;

const TTL: Duration = Duration::from_secs(10);
const START: Duration = Duration::from_secs(1_700_000_000);

fn ttl_options(clock: &Arc<ManualClock>) -> Options {
    Options {
        ttl: Some(TTL),
        clock: clock.clone(),
        ..common::tiny_options()
    }
}

fn open(fs: &MemFs, opts: Options) -> Db {
    Db::open_with_fs(Arc::new(fs.clone()), "/db", opts).expect("open")
}

fn scan(it: larder_lsm::DbIter) -> Vec<(Vec<u8>, Vec<u8>)> {
    common::collect(it)
}

fn scan_back(it: larder_lsm::DbIter) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut v = common::collect(it.rev());
    v.reverse();
    v
}

fn pairs(p: &[(&str, &str)]) -> Vec<(Vec<u8>, Vec<u8>)> {
    p.iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

fn entries(db: &Db) -> u64 {
    db.stats().levels.iter().map(|l| l.entries).sum()
}

#[test]
fn expired_entries_vanish_from_every_read_at_once() {
    let clock = ManualClock::new(START);
    let fs = MemFs::new();
    let db = open(&fs, ttl_options(&clock));
    db.put("a", "1").expect("put");
    clock.advance(Duration::from_secs(5));
    db.put("b", "2").expect("put");
    let snap = db.snapshot();
    let mut txn = db.transaction().expect("txn");
    assert_eq!(scan(db.iter()), pairs(&[("a", "1"), ("b", "2")]));
    // 10 s after "a" was written: it is gone everywhere, "b" is not.
    clock.advance(Duration::from_secs(5));
    assert_eq!(db.get(b"a").expect("get"), None);
    assert_eq!(snap.get(b"a").expect("get"), None);
    assert_eq!(txn.get(b"a").expect("get"), None);
    assert_eq!(txn.get(b"b").expect("get").as_deref(), Some(&b"2"[..]));
    assert_eq!(scan(db.iter()), pairs(&[("b", "2")]));
    assert_eq!(scan_back(db.iter()), pairs(&[("b", "2")]));
    assert_eq!(scan(snap.iter()), pairs(&[("b", "2")]));
    assert_eq!(scan_back(snap.iter()), pairs(&[("b", "2")]));
    // The same from tables.
    db.flush().expect("flush");
    assert_eq!(db.get(b"a").expect("get"), None);
    assert_eq!(scan_back(db.iter()), pairs(&[("b", "2")]));
    clock.advance(Duration::from_secs(5));
    assert_eq!(db.get(b"b").expect("get"), None);
    assert_eq!(scan(db.iter()), Vec::new());
    assert_eq!(scan(snap.iter()), Vec::new());
    drop(txn);
    drop(snap);
    // Deletes and rewrites behave as without TTL; a rewrite restarts the
    // clock of its key.
    db.put("c", "3").expect("put");
    clock.advance(Duration::from_secs(9));
    db.put("c", "4").expect("put");
    db.delete("d").expect("delete");
    clock.advance(Duration::from_secs(9));
    assert_eq!(db.get(b"c").expect("get").as_deref(), Some(&b"4"[..]));
    db.close().expect("close");
}

#[test]
fn compaction_drops_expired_entries_and_blob_gc_frees_their_values() {
    let clock = ManualClock::new(START);
    let fs = MemFs::new();
    let opts = Options {
        blob_threshold_bytes: Some(40),
        blob_gc_ratio: 0.2,
        ..ttl_options(&clock)
    };
    let db = open(&fs, opts.clone());
    let big = |i: u32| format!("{i:04}-{}", "v".repeat(60));
    for i in 0..100u32 {
        db.put(format!("old{i:03}"), big(i)).expect("put");
    }
    clock.advance(Duration::from_secs(6));
    for i in 0..20u32 {
        db.put(format!("new{i:03}"), format!("small{i}"))
            .expect("put");
    }
    db.flush().expect("flush");
    db.compact_range::<&[u8], _>(..).expect("compact");
    db.wait_idle().expect("idle");
    assert_eq!(entries(&db), 120);
    assert!(db.stats().blob_live_bytes > 0);
    // The big values expire; compaction drops them (nothing deeper can
    // hold their keys, so not even a tombstone stays) and the blob
    // files, all garbage now, are collected.
    clock.advance(Duration::from_secs(5));
    assert_eq!(scan(db.prefix(b"old")), Vec::new());
    let report = db.verify().expect("verify");
    assert_eq!((report.timed_entries, report.expired_entries), (120, 100));
    db.compact_range::<&[u8], _>(..).expect("compact");
    db.wait_idle().expect("idle");
    let st = db.stats();
    assert_eq!(entries(&db), 20, "{st:?}");
    assert_eq!(st.blob_live_bytes, 0, "{st:?}");
    assert_eq!(st.blob_files, 0, "{st:?}");
    let report = db.verify().expect("verify");
    assert_eq!((report.timed_entries, report.expired_entries), (20, 0));
    assert_eq!(common::blob_files_on_disk(&fs), 0);
    assert_eq!(scan(db.iter()).len(), 20);
    db.close().expect("close");
}

#[test]
fn timed_blob_values_read_back_until_they_expire() {
    let clock = ManualClock::new(START);
    let fs = MemFs::new();
    let opts = Options {
        blob_threshold_bytes: Some(40),
        ..ttl_options(&clock)
    };
    let db = open(&fs, opts.clone());
    let big = "b".repeat(100);
    db.put("k", big.clone()).expect("put");
    db.flush().expect("flush");
    assert!(db.stats().blob_bytes > 0);
    assert_eq!(db.get(b"k").expect("get").as_deref(), Some(big.as_bytes()));
    assert_eq!(scan_back(db.iter()), pairs(&[("k", &big)]));
    let report = db.verify().expect("verify");
    assert!(report.is_clean(), "{report:?}");
    clock.advance(TTL);
    assert_eq!(db.get(b"k").expect("get"), None);
    db.close().expect("close");
}

/// A newer version expiring before an older one (TTL enabled on a store
/// whose entries have no time, or raised across reopens) reads and
/// compacts as a tombstone: the older version never comes back.
#[test]
fn an_expired_version_never_uncovers_an_older_one() {
    let clock = ManualClock::new(START);
    let fs = MemFs::new();
    let plain = Options {
        clock: clock.clone(),
        ..common::tiny_options()
    };
    // Written without TTL: never expires.
    let db = open(&fs, plain.clone());
    db.put("k", "untimed").expect("put");
    db.put("keep", "forever").expect("put");
    db.flush().expect("flush");
    db.compact_range::<&[u8], _>(..).expect("compact");
    db.close().expect("close");
    // TTL enabled on the existing store; a new version of "k" expires.
    let db = open(&fs, ttl_options(&clock));
    db.put("k", "timed").expect("put");
    clock.advance(TTL);
    assert_eq!(db.get(b"k").expect("get"), None);
    assert_eq!(
        db.get(b"keep").expect("get").as_deref(),
        Some(&b"forever"[..])
    );
    db.flush().expect("flush");
    assert_eq!(db.get(b"k").expect("get"), None);
    assert_eq!(scan(db.iter()), pairs(&[("keep", "forever")]));
    db.compact_range::<&[u8], _>(..).expect("compact");
    db.wait_idle().expect("idle");
    assert_eq!(scan(db.iter()), pairs(&[("keep", "forever")]));
    assert_eq!(scan_back(db.iter()), pairs(&[("keep", "forever")]));
    db.close().expect("close");
    // With TTL disabled, what compaction dropped stays dropped.
    let db = open(&fs, plain);
    assert_eq!(scan(db.iter()), pairs(&[("keep", "forever")]));
    db.close().expect("close");
}

/// A wall clock that steps back makes a newer version older than the one
/// it replaced: it expires first, and reads and compaction still never
/// show the older one.
#[test]
fn a_clock_stepping_back_never_uncovers_an_older_version() {
    let clock = ManualClock::new(START + Duration::from_secs(60));
    let fs = MemFs::new();
    let db = open(&fs, ttl_options(&clock));
    db.put("k", "first").expect("put");
    db.flush().expect("flush");
    db.compact_range::<&[u8], _>(..).expect("compact");
    clock.set(START);
    db.put("k", "second").expect("put");
    db.flush().expect("flush");
    // "second" (written at START) expires at START + 10 s, "first" at
    // START + 70 s.
    clock.set(START + TTL);
    assert_eq!(db.get(b"k").expect("get"), None);
    assert_eq!(scan_back(db.iter()), Vec::new());
    // Compaction turns "second" into a tombstone over "first", or drops
    // both: either way "first" stays hidden.
    db.compact_range::<&[u8], _>(..).expect("compact");
    db.wait_idle().expect("idle");
    assert_eq!(db.get(b"k").expect("get"), None);
    assert_eq!(scan(db.iter()), Vec::new());
    db.close().expect("close");
}

/// Disabling TTL makes every timed entry compaction has not dropped yet
/// visible again, lowering it hides more, and enabling it again applies
/// the new TTL to the original write times (not to the reopen's time).
#[test]
fn changing_the_ttl_across_reopens_judges_the_original_write_times() {
    let clock = ManualClock::new(START);
    let fs = MemFs::new();
    let db = open(&fs, ttl_options(&clock));
    db.put("a", "1").expect("put");
    clock.advance(Duration::from_secs(4));
    db.put("b", "2").expect("put");
    // "a" stays in the log, "b" too: recovery replays their times.
    drop(db);
    clock.advance(Duration::from_secs(4));
    let db = open(
        &fs,
        Options {
            ttl: Some(Duration::from_secs(6)),
            ..ttl_options(&clock)
        },
    );
    assert_eq!(scan(db.iter()), pairs(&[("b", "2")]));
    db.close().expect("close");
    let db = open(
        &fs,
        Options {
            ttl: None,
            ..ttl_options(&clock)
        },
    );
    assert_eq!(scan(db.iter()), pairs(&[("a", "1"), ("b", "2")]));
    // Written without TTL: never expires, whatever TTL a later open sets.
    db.put("c", "3").expect("put");
    db.flush().expect("flush");
    db.close().expect("close");
    // Back at 10 s: "a" (written at 0 s) expires at 10 s, "b" at 14 s.
    let db = open(&fs, ttl_options(&clock));
    assert_eq!(
        scan(db.iter()),
        pairs(&[("a", "1"), ("b", "2"), ("c", "3")])
    );
    clock.advance(Duration::from_secs(2));
    assert_eq!(scan(db.iter()), pairs(&[("b", "2"), ("c", "3")]));
    clock.advance(Duration::from_secs(100));
    assert_eq!(scan_back(db.iter()), pairs(&[("c", "3")]));
    db.close().expect("close");
}

#[test]
fn a_zero_ttl_is_refused() {
    let fs = MemFs::new();
    let r = Db::open_with_fs(
        Arc::new(fs),
        "/db",
        Options {
            ttl: Some(Duration::ZERO),
            ..Options::default()
        },
    );
    assert!(
        matches!(r, Err(larder_lsm::Error::InvalidOption(m)) if m.contains("ttl")),
        "{r:?}"
    );
}

// ---- Golden files: timed entries (kinds 5 and 6) pinned byte for byte.

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden_ttl")
}

/// Values of 6 bytes or more go to blobs (timed references, kind 6),
/// shorter ones stay inline (timed values, kind 5); the clock stands
/// still, so the write times are fixed.
fn golden_opts(clock: &Arc<ManualClock>) -> Options {
    Options {
        compression: false,
        blob_threshold_bytes: Some(6),
        ttl: Some(TTL),
        clock: clock.clone(),
        ..Options::default()
    }
}

/// A table (flushed: two timed values, one in a blob, and a tombstone) and
/// a log (a timed put and an untimed delete).
fn golden_workload(fs: &MemFs) {
    let clock = ManualClock::new(START);
    let db = open(fs, golden_opts(&clock));
    db.put("apple", "red").expect("put");
    db.put("banana", "yellow").expect("put");
    db.delete("cherry").expect("delete");
    db.flush().expect("flush");
    clock.advance(Duration::from_secs(3));
    db.put("date", "brown").expect("put");
    db.delete("apple").expect("delete");
    db.close().expect("close");
}

#[test]
fn timed_entries_match_golden_files_byte_for_byte() {
    let fs = MemFs::new();
    golden_workload(&fs);
    assert_golden(&store_files(&fs), &golden_dir());
}

#[test]
fn golden_files_with_timed_entries_open_and_expire() {
    let fs = common::golden::golden_disk(&golden_dir());
    let clock = ManualClock::new(START + Duration::from_secs(5));
    let db = open(&fs, golden_opts(&clock));
    let want = pairs(&[("banana", "yellow"), ("date", "brown")]);
    assert_eq!(scan(db.iter()), want);
    // Banana was written at START, date 3 s later.
    clock.set(START + TTL);
    assert_eq!(scan(db.iter()), pairs(&[("date", "brown")]));
    clock.set(START + TTL + Duration::from_secs(3));
    assert_eq!(scan(db.iter()), Vec::new());
    drop(db);
    // Without TTL nothing expires.
    let db = open(
        &fs,
        Options {
            ttl: None,
            ..golden_opts(&clock)
        },
    );
    assert_eq!(scan(db.iter()), want);
}

// ---- The model: key -> (value, write time), with snapshots and reopens.

#[derive(Clone, Debug)]
enum Op {
    Put(u8, u16),
    Delete(u8),
    Get(u8),
    Scan(bool),
    Advance(u16),
    Flush,
    Compact,
    Snapshot,
    CheckSnapshot,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0u8..24, any::<u16>()).prop_map(|(k, v)| Op::Put(k, v)),
        2 => (0u8..24).prop_map(Op::Delete),
        3 => (0u8..24).prop_map(Op::Get),
        2 => any::<bool>().prop_map(Op::Scan),
        3 => (0u16..4000).prop_map(Op::Advance),
        1 => Just(Op::Flush),
        1 => Just(Op::Compact),
        1 => Just(Op::Snapshot),
        1 => Just(Op::CheckSnapshot),
        1 => Just(Op::Reopen),
    ]
}

const MODEL_TTL_MS: u64 = 5000;

type Model = BTreeMap<Vec<u8>, (Vec<u8>, u64)>;

fn model_key(k: u8) -> Vec<u8> {
    format!("key{k:02}").into_bytes()
}

/// Every fourth value goes to a blob.
fn model_value(k: u8, v: u16) -> Vec<u8> {
    let pad = if v.is_multiple_of(4) { 50 } else { 0 };
    format!("{k}-{v}-{}", "p".repeat(pad)).into_bytes()
}

fn live(model: &Model, now_ms: u64) -> Vec<(Vec<u8>, Vec<u8>)> {
    model
        .iter()
        .filter(|(_, (_, t))| t + MODEL_TTL_MS > now_ms)
        .map(|(k, (v, _))| (k.clone(), v.clone()))
        .collect()
}

fn run_model(ops: &[Op]) {
    let clock = ManualClock::new(START);
    let mut now_ms = START.as_millis() as u64;
    let fs = MemFs::new();
    let opts = Options {
        ttl: Some(Duration::from_millis(MODEL_TTL_MS)),
        clock: clock.clone(),
        blob_threshold_bytes: Some(40),
        blob_gc_ratio: 0.2,
        ..common::tiny_options()
    };
    let mut db = open(&fs, opts.clone());
    let mut model = Model::new();
    let mut snap: Option<(larder_lsm::Snapshot, Model)> = None;
    for (i, op) in ops.iter().enumerate() {
        match op {
            Op::Put(k, v) => {
                let mut b = WriteBatch::new();
                b.put(model_key(*k), model_value(*k, *v));
                db.write(b).expect("put");
                model.insert(model_key(*k), (model_value(*k, *v), now_ms));
            }
            Op::Delete(k) => {
                db.delete(model_key(*k)).expect("delete");
                model.remove(&model_key(*k));
            }
            Op::Get(k) => {
                let want = model
                    .get(&model_key(*k))
                    .filter(|(_, t)| t + MODEL_TTL_MS > now_ms)
                    .map(|(v, _)| v.clone());
                let got = db.get(&model_key(*k)).expect("get").map(|v| v.to_vec());
                assert_eq!(got, want, "op {i}: get {k}");
            }
            Op::Scan(back) => {
                let got = if *back {
                    scan_back(db.iter())
                } else {
                    scan(db.iter())
                };
                common::assert_same(&got, &live(&model, now_ms), &format!("op {i}: scan"));
            }
            Op::Advance(ms) => {
                clock.advance(Duration::from_millis(u64::from(*ms)));
                now_ms += u64::from(*ms);
            }
            Op::Flush => db.flush().expect("flush"),
            Op::Compact => db.compact_range::<&[u8], _>(..).expect("compact"),
            Op::Snapshot => snap = Some((db.snapshot(), model.clone())),
            Op::CheckSnapshot => {
                if let Some((s, m)) = &snap {
                    let want = live(m, now_ms);
                    common::assert_same(&scan(s.iter()), &want, &format!("op {i}: snapshot"));
                    common::assert_same(
                        &scan_back(s.iter()),
                        &want,
                        &format!("op {i}: snapshot backwards"),
                    );
                }
            }
            Op::Reopen => {
                snap = None;
                db.close().expect("close");
                db = open(&fs, opts.clone());
            }
        }
    }
    db.wait_idle().expect("idle");
    common::assert_same(&scan(db.iter()), &live(&model, now_ms), "end");
    let report = db.verify().expect("verify");
    assert!(report.is_clean(), "{report:?}");
    drop(snap);
    db.close().expect("close");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn ttl_matches_the_model(ops in proptest::collection::vec(op(), 1..160)) {
        run_model(&ops);
    }
}

// ---- Power loss at every sync point of a TTL workload.

/// A write of the crash workload: key, value (`None`: a delete), time.
type Write = (Vec<u8>, Option<Vec<u8>>, u64);

/// What the crash workload knows: the writes acknowledged (every write
/// syncs) and the one in flight.
#[derive(Debug, Default)]
struct Outcome {
    acked: Vec<Write>,
    in_flight: Option<Write>,
    /// The clock when the workload stopped: a compaction may have dropped
    /// whatever had expired by then.
    stop_ms: u64,
}

/// Where the crash workload's clock starts; it advances 100 ms a write.
fn crash_clock() -> Arc<ManualClock> {
    ManualClock::new(START)
}

fn crash_options(clock: &Arc<ManualClock>) -> Options {
    Options {
        ttl: Some(Duration::from_millis(2500)),
        clock: clock.clone(),
        ..common::blob_churn_options()
    }
}

fn crash_workload(fs: Arc<dyn vfs::Fs>) -> Outcome {
    let clock = crash_clock();
    let mut out = crash_workload_on(fs, &clock);
    out.stop_ms = clock.now_ms();
    out
}

fn crash_workload_on(fs: Arc<dyn vfs::Fs>, clock: &Arc<ManualClock>) -> Outcome {
    let mut out = Outcome::default();
    let Ok(db) = Db::open_with_fs(fs, "/db", crash_options(clock)) else {
        return out;
    };
    for i in 0..80u32 {
        let k = format!("key{:02}", (i * 7) % 30).into_bytes();
        let v = (i % 9 != 4)
            .then(|| format!("v{i}-{}", "x".repeat((i % 3) as usize * 30)).into_bytes());
        let t = clock.now_ms();
        out.in_flight = Some((k.clone(), v.clone(), t));
        let r = match &v {
            Some(v) => db.put(k.clone(), v.clone()),
            None => db.delete(k.clone()),
        };
        if r.is_err() {
            return out;
        }
        out.acked.push((k, v, t));
        out.in_flight = None;
        clock.advance(Duration::from_millis(100));
        let r = match i {
            25 | 50 => db.flush(),
            65 => db.compact_range::<&[u8], _>(..),
            79 => db.flush(),
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

trait NowMs {
    fn now_ms(&self) -> u64;
}

impl NowMs for Arc<ManualClock> {
    fn now_ms(&self) -> u64 {
        use larder_lsm::Clock;
        self.now().as_millis() as u64
    }
}

fn expected(writes: &[Write], now_ms: u64) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut m: BTreeMap<Vec<u8>, (Vec<u8>, u64)> = BTreeMap::new();
    for (k, v, t) in writes {
        match v {
            Some(v) => {
                m.insert(k.clone(), (v.clone(), *t));
            }
            None => {
                m.remove(k);
            }
        }
    }
    m.into_iter()
        .filter(|(_, (_, t))| t + 2500 > now_ms)
        .map(|(k, (v, _))| (k, v))
        .collect()
}

#[test]
fn power_loss_at_every_sync_point_of_a_ttl_workload_keeps_synced_writes_and_times() {
    let report = vfs::crash_test::explore(
        &vfs::crash_test::ExploreOptions::default(),
        crash_workload,
        |point, disk, outcome| {
            // Reopen at the time the workload stopped, then later: the
            // recovered entries expire by their original write times.
            let clock = crash_clock();
            let stop_ms = outcome.stop_ms;
            let fs: Arc<dyn vfs::Fs> = Arc::new(disk);
            for later in [0u64, 1000, 3000] {
                clock.set(Duration::from_millis(stop_ms + later));
                let db = Db::open_with_fs(Arc::clone(&fs), "/db", crash_options(&clock))
                    .unwrap_or_else(|e| panic!("{point:?}: recovery failed: {e}"));
                let got: BTreeMap<Vec<u8>, Vec<u8>> = db
                    .iter()
                    .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).expect("scan"))
                    .collect();
                let before = expected(&outcome.acked, stop_ms + later);
                let mut with = outcome.acked.clone();
                with.extend(outcome.in_flight.clone());
                let after = expected(&with, stop_ms + later);
                assert!(
                    got == before || got == after,
                    "{point:?} (+{later} ms): got {got:?}\nwant {before:?}"
                );
                for (k, v) in &got {
                    assert_eq!(db.get(k).expect("get").as_deref(), Some(v.as_slice()));
                }
                db.close().expect("close");
            }
        },
    );
    assert!(report.syncs > 80, "{report:?}");
}
