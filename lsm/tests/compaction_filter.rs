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
