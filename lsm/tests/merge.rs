//! Merge operators: a counter workload (u64 add) against a `BTreeMap`
//! model with tiny buffers, so operands spread over the memtable, L0 and
//! deeper levels, with and without blob separation; the append operator;
//! snapshots; a store without an operator; reopening with another
//! operator; a failing operator; and power cut at every sync point of a
//! merge workload.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use larder_lsm::{
    AppendOperator, Db, Durability, Error, MergeOperator, Options, U64AddOperator, WriteBatch,
};
use proptest::prelude::*;
use vfs::crash_test::{ExploreOptions, explore};

fn counter_options() -> Options {
    Options {
        merge_operator: Some(Arc::new(U64AddOperator)),
        ..common::tiny_options()
    }
}

fn key(k: u8) -> Vec<u8> {
    format!("ctr{:02}", k % 24).into_bytes()
}

fn n(v: u64) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}

#[derive(Clone, Debug)]
enum Op {
    Put(u8, u64),
    Delete(u8),
    Merge(u8, u8),
    /// `(key, Some(increment))` merges, `(key, None)` deletes.
    Batch(Vec<(u8, Option<u8>)>),
    Get(u8),
    Range(u8, u8, bool),
    TakeSnapshot,
    ReadSnapshot(usize, bool),
    DropSnapshot(usize),
    Flush,
    Compact(u8, u8),
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<u8>(), any::<u64>()).prop_map(|(k, v)| Op::Put(k, v)),
        2 => any::<u8>().prop_map(Op::Delete),
        24 => (any::<u8>(), any::<u8>()).prop_map(|(k, v)| Op::Merge(k, v)),
        3 => prop::collection::vec((any::<u8>(), prop::option::of(any::<u8>())), 1..6).prop_map(Op::Batch),
        6 => any::<u8>().prop_map(Op::Get),
        3 => (any::<u8>(), any::<u8>(), any::<bool>()).prop_map(|(a, b, r)| Op::Range(a, b, r)),
        2 => Just(Op::TakeSnapshot),
        3 => (any::<usize>(), any::<bool>()).prop_map(|(i, r)| Op::ReadSnapshot(i, r)),
        1 => any::<usize>().prop_map(Op::DropSnapshot),
        2 => Just(Op::Flush),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(a, b)| Op::Compact(a, b)),
        1 => Just(Op::Reopen),
    ]
}

type Model = BTreeMap<Vec<u8>, u64>;

fn pairs(m: &Model) -> Vec<(Vec<u8>, Vec<u8>)> {
    m.iter().map(|(k, v)| (k.clone(), n(*v))).collect()
}

fn add(m: &mut Model, k: u8, inc: u8) {
    let e = m.entry(key(k)).or_insert(0);
    *e = e.wrapping_add(u64::from(inc));
}

fn run(ops: Vec<Op>, opts: Options) {
    let fs: Arc<dyn vfs::Fs> = Arc::new(vfs::MemFs::new());
    let open = |opts: &Options| Db::open_with_fs(Arc::clone(&fs), "/db", opts.clone());
    let mut db = Some(open(&opts).expect("open"));
    let mut model = Model::new();
    let mut snaps: Vec<(larder_lsm::Snapshot, Model)> = Vec::new();
    for op in ops {
        let d = db.as_ref().expect("db open");
        match op {
            Op::Put(k, v) => {
                d.put(key(k), n(v)).expect("put");
                model.insert(key(k), v);
            }
            Op::Delete(k) => {
                d.delete(key(k)).expect("delete");
                model.remove(&key(k));
            }
            Op::Merge(k, v) => {
                d.merge(key(k), n(u64::from(v))).expect("merge");
                add(&mut model, k, v);
            }
            Op::Batch(ops) => {
                let mut b = WriteBatch::new();
                for (k, v) in ops {
                    match v {
                        Some(v) => {
                            b.merge(key(k), n(u64::from(v)));
                            add(&mut model, k, v);
                        }
                        None => {
                            b.delete(key(k));
                            model.remove(&key(k));
                        }
                    }
                }
                d.write(b).expect("write");
            }
            Op::Get(k) => {
                let got = d.get(&key(k)).expect("get").map(|v| v.to_vec());
                assert_eq!(got, model.get(&key(k)).map(|v| n(*v)), "get {k}");
            }
            Op::Range(a, b, rev) => {
                let (lo, hi) = (key(a.min(b)), key(a.max(b)));
                let mut want: Vec<_> = pairs(&model)
                    .into_iter()
                    .filter(|(k, _)| *k >= lo && *k <= hi)
                    .collect();
                let got = if rev {
                    want.reverse();
                    common::collect(d.range(lo.as_slice()..=hi.as_slice()).rev())
                } else {
                    common::collect(d.range(lo.as_slice()..=hi.as_slice()))
                };
                common::assert_same(&got, &want, "range");
            }
            Op::TakeSnapshot => snaps.push((d.snapshot(), model.clone())),
            Op::ReadSnapshot(i, rev) => {
                if !snaps.is_empty() {
                    let (s, m) = &snaps[i % snaps.len()];
                    for k in 0..24u8 {
                        let got = s.get(&key(k)).expect("snapshot get").map(|v| v.to_vec());
                        assert_eq!(got, m.get(&key(k)).map(|v| n(*v)), "snapshot get {k}");
                    }
                    let mut want = pairs(m);
                    let got = if rev {
                        want.reverse();
                        common::collect(s.iter().rev())
                    } else {
                        common::collect(s.iter())
                    };
                    common::assert_same(&got, &want, "snapshot iter");
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
    let all = pairs(&model);
    common::assert_same(&common::collect(d.iter()), &all, "iter");
    let mut rev = all.clone();
    rev.reverse();
    common::assert_same(&common::collect(d.iter().rev()), &rev, "iter().rev()");
    drop(snaps);
    // Everything compacted to the bottom: operands meet their base (or
    // nothing older) and become values.
    d.compact_range::<&[u8], _>(..).expect("compact all");
    d.wait_idle().expect("idle");
    common::assert_same(&common::collect(d.iter()), &all, "after full compaction");
    let report = d.verify().expect("verify");
    assert!(report.is_clean(), "{report:?}");
    d.close().expect("close");
    let d = open(&opts).expect("final reopen");
    common::assert_same(&common::collect(d.iter()), &all, "after reopen");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn counters_match_btreemap_model(ops in prop::collection::vec(op(), 1..400)) {
        run(ops, Options { blob_threshold_bytes: None, ..counter_options() });
    }

    #[test]
    fn counters_with_blob_separation_match_btreemap_model(ops in prop::collection::vec(op(), 1..400)) {
        // Every 8-byte value (puts, and values merged at flush) goes to a
        // blob file: merges read separated bases.
        run(ops, Options { blob_threshold_bytes: Some(8), blob_gc_ratio: 0.3, ..counter_options() });
    }
}

fn mem_fs() -> Arc<dyn vfs::Fs> {
    Arc::new(vfs::MemFs::new())
}

fn get(db: &Db, k: &str) -> Option<Vec<u8>> {
    db.get(k.as_bytes()).expect("get").map(|v| v.to_vec())
}

#[test]
fn append_operator_joins_across_memtable_and_tables() {
    let opts = Options {
        merge_operator: Some(Arc::new(AppendOperator::new(","))),
        ..common::tiny_options()
    };
    let db = Db::open_with_fs(mem_fs(), "/db", opts).expect("open");
    db.merge("list", "a").expect("merge");
    db.flush().expect("flush");
    db.merge("list", "b").expect("merge");
    db.flush().expect("flush");
    db.compact_range::<&[u8], _>(..).expect("compact");
    db.merge("list", "c").expect("merge");
    assert_eq!(get(&db, "list").as_deref(), Some(&b"a,b,c"[..]));
    db.put("list", "x").expect("put");
    db.merge("list", "y").expect("merge");
    assert_eq!(get(&db, "list").as_deref(), Some(&b"x,y"[..]));
    db.delete("list").expect("delete");
    db.merge("list", "z").expect("merge");
    db.flush().expect("flush");
    assert_eq!(get(&db, "list").as_deref(), Some(&b"z"[..]));
    let all: Vec<_> = common::collect(db.iter().rev());
    assert_eq!(all, [(b"list".to_vec(), b"z".to_vec())]);
}

#[test]
fn snapshots_see_merges_as_of_their_seqno() {
    let db = Db::open_with_fs(mem_fs(), "/db", counter_options()).expect("open");
    db.merge("c", n(1)).expect("merge");
    let s1 = db.snapshot();
    db.merge("c", n(10)).expect("merge");
    db.flush().expect("flush");
    let s2 = db.snapshot();
    db.merge("c", n(100)).expect("merge");
    db.flush().expect("flush");
    db.compact_range::<&[u8], _>(..).expect("compact");
    db.wait_idle().expect("idle");
    assert_eq!(s1.get(b"c").expect("get"), Some(n(1).into()));
    assert_eq!(s2.get(b"c").expect("get"), Some(n(11).into()));
    assert_eq!(db.get(b"c").expect("get"), Some(n(111).into()));
    drop((s1, s2));
    db.compact_range::<&[u8], _>(..).expect("compact");
    assert_eq!(db.get(b"c").expect("get"), Some(n(111).into()));
}

#[test]
fn a_merge_without_an_operator_is_refused() {
    let db = Db::open_with_fs(mem_fs(), "/db", common::tiny_options()).expect("open");
    assert!(matches!(
        db.merge("k", n(1)),
        Err(Error::MergeOperatorMissing { key }) if key == b"k"
    ));
    let mut b = WriteBatch::new();
    b.put("a", "1");
    b.merge("k2", n(1));
    assert!(matches!(
        db.write(b),
        Err(Error::MergeOperatorMissing { key }) if key == b"k2"
    ));
    assert_eq!(get(&db, "a"), None, "a refused batch writes nothing");
}

#[derive(Debug)]
struct Named(&'static str);

impl MergeOperator for Named {
    fn name(&self) -> &str {
        self.0
    }

    fn full_merge(
        &self,
        key: &[u8],
        existing: Option<&[u8]>,
        operands: &[&[u8]],
    ) -> Result<Vec<u8>, larder_lsm::MergeFailure> {
        U64AddOperator.full_merge(key, existing, operands)
    }
}

#[test]
fn reopen_checks_the_operator_name() {
    let fs = mem_fs();
    let open = |op: Option<Arc<dyn MergeOperator>>| {
        Db::open_with_fs(
            Arc::clone(&fs),
            "/db",
            Options {
                merge_operator: op,
                ..common::tiny_options()
            },
        )
    };
    let db = open(Some(Arc::new(U64AddOperator))).expect("open");
    let recorded = db
        .describe()
        .expect("describe")
        .manifest
        .and_then(|m| m.merge_operator);
    assert_eq!(recorded.as_deref(), Some(U64AddOperator::NAME));
    db.merge("in-table", n(2)).expect("merge");
    db.flush().expect("flush");
    db.merge("in-log", n(3)).expect("merge");
    db.close().expect("close");

    match open(Some(Arc::new(Named("other")))) {
        Err(Error::MergeOperatorMismatch { recorded, given }) => {
            assert_eq!(
                (recorded.as_str(), given.as_str()),
                (U64AddOperator::NAME, "other")
            );
        }
        other => panic!("{other:?}"),
    }
    // Without an operator the store opens, refuses merges, and fails
    // reads of keys with operands; the name stays recorded.
    let db = open(None).expect("open without operator");
    let recorded = db
        .describe()
        .expect("describe")
        .manifest
        .and_then(|m| m.merge_operator);
    assert_eq!(
        recorded.as_deref(),
        Some(U64AddOperator::NAME),
        "kept without an operator"
    );
    assert!(matches!(
        db.get(b"in-log"),
        Err(Error::MergeOperatorMissing { key }) if key == b"in-log"
    ));
    assert!(matches!(
        db.iter().next(),
        Some(Err(Error::MergeOperatorMissing { .. }))
    ));
    assert!(db.merge("k", n(1)).is_err());
    db.close().expect("close");
    assert!(matches!(
        open(Some(Arc::new(Named("other")))),
        Err(Error::MergeOperatorMismatch { .. })
    ));
    // An operator of the recorded name reads everything.
    let db = open(Some(Arc::new(Named(U64AddOperator::NAME)))).expect("open");
    assert_eq!(get(&db, "in-table"), Some(n(2)));
    assert_eq!(get(&db, "in-log"), Some(n(3)));
}

#[test]
fn a_failing_merge_is_an_error_naming_the_key_and_the_store_goes_on() {
    let db = Db::open_with_fs(mem_fs(), "/db", counter_options()).expect("open");
    db.put("ok", n(1)).expect("put");
    db.merge("bad", n(5)).expect("merge");
    db.merge("bad", "short").expect("merge");
    for _ in 0..3 {
        match db.get(b"bad") {
            Err(Error::MergeFailed { key, operator, .. }) => {
                assert_eq!(key, b"bad");
                assert_eq!(operator, U64AddOperator::NAME);
            }
            other => panic!("{other:?}"),
        }
        // Flush and compaction keep the operands; nothing stops.
        db.flush().expect("flush");
        db.compact_range::<&[u8], _>(..).expect("compact");
    }
    let mut it = db.iter();
    assert!(matches!(it.next(), Some(Err(Error::MergeFailed { .. }))));
    assert!(it.next().is_none(), "an error ends the iteration");
    assert_eq!(get(&db, "ok"), Some(n(1)));
    db.put("bad", n(7)).expect("overwrite");
    db.merge("bad", n(1)).expect("merge");
    assert_eq!(get(&db, "bad"), Some(n(8)));
}

/// Counter increments and resets with syncs, flushes and a compaction;
/// `acked[i]` is the model after the `i`-th acknowledged write.
fn crash_workload(fs: Arc<dyn vfs::Fs>) -> (Vec<Model>, Option<Model>) {
    let opts = Options {
        durability: Durability::Immediate,
        blob_threshold_bytes: Some(8),
        ..counter_options()
    };
    let mut acked = vec![Model::new()];
    let Ok(db) = Db::open_with_fs(fs, "/db", opts) else {
        return (acked, None);
    };
    let mut model = Model::new();
    for i in 0..60u8 {
        let k = i % 7;
        let mut next = model.clone();
        let r = if i % 13 == 12 {
            next.insert(key(k), u64::from(i));
            db.put(key(k), n(u64::from(i)))
        } else {
            add(&mut next, k, i);
            db.merge(key(k), n(u64::from(i)))
        };
        if r.is_err() {
            return (acked, Some(next));
        }
        model = next;
        acked.push(model.clone());
        if i % 15 == 14 && db.flush().is_err() {
            return (acked, None);
        }
        if i == 40 && db.compact_range::<&[u8], _>(..).is_err() {
            return (acked, None);
        }
    }
    (acked, None)
}

#[test]
fn power_cut_at_every_sync_point_of_a_merge_workload() {
    let opts = Options {
        blob_threshold_bytes: Some(8),
        ..counter_options()
    };
    let report = explore(
        &ExploreOptions::default(),
        crash_workload,
        |point, disk, (acked, in_flight)| {
            let db = Db::open_with_fs(Arc::new(disk), "/db", opts.clone())
                .unwrap_or_else(|e| panic!("{point:?}: recovery failed: {e}"));
            let got: Model = common::collect(db.iter())
                .into_iter()
                .map(|(k, v)| (k, u64::from_le_bytes(v.try_into().expect("8 bytes"))))
                .collect();
            // Every write syncs: the state is the last acknowledged one,
            // or the write in flight.
            let last = acked.last().cloned().unwrap_or_default();
            assert!(
                got == last || in_flight.as_ref() == Some(&got),
                "{point:?}: got {got:?}, last acked {last:?}"
            );
            // Recovery is repeatable, and every table checks out.
            assert!(db.verify().expect("verify").is_clean());
            db.close().expect("close");
        },
    );
    assert!(report.syncs > 60, "{report:?}");
}
