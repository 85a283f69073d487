//! `lsm_ops`: operations on the LSM tree against a model.
//!
//! Two input formats decode to the same operations. An input that starts
//! with [`V2_MAGIC`] or [`V2_TTL_MAGIC`] is a sequence of [`LsmOp`]s,
//! which add optimistic transactions (up to two open at once, interleaved
//! with plain writes and with each other), range deletes, and merges
//! (the append operator) or, after [`V2_TTL_MAGIC`], a TTL with a manual
//! clock moving forward instead of merges (a store takes one or the
//! other). An input that starts with [`keyspaces::V3_MAGIC`] drives
//! keyspaces (its own operations, in `keyspaces.rs`). Any other input
//! decodes as before these existed ([`LsmOpV1`]), so the committed corpus
//! keeps meaning what it meant.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arbitrary::Arbitrary;
use std::time::Duration;

use vfs::{CrashOptions, Fs, MemFs};

use super::{Model, Span, decode, key, pairs, value};

mod keyspaces;

/// The prefix of an input in the second format, with merges.
pub(crate) const V2_MAGIC: &[u8] = b"LSv2";
/// The prefix of an input in the second format, with a TTL.
pub(crate) const V2_TTL_MAGIC: &[u8] = b"LSt2";

/// The TTL of [`Mode::Ttl`] runs.
const TTL_MS: u64 = 100;

/// When each key was last put, in ms of the manual clock.
type Born = BTreeMap<Vec<u8>, u64>;

/// A store takes a merge operator or a TTL, not both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Merge,
    Ttl,
}

/// Drops what expired by `now`: the clock only moves forward, so an
/// expired key stays gone for every reader until it is written again.
fn expire(m: &mut Model, born: &Born, now: u64) {
    m.retain(|k, _| born.get(k).is_none_or(|&b| b + TTL_MS > now));
}

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
    /// `delete_range` from the smaller of two keys to the larger.
    DeleteRange {
        a: u8,
        b: u8,
    },
    /// A merge of a short operand (skipped with a TTL).
    Merge {
        k: u8,
        len: u8,
    },
    /// Moves the clock `ms % 150` ms forward (with a TTL only).
    Advance {
        ms: u8,
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

fn decode_ops(data: &[u8]) -> (Mode, Vec<LsmOp>) {
    if let Some(rest) = data.strip_prefix(V2_MAGIC) {
        return (Mode::Merge, decode(rest));
    }
    if let Some(rest) = data.strip_prefix(V2_TTL_MAGIC) {
        return (Mode::Ttl, decode(rest));
    }
    let ops = decode::<LsmOpV1>(data)
        .into_iter()
        .map(LsmOp::from)
        .collect();
    (Mode::Merge, ops)
}

fn lsm_options(clock: Option<&Arc<lsm::ManualClock>>) -> lsm::Options {
    let base = lsm_base_options();
    match clock {
        Some(c) => lsm::Options {
            ttl: Some(Duration::from_millis(TTL_MS)),
            clock: Arc::clone(c) as Arc<dyn lsm::Clock>,
            ..base
        },
        None => lsm::Options {
            merge_operator: Some(Arc::new(lsm::AppendOperator::new(","))),
            ..base
        },
    }
}

fn lsm_base_options() -> lsm::Options {
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

fn lsm_open(fs: &MemFs, clock: Option<&Arc<lsm::ManualClock>>) -> lsm::Db {
    let arc: Arc<dyn Fs> = Arc::new(fs.clone());
    lsm::Db::open_with_fs(arc, "/db", lsm_options(clock)).expect("open an lsm database")
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
    /// The state it began at (expired as the clock moves).
    begin: Model,
    begin_born: Born,
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
    /// With a TTL: the manual clock, its time in ms since the start, when
    /// each key was last put, and how many puts there were (a put's value
    /// ends with its number, so equal states have equal write times).
    clock: Option<Arc<lsm::ManualClock>>,
    now: u64,
    born: Born,
    puts: u64,
    /// The model after each write since the last sync: a crash returns to
    /// one of them.
    since_sync: Vec<(Model, Born)>,
    snaps: Vec<(lsm::Snapshot, Model, Born)>,
    txns: Vec<OpenTxn>,
    /// Commits that wrote, commits refused with a conflict, keys expired.
    commits: usize,
    conflicts: usize,
    expired: usize,
}

impl Run {
    fn new(mode: Mode) -> Run {
        let fs = MemFs::new();
        let clock =
            (mode == Mode::Ttl).then(|| lsm::ManualClock::new(Duration::from_secs(1 << 20)));
        let db = lsm_open(&fs, clock.as_ref());
        let model = Model::new();
        Run {
            fs,
            db: Some(db),
            since_sync: vec![(model.clone(), Born::new())],
            model,
            clock,
            now: 0,
            born: Born::new(),
            puts: 0,
            snaps: Vec::new(),
            txns: Vec::new(),
            commits: 0,
            conflicts: 0,
            expired: 0,
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
        self.since_sync
            .push((self.model.clone(), self.born.clone()));
    }

    /// The value of a put of `k`: unique with a TTL (see `puts`).
    fn put_value(&mut self, k: u8, len: u8) -> Vec<u8> {
        let mut v = value(k, len, 7);
        if self.clock.is_some() {
            self.puts += 1;
            v.extend_from_slice(&self.puts.to_le_bytes());
        }
        v
    }

    /// Records a put of `k` in the model (its write time too).
    fn model_put(&mut self, k: Vec<u8>, v: Vec<u8>) {
        self.born.insert(k.clone(), self.now);
        self.model.insert(k, v);
    }

    /// The state after a sync: the only one a crash may return to.
    fn synced(&mut self) {
        self.since_sync = vec![(self.model.clone(), self.born.clone())];
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
            begin_born: self.born.clone(),
            writes: BTreeMap::new(),
            read: BTreeSet::new(),
            written_by_others: BTreeSet::new(),
        });
    }

    fn step(&mut self, op: LsmOp) {
        match op {
            LsmOp::Put { k, len } => {
                let v = self.put_value(k, len);
                self.db().put(key(k), v.clone()).expect("put");
                self.model_put(key(k), v);
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
                            let v = self.put_value(k, len);
                            b.put(key(k), v.clone());
                            self.model_put(key(k), v);
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
                let snap = self.db().snapshot();
                self.snaps
                    .push((snap, self.model.clone(), self.born.clone()));
            }
            LsmOp::ReadSnapshot { which, span } => {
                let n = self.snaps.len().max(1);
                if let Some((snap, m, _)) = self.snaps.get(usize::from(which) % n) {
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
                self.synced();
            }
            LsmOp::Compact(span) => {
                self.db().compact_range(span.bounds()).expect("compact");
            }
            LsmOp::Sync => {
                self.db().sync().expect("sync");
                self.synced();
            }
            LsmOp::Reopen => {
                self.snaps.clear();
                self.txns.clear();
                if let Some(db) = self.db.take() {
                    db.close().expect("close");
                }
                self.db = Some(lsm_open(&self.fs, self.clock.as_ref()));
                assert_eq!(
                    lsm_scan(self.db()),
                    self.model,
                    "a clean reopen lost writes"
                );
                self.synced();
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
                self.db = Some(lsm_open(&self.fs, self.clock.as_ref()));
                let got = lsm_scan(self.db());
                let Some((_, born)) = self.since_sync.iter().find(|(m, _)| *m == got) else {
                    panic!(
                        "after a crash the state is not the model after any write since the last sync"
                    )
                };
                self.born = born.clone();
                self.model = got;
                self.synced();
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
                let v = self.put_value(k, len);
                if let Some(t) = self.txn(t) {
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
                                Some(v) => self.model_put(k.clone(), v.clone()),
                                None => {
                                    self.model.remove(k);
                                }
                            }
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
            LsmOp::DeleteRange { a, b } => {
                let (lo, hi) = (key(a).min(key(b)), key(a).max(key(b)));
                if lo == hi {
                    return;
                }
                self.db()
                    .delete_range(lo.as_slice()..hi.as_slice())
                    .expect("delete_range");
                let doomed: Vec<Vec<u8>> = self
                    .model
                    .range(lo.clone()..hi.clone())
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in &doomed {
                    self.model.remove(k);
                }
                // Every key of the range counts as written, present or not:
                // a transaction that read one of them conflicts.
                let covered: Vec<Vec<u8>> =
                    (0..24u8).map(key).filter(|k| *k >= lo && *k < hi).collect();
                self.wrote(&covered, None);
            }
            LsmOp::Merge { k, len } => {
                if self.clock.is_some() {
                    return;
                }
                let operand = vec![b'a' + k % 26; usize::from(len % 6) + 1];
                self.db().merge(key(k), operand.clone()).expect("merge");
                let v = match self.model.remove(&key(k)) {
                    Some(mut old) => {
                        old.push(b',');
                        old.extend_from_slice(&operand);
                        old
                    }
                    None => operand,
                };
                self.model.insert(key(k), v);
                self.wrote([&key(k)], None);
            }
            LsmOp::Advance { ms } => {
                let Some(clock) = &self.clock else {
                    return;
                };
                let ms = u64::from(ms % 150);
                clock.advance(Duration::from_millis(ms));
                self.now += ms;
                let now = self.now;
                let before = self.model.len();
                expire(&mut self.model, &self.born, now);
                self.expired += before - self.model.len();
                for (m, b) in &mut self.since_sync {
                    expire(m, b, now);
                }
                for (_, m, b) in &mut self.snaps {
                    expire(m, b, now);
                }
                for t in &mut self.txns {
                    expire(&mut t.begin, &t.begin_born, now);
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
    match data.strip_prefix(keyspaces::V3_MAGIC) {
        Some(rest) => drop(keyspaces::run(rest)),
        None => drop(run(data)),
    }
}

/// [`lsm_ops`], returning the run (closed) for its counters.
fn run(data: &[u8]) -> Run {
    let (mode, ops) = decode_ops(data);
    let mut run = Run::new(mode);
    for op in ops {
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
    pub(super) fn bytes(seed: u64, n: usize) -> Vec<u8> {
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
        let (mut commits, mut conflicts, mut expired) = (0, 0, 0);
        for seed in 1..=64u64 {
            let data = bytes(seed, 4096);
            let (_, v1) = decode_ops(&data);
            assert_eq!(v1.len(), super::super::OPS_MAX);
            kinds.extend(v1.iter().map(kind));
            lsm_ops(&data);
            for magic in [V2_MAGIC, V2_TTL_MAGIC] {
                let v2: Vec<u8> = magic.iter().copied().chain(data.iter().copied()).collect();
                kinds.extend(decode_ops(&v2).1.iter().map(kind));
                let r = run(&v2);
                commits += r.commits;
                conflicts += r.conflicts;
                expired += r.expired;
            }
        }
        assert_eq!(kinds.len(), 22, "operation kinds seen: {kinds:?}");
        assert!(expired > 0, "no key expired");
        assert!(
            commits >= 32 && conflicts >= 3,
            "{commits} commits wrote, {conflicts} met a conflict"
        );
    }

    /// A conflict the model predicts is the one commit reports: a plain
    /// put between a transaction's read and its commit.
    #[test]
    fn a_plain_write_between_read_and_commit_conflicts() {
        let mut run = Run::new(Mode::Merge);
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
