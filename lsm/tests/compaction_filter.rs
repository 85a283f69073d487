//! Compaction filters (`Options::compaction_filter`): compaction drops and
//! rewrites the entries the filter says, inline and in blobs, never touches
//! what a live snapshot sees, never lets an older version resurface, and a
//! filter that panics stops the engine with the panic's message.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use larder_lsm::{CompactionFilter, Db, Decision, Options};
use vfs::MemFs;

/// Removes values `"remove"`, upper-cases values starting with `"up:"`,
/// replaces values `"grow"` with 100 bytes, keeps the rest. Keys starting
/// with `"blobkey-drop"` are removed without reading their blob.
#[derive(Debug, Default)]
struct Rules {
    calls: AtomicU64,
    blob_key_calls: AtomicU64,
}

impl CompactionFilter for Rules {
    fn name(&self) -> &str {
        "rules"
    }

    fn filter(&self, _level: usize, _key: &[u8], value: &[u8]) -> Decision {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if value == b"remove" {
            Decision::Remove
        } else if let Some(rest) = value.strip_prefix(b"up:") {
            Decision::ChangeValue(Bytes::from(rest.to_ascii_uppercase()))
        } else if value == b"grow" {
            Decision::ChangeValue(Bytes::from(vec![b'g'; 100]))
        } else {
            Decision::Keep
        }
    }

    fn filter_blob_by_key(&self, _level: usize, key: &[u8]) -> Option<Decision> {
        self.blob_key_calls.fetch_add(1, Ordering::Relaxed);
        key.starts_with(b"blobkey-drop").then_some(Decision::Remove)
    }
}

fn open(fs: &MemFs, filter: Arc<dyn CompactionFilter>) -> Db {
    let opts = Options {
        compaction_filter: Some(filter),
        blob_threshold_bytes: Some(40),
        ..common::tiny_options()
    };
    Db::open_with_fs(Arc::new(fs.clone()), "/db", opts).expect("open")
}

fn contents(db: &Db) -> BTreeMap<Vec<u8>, Vec<u8>> {
    common::collect(db.iter()).into_iter().collect()
}

fn compact(db: &Db) {
    db.flush().expect("flush");
    db.compact_range::<&[u8], _>(..).expect("compact");
    db.wait_idle().expect("idle");
}

#[test]
fn compaction_removes_and_rewrites_what_the_filter_says() {
    let fs = MemFs::new();
    let rules = Arc::new(Rules::default());
    let db = open(&fs, rules.clone());
    db.put("a", "keep").expect("put");
    db.put("b", "remove").expect("put");
    db.put("c", "up:shout").expect("put");
    db.put("d", "grow").expect("put");
    db.put("blobkey-drop-1", "x".repeat(60)).expect("put");
    db.put("blobkey-keep", "remove").expect("put");
    db.put("blobkey-big", "y".repeat(60)).expect("put");
    // Before compaction the filter has not run: reads see every value.
    assert_eq!(db.get(b"b").expect("get").as_deref(), Some(&b"remove"[..]));
    compact(&db);
    assert!(rules.calls.load(Ordering::Relaxed) > 0);
    assert!(rules.blob_key_calls.load(Ordering::Relaxed) >= 2);
    let got = contents(&db);
    let want: BTreeMap<Vec<u8>, Vec<u8>> = [
        (&b"a"[..], b"keep".to_vec()),
        (b"blobkey-big", vec![b'y'; 60]),
        (b"c", b"SHOUT".to_vec()),
        (b"d", vec![b'g'; 100]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_vec(), v))
    .collect();
    assert_eq!(got, want);
    // "blobkey-keep" held an inline "remove": gone. The grown value went
    // to a blob (the threshold applies to changed values).
    assert!(db.stats().blob_live_bytes >= 160, "{:?}", db.stats());
    let report = db.verify().expect("verify");
    assert!(report.is_clean(), "{report:?}");
    db.close().expect("close");
    // Reopened: the same.
    let db = open(&fs, rules);
    assert_eq!(contents(&db), want);
}

/// A key removed by the filter while an older version lies deeper stays
/// removed: the filter's tombstone covers it until both meet.
#[test]
fn a_removed_key_never_uncovers_an_older_version() {
    let fs = MemFs::new();
    let db = open(&fs, Arc::new(Rules::default()));
    for i in 0..200u32 {
        db.put(format!("k{i:03}"), format!("old{i}")).expect("put");
    }
    compact(&db);
    // Newer versions, some to be removed, land in L0 and are compacted
    // into L1 over the old ones in deeper levels.
    for i in 0..200u32 {
        let v = if i % 3 == 0 { "remove" } else { "new" };
        db.put(format!("k{i:03}"), v).expect("put");
        if i % 50 == 49 {
            db.flush().expect("flush");
        }
    }
    db.wait_idle().expect("idle");
    let check = |db: &Db| {
        for i in 0..200u32 {
            let got = db.get(format!("k{i:03}").as_bytes()).expect("get");
            if i % 3 == 0 {
                // Either not compacted yet ("remove") or removed: never old.
                assert!(
                    got.as_deref() == Some(&b"remove"[..]) || got.is_none(),
                    "k{i:03}: {got:?}"
                );
            } else {
                assert_eq!(got.as_deref(), Some(&b"new"[..]), "k{i:03}");
            }
        }
    };
    check(&db);
    compact(&db);
    check(&db);
    assert_eq!(contents(&db).len(), 133);
    db.close().expect("close");
}

#[test]
fn entries_a_live_snapshot_sees_are_never_filtered() {
    let fs = MemFs::new();
    let rules = Arc::new(Rules::default());
    let db = open(&fs, rules.clone());
    db.put("a", "remove").expect("put");
    db.put("b", "up:x").expect("put");
    let snap = db.snapshot();
    db.put("c", "remove").expect("put");
    compact(&db);
    assert_eq!(
        snap.get(b"a").expect("get").as_deref(),
        Some(&b"remove"[..])
    );
    assert_eq!(snap.get(b"b").expect("get").as_deref(), Some(&b"up:x"[..]));
    assert_eq!(db.get(b"a").expect("get").as_deref(), Some(&b"remove"[..]));
    // Written after the snapshot: filtered.
    assert_eq!(db.get(b"c").expect("get"), None);
    assert_eq!(snap.get(b"c").expect("get"), None);
    drop(snap);
    // A transaction's snapshot protects too.
    let mut txn = db.transaction().expect("txn");
    compact(&db);
    assert_eq!(txn.get(b"a").expect("get").as_deref(), Some(&b"remove"[..]));
    drop(txn);
    compact(&db);
    assert_eq!(db.get(b"a").expect("get"), None);
    assert_eq!(db.get(b"b").expect("get").as_deref(), Some(&b"X"[..]));
    db.close().expect("close");
}

#[derive(Debug)]
struct Panics;

impl CompactionFilter for Panics {
    fn filter(&self, _level: usize, key: &[u8], _value: &[u8]) -> Decision {
        if key == b"boom" {
            panic!("filter bug on boom");
        }
        Decision::Keep
    }
}

#[test]
fn a_panicking_filter_stops_the_engine_with_its_message() {
    let fs = MemFs::new();
    let db = open(&fs, Arc::new(Panics));
    db.put("a", "1").expect("put");
    db.put("boom", "1").expect("put");
    db.flush().expect("flush");
    let e = db
        .compact_range::<&[u8], _>(..)
        .expect_err("the compaction panicked");
    assert!(
        matches!(&e, larder_lsm::Error::CompactionFilterPanicked { message, .. } if message.contains("filter bug on boom")),
        "{e:?}"
    );
    let e = db.put("x", "y").expect_err("stopped");
    assert!(e.to_string().contains("filter bug on boom"), "{e}");
    drop(db);
    // Nothing half-done was installed: reopened without the filter, every
    // write is there.
    let db = Db::open_with_fs(Arc::new(fs), "/db", common::tiny_options()).expect("reopen");
    assert_eq!(db.get(b"boom").expect("get").as_deref(), Some(&b"1"[..]));
    assert_eq!(db.get(b"a").expect("get").as_deref(), Some(&b"1"[..]));
}

// ---- The model: every read shows a key's latest write, or what the
// filter may have made of it, never an older version; the view of a
// snapshot taken while no compaction runs never changes while it lives.

/// Removes values starting with `rm`, upper-cases values starting with
/// `up`, keeps the rest.
#[derive(Debug)]
struct ModelFilter;

impl CompactionFilter for ModelFilter {
    fn filter(&self, _level: usize, _key: &[u8], value: &[u8]) -> Decision {
        if value.starts_with(b"rm") {
            Decision::Remove
        } else if value.starts_with(b"up") {
            Decision::ChangeValue(Bytes::from(value.to_ascii_uppercase()))
        } else {
            Decision::Keep
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    Put(u8, u8, u16),
    Delete(u8),
    Get(u8),
    Scan(bool),
    Flush,
    Compact,
    Snapshot,
    CheckSnapshot,
    DropSnapshot,
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        8 => (0u8..20, 0u8..3, any::<u16>()).prop_map(|(k, m, v)| Op::Put(k, m, v)),
        2 => (0u8..20).prop_map(Op::Delete),
        3 => (0u8..20).prop_map(Op::Get),
        1 => any::<bool>().prop_map(Op::Scan),
        1 => Just(Op::Flush),
        1 => Just(Op::Compact),
        1 => Just(Op::Snapshot),
        1 => Just(Op::CheckSnapshot),
        1 => Just(Op::DropSnapshot),
    ]
}

/// Whether `got` is what a read may show of a key whose latest write is
/// `want`: the value, or what the filter makes of it.
fn allowed(want: Option<&Vec<u8>>, got: Option<&[u8]>) -> bool {
    match (want, got) {
        (None, None) => true,
        (Some(w), None) => w.starts_with(b"rm"),
        (Some(w), Some(g)) => {
            g == w.as_slice() || (w.starts_with(b"up") && g == w.to_ascii_uppercase().as_slice())
        }
        (None, Some(_)) => false,
    }
}

/// Key-value pairs in key order.
type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

fn run_model(ops: &[Op]) {
    let fs = MemFs::new();
    let opts = Options {
        compaction_filter: Some(Arc::new(ModelFilter)),
        blob_threshold_bytes: Some(40),
        ..common::tiny_options()
    };
    let db = Db::open_with_fs(Arc::new(fs), "/db", opts).expect("open");
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    // Each live snapshot with what it saw when taken.
    let mut snaps: Vec<(larder_lsm::Snapshot, Pairs)> = Vec::new();
    let key = |k: u8| format!("key{k:02}").into_bytes();
    for (i, op) in ops.iter().enumerate() {
        match op {
            Op::Put(k, m, v) => {
                let prefix = ["rm", "up", "kp"][*m as usize];
                // One value in four goes to a blob.
                let pad = if v.is_multiple_of(4) { 50 } else { 0 };
                let value = format!("{prefix}{v}{}", "p".repeat(pad)).into_bytes();
                db.put(key(*k), value.clone()).expect("put");
                model.insert(key(*k), value);
            }
            Op::Delete(k) => {
                db.delete(key(*k)).expect("delete");
                model.remove(&key(*k));
            }
            Op::Get(k) => {
                let got = db.get(&key(*k)).expect("get");
                assert!(
                    allowed(model.get(&key(*k)), got.as_deref()),
                    "op {i}: get key{k:02}: {got:?}, latest write {:?}",
                    model.get(&key(*k))
                );
            }
            Op::Scan(back) => {
                let got: BTreeMap<Vec<u8>, Vec<u8>> = if *back {
                    common::collect(db.iter().rev()).into_iter().collect()
                } else {
                    common::collect(db.iter()).into_iter().collect()
                };
                for k in model.keys().chain(got.keys()) {
                    assert!(
                        allowed(model.get(k), got.get(k).map(Vec::as_slice)),
                        "op {i}: scan {k:?}"
                    );
                }
            }
            Op::Flush => db.flush().expect("flush"),
            Op::Compact => db.compact_range::<&[u8], _>(..).expect("compact"),
            Op::Snapshot => {
                // Not while a compaction runs: one that started before the
                // snapshot may filter what it sees (documented).
                db.wait_idle().expect("idle");
                let s = db.snapshot();
                let seen = common::collect(s.iter());
                snaps.push((s, seen));
            }
            Op::CheckSnapshot => {
                for (s, seen) in &snaps {
                    common::assert_same(
                        &common::collect(s.iter()),
                        seen,
                        &format!("op {i}: snapshot"),
                    );
                    let mut back = common::collect(s.iter().rev());
                    back.reverse();
                    common::assert_same(&back, seen, &format!("op {i}: snapshot backwards"));
                }
            }
            Op::DropSnapshot => {
                if !snaps.is_empty() {
                    snaps.remove(0);
                }
            }
        }
    }
    drop(snaps);
    db.compact_range::<&[u8], _>(..).expect("compact");
    db.wait_idle().expect("idle");
    // No snapshot left: after a full compaction the filter has seen every
    // key's latest write.
    let got: BTreeMap<Vec<u8>, Vec<u8>> = common::collect(db.iter()).into_iter().collect();
    let want: BTreeMap<Vec<u8>, Vec<u8>> = model
        .into_iter()
        .filter(|(_, v)| !v.starts_with(b"rm"))
        .map(|(k, v)| {
            let v = if v.starts_with(b"up") {
                v.to_ascii_uppercase()
            } else {
                v
            };
            (k, v)
        })
        .collect();
    assert_eq!(got, want);
    let report = db.verify().expect("verify");
    assert!(report.is_clean(), "{report:?}");
    db.close().expect("close");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 48, ..Default::default() })]

    #[test]
    fn compaction_filter_matches_the_model(ops in proptest::collection::vec(op(), 1..160)) {
        run_model(&ops);
    }
}
