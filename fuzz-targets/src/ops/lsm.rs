//! `lsm_ops`: operations on the LSM tree against a model.
//!
//! Two input formats decode to the same operations. An input that starts
//! with [`V2_MAGIC`] is a sequence of [`LsmOp`]s, which add optimistic
//! transactions (up to two open at once, interleaved with plain writes and
//! with each other) to the plain operations. Any other input decodes as
//! before transactions existed ([`LsmOpV1`]), so the committed corpus
//! keeps meaning what it meant.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arbitrary::Arbitrary;
use vfs::{CrashOptions, Fs, MemFs};

use super::{Model, Span, decode, key, pairs, value};

/// The prefix of an input in the second format.
pub(crate) const V2_MAGIC: &[u8] = b"LSv2";

/// Transactions open at once, at most.
const TXNS_MAX: usize = 2;

/// A transaction's key: from the first third of the key space, so plain
/// writes and other transactions meet it often enough to conflict.
fn txn_key(k: u8) -> Vec<u8> {
    key(k % 8)
}

/// One step of the first format: plain operations only. The variants and
/// their order are fixed: the committed corpus decodes through them.
#[derive(Arbitrary, Debug)]
enum LsmOpV1 {
    Put { k: u8, len: u8 },
    Delete { k: u8 },
    Batch(Vec<(u8, Option<u8>)>),
    Get { k: u8 },
    Range(Span),
    Snapshot,
    ReadSnapshot { which: u8, span: Span },
    Flush,
    Compact(Span),
    Sync,
    Reopen,
    Crash { seed: u8, tear: bool },
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
    /// Closes and reopens: every acknowledged write survives. Open
    /// transactions are dropped first (rolled back).
    Reopen,
    /// Loses the power: unsynced data is dropped (and maybe a torn write).
    Crash {
        seed: u8,
        tear: bool,
    },
    /// Begins a transaction (the oldest of [`TXNS_MAX`] open ones is
    /// rolled back to make room).
    Begin,
    /// A transaction's `get` (`t` picks one of the open transactions; with
    /// none open, this and the other transactional operations begin one).
    TxnGet {
        t: u8,
        k: u8,
    },
    /// A transaction's `range` (always in key order).
    TxnRange {
        t: u8,
        span: Span,
    },
    TxnPut {
        t: u8,
        k: u8,
        len: u8,
    },
    TxnDelete {
        t: u8,
        k: u8,
    },
    /// Commits: a conflict is expected exactly when a key the transaction
    /// read or writes was written by someone else since it began.
    Commit {
        t: u8,
    },
    /// Drops a transaction without committing: nothing is written.
    Rollback {
        t: u8,
    },
}

impl From<LsmOpV1> for LsmOp {
    fn from(op: LsmOpV1) -> LsmOp {
        match op {
            LsmOpV1::Put { k, len } => LsmOp::Put { k, len },
            LsmOpV1::Delete { k } => LsmOp::Delete { k },
            LsmOpV1::Batch(b) => LsmOp::Batch(b),
            LsmOpV1::Get { k } => LsmOp::Get { k },
            LsmOpV1::Range(span) => LsmOp::Range(span),
            LsmOpV1::Snapshot => LsmOp::Snapshot,
            LsmOpV1::ReadSnapshot { which, span } => LsmOp::ReadSnapshot { which, span },
            LsmOpV1::Flush => LsmOp::Flush,
            LsmOpV1::Compact(span) => LsmOp::Compact(span),
            LsmOpV1::Sync => LsmOp::Sync,
            LsmOpV1::Reopen => LsmOp::Reopen,
            LsmOpV1::Crash { seed, tear } => LsmOp::Crash { seed, tear },
        }
    }
}

fn decode_ops(data: &[u8]) -> Vec<LsmOp> {
    match data.strip_prefix(V2_MAGIC) {
        Some(rest) => decode(rest),
        None => decode::<LsmOpV1>(data)
            .into_iter()
            .map(LsmOp::from)
            .collect(),
    }
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

/// An open transaction and what the model expects of it.
struct OpenTxn {
    txn: lsm::Transaction,
    /// The state it began at.
    begin: Model,
    /// Its buffered writes (`None` deletes).
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// Keys it read: every key passed to `get`, every key `range` returned.
    read: BTreeSet<Vec<u8>>,
    /// Keys others wrote since it began.
    written_by_others: BTreeSet<Vec<u8>>,
}

impl OpenTxn {
    /// The state it reads: where it began, with its own writes over it.
    fn view(&self) -> Model {
        let mut m = self.begin.clone();
        for (k, w) in &self.writes {
            match w {
                Some(v) => m.insert(k.clone(), v.clone()),
                None => m.remove(k),
            };
        }
        m
    }

    /// The smallest key read or written that someone else wrote since the
    /// transaction began: the conflict its commit must report.
    fn conflict(&self) -> Option<Vec<u8>> {
        self.read
            .iter()
            .chain(self.writes.keys())
            .filter(|k| self.written_by_others.contains(*k))
            .min()
            .cloned()
    }
}

/// The engine and the model, step by step.
struct Run {
    fs: MemFs,
    /// Always open, but for the moment of a reopen.
    db: Option<lsm::Db>,
    model: Model,
    /// The model after each write since the last sync: a crash returns to
    /// one of them.
    since_sync: Vec<Model>,
    snaps: Vec<(lsm::Snapshot, Model)>,
    txns: Vec<OpenTxn>,
    /// Commits that wrote, and commits refused with a conflict.
    commits: usize,
    conflicts: usize,
}

impl Run {
    fn new() -> Run {
        let fs = MemFs::new();
        let db = lsm_open(&fs);
        let model = Model::new();
        Run {
            fs,
            db: Some(db),
            since_sync: vec![model.clone()],
            model,
            snaps: Vec::new(),
            txns: Vec::new(),
            commits: 0,
            conflicts: 0,
        }
    }

    fn db(&self) -> &lsm::Db {
        self.db.as_ref().expect("the database is open")
    }

    /// Records a write of `keys` that reached the model: open
    /// transactions (except `by`, the writer) now conflict on them.
    fn wrote<'a>(&mut self, keys: impl IntoIterator<Item = &'a Vec<u8>>, by: Option<usize>) {
        let keys: Vec<&Vec<u8>> = keys.into_iter().collect();
        for (i, t) in self.txns.iter_mut().enumerate() {
            if Some(i) != by {
                t.written_by_others
                    .extend(keys.iter().map(|k| (*k).clone()));
            }
        }
        self.since_sync.push(self.model.clone());
    }

    /// Open transaction `t` (modulo how many are open); with none open,
    /// a new one, so transactional operations are never wasted.
    fn txn(&mut self, t: u8) -> Option<&mut OpenTxn> {
        if self.txns.is_empty() {
            self.begin();
        }
        let n = self.txns.len();
        self.txns.get_mut(usize::from(t) % n)
    }

    fn begin(&mut self) {
        if self.txns.len() == TXNS_MAX {
            self.txns.remove(0);
        }
        let txn = self.db().transaction().expect("begin");
        self.txns.push(OpenTxn {
            txn,
            begin: self.model.clone(),
            writes: BTreeMap::new(),
            read: BTreeSet::new(),
            written_by_others: BTreeSet::new(),
        });
    }

    fn step(&mut self, op: LsmOp) {
        match op {
            LsmOp::Put { k, len } => {
                let v = value(k, len, 7);
                self.db().put(key(k), v.clone()).expect("put");
                self.model.insert(key(k), v);
                self.wrote([&key(k)], None);
            }
            LsmOp::Delete { k } => {
                self.db().delete(key(k)).expect("delete");
                self.model.remove(&key(k));
                self.wrote([&key(k)], None);
            }
            LsmOp::Batch(ops) => {
                let mut b = lsm::WriteBatch::new();
                let mut keys = Vec::new();
                for (k, v) in ops.into_iter().take(16) {
                    match v {
                        Some(len) => {
                            let v = value(k, len, 7);
                            b.put(key(k), v.clone());
                            self.model.insert(key(k), v);
                        }
                        None => {
                            b.delete(key(k));
                            self.model.remove(&key(k));
                        }
                    }
                    keys.push(key(k));
                }
                self.db().write(b).expect("batch");
                self.wrote(&keys, None);
            }
            LsmOp::Get { k } => {
                let got = self.db().get(&key(k)).expect("get").map(|v| v.to_vec());
                assert_eq!(got, self.model.get(&key(k)).cloned(), "get {k}");
            }
            LsmOp::Range(span) => {
                let it = self.db().range(span.bounds());
                let got = if span.rev {
                    pairs(it.rev().map(|kv| kv.expect("range")))
                } else {
                    pairs(it.map(|kv| kv.expect("range")))
                };
                assert_eq!(got, span.model(&self.model), "range {span:?}");
            }
            LsmOp::Snapshot => {
                if self.snaps.len() == 4 {
                    self.snaps.remove(0);
                }
                self.snaps.push((self.db().snapshot(), self.model.clone()));
            }
            LsmOp::ReadSnapshot { which, span } => {
                let n = self.snaps.len().max(1);
                if let Some((snap, m)) = self.snaps.get(usize::from(which) % n) {
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
                self.db().flush().expect("flush");
                self.since_sync = vec![self.model.clone()];
            }
            LsmOp::Compact(span) => {
                self.db().compact_range(span.bounds()).expect("compact");
            }
            LsmOp::Sync => {
                self.db().sync().expect("sync");
                self.since_sync = vec![self.model.clone()];
            }
            LsmOp::Reopen => {
                self.snaps.clear();
                self.txns.clear();
                if let Some(db) = self.db.take() {
                    db.close().expect("close");
                }
                self.db = Some(lsm_open(&self.fs));
                assert_eq!(
                    lsm_scan(self.db()),
                    self.model,
                    "a clean reopen lost writes"
                );
                self.since_sync = vec![self.model.clone()];
            }
            LsmOp::Crash { seed, tear } => {
                self.snaps.clear();
                self.txns.clear();
                let image = self.fs.crash(CrashOptions {
                    seed: u64::from(seed),
                    tear,
                });
                self.db = None;
                self.fs = image;
                self.db = Some(lsm_open(&self.fs));
                let got = lsm_scan(self.db());
                assert!(
                    self.since_sync.contains(&got),
                    "after a crash the state is not the model after any write since the last sync"
                );
                self.model = got;
                self.since_sync = vec![self.model.clone()];
            }
            LsmOp::Begin => self.begin(),
            LsmOp::TxnGet { t, k } => {
                if let Some(t) = self.txn(t) {
                    let got = t.txn.get(&txn_key(k)).expect("txn get").map(|v| v.to_vec());
                    assert_eq!(got, t.view().get(&txn_key(k)).cloned(), "txn get {k}");
                    t.read.insert(txn_key(k));
                }
            }
            LsmOp::TxnRange { t, span } => {
                if let Some(t) = self.txn(t) {
                    let span = Span { rev: false, ..span };
                    let got = pairs(t.txn.range(span.bounds()).expect("txn range").into_iter());
                    let want = span.model(&t.view());
                    assert_eq!(got, want, "txn range {span:?}");
                    t.read.extend(want.into_iter().map(|(k, _)| k));
                }
            }
            LsmOp::TxnPut { t, k, len } => {
                if let Some(t) = self.txn(t) {
                    let v = value(k, len, 7);
                    t.txn.put(txn_key(k), v.clone());
                    t.writes.insert(txn_key(k), Some(v));
                }
            }
            LsmOp::TxnDelete { t, k } => {
                if let Some(t) = self.txn(t) {
                    t.txn.delete(txn_key(k));
                    t.writes.insert(txn_key(k), None);
                }
            }
            LsmOp::Commit { t } => {
                if self.txns.is_empty() {
                    return;
                }
                let i = usize::from(t) % self.txns.len();
                let t = self.txns.remove(i);
                let conflict = if t.writes.is_empty() {
                    None
                } else {
                    t.conflict()
                };
                match (t.txn.commit(), conflict) {
                    (Ok(()), None) => {
                        for (k, w) in &t.writes {
                            match w {
                                Some(v) => self.model.insert(k.clone(), v.clone()),
                                None => self.model.remove(k),
                            };
                        }
                        if !t.writes.is_empty() {
                            // `i` is gone from `txns`: every open one is
                            // another.
                            self.wrote(t.writes.keys(), None);
                            self.commits += 1;
                        }
                    }
                    (Err(lsm::Error::Conflict { key: got }), Some(want)) => {
                        assert_eq!(got, want, "the conflict named the wrong key");
                        self.conflicts += 1;
                    }
                    (r, want) => {
                        panic!("commit returned {r:?}, the model expects a conflict on {want:?}")
                    }
                }
            }
            LsmOp::Rollback { t } => {
                if !self.txns.is_empty() {
                    let i = usize::from(t) % self.txns.len();
                    self.txns.remove(i);
                }
            }
        }
    }
}

/// `lsm`: operations against a model. With `Durability::None`, a power loss
/// may keep any prefix of the writes since the last `sync` or `flush` (the
/// background thread makes some durable on its own), never less, never a
/// mix: the recovered state must equal the model after one of them. A
/// committed transaction is one write.
pub fn lsm_ops(data: &[u8]) {
    run(data);
}

/// [`lsm_ops`], returning the run (closed) for its counters.
fn run(data: &[u8]) -> Run {
    let mut run = Run::new();
    for op in decode_ops(data) {
        run.step(op);
    }
    run.txns.clear();
    run.snaps.clear();
    assert_eq!(lsm_scan(run.db()), run.model, "final state");
    if let Some(db) = run.db.take() {
        db.close().expect("close");
    }
    run
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(op: &LsmOp) -> String {
        format!("{op:?}")
            .split([' ', '{', '('])
            .next()
            .unwrap_or_default()
            .to_owned()
    }

    /// A splitmix64 stream of `n` bytes.
    fn bytes(seed: u64, n: usize) -> Vec<u8> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = x;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                (z ^ (z >> 31)) as u8
            })
            .collect()
    }

    /// Inputs of either format decode and run; together they reach every
    /// kind of operation, and the second format's commits meet conflicts.
    #[test]
    fn both_formats_decode_and_run_every_operation() {
        let mut kinds = BTreeSet::new();
        let (mut commits, mut conflicts) = (0, 0);
        for seed in 1..=64u64 {
            let data = bytes(seed, 4096);
            let v1 = decode_ops(&data);
            assert_eq!(v1.len(), super::super::OPS_MAX);
            kinds.extend(v1.iter().map(kind));
            lsm_ops(&data);
            let v2: Vec<u8> = V2_MAGIC.iter().copied().chain(data).collect();
            kinds.extend(decode_ops(&v2).iter().map(kind));
            let r = run(&v2);
            commits += r.commits;
            conflicts += r.conflicts;
        }
        assert_eq!(kinds.len(), 19, "operation kinds seen: {kinds:?}");
        assert!(
            commits >= 32 && conflicts >= 3,
            "{commits} commits wrote, {conflicts} met a conflict"
        );
    }

    /// A conflict the model predicts is the one commit reports: a plain
    /// put between a transaction's read and its commit.
    #[test]
    fn a_plain_write_between_read_and_commit_conflicts() {
        let mut run = Run::new();
        for op in [
            LsmOp::Put { k: 1, len: 1 },
            LsmOp::Begin,
            LsmOp::TxnGet { t: 0, k: 1 },
            LsmOp::TxnPut { t: 0, k: 2, len: 3 },
            LsmOp::Put { k: 1, len: 2 },
            LsmOp::Flush,
        ] {
            run.step(op);
        }
        assert_eq!(run.txns[0].conflict(), Some(key(1)));
        run.step(LsmOp::Commit { t: 0 });
        assert_eq!(run.conflicts, 1);
        assert_eq!(run.model.get(&key(2)), None, "a conflicting commit wrote");
    }
}
