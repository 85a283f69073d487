//! The `btree` side of the soak: every feature a transaction has, on the
//! keys the expected state tracks.
//!
//! - **Named tables**: key `k` lives in table `TABLES[k % 3]` (the default
//!   table and two named ones), so a batch commits several tables at once
//!   and a kill must leave all of them as of one commit.
//! - **Multimap table**: `ids` maps each present key to the write id of
//!   its value (one value per key, replaced on each put), in the same
//!   transaction; [`audit`] checks it agrees with the tables exactly.
//! - **Range removal**: deletes go through `remove_range`, one per run of
//!   deleted keys that are adjacent in their table.
//! - **Savepoints**: some transactions write garbage over their keys and
//!   return to an ephemeral savepoint; some create a persistent savepoint,
//!   write garbage, restore it and delete it; some create one and keep it
//!   (the two newest are kept). A leaked garbage value is a damaged value
//!   to the verifier; [`audit`] runs `check` (which walks the pages every
//!   kept savepoint holds) and restores each kept savepoint in a
//!   transaction it aborts, checking every value there is sound.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::engine::{Change, EngineResult};
use crate::value::{Parsed, key, key_number, parse};

/// The tables keys are spread over, by `k % 3`.
const TABLES: [&str; 3] = ["", "t1", "t2"];
/// The multimap table of write ids.
const IDS: &str = "ids";
/// Persistent savepoints kept at once.
const KEPT_MAX: usize = 2;

/// Transactions begun, for choosing which ones use savepoints.
static COMMITS: AtomicU64 = AtomicU64::new(0);

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn table_of(k: u32) -> &'static str {
    TABLES[(k % 3) as usize]
}

/// The write id a value carries (its bytes 4..12), if it has one.
fn id_of(v: &[u8]) -> Option<[u8; 8]> {
    v.get(4..12)?.try_into().ok()
}

/// Garbage: never a sound value, so the verifier calls it damaged.
const GARBAGE: &[u8] = b"garbage: a savepoint leaked";

fn insert(txn: &mut btree::WriteTxn<'_>, k: u32, v: &[u8]) -> btree::Result<()> {
    let name = table_of(k);
    if name.is_empty() {
        txn.insert(&key(k), v)?;
    } else {
        txn.open_table(name)?.insert(&key(k), v)?;
    }
    let mut ids = txn.open_multimap_table(IDS)?;
    ids.remove_all(&key(k))?;
    if let Some(id) = id_of(v) {
        ids.insert(&key(k), &id)?;
    }
    Ok(())
}

/// Removes keys `from..=to` of table `name` (keys of one table, `k % 3`
/// alike, so the range holds no key of the batch's other tables).
fn remove_run(txn: &mut btree::WriteTxn<'_>, from: u32, to: u32) -> btree::Result<()> {
    let (lo, hi) = (key(from), key(to));
    let name = table_of(from);
    if name.is_empty() {
        txn.remove_range(&lo[..]..=&hi[..])?;
    } else {
        txn.open_table(name)?.remove_range(&lo[..]..=&hi[..])?;
    }
    let mut ids = txn.open_multimap_table(IDS)?;
    for k in (from..=to).step_by(3) {
        ids.remove_all(&key(k))?;
    }
    Ok(())
}

/// Applies `changes` (keys sorted) in one transaction.
pub(crate) fn write(db: &btree::Db, changes: &[Change]) -> EngineResult<()> {
    let n = COMMITS.fetch_add(1, Ordering::Relaxed);
    let mut txn = db.begin_write().map_err(err)?;
    let garbage = |txn: &mut btree::WriteTxn<'_>| -> btree::Result<()> {
        for (k, _) in changes {
            insert(txn, *k, GARBAGE)?;
        }
        Ok(())
    };
    if n % 8 == 3 {
        let sp = txn.savepoint();
        garbage(&mut txn).map_err(err)?;
        txn.restore_savepoint(&sp).map_err(err)?;
    }
    if n % 32 == 7 {
        let id = txn.persistent_savepoint().map_err(err)?;
        garbage(&mut txn).map_err(err)?;
        let sp = txn.get_persistent_savepoint(id).map_err(err)?;
        txn.restore_savepoint(&sp).map_err(err)?;
        txn.delete_persistent_savepoint(id).map_err(err)?;
    }
    if n % 64 == 40 {
        txn.persistent_savepoint().map_err(err)?;
        let ids = txn.list_persistent_savepoints().map_err(err)?;
        for &old in ids.iter().take(ids.len().saturating_sub(KEPT_MAX)) {
            txn.delete_persistent_savepoint(old).map_err(err)?;
        }
    }
    // Puts one by one; deletes as runs of keys adjacent in their table.
    let mut run: Option<(u32, u32)> = None;
    let mut deletes: Vec<(u32, u32)> = Vec::new();
    let mut by_table: Vec<&Change> = changes.iter().collect();
    by_table.sort_by_key(|(k, _)| (k % 3, *k));
    for (k, v) in by_table {
        match v {
            Some(v) => insert(&mut txn, *k, v).map_err(err)?,
            None => {
                run = match run {
                    Some((from, to)) if to + 3 == *k => Some((from, *k)),
                    Some(r) => {
                        deletes.push(r);
                        Some((*k, *k))
                    }
                    None => Some((*k, *k)),
                };
            }
        }
    }
    deletes.extend(run);
    for (from, to) in deletes {
        remove_run(&mut txn, from, to).map_err(err)?;
    }
    txn.commit().map_err(err)
}

/// The value of key `k`.
pub(crate) fn get(db: &btree::Db, k: u32) -> EngineResult<Option<Vec<u8>>> {
    let read = db.begin_read().map_err(err)?;
    get_in(&read, k)
}

fn get_in(read: &btree::ReadTxn, k: u32) -> EngineResult<Option<Vec<u8>>> {
    let name = table_of(k);
    let v = if name.is_empty() {
        read.get(&key(k)).map_err(err)?
    } else {
        match read.open_table(name).map_err(err)? {
            Some(t) => t.get(&key(k)).map_err(err)?,
            None => None,
        }
    };
    Ok(v.map(|v| v.to_vec()))
}

/// Up to `n` pairs from key `from` on, merged across the tables.
pub(crate) fn scan(db: &btree::Db, from: u32, n: usize) -> EngineResult<Vec<(Vec<u8>, Vec<u8>)>> {
    let read = db.begin_read().map_err(err)?;
    let lo = key(from);
    let mut out: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for kv in read.range(&lo[..]..).take(n) {
        let (k, v) = kv.map_err(err)?;
        out.push((k.to_vec(), v.to_vec()));
    }
    for name in &TABLES[1..] {
        if let Some(t) = read.open_table(name).map_err(err)? {
            for kv in t.range(&lo[..]..).take(n) {
                let (k, v) = kv.map_err(err)?;
                out.push((k.to_vec(), v.to_vec()));
            }
        }
    }
    out.sort();
    out.truncate(n);
    Ok(out)
}

/// What the plain tables' values cannot show: `check` (every page, those
/// kept for persistent savepoints included), the multimap table against
/// the tables, and each kept savepoint restored in a transaction that is
/// then dropped, every value there sound. Returns the violations found.
pub(crate) fn audit(db: &btree::Db, keys: u32) -> EngineResult<Vec<String>> {
    let mut out = Vec::new();
    if let Err(e) = db.check() {
        out.push(format!("btree check: {e}"));
        return Ok(out);
    }
    let read = db.begin_read().map_err(err)?;
    let ids = read.open_multimap_table(IDS).map_err(err)?;
    for k in 0..keys {
        let want: Vec<Vec<u8>> = get_in(&read, k)?
            .and_then(|v| id_of(&v))
            .map(|id| id.to_vec())
            .into_iter()
            .collect();
        let got: Vec<Vec<u8>> = match &ids {
            Some(m) => m
                .get(&key(k))
                .map(|v| v.map(|v| v.to_vec()).map_err(err))
                .collect::<EngineResult<_>>()?,
            None => Vec::new(),
        };
        if got != want {
            out.push(format!(
                "key {k}: the multimap table holds ids {got:02x?}, its table {want:02x?}"
            ));
        }
    }
    let mut txn = db.begin_write().map_err(err)?;
    // The newest first: restoring one deletes those after it.
    for id in txn
        .list_persistent_savepoints()
        .map_err(err)?
        .into_iter()
        .rev()
    {
        let sp = txn.get_persistent_savepoint(id).map_err(err)?;
        txn.restore_savepoint(&sp).map_err(err)?;
        for name in TABLES {
            let mut check = |k: &[u8], v: &[u8]| match key_number(k) {
                Some(n) if matches!(parse(n, v), Parsed::Id(_)) => {}
                _ => out.push(format!(
                    "savepoint {id}: table {name:?}: key {k:02x?} unsound"
                )),
            };
            if name.is_empty() {
                for kv in txn.iter() {
                    let (k, v) = kv.map_err(err)?;
                    check(&k, &v);
                }
            } else if let Some(t) = txn.list_tables().map_err(err)?.iter().find(|t| *t == name) {
                let t = txn.open_table(t).map_err(err)?;
                for kv in t.iter() {
                    let (k, v) = kv.map_err(err)?;
                    check(&k, &v);
                }
            }
        }
    }
    txn.abort();
    Ok(out)
}
