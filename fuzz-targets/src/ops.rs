//! Differential targets: a sequence of operations, decoded from the input
//! with `arbitrary`, runs on an engine over `vfs::MemFs` and on a
//! `BTreeMap` model, and the two must agree after every step, across
//! snapshots, flushes, compactions, clean reopens and power losses.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use arbitrary::{Arbitrary, Unstructured};
use vfs::{CrashOptions, Fs, MemFs};

/// Keys and values as the model holds them.
type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// Operations per input, so one input stays fast.
const OPS_MAX: usize = 64;

/// A key from a small space (so operations collide), of 1 to 3 bytes.
fn key(k: u8) -> Vec<u8> {
    let k = k % 24;
    vec![k; usize::from(k % 3) + 1]
}

/// A value of `len` units: unit 37 reaches several 512-byte pages (overflow
/// runs in the B+ tree, big WAL records in the LSM tree).
fn value(k: u8, len: u8, unit: usize) -> Vec<u8> {
    vec![k ^ len; usize::from(len % 64) * unit]
}

/// A range by its two optional ends; `hi_incl` picks `..=` over `..`.
#[derive(Arbitrary, Debug, Clone, Copy)]
struct Span {
    lo: Option<u8>,
    hi: Option<u8>,
    hi_incl: bool,
    rev: bool,
}

impl Span {
    fn bounds(self) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
        let lo = self
            .lo
            .map_or(Bound::Unbounded, |k| Bound::Included(key(k)));
        let hi = match self.hi {
            None => Bound::Unbounded,
            Some(k) if self.hi_incl => Bound::Included(key(k)),
            Some(k) => Bound::Excluded(key(k)),
        };
        (lo, hi)
    }

    /// The model's pairs in the span, in the span's direction. An inverted
    /// span is empty (`BTreeMap::range` would panic; the engines must simply
    /// yield nothing).
    fn model(self, m: &Model) -> Vec<(Vec<u8>, Vec<u8>)> {
        let (lo, hi) = self.bounds();
        let inverted = match (&lo, &hi) {
            (Bound::Included(l), Bound::Included(h)) => l > h,
            (Bound::Included(l), Bound::Excluded(h)) => l >= h,
            _ => false,
        };
        if inverted {
            return Vec::new();
        }
        let mut out: Vec<_> = m
            .range::<Vec<u8>, _>((lo, hi))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if self.rev {
            out.reverse();
        }
        out
    }
}

/// Operations until the input runs out (or `OPS_MAX`): every byte string
/// is some sequence, so the fuzzer never wastes an input on a decode error.
fn decode<'a, T: Arbitrary<'a>>(data: &'a [u8]) -> Vec<T> {
    let mut u = Unstructured::new(data);
    let mut ops = Vec::new();
    while !u.is_empty() && ops.len() < OPS_MAX {
        match u.arbitrary() {
            Ok(op) => ops.push(op),
            Err(_) => break,
        }
    }
    ops
}

fn pairs<K: AsRef<[u8]>, V: AsRef<[u8]>>(
    it: impl Iterator<Item = (K, V)>,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    it.map(|(k, v)| (k.as_ref().to_vec(), v.as_ref().to_vec()))
        .collect()
}

/// One step on the LSM tree.
#[derive(Arbitrary, Debug)]
enum LsmOp {
    Put {
        k: u8,
        len: u8,
    },
    Delete {
        k: u8,
    },
    Batch(Vec<(u8, Option<u8>)>),
    Get {
        k: u8,
    },
    Range(Span),
    /// Takes a snapshot (at most four are kept).
    Snapshot,
    /// Reads a kept snapshot in full and in a range.
    ReadSnapshot {
        which: u8,
        span: Span,
    },
    Flush,
    Compact(Span),
    Sync,
    /// Closes and reopens: every acknowledged write survives.
    Reopen,
    /// Loses the power: unsynced data is dropped (and maybe a torn write).
    Crash {
        seed: u8,
        tear: bool,
    },
}

fn lsm_options() -> lsm::Options {
    lsm::Options {
        durability: lsm::Durability::None,
        write_buffer_size_bytes: 1024,
        block_size_bytes: 256,
        block_restart_interval: 4,
        table_size_target_bytes: 2048,
        level1_bytes_max: 8192,
        l0_compaction_trigger: 2,
        l0_slowdown_trigger: 4,
        l0_stop_trigger: 8,
        // Two memtables wait for their flush, each with its own unsynced
        // log, so power losses hit several logs at once.
        max_write_buffer_number: 3,
        block_cache_bytes: 16 * 1024,
        // Values of 64 bytes and more go to blobs, and blobs are collected
        // at 30% garbage, so separation, collection and blob deletion run
        // under every operation, reopen and power loss.
        blob_threshold_bytes: Some(64),
        blob_gc_ratio: 0.3,
        ..lsm::Options::default()
    }
}

fn lsm_open(fs: &MemFs) -> lsm::Db {
    let arc: Arc<dyn Fs> = Arc::new(fs.clone());
    lsm::Db::open_with_fs(arc, "/db", lsm_options()).expect("open an lsm database")
}

fn lsm_scan(db: &lsm::Db) -> Model {
    db.range::<&[u8], _>(..)
        .map(|kv| {
            let (k, v) = kv.expect("scan");
            (k.to_vec(), v.to_vec())
        })
        .collect()
}

/// `lsm`: operations against a model. With `Durability::None`, a power loss
/// may keep any prefix of the writes since the last `sync` or `flush` (the
/// background thread makes some durable on its own), never less, never a
/// mix: the recovered state must equal the model after one of them.
pub fn lsm_ops(data: &[u8]) {
    let ops: Vec<LsmOp> = decode(data);
    let mut fs = MemFs::new();
    let mut db = lsm_open(&fs);
    let mut model = Model::new();
    // The model after each write since the last sync: a crash returns to
    // one of them.
    let mut since_sync: Vec<Model> = vec![model.clone()];
    let mut snaps: Vec<(lsm::Snapshot, Model)> = Vec::new();
    for op in ops {
        match op {
            LsmOp::Put { k, len } => {
                let v = value(k, len, 7);
                db.put(key(k), v.clone()).expect("put");
                model.insert(key(k), v);
                since_sync.push(model.clone());
            }
            LsmOp::Delete { k } => {
                db.delete(key(k)).expect("delete");
                model.remove(&key(k));
                since_sync.push(model.clone());
            }
            LsmOp::Batch(ops) => {
                let mut b = lsm::WriteBatch::new();
                for (k, v) in ops.into_iter().take(16) {
                    match v {
                        Some(len) => {
                            let v = value(k, len, 7);
                            b.put(key(k), v.clone());
                            model.insert(key(k), v);
                        }
                        None => {
                            b.delete(key(k));
                            model.remove(&key(k));
                        }
                    }
                }
                db.write(b).expect("batch");
                since_sync.push(model.clone());
            }
            LsmOp::Get { k } => {
                let got = db.get(&key(k)).expect("get").map(|v| v.to_vec());
                assert_eq!(got, model.get(&key(k)).cloned(), "get {k}");
            }
            LsmOp::Range(span) => {
                let it = db.range(span.bounds());
                let got = if span.rev {
                    pairs(it.rev().map(|kv| kv.expect("range")))
                } else {
                    pairs(it.map(|kv| kv.expect("range")))
                };
                assert_eq!(got, span.model(&model), "range {span:?}");
            }
            LsmOp::Snapshot => {
                if snaps.len() == 4 {
                    snaps.remove(0);
                }
                snaps.push((db.snapshot(), model.clone()));
            }
            LsmOp::ReadSnapshot { which, span } => {
                if let Some((snap, m)) = snaps.get(usize::from(which) % snaps.len().max(1)) {
                    let all: Model = snap
                        .range::<&[u8], _>(..)
                        .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())).expect("scan"))
                        .collect();
                    assert_eq!(&all, m, "a snapshot changed");
                    let it = snap.range(span.bounds());
                    let got = if span.rev {
                        pairs(it.rev().map(|kv| kv.expect("range")))
                    } else {
                        pairs(it.map(|kv| kv.expect("range")))
                    };
                    assert_eq!(got, span.model(m), "snapshot range {span:?}");
                }
            }
            LsmOp::Flush => {
                db.flush().expect("flush");
                since_sync = vec![model.clone()];
            }
            LsmOp::Compact(span) => {
                db.compact_range(span.bounds()).expect("compact");
            }
            LsmOp::Sync => {
                db.sync().expect("sync");
                since_sync = vec![model.clone()];
            }
            LsmOp::Reopen => {
                snaps.clear();
                db.close().expect("close");
                db = lsm_open(&fs);
                assert_eq!(lsm_scan(&db), model, "a clean reopen lost writes");
                since_sync = vec![model.clone()];
            }
            LsmOp::Crash { seed, tear } => {
                snaps.clear();
                let image = fs.crash(CrashOptions {
                    seed: u64::from(seed),
                    tear,
                });
                drop(db);
                fs = image;
                db = lsm_open(&fs);
                let got = lsm_scan(&db);
                assert!(
                    since_sync.contains(&got),
                    "after a crash the state is not the model after any write since the last sync"
                );
                model = got;
                since_sync = vec![model.clone()];
            }
        }
    }
    assert_eq!(lsm_scan(&db), model, "final state");
    db.close().expect("close");
}

/// One operation inside a B+ tree write transaction.
#[derive(Arbitrary, Debug)]
enum TxnOp {
    Insert {
        k: u8,
        len: u8,
    },
    Remove {
        k: u8,
    },
    Get {
        k: u8,
    },
    Range(Span),
    /// `remove_range` over the span (its direction ignored).
    RemoveRange(Span),
    /// `retain`, keeping values whose length is not a multiple of `by`.
    Retain {
        by: u8,
    },
    /// Takes an ephemeral savepoint (at most four are kept).
    Savepoint,
    /// Returns to one of the transaction's savepoints.
    Restore {
        which: u8,
    },
}

/// One step on the B+ tree.
#[derive(Arbitrary, Debug)]
enum BtreeOp {
    /// A write transaction: its operations, then commit (durable or not)
    /// or abort.
    Write {
        ops: Vec<TxnOp>,
        commit: bool,
        durable: bool,
    },
    Get {
        k: u8,
    },
    Range(Span),
    /// Opens a read transaction (at most four are kept).
    Snapshot,
    ReadSnapshot {
        which: u8,
        span: Span,
    },
    Sync,
    Reopen,
    Crash {
        seed: u8,
        tear: bool,
    },
}

fn btree_open(fs: &MemFs) -> btree::Db {
    let arc: Arc<dyn Fs> = Arc::new(fs.clone());
    let options = btree::Options {
        page_size_bytes: 512,
        durability: btree::Durability::Immediate,
        initial_size_bytes: 0,
        ..btree::Options::default()
    };
    btree::Db::open_with_fs(arc, "/db", options).expect("open a btree database")
}

fn btree_scan(read: &btree::ReadTxn, span: Span) -> Vec<(Vec<u8>, Vec<u8>)> {
    let it = read.range(span.bounds());
    if span.rev {
        pairs(it.rev().map(|kv| kv.expect("range")))
    } else {
        pairs(it.map(|kv| kv.expect("range")))
    }
}

const ALL: Span = Span {
    lo: None,
    hi: None,
    hi_incl: false,
    rev: false,
};

/// `btree`: operations against a model. A power loss returns exactly to
/// the last durable commit (`Durability::Immediate`, or any commit a
/// `sync` covered); `check` passes after every reopen.
pub fn btree_ops(data: &[u8]) {
    let ops: Vec<BtreeOp> = decode(data);
    let mut fs = MemFs::new();
    let mut db = btree_open(&fs);
    let mut model = Model::new();
    let mut durable = Model::new();
    let mut snaps: Vec<(btree::ReadTxn, Model)> = Vec::new();
    for op in ops {
        match op {
            BtreeOp::Write {
                ops,
                commit,
                durable: is_durable,
            } => {
                let mut txn = db.begin_write().expect("begin_write");
                let mut local = model.clone();
                let mut saved: Vec<(btree::Savepoint, Model)> = Vec::new();
                for op in ops.into_iter().take(16) {
                    match op {
                        TxnOp::Insert { k, len } => {
                            let v = value(k, len, 37);
                            txn.insert(&key(k), &v).expect("insert");
                            local.insert(key(k), v);
                        }
                        TxnOp::Remove { k } => {
                            let old = txn.remove(&key(k)).expect("remove").map(|b| b.to_vec());
                            assert_eq!(old, local.remove(&key(k)), "remove {k}");
                        }
                        TxnOp::Get { k } => {
                            let got = txn.get(&key(k)).expect("get").map(|b| b.to_vec());
                            assert_eq!(got, local.get(&key(k)).cloned(), "txn get {k}");
                        }
                        TxnOp::RemoveRange(span) => {
                            let gone = span.model(&local);
                            let n = txn.remove_range(span.bounds()).expect("remove_range");
                            assert_eq!(n, gone.len() as u64, "remove_range {span:?}");
                            for (k, _) in gone {
                                local.remove(&k);
                            }
                        }
                        TxnOp::Retain { by } => {
                            let by = usize::from(by.max(1));
                            let before = local.len();
                            local.retain(|_, v| !v.len().is_multiple_of(by));
                            let n = txn
                                .retain(|_, v| !v.len().is_multiple_of(by))
                                .expect("retain");
                            assert_eq!(n, (before - local.len()) as u64, "retain");
                        }
                        TxnOp::Savepoint => {
                            if saved.len() < 4 {
                                saved.push((txn.savepoint(), local.clone()));
                            }
                        }
                        TxnOp::Restore { which } => {
                            if let Some((sp, m)) =
                                saved.get(usize::from(which) % saved.len().max(1))
                            {
                                txn.restore_savepoint(sp).expect("restore_savepoint");
                                local = m.clone();
                            }
                        }
                        TxnOp::Range(span) => {
                            let it = txn.range(span.bounds());
                            let got = if span.rev {
                                pairs(it.rev().map(|kv| kv.expect("txn range")))
                            } else {
                                pairs(it.map(|kv| kv.expect("txn range")))
                            };
                            assert_eq!(got, span.model(&local), "txn range {span:?}");
                        }
                    }
                }
                if commit {
                    if !is_durable {
                        txn.set_durability(btree::Durability::None);
                    }
                    txn.commit().expect("commit");
                    model = local;
                    if is_durable {
                        durable = model.clone();
                    }
                } else {
                    txn.abort();
                }
            }
            BtreeOp::Get { k } => {
                let read = db.begin_read().expect("begin_read");
                let got = read.get(&key(k)).expect("get").map(|b| b.to_vec());
                assert_eq!(got, model.get(&key(k)).cloned(), "get {k}");
            }
            BtreeOp::Range(span) => {
                let read = db.begin_read().expect("begin_read");
                assert_eq!(
                    btree_scan(&read, span),
                    span.model(&model),
                    "range {span:?}"
                );
            }
            BtreeOp::Snapshot => {
                if snaps.len() == 4 {
                    snaps.remove(0);
                }
                snaps.push((db.begin_read().expect("begin_read"), model.clone()));
            }
            BtreeOp::ReadSnapshot { which, span } => {
                if let Some((read, m)) = snaps.get(usize::from(which) % snaps.len().max(1)) {
                    let all: Model = btree_scan(read, ALL).into_iter().collect();
                    assert_eq!(&all, m, "a snapshot changed");
                    assert_eq!(btree_scan(read, span), span.model(m), "snapshot range");
                }
            }
            BtreeOp::Sync => {
                db.sync().expect("sync");
                durable = model.clone();
            }
            BtreeOp::Reopen => {
                snaps.clear();
                drop(db);
                db = btree_open(&fs);
                db.check().expect("check after reopen");
                let read = db.begin_read().expect("begin_read");
                let got: Model = btree_scan(&read, ALL).into_iter().collect();
                // Dropping the handle does not sync: commits made without
                // durability since the last sync may be gone or present
                // (their pages are in the file, the meta page is not).
                assert_eq!(got, durable, "a reopen is at the last durable commit");
                model = got;
            }
            BtreeOp::Crash { seed, tear } => {
                snaps.clear();
                let image = fs.crash(CrashOptions {
                    seed: u64::from(seed),
                    tear,
                });
                drop(db);
                fs = image;
                db = btree_open(&fs);
                db.check().expect("check after a crash");
                let read = db.begin_read().expect("begin_read");
                let got: Model = btree_scan(&read, ALL).into_iter().collect();
                assert_eq!(got, durable, "a crash returns to the last durable commit");
                model = got;
            }
        }
    }
    let read = db.begin_read().expect("begin_read");
    let got: Model = btree_scan(&read, ALL).into_iter().collect();
    assert_eq!(got, model, "final state");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lsm_kind(op: &LsmOp) -> u8 {
        match op {
            LsmOp::Put { .. } => 0,
            LsmOp::Delete { .. } => 1,
            LsmOp::Batch(_) => 2,
            LsmOp::Get { .. } => 3,
            LsmOp::Range(_) => 4,
            LsmOp::Snapshot => 5,
            LsmOp::ReadSnapshot { .. } => 6,
            LsmOp::Flush => 7,
            LsmOp::Compact(_) => 8,
            LsmOp::Sync => 9,
            LsmOp::Reopen => 10,
            LsmOp::Crash { .. } => 11,
        }
    }

    #[test]
    fn inverted_spans_are_empty_in_the_model() {
        let mut m = Model::new();
        m.insert(key(1), vec![1]);
        let span = Span {
            lo: Some(5),
            hi: Some(2),
            hi_incl: true,
            rev: false,
        };
        assert!(span.model(&m).is_empty());
    }

    /// A few fixed inputs run every kind of operation through both targets.
    #[test]
    fn every_operation_runs_on_fixed_inputs() {
        let mut kinds = std::collections::BTreeSet::new();
        for mul in [2_654_435_761u32, 40_503, 2_246_822_519, 3_266_489_917] {
            let data: Vec<u8> = (0..4096u32)
                .map(|i| (i.wrapping_mul(mul) >> 13) as u8)
                .collect();
            let lsm: Vec<LsmOp> = decode(&data);
            assert_eq!(lsm.len(), OPS_MAX);
            kinds.extend(lsm.iter().map(lsm_kind));
            lsm_ops(&data);
            btree_ops(&data);
        }
        assert_eq!(kinds.len(), 12, "operation kinds seen: {kinds:?}");
    }
}
