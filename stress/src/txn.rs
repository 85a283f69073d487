//! lsm's optimistic transactions under the soak: read-modify-write of a
//! few keys, racing the other threads' plain writes.
//!
//! A transaction begins and reads its keys with no lock held, so other
//! writers may write them before it commits. Then it takes its keys'
//! stripes, which settles what happened in between: a key whose last
//! write is no longer the one the transaction read was written after its
//! snapshot, and the commit must fail with `Conflict`; a key that still
//! holds what it read, with a put as its last write, was not, and if no
//! key was, the commit must succeed. One case stays open: a key read as
//! absent and still absent may have been deleted again in between (a
//! delete of an absent key changes nothing a reader sees), so then either
//! outcome is legal, and the expected state follows the one that happened.
//! The writes are recorded as pending before the commit, as a plain
//! write's are, so a kill at any point leaves a state the verifier accepts.

use std::sync::atomic::Ordering;

use rand::Rng;
use rand::rngs::SmallRng;

use crate::lsm_engine::default_key;
use crate::run::Shared;
use crate::value::{Parsed, key, parse, value};

/// What the transaction read of a key: a put's id, or absent.
fn read_id(k: u32, v: Option<&[u8]>) -> Result<Option<u64>, String> {
    match v.map(|v| parse(k, v)) {
        None => Ok(None),
        Some(Parsed::Id(id)) => Ok(Some(id)),
        Some(other) => Err(format!("transaction get {k}: {other:?}")),
    }
}

/// One transaction over 1 to 3 keys of the default keyspace (the only
/// one transactions write): read each, then put a new value (or
/// delete, one time in four) for each, and commit.
pub(crate) fn transact(
    s: &Shared,
    db: &lsm::Db,
    rng: &mut SmallRng,
    keys: u32,
) -> Result<(), String> {
    let mut ks: Vec<u32> = (0..rng.random_range(1..=3))
        .map(|_| default_key(rng.random_range(0..keys)))
        .collect();
    ks.sort_unstable();
    ks.dedup();
    let mut txn = db.transaction().map_err(|e| format!("begin: {e}"))?;
    let mut seen = Vec::with_capacity(ks.len());
    for &k in &ks {
        let v = txn
            .get(&key(k))
            .map_err(|e| format!("transaction get {k}: {e}"))?;
        seen.push(read_id(k, v.as_deref())?);
    }
    let _guards = s.lock_keys(&ks);
    // With the stripes held no write of these keys is in flight: each
    // slot's `committed` is its last write's outcome.
    let mut must_conflict = None;
    let mut may_conflict = false;
    for (&k, &read) in ks.iter().zip(&seen) {
        let committed = s.slots[k as usize].lock().committed;
        match (read, committed) {
            (Some(r), c) if r == c => {}
            (None, 0) => may_conflict = true,
            _ => {
                must_conflict.get_or_insert(k);
            }
        }
    }
    let mut plan: Vec<(u32, u64, bool)> = Vec::with_capacity(ks.len());
    for &k in &ks {
        let put = rng.random_range(0..4) != 0;
        let id = s.begin_write(k, put)?;
        if put {
            txn.put(key(k).to_vec(), value(k, id));
        } else {
            txn.delete(key(k).to_vec());
        }
        plan.push((k, id, put));
    }
    let committed = match txn.commit() {
        Ok(()) => match must_conflict {
            Some(k) => {
                return Err(format!(
                    "a transaction committed though key {k} was written after it read it"
                ));
            }
            None => true,
        },
        Err(lsm::Error::Conflict { key: c }) => {
            if must_conflict.is_none() && !may_conflict {
                return Err(format!(
                    "a transaction met a conflict on {c:02x?}, but none of its keys was written after it read them"
                ));
            }
            false
        }
        Err(e) => return Err(format!("commit: {e}")),
    };
    for &(k, id, put) in &plan {
        s.settle_write(k, id, put, committed)?;
    }
    let counter = if committed {
        &s.txn_commits
    } else {
        &s.txn_conflicts
    };
    counter.fetch_add(1, Ordering::Relaxed);
    if committed {
        s.acked.fetch_add(plan.len() as u64, Ordering::Relaxed);
    }
    Ok(())
}
