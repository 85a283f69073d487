//! An I/O error (`EIO`, `ENOSPC`) at any file operation of a workload with
//! keyspaces (writes to several, batches across them, a keyspace created
//! and one dropped, flushes and a compaction) is an `Err`, never a panic;
//! after reopening with the fault gone every keyspace holds exactly the
//! acknowledged state, or that and the step in flight, never part of a
//! batch or of a drop.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use larder_lsm::{Db, WriteBatch};
use vfs::{Fault, FaultFs, Fs, MemFs, Op};

/// Keyspace name ("" for the default) to its pairs.
type State = BTreeMap<String, BTreeMap<Vec<u8>, Vec<u8>>>;

#[derive(Clone, Debug)]
enum Step {
    Put(&'static str, u32),
    Delete(&'static str, u32),
    /// One put in each keyspace named.
    Batch(Vec<&'static str>, u32),
    Create(&'static str),
    Drop(&'static str),
    Flush,
    Compact,
}

fn key(i: u32) -> Vec<u8> {
    format!("key{:03}", i % 29).into_bytes()
}

fn value(i: u32) -> Vec<u8> {
    format!("v{i}-{}", "x".repeat((i % 4) as usize * 30)).into_bytes()
}

fn steps() -> Vec<Step> {
    let mut out = vec![Step::Create("a")];
    for i in 0..90u32 {
        let ks = ["", "a", "b"][(i % 3) as usize];
        let ks = if i < 40 && ks == "b" { "" } else { ks };
        let ks = if i >= 70 && ks == "a" { "b" } else { ks };
        out.push(match i % 7 {
            3 => Step::Delete(ks, i * 3),
            5 if i < 70 => Step::Batch(vec!["", "a"], i),
            5 => Step::Batch(vec!["", "b"], i),
            _ => Step::Put(ks, i),
        });
        match i {
            25 | 60 => out.push(Step::Flush),
            40 => out.push(Step::Create("b")),
            50 => out.push(Step::Compact),
            70 => out.push(Step::Drop("a")),
            _ => {}
        }
    }
    out
}

/// The state after `step`.
fn apply(state: &State, step: &Step) -> State {
    let mut s = state.clone();
    match step {
        Step::Put(ks, i) => {
            s.entry(ks.to_string())
                .or_default()
                .insert(key(*i), value(*i));
        }
        Step::Delete(ks, i) => {
            s.entry(ks.to_string()).or_default().remove(&key(*i));
        }
        Step::Batch(names, i) => {
            for ks in names {
                s.entry(ks.to_string())
                    .or_default()
                    .insert(key(*i), value(*i));
            }
        }
        Step::Create(ks) => {
            s.entry(ks.to_string()).or_default();
        }
        Step::Drop(ks) => {
            s.remove(*ks);
        }
        Step::Flush | Step::Compact => {}
    }
    s
}

fn run(db: &Db, step: &Step) -> larder_lsm::Result<()> {
    let ks = |name: &str| db.keyspace(name);
    match step {
        Step::Put("", i) => db.put(key(*i), value(*i)),
        Step::Put(name, i) => ks(name)?.put(key(*i), value(*i)),
        Step::Delete("", i) => db.delete(key(*i)),
        Step::Delete(name, i) => ks(name)?.delete(key(*i)),
        Step::Batch(names, i) => {
            let mut b = WriteBatch::new();
            for name in names {
                if name.is_empty() {
                    b.put(key(*i), value(*i));
                } else {
                    b.put_in(&ks(name)?, key(*i), value(*i));
                }
            }
            db.write(b)
        }
        Step::Create(name) => ks(name).map(drop),
        Step::Drop(name) => db.drop_keyspace(name),
        Step::Flush => db.flush(),
        Step::Compact => db.compact_range::<&[u8], _>(..),
    }
}

fn read(db: &Db) -> State {
    let mut s = State::new();
    s.insert(
        String::new(),
        common::collect(db.iter()).into_iter().collect(),
    );
    for name in db.keyspace_names() {
        let ks = db.keyspace(&name).expect("keyspace");
        s.insert(name, common::collect(ks.iter()).into_iter().collect());
    }
    s
}

#[test]
fn io_errors_in_a_workload_with_keyspaces_lose_nothing_acknowledged() {
    let steps = steps();
    let mut injected_total = 0;
    for op in [
        Op::Open,
        Op::Append,
        Op::SyncData,
        Op::SyncDir,
        Op::Rename,
        Op::RemoveFile,
    ] {
        for fault in [Fault::Eio, Fault::Enospc] {
            for n in 1..2000 {
                let mem = MemFs::new();
                let faulty = Arc::new(FaultFs::new(Arc::new(mem.clone())));
                let db = Db::open_with_fs(faulty.clone(), "/db", common::blob_churn_options())
                    .expect("open");
                faulty.fail_nth_when(move |o, _| o == op, n, fault);
                let mut state = State::from([(String::new(), BTreeMap::new())]);
                let mut in_flight = None;
                for step in &steps {
                    if run(&db, step).is_err() {
                        in_flight = Some(apply(&state, step));
                        break;
                    }
                    state = apply(&state, step);
                }
                let _ = db.close();
                let injected = faulty.injected();
                injected_total += injected;
                faulty.clear_faults();
                let fs: Arc<dyn Fs> = Arc::new(mem);
                let db = Db::open_with_fs(fs, "/db", common::blob_churn_options())
                    .unwrap_or_else(|e| panic!("{op:?} #{n} {fault:?}: reopen failed: {e}"));
                let got = read(&db);
                assert!(
                    got == state || Some(&got) == in_flight.as_ref(),
                    "{op:?} #{n} {fault:?}: recovered {:?}, acknowledged {:?}",
                    got.iter().map(|(k, m)| (k, m.len())).collect::<Vec<_>>(),
                    state.iter().map(|(k, m)| (k, m.len())).collect::<Vec<_>>(),
                );
                assert!(
                    db.verify().expect("verify").is_clean(),
                    "{op:?} #{n} {fault:?}"
                );
                db.close().expect("close");
                if injected == 0 {
                    break;
                }
            }
        }
    }
    assert!(injected_total > 300, "{injected_total} faults injected");
}
