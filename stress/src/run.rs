#![allow(
    clippy::print_stdout,
    reason = "the `verified` and `acked` lines on stdout are what the crash-test driver reads"
)]

//! One run of the workload: verify what the last run left, then write,
//! read and scan from several threads until the time is up (or a SIGKILL
//! comes), keeping the expected state current.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::engine::{Change, Engine, Kind};
use crate::expected::{Expected, Slot, legal, on_off};
use crate::value::{Member, Parsed, batch_value, key_number, members, parse};

/// What a run is asked to do.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Which engine.
    pub engine: Kind,
    /// Keys `0..keys`.
    pub keys: u32,
    /// Threads doing the workload.
    pub threads: usize,
    /// Sync on: every write durable before it is acknowledged; off: a
    /// `sync` every 100 ms.
    pub sync_on: bool,
    /// How long to write; 0 verifies only.
    pub seconds: f64,
    /// Seeds the workload.
    pub seed: u64,
    /// lsm: values of at least this many bytes go to blob files.
    pub blob_threshold: Option<usize>,
}

/// What the verification at the start of a run found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Keys checked (all of them).
    pub keys: u64,
    /// Keys present.
    pub present: u64,
    /// Values read that name their batch (lsm), each checked against the
    /// batch's other keys.
    pub batch_values: u64,
    /// States no legal history explains, described.
    pub violations: Vec<String>,
}

/// What the workload after the verification did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Workload {
    /// Writes acknowledged (a batch's or transaction's keys count one each).
    pub acked: u64,
    /// lsm transactions that committed.
    pub txn_commits: u64,
    /// lsm transactions refused with `Conflict` (each one checked: a key
    /// it read had been written since).
    pub txn_conflicts: u64,
}

/// Striped locks: one writer per key at a time, and the sync thread can
/// stop all writers at once.
const STRIPES: usize = 64;

pub(crate) struct Shared {
    pub(crate) db: Engine,
    /// Written with `pwrite` from every thread: no lock needed.
    pub(crate) expected: Expected,
    /// The in-memory copy of every slot.
    pub(crate) slots: Vec<Mutex<Slot>>,
    pub(crate) stripes: Vec<Mutex<()>>,
    pub(crate) next_id: AtomicU64,
    pub(crate) acked: AtomicU64,
    /// lsm transactions committed, and refused with a conflict.
    pub(crate) txn_commits: AtomicU64,
    pub(crate) txn_conflicts: AtomicU64,
    stop: AtomicBool,
    failed: Mutex<Option<String>>,
}

impl Shared {
    /// Locks the stripes of `keys` (in stripe order, so two writers never
    /// wait for each other in a cycle).
    pub(crate) fn lock_keys(&self, keys: &[u32]) -> Vec<parking_lot::MutexGuard<'_, ()>> {
        let mut stripes: Vec<usize> = keys.iter().map(|&k| k as usize % STRIPES).collect();
        stripes.sort_unstable();
        stripes.dedup();
        stripes.iter().map(|&i| self.stripes[i].lock()).collect()
    }

    /// Takes a write id for a put (or a delete) of `k` and records it as
    /// pending, before the engine sees the write. The key's stripe is held.
    pub(crate) fn begin_write(&self, k: u32, put: bool) -> Result<u64, String> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut slot = self.slots[k as usize].lock();
        slot.pending = if put { id } else { 0 };
        slot.in_flight = true;
        self.expected
            .write_slot(k, &slot)
            .map_err(|e| format!("expected state: {e}"))?;
        Ok(id)
    }

    /// Settles write `id` of `k` begun by [`Shared::begin_write`]: if it
    /// `landed`, it is the key's last acknowledged write; either way
    /// nothing is in flight any more.
    pub(crate) fn settle_write(
        &self,
        k: u32,
        id: u64,
        put: bool,
        landed: bool,
    ) -> Result<(), String> {
        let mut slot = self.slots[k as usize].lock();
        if landed && put {
            slot.committed = id;
        } else if landed {
            slot.committed = 0;
            slot.deleted_at = id;
        }
        slot.pending = 0;
        slot.in_flight = false;
        self.expected
            .write_slot(k, &slot)
            .map_err(|e| format!("expected state: {e}"))
    }
}

/// Reads every key back and checks it against the expected state.
pub fn verify(db: &Engine, expected: &Expected) -> Result<(Verified, Vec<Option<u64>>), String> {
    let slots = expected
        .slots()
        .map_err(|e| format!("reading the expected state: {e}"))?;
    let mut found: Vec<Option<u64>> = vec![None; expected.keys as usize];
    let mut batches: Vec<(u32, u64, Vec<Member>)> = Vec::new();
    let mut v = Verified {
        keys: u64::from(expected.keys),
        ..Verified::default()
    };
    for (k, val) in db.all()? {
        let Some(n) = key_number(&k).filter(|&n| n < expected.keys) else {
            v.violations
                .push(format!("a key that was never written: {k:02x?}"));
            continue;
        };
        match parse(n, &val) {
            Parsed::Id(id) => {
                found[n as usize] = Some(id);
                let ms = members(&val);
                if !ms.is_empty() {
                    batches.push((n, id, ms));
                }
            }
            Parsed::OtherKey(o) => v.violations.push(format!("key {n} holds key {o}'s value")),
            Parsed::Damaged => v.violations.push(format!("key {n}: a damaged value")),
        }
    }
    v.violations.extend(db.audit(expected.keys)?);
    v.violations.extend(torn_batches(&batches, &found, &slots));
    v.batch_values = batches.len() as u64;
    for (n, (slot, f)) in slots.iter().zip(&found).enumerate() {
        if f.is_some() {
            v.present += 1;
        }
        if !legal(slot, expected.sync_on, expected.sync_mark, *f) {
            v.violations.push(format!(
                "key {n}: found {f:?}; expected {slot:?} (sync {}, sync mark {})",
                on_off(expected.sync_on),
                expected.sync_mark
            ));
        }
    }
    Ok((v, found))
}

/// Batches that did not survive whole: a key holds a write of a batch
/// (`batches`: key, write id, the batch's members), so the whole batch
/// landed, and each other member's key must hold that member's write or a
/// later one. A key may be absent if the member deleted it, or a later
/// delete was acknowledged (`deleted_at`, which a verification also sets
/// for every key it finds absent) or in flight.
fn torn_batches(
    batches: &[(u32, u64, Vec<Member>)],
    found: &[Option<u64>],
    slots: &[Slot],
) -> Vec<String> {
    let mut out = Vec::new();
    for (k, id, ms) in batches {
        for m in ms.iter().filter(|m| m.key != *k) {
            let Some(slot) = slots.get(m.key as usize) else {
                out.push(format!(
                    "key {k}: write {id} names key {}, out of range",
                    m.key
                ));
                continue;
            };
            let ok = match found[m.key as usize] {
                Some(f) => f > m.id || (f == m.id && m.put),
                None => !m.put || slot.deleted_at > m.id || (slot.in_flight && slot.pending == 0),
            };
            if !ok {
                out.push(format!(
                    "torn batch: key {k} holds write {id} of a batch that also wrote key {} \
                     (write {}, {}), which holds {:?}",
                    m.key,
                    m.id,
                    if m.put { "a put" } else { "a delete" },
                    found[m.key as usize]
                ));
            }
        }
    }
    out
}

/// Opens the directory, verifies it, makes what it found the baseline, and
/// runs the workload for `seconds`. Prints `verified ...` once and `acked
/// N` lines as it goes, for the crash-test driver.
pub fn run(dir: &Path, o: &RunOptions) -> Result<(Verified, Workload), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut expected = Expected::open(&dir.join("expected"), o.keys, o.sync_on)
        .map_err(|e| format!("expected state: {e}"))?;
    let db = Engine::open(o.engine, dir, o.sync_on, o.blob_threshold)?;
    let (verified, found) = verify(&db, &expected)?;
    println!(
        "verified {} keys, {} present, {} violations, {} batch values",
        verified.keys,
        verified.present,
        verified.violations.len(),
        verified.batch_values
    );
    for line in verified.violations.iter().take(20) {
        println!("violation: {line}");
    }
    let _ = std::io::stdout().flush();
    if !verified.violations.is_empty() || o.seconds <= 0.0 {
        return Ok((verified, Workload::default()));
    }
    expected
        .reset_to(&found)
        .map_err(|e| format!("expected state: {e}"))?;
    let first_id = expected
        .reserve_run()
        .map_err(|e| format!("expected state: {e}"))?;
    let slots = expected
        .slots()
        .map_err(|e| format!("expected state: {e}"))?
        .into_iter()
        .map(Mutex::new)
        .collect();
    let shared = Arc::new(Shared {
        db,
        expected,
        slots,
        stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
        next_id: AtomicU64::new(first_id),
        acked: AtomicU64::new(0),
        txn_commits: AtomicU64::new(0),
        txn_conflicts: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        failed: Mutex::new(None),
    });
    let mut threads = Vec::new();
    for t in 0..o.threads {
        let s = Arc::clone(&shared);
        let (keys, seed) = (
            o.keys,
            o.seed ^ (t as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        threads.push(std::thread::spawn(move || worker(&s, keys, seed)));
    }
    if !o.sync_on {
        let s = Arc::clone(&shared);
        threads.push(std::thread::spawn(move || syncer(&s)));
    }
    let deadline = Instant::now() + Duration::from_secs_f64(o.seconds);
    while Instant::now() < deadline && shared.failed.lock().is_none() {
        std::thread::sleep(Duration::from_millis(200));
        println!("acked {}", shared.acked.load(Ordering::Relaxed));
        let _ = std::io::stdout().flush();
    }
    shared.stop.store(true, Ordering::Release);
    for t in threads {
        let _ = t.join();
    }
    if let Some(e) = shared.failed.lock().take() {
        return Err(e);
    }
    let work = Workload {
        acked: shared.acked.load(Ordering::Relaxed),
        txn_commits: shared.txn_commits.load(Ordering::Relaxed),
        txn_conflicts: shared.txn_conflicts.load(Ordering::Relaxed),
    };
    println!("acked {}", work.acked);
    if o.engine == Kind::Lsm {
        println!(
            "transactions {} committed, {} conflicts",
            work.txn_commits, work.txn_conflicts
        );
    }
    Ok((verified, work))
}

fn fail(s: &Shared, what: String) {
    s.failed.lock().get_or_insert(what);
    s.stop.store(true, Ordering::Release);
}

fn worker(s: &Shared, keys: u32, seed: u64) {
    let mut rng = SmallRng::seed_from_u64(seed);
    while !s.stop.load(Ordering::Acquire) {
        let r = rng.random_range(0..100u32);
        let result = if r < 40 {
            write(s, &mut rng, keys, 1)
        } else if r < 55 {
            write(s, &mut rng, keys, 0)
        } else if r < 58 {
            delete_range(s, &mut rng, keys)
        } else if r < 70 {
            let n = rng.random_range(2..=4);
            write(s, &mut rng, keys, n)
        } else if r < 85 {
            get(s, rng.random_range(0..keys))
        } else if r < 90 {
            match &s.db {
                Engine::Lsm(db) => crate::txn::transact(s, db.db(), &mut rng, keys),
                Engine::Btree(_) => get(s, rng.random_range(0..keys)),
            }
        } else {
            scan(s, rng.random_range(0..keys))
        };
        if let Err(e) = result {
            fail(s, e);
        }
    }
}

/// `n` = 0: one delete; 1: one put; more: a batch of puts and deletes.
fn write(s: &Shared, rng: &mut SmallRng, keys: u32, n: usize) -> Result<(), String> {
    let mut ks: Vec<u32> = (0..n.max(1)).map(|_| rng.random_range(0..keys)).collect();
    ks.sort_unstable();
    ks.dedup();
    let _guards = s.lock_keys(&ks);
    // (key, write id, put or delete), recorded as pending before the write.
    let mut plan: Vec<(u32, u64, bool)> = Vec::with_capacity(ks.len());
    for &k in &ks {
        let put = n == 1 || (n > 1 && rng.random_range(0..4) != 0);
        plan.push((k, s.begin_write(k, put)?, put));
    }
    // On lsm each value of a batch names the whole batch, so a verifier
    // finding one knows what else must have survived with it.
    let batch: Vec<Member> = if plan.len() > 1 && matches!(s.db, Engine::Lsm(_)) {
        plan.iter()
            .map(|&(key, id, put)| Member { key, id, put })
            .collect()
    } else {
        Vec::new()
    };
    let changes: Vec<Change> = plan
        .iter()
        .map(|&(k, id, put)| (k, put.then(|| batch_value(k, id, &batch))))
        .collect();
    s.db.write(&changes)?;
    for &(k, id, put) in &plan {
        s.settle_write(k, id, put, true)?;
    }
    s.acked.fetch_add(plan.len() as u64, Ordering::Relaxed);
    Ok(())
}

/// Deletes a run of 2 to 16 adjacent keys in one write (a range tombstone
/// on lsm), with the same pending-then-committed protocol as [`write`].
fn delete_range(s: &Shared, rng: &mut SmallRng, keys: u32) -> Result<(), String> {
    let from = rng.random_range(0..keys);
    let to = (from + rng.random_range(2..=16)).min(keys);
    let ks: Vec<u32> = (from..to).collect();
    let _guards = s.lock_keys(&ks);
    let mut ids = Vec::with_capacity(ks.len());
    for &k in &ks {
        ids.push((k, s.begin_write(k, false)?));
    }
    s.db.delete_range(from, to)?;
    for &(k, id) in &ids {
        s.settle_write(k, id, false, true)?;
    }
    s.acked.fetch_add(ids.len() as u64, Ordering::Relaxed);
    Ok(())
}

/// With its stripe held no write of `k` is in flight: a read must return
/// exactly the last acknowledged write.
fn get(s: &Shared, k: u32) -> Result<(), String> {
    let _guard = s.stripes[k as usize % STRIPES].lock();
    let want = s.slots[k as usize].lock().committed;
    let got = match s.db.get(k)? {
        None => 0,
        Some(v) => match parse(k, &v) {
            Parsed::Id(id) => id,
            other => return Err(format!("get {k}: {other:?}")),
        },
    };
    if got != want {
        return Err(format!(
            "get {k}: read write {got}, the last acknowledged is {want}"
        ));
    }
    Ok(())
}

/// Scans run beside the writers: every value must be sound and its key's.
fn scan(s: &Shared, from: u32) -> Result<(), String> {
    let mut last: Option<u32> = None;
    for (k, v) in s.db.scan(from, 20)? {
        let n = key_number(&k).ok_or_else(|| format!("scan: a foreign key {k:02x?}"))?;
        if last.is_some_and(|l| l >= n) || n < from {
            return Err(format!("scan from {from}: key {n} out of order"));
        }
        last = Some(n);
        match parse(n, &v) {
            Parsed::Id(_) => {}
            other => return Err(format!("scan: key {n}: {other:?}")),
        }
    }
    Ok(())
}

/// Sync off: every 100 ms stops the writers, notes what each key holds and
/// the last id handed out, lets them go, syncs, and then records those
/// values as durable and that id as the sync mark.
fn syncer(s: &Shared) {
    while !s.stop.load(Ordering::Acquire) {
        std::thread::sleep(Duration::from_millis(100));
        let (snapshot, mark) = {
            let _all: Vec<_> = s.stripes.iter().map(|m| m.lock()).collect();
            let snapshot: Vec<u64> = s.slots.iter().map(|x| x.lock().committed).collect();
            (snapshot, s.next_id.load(Ordering::Relaxed) - 1)
        };
        if let Err(e) = s.db.sync() {
            return fail(s, format!("sync: {e}"));
        }
        for (k, &id) in snapshot.iter().enumerate() {
            if let Err(e) = s.expected.write_durable(k as u32, id) {
                return fail(s, format!("expected state: {e}"));
            }
        }
        if let Err(e) = s.expected.write_sync_mark(mark) {
            return fail(s, format!("expected state: {e}"));
        }
    }
}
