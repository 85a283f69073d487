//! Optimistic transactions (`Db::transaction`): snapshot reads that see
//! their own writes, first committer wins, conflicts found wherever the
//! newer version lives (memtable, immutable memtable, L0, deeper levels),
//! a bank transfer under four threads, and a model of interleaved
//! transactions. Commit goes through the ordinary `WriteBatch` log path,
//! so the crash tests of `write` cover its durability.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;
use larder_lsm::{Db, Durability, Error, Options};
use proptest::prelude::*;
use vfs::MemFs;

fn small() -> Options {
    Options {
        durability: Durability::None,
        write_buffer_size_bytes: 4096,
        ..Options::default()
    }
}

fn open(opts: Options) -> Db {
    Db::open_with_fs(Arc::new(MemFs::new()), "/db", opts).expect("open")
}

fn conflict_key(r: larder_lsm::Result<()>) -> Vec<u8> {
    match r {
        Err(Error::Conflict { key }) => key,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[test]
fn reads_see_the_snapshot_and_own_writes_and_drop_rolls_back() {
    let db = open(small());
    db.put("a", "1").expect("put");
    db.put("b", "2").expect("put");
    let mut tx = db.transaction().expect("begin");
    db.put("c", "3").expect("put");
    assert_eq!(tx.get(b"c").expect("get"), None, "after the snapshot");
    tx.put("a", "10");
    tx.delete("b");
    tx.put("d", "4");
    assert_eq!(tx.get(b"a").expect("get").as_deref(), Some(&b"10"[..]));
    assert_eq!(tx.get(b"b").expect("get"), None);
    let all = tx.range::<&[u8], _>(..).expect("range");
    assert_eq!(
        all,
        [
            (Bytes::from("a"), Bytes::from("10")),
            (Bytes::from("d"), Bytes::from("4"))
        ]
    );
    assert!(tx.range(&b"z"[..]..&b"a"[..]).expect("range").is_empty());
    // Nothing is visible before commit; dropping writes nothing.
    assert_eq!(db.get(b"a").expect("get").as_deref(), Some(&b"1"[..]));
    drop(tx);
    assert_eq!(db.get(b"d").expect("get"), None);
    assert_eq!(db.get(b"b").expect("get").as_deref(), Some(&b"2"[..]));

    let mut tx = db.transaction().expect("begin");
    tx.put("a", "10");
    tx.delete("b");
    tx.commit().expect("commit");
    assert_eq!(db.get(b"a").expect("get").as_deref(), Some(&b"10"[..]));
    assert_eq!(db.get(b"b").expect("get"), None);
}

#[test]
fn first_committer_wins_and_the_loser_writes_nothing() {
    let db = open(small());
    db.put("x", "0").expect("put");
    let mut t1 = db.transaction().expect("begin");
    let mut t2 = db.transaction().expect("begin");
    assert_eq!(t1.get(b"x").expect("get").as_deref(), Some(&b"0"[..]));
    assert_eq!(t2.get(b"x").expect("get").as_deref(), Some(&b"0"[..]));
    t1.put("x", "1");
    t2.put("x", "2");
    t2.put("y", "2");
    t1.commit().expect("first commit");
    assert_eq!(conflict_key(t2.commit()), b"x");
    assert_eq!(db.get(b"x").expect("get").as_deref(), Some(&b"1"[..]));
    assert_eq!(db.get(b"y").expect("get"), None);
}

#[test]
fn blind_writes_conflict_and_untouched_keys_do_not() {
    let db = open(small());
    let mut t = db.transaction().expect("begin");
    t.put("w", "mine");
    db.put("w", "theirs").expect("put");
    assert_eq!(conflict_key(t.commit()), b"w");

    let mut t = db.transaction().expect("begin");
    t.get(b"r").expect("get");
    t.put("w", "mine");
    db.put("other", "x").expect("put");
    db.delete("unrelated").expect("delete");
    t.commit().expect("no tracked key changed");

    // A delete of a key read as absent, and a read of an absent key later
    // written, are conflicts too; the smallest key is named.
    let mut t = db.transaction().expect("begin");
    assert_eq!(t.get(b"nope").expect("get"), None);
    assert!(t.get(b"w").expect("get").is_some());
    t.put("z", "1");
    db.put("nope", "now").expect("put");
    db.delete("w").expect("delete");
    assert_eq!(conflict_key(t.commit()), b"nope");
}

#[test]
fn a_transaction_without_writes_commits_and_a_read_only_handle_refuses() {
    let fs = MemFs::new();
    let db = Db::open_with_fs(Arc::new(fs.clone()), "/db", small()).expect("open");
    db.put("k", "v").expect("put");
    let mut t = db.transaction().expect("begin");
    t.get(b"k").expect("get");
    db.put("k", "w").expect("put");
    t.commit().expect("nothing to write, nothing to check");
    db.close().expect("close");
    let ro = Db::open_read_only_with_fs(Arc::new(fs), "/db", small()).expect("open");
    assert!(matches!(ro.transaction(), Err(Error::ReadOnly)));
}

#[test]
fn oversized_writes_are_refused_at_commit() {
    let db = open(small());
    let mut t = db.transaction().expect("begin");
    t.put(vec![0u8; larder_lsm::KEY_LEN_MAX + 1], "v");
    assert!(matches!(t.commit(), Err(Error::KeyTooLarge { .. })));
}

/// The newer version is found in every place it can live: a table in L0,
/// a table compacted to a deeper level, among older tables of other keys.
#[test]
fn conflicts_are_found_in_tables_not_only_the_memtable() {
    // A large memtable: only the explicit flushes make tables, so where
    // each version lives is known.
    let db = open(Options {
        durability: Durability::None,
        ..Options::default()
    });
    for i in 0..200u32 {
        db.put(format!("k{i:04}"), "old").expect("put");
    }
    db.flush().expect("flush");
    // Flushed before the transaction began and not written since: no
    // conflict, even though tables newer than the snapshot exist.
    let mut quiet = db.transaction().expect("begin");
    quiet.get(b"k0001").expect("get");
    quiet.put("k0002", "mine");

    let mut t_l0 = db.transaction().expect("begin");
    t_l0.get(b"k0100").expect("get");
    t_l0.put("out", "1");
    let mut t_deep = db.transaction().expect("begin");
    t_deep.get(b"k0150").expect("get");
    t_deep.put("out", "2");

    db.put("k0100", "new").expect("put");
    db.put("k0150", "new").expect("put");
    for i in 0..200u32 {
        db.put(format!("other{i:04}"), "x").expect("put");
    }
    db.flush().expect("flush");
    let s = db.stats();
    assert!(s.levels[0].files > 0, "{s:?}");
    assert_eq!(conflict_key(t_l0.commit()), b"k0100");
    db.compact_range::<&[u8], _>(..).expect("compact");
    let s = db.stats();
    assert_eq!(s.levels[0].files, 0, "{s:?}");
    assert_eq!(conflict_key(t_deep.commit()), b"k0150");
    quiet.commit().expect("no conflict");
    assert_eq!(
        db.get(b"k0002").expect("get").as_deref(),
        Some(&b"mine"[..])
    );
    assert_eq!(db.get(b"out").expect("get"), None);
}

/// A delete after the snapshot, flushed and compacted, is still found: the
/// transaction's snapshot keeps the tombstone.
#[test]
fn a_compacted_delete_still_conflicts() {
    let db = open(small());
    db.put("gone", "v").expect("put");
    db.compact_range::<&[u8], _>(..).expect("compact");
    let mut t = db.transaction().expect("begin");
    assert!(t.get(b"gone").expect("get").is_some());
    t.put("gone", "v2");
    db.delete("gone").expect("delete");
    db.compact_range::<&[u8], _>(..).expect("compact");
    assert_eq!(conflict_key(t.commit()), b"gone");
}

fn account(i: usize) -> String {
    format!("acct{i:02}")
}

fn amount(v: Option<Bytes>) -> u64 {
    let v = v.expect("account exists");
    u64::from_le_bytes(v.as_ref().try_into().expect("8 bytes"))
}

/// Four threads move money between accounts in transactions, retrying on
/// conflict; every snapshot read sums to the starting total, and the moves
/// counted by the threads are the moves recorded in the database.
#[test]
fn bank_transfers_keep_the_total_under_four_threads() {
    bank(small());
}

/// The same under group commit, where a commit syncs on its own beside
/// the queued writers, and with a sync per write.
#[test]
fn bank_transfers_keep_the_total_with_group_and_immediate_durability() {
    for durability in [Durability::Group, Durability::Immediate] {
        bank(Options {
            durability,
            ..small()
        });
    }
}

fn bank(opts: Options) {
    const ACCOUNTS: usize = 8;
    const START: u64 = 1000;
    const THREADS: usize = 4;
    const MOVES: u64 = 150;
    let db = open(opts);
    for i in 0..ACCOUNTS {
        db.put(account(i), START.to_le_bytes().to_vec())
            .expect("put");
    }
    let total = START * ACCOUNTS as u64;
    let done = Arc::new(AtomicBool::new(false));
    let conflicts = Arc::new(AtomicU64::new(0));
    let checker = {
        let (db, done) = (db.clone(), Arc::clone(&done));
        std::thread::spawn(move || {
            let mut checks = 0u64;
            while !done.load(Ordering::Acquire) || checks == 0 {
                let snap = db.snapshot();
                let sum: u64 = snap
                    .prefix(b"acct")
                    .map(|r| amount(Some(r.expect("scan").1)))
                    .sum();
                assert_eq!(sum, total, "a snapshot saw a partial transfer");
                checks += 1;
                std::thread::yield_now();
            }
            checks
        })
    };
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (db, conflicts) = (db.clone(), Arc::clone(&conflicts));
            std::thread::spawn(move || {
                let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ (t as u64 + 1);
                let mut next = move || {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    rng
                };
                let mut done_moves = 0u64;
                while done_moves < MOVES {
                    let from = (next() % ACCOUNTS as u64) as usize;
                    let to = (from + 1 + (next() % (ACCOUNTS as u64 - 1)) as usize) % ACCOUNTS;
                    let mut tx = db.transaction().expect("begin");
                    // Every read of the transaction is of one snapshot.
                    let all = tx.range(&b"acct"[..]..&b"acct~"[..]).expect("range");
                    let sum: u64 = all.iter().map(|(_, v)| amount(Some(v.clone()))).sum();
                    assert_eq!(sum, total);
                    let a = amount(tx.get(account(from).as_bytes()).expect("get"));
                    let b = amount(tx.get(account(to).as_bytes()).expect("get"));
                    let x = next() % 50;
                    let x = x.min(a);
                    tx.put(account(from), (a - x).to_le_bytes().to_vec());
                    tx.put(account(to), (b + x).to_le_bytes().to_vec());
                    let key = format!("moves{t}");
                    let n = tx
                        .get(key.as_bytes())
                        .expect("get")
                        .map_or(0, |v| amount(Some(v)));
                    tx.put(key, (n + 1).to_le_bytes().to_vec());
                    match tx.commit() {
                        Ok(()) => done_moves += 1,
                        Err(Error::Conflict { .. }) => {
                            conflicts.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => panic!("commit: {e}"),
                    }
                }
                done_moves
            })
        })
        .collect();
    let moved: u64 = workers.into_iter().map(|w| w.join().expect("worker")).sum();
    done.store(true, Ordering::Release);
    let checks = checker.join().expect("checker");
    assert!(checks > 0);
    assert_eq!(moved, MOVES * THREADS as u64);
    let recorded: u64 = (0..THREADS)
        .map(|t| amount(db.get(format!("moves{t}").as_bytes()).expect("get")))
        .sum();
    assert_eq!(recorded, moved);
    let sum: u64 = (0..ACCOUNTS)
        .map(|i| amount(db.get(account(i).as_bytes()).expect("get")))
        .sum();
    assert_eq!(sum, total);
    // The small memtable made tables while the transfers ran.
    db.flush().expect("flush");
    assert!(db.stats().levels.iter().any(|l| l.files > 0));
}

/// One step of the interleaving model: up to three transactions, plain
/// writes, and flushes and compactions in between.
#[derive(Clone, Debug)]
enum Op {
    Begin(usize),
    Get(usize, u8),
    Put(usize, u8, u8),
    Delete(usize, u8),
    Commit(usize),
    Abort(usize),
    PlainPut(u8, u8),
    Flush,
    Compact,
}

fn op() -> impl Strategy<Value = Op> {
    let t = 0..3usize;
    let k = 0..6u8;
    prop_oneof![
        3 => t.clone().prop_map(Op::Begin),
        4 => (t.clone(), k.clone()).prop_map(|(t, k)| Op::Get(t, k)),
        4 => (t.clone(), k.clone(), any::<u8>()).prop_map(|(t, k, v)| Op::Put(t, k, v)),
        1 => (t.clone(), k.clone()).prop_map(|(t, k)| Op::Delete(t, k)),
        3 => t.clone().prop_map(Op::Commit),
        1 => t.prop_map(Op::Abort),
        2 => (k, any::<u8>()).prop_map(|(k, v)| Op::PlainPut(k, v)),
        1 => Just(Op::Flush),
        1 => Just(Op::Compact),
    ]
}

fn key(k: u8) -> Vec<u8> {
    vec![b'k', k]
}

/// A transaction in the model: the commit counter at begin, the state it
/// read from, what it read and wrote.
struct ModelTx {
    begun: u64,
    snapshot: BTreeMap<Vec<u8>, Vec<u8>>,
    reads: BTreeSet<Vec<u8>>,
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

#[derive(Default)]
struct Model {
    state: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Per key, the commit counter of its last write.
    written: BTreeMap<Vec<u8>, u64>,
    commits: u64,
}

impl Model {
    fn apply(&mut self, writes: &BTreeMap<Vec<u8>, Option<Vec<u8>>>) {
        self.commits += 1;
        for (k, w) in writes {
            match w {
                Some(v) => self.state.insert(k.clone(), v.clone()),
                None => self.state.remove(k),
            };
            self.written.insert(k.clone(), self.commits);
        }
    }

    /// First committer wins: the smallest key read or written that was
    /// written after the transaction began.
    fn commit(&mut self, tx: ModelTx) -> Result<(), Vec<u8>> {
        if tx.writes.is_empty() {
            return Ok(());
        }
        let keys: BTreeSet<&Vec<u8>> = tx.reads.iter().chain(tx.writes.keys()).collect();
        for k in keys {
            if self.written.get(k).is_some_and(|&c| c > tx.begun) {
                return Err(k.clone());
            }
        }
        self.apply(&tx.writes);
        Ok(())
    }
}

fn run_model(ops: Vec<Op>) {
    let db = open(Options {
        l0_compaction_trigger: 2,
        ..small()
    });
    let mut model = Model::default();
    let mut txs: Vec<Option<(larder_lsm::Transaction, ModelTx)>> = vec![None, None, None];
    for op in ops {
        match op {
            Op::Begin(t) => {
                txs[t] = Some((
                    db.transaction().expect("begin"),
                    ModelTx {
                        begun: model.commits,
                        snapshot: model.state.clone(),
                        reads: BTreeSet::new(),
                        writes: BTreeMap::new(),
                    },
                ));
            }
            Op::Get(t, k) => {
                if let Some((tx, m)) = &mut txs[t] {
                    let k = key(k);
                    let want = match m.writes.get(&k) {
                        Some(w) => w.clone(),
                        None => {
                            m.reads.insert(k.clone());
                            m.snapshot.get(&k).cloned()
                        }
                    };
                    let got = tx.get(&k).expect("get").map(|v| v.to_vec());
                    assert_eq!(got, want, "get {k:?}");
                }
            }
            Op::Put(t, k, v) => {
                if let Some((tx, m)) = &mut txs[t] {
                    tx.put(key(k), vec![v]);
                    m.writes.insert(key(k), Some(vec![v]));
                }
            }
            Op::Delete(t, k) => {
                if let Some((tx, m)) = &mut txs[t] {
                    tx.delete(key(k));
                    m.writes.insert(key(k), None);
                }
            }
            Op::Commit(t) => {
                if let Some((tx, m)) = txs[t].take() {
                    let got = match tx.commit() {
                        Ok(()) => Ok(()),
                        Err(Error::Conflict { key }) => Err(key),
                        Err(e) => panic!("commit: {e}"),
                    };
                    assert_eq!(got, model.commit(m));
                }
            }
            Op::Abort(t) => txs[t] = None,
            Op::PlainPut(k, v) => {
                db.put(key(k), vec![v]).expect("put");
                let mut w = BTreeMap::new();
                w.insert(key(k), Some(vec![v]));
                model.apply(&w);
            }
            Op::Flush => db.flush().expect("flush"),
            Op::Compact => db.compact_range::<&[u8], _>(..).expect("compact"),
        }
    }
    let got: Vec<(Vec<u8>, Vec<u8>)> = db
        .iter()
        .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).expect("scan"))
        .collect();
    let want: Vec<(Vec<u8>, Vec<u8>)> = model.state.into_iter().collect();
    assert_eq!(got, want);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Interleaved transactions, plain writes, flushes and compactions
    /// against a model that applies first-committer-wins.
    #[test]
    fn interleaved_transactions_match_a_first_committer_wins_model(
        ops in prop::collection::vec(op(), 1..120)
    ) {
        run_model(ops);
    }
}

#[test]
fn a_transaction_moves_to_another_thread() {
    fn send<T: Send>(_: &T) {}
    let db = open(small());
    let mut tx = db.transaction().expect("begin");
    send(&tx);
    tx.put("k", "v");
    std::thread::spawn(move || tx.commit().expect("commit"))
        .join()
        .expect("thread");
    assert_eq!(db.get(b"k").expect("get").as_deref(), Some(&b"v"[..]));
}
