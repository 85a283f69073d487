//! Named tables: created, changed, cut by range and deleted inside write
//! transactions (and returned to ephemeral savepoints), multimap tables
//! among them,
//! committed together, read from snapshots; driven against a model of
//! several tables, and through a power cut at every sync point.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use larder_btree::{Db, Durability, Error, Options, TABLE_NAME_LEN_MAX};
use proptest::prelude::*;
use vfs::Fs;
use vfs::crash_test::{ExploreOptions, explore};

use common::{Model, contents};

/// Every table: the default one under `""`, named ones under their names.
type Tables = BTreeMap<String, Model>;

fn options() -> Options {
    Options {
        page_size_bytes: 512,
        initial_size_bytes: 0,
        ..Options::default()
    }
}

fn table_contents(db: &Db) -> Tables {
    let read = db.begin_read().unwrap();
    let mut out = Tables::new();
    out.insert(String::new(), contents(db));
    for name in read.list_tables().unwrap() {
        if name == MULTI {
            // Pairs (k, v) of one-byte keys and values, as two-byte keys.
            let t = read.open_multimap_table(&name).unwrap().unwrap();
            let mut m = Model::new();
            for k in 0..KEYS_MULTI {
                for v in t.get(&[k]) {
                    m.insert(vec![k, v.unwrap()[0]], Vec::new());
                }
            }
            assert_eq!(t.len(), m.len() as u64, "{name}: recorded length");
            out.insert(name, m);
            continue;
        }
        let t = read.open_table(&name).unwrap().unwrap();
        let m: Model = t
            .iter()
            .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
            .collect();
        assert_eq!(t.len(), m.len() as u64, "{name}: recorded length");
        out.insert(name, m);
    }
    out
}

#[test]
fn tables_commit_together_and_an_abort_drops_them() {
    let fs = Arc::new(vfs::MemFs::new());
    let db = Db::open_with_fs(fs.clone(), "/db", options()).unwrap();
    let mut txn = db.begin_write().unwrap();
    txn.insert(b"d", b"default").unwrap();
    for (name, n) in [("a", 300u32), ("b", 5), ("c", 0)] {
        let mut t = txn.open_table(name).unwrap();
        for i in 0..n {
            t.insert(&i.to_be_bytes(), &vec![i as u8; (i % 7 * 100) as usize])
                .unwrap();
        }
        assert_eq!(t.len(), u64::from(n));
    }
    let before = db.begin_read().unwrap();
    assert!(before.list_tables().unwrap().is_empty());
    assert!(before.open_table("a").unwrap().is_none());
    assert_eq!(txn.list_tables().unwrap(), ["a", "b", "c"]);
    txn.commit().unwrap();
    assert!(
        before.open_table("a").unwrap().is_none(),
        "snapshot isolation"
    );
    let read = db.begin_read().unwrap();
    assert_eq!(read.list_tables().unwrap(), ["a", "b", "c"]);
    let a = read.open_table("a").unwrap().unwrap();
    assert_eq!(a.len(), 300);
    assert_eq!(
        a.get(&7u32.to_be_bytes()).unwrap().as_deref(),
        Some(&[7u8; 0][..])
    );
    assert_eq!(
        a.get(&9u32.to_be_bytes()).unwrap().as_deref(),
        Some(&[9u8; 200][..])
    );
    assert_eq!(a.range(&5u32.to_be_bytes()[..]..).rev().count(), 295);
    let stats = db.check().unwrap();
    assert_eq!(stats.tables, 3);
    assert!(stats.table_pages > 3, "{stats:?}");

    let mut txn = db.begin_write().unwrap();
    txn.open_table("a").unwrap().insert(b"x", b"y").unwrap();
    txn.open_table("new").unwrap();
    assert!(txn.delete_table("b").unwrap());
    txn.abort();
    assert_eq!(
        db.begin_read().unwrap().list_tables().unwrap(),
        ["a", "b", "c"]
    );
    assert_eq!(
        db.begin_read()
            .unwrap()
            .open_table("a")
            .unwrap()
            .unwrap()
            .get(b"x")
            .unwrap(),
        None
    );
    drop((read, before));
    drop(db);
    let db = Db::open_with_fs(fs, "/db", options()).unwrap();
    db.check().unwrap();
    assert_eq!(
        db.begin_read().unwrap().get(b"d").unwrap().as_deref(),
        Some(&b"default"[..])
    );
    assert_eq!(table_contents(&db)["a"].len(), 300);
}

#[test]
fn deleting_a_table_frees_its_pages_for_reuse() {
    let fs = Arc::new(vfs::MemFs::new());
    let db = Db::open_with_fs(fs, "/db", options()).unwrap();
    let mut txn = db.begin_write().unwrap();
    let mut t = txn.open_table("big").unwrap();
    for i in 0..2000u32 {
        t.insert(&i.to_be_bytes(), &[1u8; 40]).unwrap();
    }
    t.insert(b"large", &[2u8; 3000]).unwrap();
    txn.commit().unwrap();
    let used = db.check().unwrap();
    let mut txn = db.begin_write().unwrap();
    assert!(txn.delete_table("big").unwrap());
    assert!(!txn.delete_table("big").unwrap());
    assert!(!txn.delete_table("never").unwrap());
    txn.commit().unwrap();
    let after = db.check().unwrap();
    assert_eq!(after.tables, 0);
    assert_eq!(after.table_pages, 0);
    assert!(
        after.free_pages >= used.table_pages,
        "{used:?} then {after:?}"
    );
    // The freed pages come back: the file does not grow for a table as big.
    let mut txn = db.begin_write().unwrap();
    let mut t = txn.open_table("again").unwrap();
    for i in 0..2000u32 {
        t.insert(&i.to_be_bytes(), &[3u8; 40]).unwrap();
    }
    txn.commit().unwrap();
    let again = db.check().unwrap();
    assert!(
        again.page_count <= after.page_count + 4,
        "{after:?} then {again:?}"
    );
}

#[test]
fn table_names_must_be_1_to_64_bytes() {
    let db = Db::open_with_fs(Arc::new(vfs::MemFs::new()), "/db", options()).unwrap();
    let mut txn = db.begin_write().unwrap();
    assert!(matches!(
        txn.open_table(""),
        Err(Error::TableNameLength { len: 0, len_max }) if len_max == TABLE_NAME_LEN_MAX
    ));
    let long = "n".repeat(TABLE_NAME_LEN_MAX + 1);
    assert!(matches!(
        txn.open_table(&long),
        Err(Error::TableNameLength { len: 65, .. })
    ));
    assert!(matches!(
        txn.delete_table(&long),
        Err(Error::TableNameLength { .. })
    ));
    txn.open_table(&"n".repeat(TABLE_NAME_LEN_MAX)).unwrap();
    txn.commit().unwrap();
    assert!(matches!(
        db.begin_read().unwrap().open_table(""),
        Err(Error::TableNameLength { .. })
    ));
}

#[test]
fn compaction_and_checkpoints_keep_every_table() {
    let fs = Arc::new(vfs::MemFs::new());
    let db = Db::open_with_fs(fs.clone(), "/db", options()).unwrap();
    let mut txn = db.begin_write().unwrap();
    txn.insert(b"k", b"v").unwrap();
    for name in ["one", "two", "empty"] {
        let mut t = txn.open_table(name).unwrap();
        if name != "empty" {
            for i in 0..500u32 {
                t.insert(&i.to_be_bytes(), name.as_bytes()).unwrap();
            }
            t.insert(b"large", &[9u8; 2000]).unwrap();
        }
    }
    txn.commit().unwrap();
    let want = table_contents(&db);
    db.checkpoint(Path::new("/cp")).unwrap();
    db.compact().unwrap();
    let stats = db.check().unwrap();
    assert_eq!((stats.tables, stats.free_pages), (3, 0));
    assert_eq!(table_contents(&db), want);
    let cp = Db::open_with_fs(fs, "/cp", options()).unwrap();
    cp.check().unwrap();
    assert_eq!(table_contents(&cp), want);
}

#[derive(Clone, Debug)]
enum Op {
    /// Into table `t` (3: the default table), key, value seed.
    Insert(u8, u8, usize),
    Remove(u8, u8),
    Get(u8, u8),
    Range(u8, u8, u8, bool),
    /// Removes the keys from the first to the second, both included.
    RemoveRange(u8, u8, u8),
    Delete(u8),
    /// Into the multimap table: add, remove a pair, remove a key's values.
    MultiInsert(u8, u8),
    MultiRemove(u8, u8),
    MultiRemoveAll(u8),
    /// Takes an ephemeral savepoint.
    Savepoint,
    /// Restores one of the transaction's savepoints (by index, modulo).
    Restore(u8),
    Commit,
    Abort,
    Reopen,
    Compact,
}

const NAMES: [&str; 3] = ["alpha", "beta", "gamma"];
/// The multimap table of the model test, its keys `0..KEYS_MULTI`.
const MULTI: &str = "multi";
const KEYS_MULTI: u8 = 8;

fn value(seed: usize) -> Vec<u8> {
    let len = match seed % 4 {
        0 => seed % 8,
        1 => seed % 64,
        2 => seed % 300,
        _ => seed % 2048,
    };
    (0..len).map(|j| (seed + j * 31) as u8).collect()
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => (0u8..4, 0u8..60, 0usize..100_000).prop_map(|(t, k, v)| Op::Insert(t, k, v)),
        5 => (0u8..4, 0u8..60).prop_map(|(t, k)| Op::Remove(t, k)),
        3 => (0u8..4, 0u8..60).prop_map(|(t, k)| Op::Get(t, k)),
        2 => (0u8..4, 0u8..60, 0u8..60, any::<bool>()).prop_map(|(t, a, b, r)| Op::Range(t, a, b, r)),
        2 => (0u8..4, 0u8..60, 0u8..60).prop_map(|(t, a, b)| Op::RemoveRange(t, a, b)),
        1 => (0u8..3).prop_map(Op::Delete),
        4 => (0..KEYS_MULTI, any::<u8>()).prop_map(|(k, v)| Op::MultiInsert(k, v % 16)),
        2 => (0..KEYS_MULTI, any::<u8>()).prop_map(|(k, v)| Op::MultiRemove(k, v % 16)),
        1 => (0..KEYS_MULTI).prop_map(Op::MultiRemoveAll),
        1 => Just(Op::Savepoint),
        1 => any::<u8>().prop_map(Op::Restore),
        3 => Just(Op::Commit),
        1 => Just(Op::Abort),
        1 => Just(Op::Reopen),
        1 => Just(Op::Compact),
    ]
}

fn name_of(t: u8) -> &'static str {
    NAMES.get(t as usize).copied().unwrap_or("")
}

/// Applies one change or read to `txn` and `model`.
fn apply(txn: &mut larder_btree::WriteTxn<'_>, model: &mut Tables, op: &Op) {
    let key = |k: u8| vec![k; (k as usize * 3) % 50];
    match *op {
        Op::Insert(t, k, v) => {
            let (k, v) = (key(k), value(v));
            let name = name_of(t);
            let new = if name.is_empty() {
                txn.insert(&k, &v).unwrap()
            } else {
                txn.open_table(name).unwrap().insert(&k, &v).unwrap()
            };
            let m = model.entry(name.to_owned()).or_default();
            assert_eq!(new, m.insert(k, v).is_none());
        }
        Op::Remove(t, k) => {
            let k = key(k);
            let name = name_of(t);
            let got = if name.is_empty() {
                txn.remove(&k).unwrap()
            } else {
                txn.open_table(name).unwrap().remove(&k).unwrap()
            };
            let m = model.entry(name.to_owned()).or_default();
            assert_eq!(got.map(|b| b.to_vec()), m.remove(&k));
        }
        Op::Get(t, k) => {
            let k = key(k);
            let name = name_of(t);
            let got = if name.is_empty() {
                txn.get(&k).unwrap()
            } else {
                txn.open_table(name).unwrap().get(&k).unwrap()
            };
            let m = model.entry(name.to_owned()).or_default();
            assert_eq!(got.map(|b| b.to_vec()), m.get(&k).cloned());
        }
        Op::Range(t, a, b, rev) => {
            let (a, b) = (key(a), key(b));
            let (a, b) = if a <= b { (a, b) } else { (b, a) };
            let name = name_of(t);
            let m = model.entry(name.to_owned()).or_default();
            let want: Vec<(Vec<u8>, Vec<u8>)> = m
                .range(a.clone()..=b.clone())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let collect = |it: larder_btree::WriteRange<'_>| -> Vec<(Vec<u8>, Vec<u8>)> {
                let mut got: Vec<(Vec<u8>, Vec<u8>)> = if rev {
                    it.rev()
                        .map(|kv| kv.unwrap())
                        .map(|(k, v)| (k.to_vec(), v.to_vec()))
                        .collect()
                } else {
                    it.map(|kv| kv.unwrap())
                        .map(|(k, v)| (k.to_vec(), v.to_vec()))
                        .collect()
                };
                if rev {
                    got.reverse();
                }
                got
            };
            let got = if name.is_empty() {
                collect(txn.range(a.as_slice()..=b.as_slice()))
            } else {
                let t = txn.open_table(name).unwrap();
                collect(t.range(a.as_slice()..=b.as_slice()))
            };
            assert_eq!(got, want);
        }
        Op::RemoveRange(t, a, b) => {
            let (a, b) = (key(a), key(b));
            let (a, b) = if a <= b { (a, b) } else { (b, a) };
            let name = name_of(t);
            let n = if name.is_empty() {
                txn.remove_range(a.as_slice()..=b.as_slice()).unwrap()
            } else {
                let mut t = txn.open_table(name).unwrap();
                t.remove_range(a.as_slice()..=b.as_slice()).unwrap()
            };
            let m = model.entry(name.to_owned()).or_default();
            let before = m.len();
            m.retain(|k, _| k < &a || k > &b);
            assert_eq!(n, (before - m.len()) as u64);
        }
        Op::MultiInsert(k, v) => {
            let new = txn
                .open_multimap_table(MULTI)
                .unwrap()
                .insert(&[k], &[v])
                .unwrap();
            let m = model.entry(MULTI.to_owned()).or_default();
            assert_eq!(new, m.insert(vec![k, v], Vec::new()).is_none());
        }
        Op::MultiRemove(k, v) => {
            let had = txn
                .open_multimap_table(MULTI)
                .unwrap()
                .remove(&[k], &[v])
                .unwrap();
            let m = model.entry(MULTI.to_owned()).or_default();
            assert_eq!(had, m.remove(&vec![k, v]).is_some());
        }
        Op::MultiRemoveAll(k) => {
            let n = txn
                .open_multimap_table(MULTI)
                .unwrap()
                .remove_all(&[k])
                .unwrap();
            let m = model.entry(MULTI.to_owned()).or_default();
            let before = m.len();
            m.retain(|p, _| p[0] != k);
            assert_eq!(n, (before - m.len()) as u64);
            let t = txn.open_multimap_table(MULTI).unwrap();
            assert_eq!(t.get(&[k]).count(), 0);
        }
        Op::Delete(t) => {
            let name = name_of(t);
            let existed = txn.delete_table(name).unwrap();
            assert_eq!(existed, model.remove(name).is_some());
        }
        Op::Savepoint | Op::Restore(_) | Op::Commit | Op::Abort | Op::Reopen | Op::Compact => {}
    }
}

/// The model as the database shows it: tables opened but left empty exist.
fn normalized(model: &Tables) -> Tables {
    let mut m = model.clone();
    m.entry(String::new()).or_default();
    m
}

fn run(ops: Vec<Op>, durability: Durability) {
    let fs = Arc::new(vfs::MemFs::new());
    let options = Options {
        durability,
        write_buffer_bytes: 8 << 10,
        ..options()
    };
    let mut db = Db::open_with_fs(fs.clone(), "/db", options.clone()).unwrap();
    let mut committed = Tables::new();
    let mut i = 0;
    while i < ops.len() {
        let mut txn = db.begin_write().unwrap();
        let mut model = committed.clone();
        let mut saved: Vec<(larder_btree::Savepoint, Tables)> = Vec::new();
        let mut end = Op::Abort;
        while i < ops.len() {
            let op = &ops[i];
            i += 1;
            if matches!(op, Op::Commit | Op::Abort | Op::Reopen | Op::Compact) {
                end = op.clone();
                break;
            }
            match op {
                Op::Savepoint => saved.push((txn.savepoint(), model.clone())),
                Op::Restore(at) if !saved.is_empty() => {
                    let (sp, m) = &saved[*at as usize % saved.len()];
                    txn.restore_savepoint(sp).unwrap();
                    model = m.clone();
                }
                _ => apply(&mut txn, &mut model, op),
            }
        }
        match end {
            Op::Commit => {
                txn.commit().unwrap();
                committed = model;
                // A savepoint of a finished transaction fits no other.
                if let Some((sp, _)) = saved.first() {
                    let mut next = db.begin_write().unwrap();
                    assert!(matches!(
                        next.restore_savepoint(sp),
                        Err(larder_btree::Error::ForeignSavepoint)
                    ));
                }
            }
            Op::Reopen => {
                drop(txn);
                db.sync().unwrap();
                drop(db);
                db = Db::open_with_fs(fs.clone(), "/db", options.clone()).unwrap();
            }
            Op::Compact => {
                drop(txn);
                db.compact().unwrap();
            }
            _ => drop(txn),
        }
        db.check().unwrap();
        assert_eq!(table_contents(&db), normalized(&committed));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn tables_match_a_model_of_several_maps(ops in proptest::collection::vec(op(), 1..300)) {
        run(ops, Durability::Immediate);
    }

    #[test]
    fn tables_match_a_model_without_syncs(ops in proptest::collection::vec(op(), 1..200)) {
        run(ops, Durability::None);
    }
}

/// What the crash workload knew when it stopped.
#[derive(Clone, Default)]
struct Known {
    durable: Tables,
    in_flight: Option<Tables>,
}

/// Commits that change several tables at once (and delete and recreate
/// one), every third not durable by itself.
fn crash_workload(fs: Arc<dyn Fs>, commits: u32) -> Known {
    let mut known = Known {
        durable: normalized(&Tables::new()),
        in_flight: None,
    };
    let Ok(db) = Db::open_with_fs(fs, "/db", options()) else {
        return known;
    };
    let mut model = normalized(&Tables::new());
    for c in 0..commits {
        let Ok(mut txn) = db.begin_write() else {
            return known;
        };
        for j in 0..9u32 {
            let name = name_of(((c + j) % 4) as u8);
            let k = ((c * 5 + j * 11) % 40).to_be_bytes().to_vec();
            let remove = (c + j) % 5 == 0;
            let v = value((c * 31 + j * 7) as usize);
            let r = if name.is_empty() {
                if remove {
                    txn.remove(&k).map(drop)
                } else {
                    txn.insert(&k, &v).map(drop)
                }
            } else {
                txn.open_table(name).and_then(|mut t| {
                    if remove {
                        t.remove(&k).map(drop)
                    } else {
                        t.insert(&k, &v).map(drop)
                    }
                })
            };
            if r.is_err() {
                return known;
            }
            let m = model.entry(name.to_owned()).or_default();
            if remove {
                m.remove(&k);
            } else {
                m.insert(k, v);
            }
        }
        if c % 5 == 4 {
            let (a, b) = (
                ((c * 3) % 40).to_be_bytes(),
                ((c * 3) % 40 + 15).to_be_bytes(),
            );
            if txn
                .open_table("alpha")
                .and_then(|mut t| t.remove_range(a.as_slice()..b.as_slice()))
                .is_err()
            {
                return known;
            }
            let m = model.entry("alpha".to_owned()).or_default();
            m.retain(|k, _| k.as_slice() < a.as_slice() || k.as_slice() >= b.as_slice());
        }
        {
            let (k, v) = ((c % u32::from(KEYS_MULTI)) as u8, (c * 7 % 16) as u8);
            let r = txn.open_multimap_table(MULTI).and_then(|mut t| {
                t.insert(&[k], &[v])?;
                if c % 6 == 5 {
                    t.remove_all(&[(k + 1) % KEYS_MULTI])?;
                }
                Ok(())
            });
            if r.is_err() {
                return known;
            }
            let m = model.entry(MULTI.to_owned()).or_default();
            m.insert(vec![k, v], Vec::new());
            if c % 6 == 5 {
                m.retain(|p, _| p[0] != (k + 1) % KEYS_MULTI);
            }
        }
        if c % 7 == 6 {
            if txn.delete_table("beta").is_err() {
                return known;
            }
            model.remove("beta");
        }
        let durable = c % 3 != 1;
        if !durable {
            txn.set_durability(Durability::None);
        }
        match txn.commit() {
            Ok(()) if durable => known.durable = model.clone(),
            Ok(()) => {}
            Err(_) => {
                if durable {
                    known.in_flight = Some(model);
                }
                return known;
            }
        }
    }
    match db.sync() {
        Ok(()) => known.durable = model,
        Err(_) => known.in_flight = Some(model),
    }
    known
}

#[test]
fn every_table_survives_a_power_cut_at_every_sync_as_of_one_commit() {
    let report = explore(
        &ExploreOptions::default(),
        |fs| crash_workload(fs, 24),
        |point, disk, known| {
            let disk: Arc<dyn Fs> = Arc::new(disk);
            if !disk.exists(Path::new("/db")).unwrap() {
                return;
            }
            let db = Db::open_with_fs(disk, "/db", options())
                .unwrap_or_else(|e| panic!("{point:?}: {e}"));
            db.check().unwrap_or_else(|e| panic!("{point:?}: {e}"));
            let got = table_contents(&db);
            assert!(
                got == known.durable || known.in_flight.as_ref() == Some(&got),
                "{point:?}: the tables are not as of one commit"
            );
            let mut txn = db.begin_write().unwrap();
            txn.open_table("after").unwrap().insert(b"a", b"b").unwrap();
            txn.commit().unwrap();
            db.check().unwrap();
        },
    );
    assert!(report.syncs > 15, "{report:?}");
}

#[test]
fn multimap_tables_hold_many_sorted_values_per_key() {
    let fs = Arc::new(vfs::MemFs::new());
    let db = Db::open_with_fs(fs.clone(), "/db", options()).unwrap();
    let mut model: BTreeMap<Vec<u8>, std::collections::BTreeSet<Vec<u8>>> = BTreeMap::new();
    let mut txn = db.begin_write().unwrap();
    let mut m = txn.open_multimap_table("tags").unwrap();
    // Keys and values with zero bytes, empty ones, and keys that prefix others.
    let keys: [&[u8]; 5] = [b"", b"\x00", b"a", b"a\x00", b"ab"];
    for (i, k) in keys.iter().enumerate() {
        for j in 0..(i * 40 + 3) {
            let v = format!("{:04}", (j * 7919) % 1000).into_bytes();
            let new = model.entry(k.to_vec()).or_default().insert(v.clone());
            assert_eq!(m.insert(k, &v).unwrap(), new);
        }
    }
    assert!(!m.insert(b"a", b"0000").unwrap(), "a pair is there once");
    assert!(m.remove(b"ab", b"0000").unwrap());
    assert!(!m.remove(b"ab", b"0000").unwrap());
    model.get_mut(&b"ab"[..]).unwrap().remove(&b"0000"[..]);
    let pairs: usize = model.values().map(|s| s.len()).sum();
    assert_eq!(m.len(), pairs as u64);
    for k in keys {
        let got: Vec<Vec<u8>> = m.get(k).map(|v| v.unwrap().to_vec()).collect();
        let want: Vec<Vec<u8>> = model[k].iter().cloned().collect();
        assert_eq!(got, want, "{k:?}");
        let back: Vec<Vec<u8>> = m.get(k).rev().map(|v| v.unwrap().to_vec()).collect();
        assert_eq!(back, want.iter().rev().cloned().collect::<Vec<_>>());
    }
    assert_eq!(m.get(b"missing").count(), 0);
    assert!(matches!(
        txn.open_table("tags"),
        Err(Error::TableKind { multimap: true, .. })
    ));
    txn.open_table("plain").unwrap();
    assert!(matches!(
        txn.open_multimap_table("plain"),
        Err(Error::TableKind {
            multimap: false,
            ..
        })
    ));
    txn.commit().unwrap();
    db.check().unwrap();

    let mut txn = db.begin_write().unwrap();
    let mut m = txn.open_multimap_table("tags").unwrap();
    assert_eq!(m.remove_all(b"a").unwrap(), model[&b"a"[..]].len() as u64);
    model.remove(&b"a"[..]);
    txn.commit().unwrap();
    db.compact().unwrap();
    db.check().unwrap();
    drop(db);
    let db = Db::open_with_fs(fs, "/db", options()).unwrap();
    let read = db.begin_read().unwrap();
    let m = read.open_multimap_table("tags").unwrap().unwrap();
    for (k, want) in &model {
        let got: Vec<Vec<u8>> = m.get(k).map(|v| v.unwrap().to_vec()).collect();
        assert_eq!(&got, &want.iter().cloned().collect::<Vec<_>>());
    }
    assert_eq!(m.get(b"a").count(), 0);
    assert_eq!(m.get(b"a\x00").count(), model[&b"a\x00"[..]].len());
    assert!(matches!(
        read.open_table("tags"),
        Err(Error::TableKind { .. })
    ));
}
