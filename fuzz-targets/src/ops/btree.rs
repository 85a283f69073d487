//! `btree_ops`: operations on the B+ tree against a model of every table.
//!
//! Two input formats decode to the same operations. An input that starts
//! with [`V2_MAGIC`] is a sequence of [`BtreeOp`]s: named tables, a
//! multimap table, range removal, `extract_if`, ephemeral and persistent
//! savepoints, compaction. Any other input decodes as before these existed
//! ([`BtreeOpV1`], the default table only), so the committed corpus keeps
//! meaning what it meant.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arbitrary::Arbitrary;
use vfs::{CrashOptions, Fs, MemFs};

use super::{Model, Span, decode, key, pairs, value};

/// The prefix of an input in the second format.
pub(crate) const V2_MAGIC: &[u8] = b"BTv2";

/// The named plain tables (`t % 3`: 0 is the default table).
const NAMES: [&str; 3] = ["", "a", "b"];
/// The multimap table.
const MULTI: &str = "m";
/// Keys of the model's key space (`key` maps every `u8` into it).
const KEYS: u8 = 24;

fn name(t: u8) -> &'static str {
    NAMES[usize::from(t % 3)]
}

/// A multimap value: a few bytes, some empty.
fn multi_value(v: u8) -> Vec<u8> {
    vec![v % 8; usize::from(v % 3)]
}

/// Every table: plain ones by name (`""` the default table, always
/// present), and the multimap table's pairs if it exists.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Tables {
    plain: BTreeMap<String, Model>,
    multi: Option<BTreeSet<(Vec<u8>, Vec<u8>)>>,
}

impl Tables {
    fn new() -> Tables {
        Tables {
            plain: BTreeMap::from([(String::new(), Model::new())]),
            multi: None,
        }
    }

    fn table(&mut self, name: &str) -> &mut Model {
        self.plain.entry(name.to_owned()).or_default()
    }

    fn multi(&mut self) -> &mut BTreeSet<(Vec<u8>, Vec<u8>)> {
        self.multi.get_or_insert_with(BTreeSet::new)
    }
}

/// The tables and the persistent savepoints (by id, with what each keeps).
#[derive(Clone, Debug, PartialEq)]
struct State {
    tables: Tables,
    kept: BTreeMap<u64, Tables>,
}

/// One operation inside a write transaction, format 2. `t` picks a plain
/// table (`t % 3`: the default table, `a`, `b`).
#[derive(Arbitrary, Debug)]
enum TxnOp {
    Insert {
        t: u8,
        k: u8,
        len: u8,
    },
    Remove {
        t: u8,
        k: u8,
    },
    Get {
        t: u8,
        k: u8,
    },
    Range {
        t: u8,
        span: Span,
    },
    /// `remove_range` over the span (its direction ignored).
    RemoveRange {
        t: u8,
        span: Span,
    },
    /// `retain`, keeping values whose length is not a multiple of `by`.
    Retain {
        t: u8,
        by: u8,
    },
    /// `extract_from_if` over the span (or `extract_if` over the whole
    /// table without one) of values whose length is a multiple of `by`,
    /// reading at most `take` of them.
    ExtractIf {
        t: u8,
        span: Option<Span>,
        by: u8,
        take: u8,
    },
    /// Deletes table `a` or `b` (`t % 2`).
    DeleteTable {
        t: u8,
    },
    MultiInsert {
        k: u8,
        v: u8,
    },
    MultiRemove {
        k: u8,
        v: u8,
    },
    MultiRemoveAll {
        k: u8,
    },
    MultiGet {
        k: u8,
        rev: bool,
    },
    DeleteMulti,
    /// Takes an ephemeral savepoint (at most four are kept).
    Savepoint,
    /// Returns to one of the transaction's ephemeral savepoints.
    Restore {
        which: u8,
    },
    /// Creates a persistent savepoint of the last commit.
    Persist,
    /// Returns to one of the persistent savepoints.
    RestorePersistent {
        which: u8,
    },
    DeletePersistent {
        which: u8,
    },
}

/// One step on the B+ tree, format 2.
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
        t: u8,
        k: u8,
    },
    Range(Span),
    /// Opens a read transaction (at most four are kept).
    Snapshot,
    /// Reads a kept read transaction in full and in a range.
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
    /// `compact`: refused while persistent savepoints exist.
    Compact,
}

/// One operation inside a write transaction, format 1 (the default table
/// only). Never changed: it decodes the committed corpus.
#[derive(Arbitrary, Debug)]
enum TxnOpV1 {
    Insert { k: u8, len: u8 },
    Remove { k: u8 },
    Get { k: u8 },
    Range(Span),
    RemoveRange(Span),
    Retain { by: u8 },
    Savepoint,
    Restore { which: u8 },
}

/// One step on the B+ tree, format 1. Never changed.
#[derive(Arbitrary, Debug)]
enum BtreeOpV1 {
    Write {
        ops: Vec<TxnOpV1>,
        commit: bool,
        durable: bool,
    },
    Get {
        k: u8,
    },
    Range(Span),
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

impl From<TxnOpV1> for TxnOp {
    fn from(op: TxnOpV1) -> TxnOp {
        match op {
            TxnOpV1::Insert { k, len } => TxnOp::Insert { t: 0, k, len },
            TxnOpV1::Remove { k } => TxnOp::Remove { t: 0, k },
            TxnOpV1::Get { k } => TxnOp::Get { t: 0, k },
            TxnOpV1::Range(span) => TxnOp::Range { t: 0, span },
            TxnOpV1::RemoveRange(span) => TxnOp::RemoveRange { t: 0, span },
            TxnOpV1::Retain { by } => TxnOp::Retain { t: 0, by },
            TxnOpV1::Savepoint => TxnOp::Savepoint,
            TxnOpV1::Restore { which } => TxnOp::Restore { which },
        }
    }
}

impl From<BtreeOpV1> for BtreeOp {
    fn from(op: BtreeOpV1) -> BtreeOp {
        match op {
            BtreeOpV1::Write {
                ops,
                commit,
                durable,
            } => BtreeOp::Write {
                ops: ops.into_iter().map(TxnOp::from).collect(),
                commit,
                durable,
            },
            BtreeOpV1::Get { k } => BtreeOp::Get { t: 0, k },
            BtreeOpV1::Range(span) => BtreeOp::Range(span),
            BtreeOpV1::Snapshot => BtreeOp::Snapshot,
            BtreeOpV1::ReadSnapshot { which, span } => BtreeOp::ReadSnapshot { which, span },
            BtreeOpV1::Sync => BtreeOp::Sync,
            BtreeOpV1::Reopen => BtreeOp::Reopen,
            BtreeOpV1::Crash { seed, tear } => BtreeOp::Crash { seed, tear },
        }
    }
}

fn decode_ops(data: &[u8]) -> Vec<BtreeOp> {
    match data.strip_prefix(V2_MAGIC) {
        Some(rest) => decode(rest),
        None => decode::<BtreeOpV1>(data)
            .into_iter()
            .map(BtreeOp::from)
            .collect(),
    }
}

fn open(fs: &MemFs) -> btree::Db {
    let arc: Arc<dyn Fs> = Arc::new(fs.clone());
    let options = btree::Options {
        page_size_bytes: 512,
        durability: btree::Durability::Immediate,
        initial_size_bytes: 0,
        ..btree::Options::default()
    };
    btree::Db::open_with_fs(arc, "/db", options).expect("open a btree database")
}

fn collect<K: AsRef<[u8]>, V: AsRef<[u8]>>(
    it: impl DoubleEndedIterator<Item = btree::Result<(K, V)>>,
    rev: bool,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    if rev {
        pairs(it.rev().map(|kv| kv.expect("range")))
    } else {
        pairs(it.map(|kv| kv.expect("range")))
    }
}

/// Every table of a snapshot.
fn read_tables(read: &btree::ReadTxn) -> Tables {
    let mut out = Tables::new();
    out.plain.insert(
        String::new(),
        collect(read.iter(), false).into_iter().collect(),
    );
    for name in read.list_tables().expect("list_tables") {
        if name == MULTI {
            let m = read
                .open_multimap_table(MULTI)
                .expect("open_multimap_table")
                .expect("listed");
            let mut pairs = BTreeSet::new();
            for k in 0..KEYS {
                for v in m.get(&key(k)) {
                    pairs.insert((key(k), v.expect("multimap get").to_vec()));
                }
            }
            assert_eq!(m.len(), pairs.len() as u64, "multimap length");
            out.multi = Some(pairs);
        } else {
            let t = read.open_table(&name).expect("open_table").expect("listed");
            let m: Model = collect(t.iter(), false).into_iter().collect();
            assert_eq!(t.len(), m.len() as u64, "{name}: length");
            out.plain.insert(name, m);
        }
    }
    out
}

/// The tables and savepoints of the last commit.
fn read_state(db: &btree::Db) -> State {
    let tables = read_tables(&db.begin_read().expect("begin_read"));
    let ids = db
        .begin_write()
        .expect("begin_write")
        .list_persistent_savepoints()
        .expect("list_persistent_savepoints");
    State {
        tables,
        kept: ids.into_iter().map(|id| (id, Tables::new())).collect(),
    }
}

/// Checks the database holds `want` (savepoints by id only).
fn assert_state(db: &btree::Db, want: &State, what: &str) {
    let got = read_state(db);
    assert_eq!(got.tables, want.tables, "{what}: tables");
    assert_eq!(
        got.kept.keys().collect::<Vec<_>>(),
        want.kept.keys().collect::<Vec<_>>(),
        "{what}: persistent savepoints"
    );
}

/// Runs `$body` with `$t` bound to the default table (the transaction) or
/// to named table `$name`: both have the same methods.
macro_rules! with_table {
    ($txn:expr, $name:expr, |$t:ident| $body:expr) => {
        if $name.is_empty() {
            let $t = &mut $txn;
            $body
        } else {
            let mut table = $txn.open_table($name).expect("open_table");
            let $t = &mut table;
            $body
        }
    };
}

/// One operation of a write transaction on it and on the model.
fn apply(
    txn: &mut btree::WriteTxn<'_>,
    op: TxnOp,
    committed: &Tables,
    local: &mut State,
    saved: &mut Vec<(btree::Savepoint, State)>,
    deleted: &mut bool,
) {
    match op {
        TxnOp::Insert { t, k, len } => {
            let v = value(k, len, 37);
            let new = with_table!(*txn, name(t), |tb| tb.insert(&key(k), &v)).expect("insert");
            let was = local.tables.table(name(t)).insert(key(k), v);
            assert_eq!(new, was.is_none(), "insert {k}");
        }
        TxnOp::Remove { t, k } => {
            let old = with_table!(*txn, name(t), |tb| tb.remove(&key(k))).expect("remove");
            let want = local.tables.table(name(t)).remove(&key(k));
            assert_eq!(old.map(|b| b.to_vec()), want, "remove {k}");
        }
        TxnOp::Get { t, k } => {
            let got = with_table!(*txn, name(t), |tb| tb.get(&key(k))).expect("get");
            let want = local.tables.table(name(t)).get(&key(k)).cloned();
            assert_eq!(got.map(|b| b.to_vec()), want, "txn get {k}");
        }
        TxnOp::Range { t, span } => {
            let got = with_table!(*txn, name(t), |tb| collect(
                tb.range(span.bounds()),
                span.rev
            ));
            assert_eq!(
                got,
                span.model(local.tables.table(name(t))),
                "txn range {span:?}"
            );
        }
        TxnOp::RemoveRange { t, span } => {
            let m = local.tables.table(name(t));
            let gone = span.model(m);
            let n = with_table!(*txn, name(t), |tb| tb.remove_range(span.bounds()))
                .expect("remove_range");
            assert_eq!(n, gone.len() as u64, "remove_range {span:?}");
            for (k, _) in gone {
                m.remove(&k);
            }
        }
        TxnOp::Retain { t, by } => {
            let by = usize::from(by.max(1));
            let m = local.tables.table(name(t));
            let before = m.len();
            m.retain(|_, v| !v.len().is_multiple_of(by));
            let n = with_table!(*txn, name(t), |tb| tb
                .retain(|_, v| !v.len().is_multiple_of(by)))
            .expect("retain");
            assert_eq!(n, (before - m.len()) as u64, "retain");
        }
        TxnOp::ExtractIf { t, span, by, take } => {
            let by = usize::from(by.max(1));
            let select = |_: &[u8], v: &[u8]| v.len().is_multiple_of(by);
            let take = usize::from(take);
            let got: Vec<(Vec<u8>, Vec<u8>)> = with_table!(*txn, name(t), |tb| match span {
                Some(span) => pairs(
                    tb.extract_from_if(span.bounds(), select)
                        .take(take)
                        .map(|kv| kv.expect("extract_from_if"))
                ),
                None => pairs(
                    tb.extract_if(select)
                        .take(take)
                        .map(|kv| kv.expect("extract_if"))
                ),
            });
            let m = local.tables.table(name(t));
            let forward = span.map(|s| Span { rev: false, ..s });
            let inside: Vec<(Vec<u8>, Vec<u8>)> = match forward {
                Some(s) => s.model(m),
                None => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            };
            let want: Vec<_> = inside
                .into_iter()
                .filter(|(k, v)| select(k, v))
                .take(take)
                .collect();
            for (k, _) in &want {
                m.remove(k);
            }
            assert_eq!(got, want, "extract_if {span:?}");
        }
        TxnOp::DeleteTable { t } => {
            let n = NAMES[1 + usize::from(t % 2)];
            let existed = txn.delete_table(n).expect("delete_table");
            assert_eq!(
                existed,
                local.tables.plain.remove(n).is_some(),
                "delete {n}"
            );
        }
        TxnOp::MultiInsert { k, v } => {
            let (k, v) = (key(k), multi_value(v));
            let new = txn
                .open_multimap_table(MULTI)
                .expect("open_multimap_table")
                .insert(&k, &v)
                .expect("multimap insert");
            assert_eq!(new, local.tables.multi().insert((k, v)), "multimap insert");
        }
        TxnOp::MultiRemove { k, v } => {
            let (k, v) = (key(k), multi_value(v));
            let had = txn
                .open_multimap_table(MULTI)
                .expect("open_multimap_table")
                .remove(&k, &v)
                .expect("multimap remove");
            assert_eq!(had, local.tables.multi().remove(&(k, v)), "multimap remove");
        }
        TxnOp::MultiRemoveAll { k } => {
            let k = key(k);
            let n = txn
                .open_multimap_table(MULTI)
                .expect("open_multimap_table")
                .remove_all(&k)
                .expect("multimap remove_all");
            let m = local.tables.multi();
            let before = m.len();
            m.retain(|(key, _)| *key != k);
            assert_eq!(n, (before - m.len()) as u64, "multimap remove_all");
        }
        TxnOp::MultiGet { k, rev } => {
            let k = key(k);
            let table = txn.open_multimap_table(MULTI).expect("open_multimap_table");
            let it = table.get(&k);
            let got: Vec<Vec<u8>> = if rev {
                it.rev()
                    .map(|v| v.expect("multimap get").to_vec())
                    .collect()
            } else {
                it.map(|v| v.expect("multimap get").to_vec()).collect()
            };
            let mut want: Vec<Vec<u8>> = local
                .tables
                .multi()
                .iter()
                .filter(|(key, _)| *key == k)
                .map(|(_, v)| v.clone())
                .collect();
            if rev {
                want.reverse();
            }
            assert_eq!(got, want, "multimap get");
        }
        TxnOp::DeleteMulti => {
            let existed = txn.delete_table(MULTI).expect("delete_table");
            assert_eq!(
                existed,
                local.tables.multi.take().is_some(),
                "delete multimap"
            );
        }
        TxnOp::Savepoint => {
            if saved.len() < 4 {
                saved.push((txn.savepoint(), local.clone()));
            }
        }
        TxnOp::Restore { which } => {
            if let Some((sp, s)) = saved.get(usize::from(which) % saved.len().max(1)) {
                txn.restore_savepoint(sp).expect("restore_savepoint");
                *local = s.clone();
            }
        }
        TxnOp::Persist => {
            let id = txn.persistent_savepoint().expect("persistent_savepoint");
            local.kept.insert(id, committed.clone());
        }
        TxnOp::RestorePersistent { which } => {
            let Some(&id) = local
                .kept
                .keys()
                .nth(usize::from(which) % local.kept.len().max(1))
            else {
                return;
            };
            let sp = txn
                .get_persistent_savepoint(id)
                .expect("get_persistent_savepoint");
            txn.restore_savepoint(&sp).expect("restore persistent");
            local.tables = local.kept[&id].clone();
            let before = local.kept.len();
            local.kept.retain(|&k, _| k <= id);
            *deleted |= local.kept.len() < before;
        }
        TxnOp::DeletePersistent { which } => {
            let Some(&id) = local
                .kept
                .keys()
                .nth(usize::from(which) % local.kept.len().max(1))
            else {
                return;
            };
            assert!(
                txn.delete_persistent_savepoint(id)
                    .expect("delete persistent")
            );
            local.kept.remove(&id);
            *deleted = true;
        }
    }
}

/// `btree`: operations against a model of every table and persistent
/// savepoint. A power loss returns exactly to the last durable commit
/// (`Durability::Immediate`, or any commit a `sync`, a persistent
/// savepoint's creation or a compaction covered); `check` passes after
/// every reopen; at the end each persistent savepoint restores what it
/// kept.
pub fn btree_ops(data: &[u8]) {
    let ops = decode_ops(data);
    let mut fs = MemFs::new();
    let mut db = open(&fs);
    let mut state = State {
        tables: Tables::new(),
        kept: BTreeMap::new(),
    };
    let mut durable = state.clone();
    let mut snaps: Vec<(btree::ReadTxn, Tables)> = Vec::new();
    for op in ops {
        match op {
            BtreeOp::Write {
                ops,
                commit,
                durable: is_durable,
            } => {
                let mut txn = db.begin_write().expect("begin_write");
                let mut local = state.clone();
                let mut saved = Vec::new();
                // A deletion of a persistent savepoint makes the commit
                // durable, whatever was asked.
                let mut deleted = false;
                for op in ops.into_iter().take(16) {
                    let persist = matches!(op, TxnOp::Persist);
                    apply(
                        &mut txn,
                        op,
                        &state.tables,
                        &mut local,
                        &mut saved,
                        &mut deleted,
                    );
                    if persist {
                        // The last commit was made durable first.
                        durable = state.clone();
                    }
                }
                if commit {
                    assert_eq!(
                        txn.list_persistent_savepoints()
                            .expect("list_persistent_savepoints"),
                        local.kept.keys().copied().collect::<Vec<_>>(),
                        "persistent savepoints in the transaction"
                    );
                    if !is_durable {
                        txn.set_durability(btree::Durability::None);
                    }
                    txn.commit().expect("commit");
                    state = local;
                    if is_durable || deleted {
                        durable = state.clone();
                    }
                } else {
                    txn.abort();
                }
            }
            BtreeOp::Get { t, k } => {
                let read = db.begin_read().expect("begin_read");
                let got = if name(t).is_empty() {
                    read.get(&key(k)).expect("get")
                } else {
                    read.open_table(name(t))
                        .expect("open_table")
                        .and_then(|tb| tb.get(&key(k)).expect("get"))
                };
                let want = state.tables.plain.get(name(t)).and_then(|m| m.get(&key(k)));
                assert_eq!(got.as_deref(), want.map(Vec::as_slice), "get {k}");
            }
            BtreeOp::Range(span) => {
                let read = db.begin_read().expect("begin_read");
                assert_eq!(
                    collect(read.range(span.bounds()), span.rev),
                    span.model(&state.tables.plain[""]),
                    "range {span:?}"
                );
            }
            BtreeOp::Snapshot => {
                if snaps.len() == 4 {
                    snaps.remove(0);
                }
                snaps.push((db.begin_read().expect("begin_read"), state.tables.clone()));
            }
            BtreeOp::ReadSnapshot { which, span } => {
                if let Some((read, tables)) = snaps.get(usize::from(which) % snaps.len().max(1)) {
                    assert_eq!(&read_tables(read), tables, "a snapshot changed");
                    assert_eq!(
                        collect(read.range(span.bounds()), span.rev),
                        span.model(&tables.plain[""]),
                        "snapshot range"
                    );
                }
            }
            BtreeOp::Sync => {
                db.sync().expect("sync");
                durable = state.clone();
            }
            BtreeOp::Compact => match db.compact() {
                Err(btree::Error::PersistentSavepoints { count }) => {
                    assert_eq!(count, state.kept.len() as u64, "savepoints counted");
                }
                r => {
                    r.expect("compact");
                    assert!(state.kept.is_empty(), "compaction dropped savepoints");
                    durable = state.clone();
                }
            },
            BtreeOp::Reopen => {
                snaps.clear();
                drop(db);
                db = open(&fs);
                db.check().expect("check after reopen");
                // Dropping the handle does not sync: commits made without
                // durability since the last sync may be gone or present
                // (their pages are in the file, the meta page is not).
                assert_state(&db, &durable, "a reopen is at the last durable commit");
                state = durable.clone();
            }
            BtreeOp::Crash { seed, tear } => {
                snaps.clear();
                let image = fs.crash(CrashOptions {
                    seed: u64::from(seed),
                    tear,
                });
                drop(db);
                fs = image;
                db = open(&fs);
                db.check().expect("check after a crash");
                assert_state(&db, &durable, "a crash returns to the last durable commit");
                state = durable.clone();
            }
        }
    }
    assert_state(&db, &state, "final state");
    db.check().expect("final check");
    // Each persistent savepoint restores what it kept, the newest first
    // (restoring one deletes those after it).
    for (&id, want) in state.kept.iter().rev() {
        let mut txn = db.begin_write().expect("begin_write");
        let sp = txn
            .get_persistent_savepoint(id)
            .expect("get_persistent_savepoint");
        txn.restore_savepoint(&sp).expect("restore persistent");
        txn.commit().expect("commit");
        db.check().expect("check after restoring a savepoint");
        assert_eq!(
            &read_tables(&db.begin_read().expect("begin_read")),
            want,
            "savepoint {id}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inputs of either format decode to operations; the second format's
    /// reach every new kind.
    #[test]
    fn both_formats_decode_and_run() {
        let mut kinds = BTreeSet::new();
        for seed in 1..=24u64 {
            // A splitmix64 stream per seed.
            let mut x = seed;
            let bytes: Vec<u8> = (0..4096)
                .map(|_| {
                    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
                    let mut z = x;
                    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                    (z ^ (z >> 31)) as u8
                })
                .collect();
            let v1 = decode_ops(&bytes);
            assert!(!v1.is_empty());
            btree_ops(&bytes);
            let v2: Vec<u8> = V2_MAGIC.iter().copied().chain(bytes).collect();
            for op in decode_ops(&v2) {
                if let BtreeOp::Write { ops, .. } = op {
                    kinds.extend(
                        ops.iter()
                            .map(|o| format!("{o:?}").split([' ', '{']).next().map(str::to_owned)),
                    );
                }
            }
            btree_ops(&v2);
        }
        assert_eq!(
            kinds.len(),
            18,
            "transaction operation kinds seen: {kinds:?}"
        );
    }
}
