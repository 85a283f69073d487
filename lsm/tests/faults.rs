//! An I/O error (`EIO`, `ENOSPC`) at any kind of file operation, in the
//! foreground or in a background flush, compaction, blob write, blob
//! collection or deletion, is an `Err` (never a panic), and after reopening
//! with the fault gone every acknowledged write is there, no deleted key is
//! back, every blob reference resolves and no blob file leaks.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use larder_lsm::{Db, Options};
use vfs::{Fault, FaultFs, Fs, MemFs, Op};

fn opts() -> Options {
    common::blob_churn_options()
}

fn key(i: u32) -> Vec<u8> {
    format!("key{:03}", i % 37).into_bytes()
}

fn value(i: u32) -> Vec<u8> {
    format!("v{i}-{}", "x".repeat((i % 5) as usize * 20)).into_bytes()
}

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// A write: the key, and the value (`None` for a delete).
type Write = (Vec<u8>, Option<Vec<u8>>);

/// Writes until the first error; returns the acknowledged model, and the
/// write in flight when it stopped (which may or may not have landed).
fn workload(db: &Db) -> (Model, Option<Write>) {
    let mut model = Model::new();
    for i in 0..160u32 {
        let (k, v) = if i % 6 == 4 {
            (key(i * 5), None)
        } else {
            (key(i), Some(value(i)))
        };
        let r = match &v {
            Some(v) => db.put(k.clone(), v.clone()),
            None => db.delete(k.clone()),
        };
        if r.is_err() {
            return (model, Some((k, v)));
        }
        match v {
            Some(v) => model.insert(k, v),
            None => model.remove(&k),
        };
        let r = match i {
            50 | 110 => db.flush(),
            130 => db.compact_range::<&[u8], _>(..),
            _ => Ok(()),
        };
        if r.is_err() {
            return (model, None);
        }
    }
    (model, None)
}

#[test]
fn io_errors_anywhere_are_errors_and_lose_nothing_acknowledged() {
    let mut injected_total = 0;
    for op in [
        Op::Open,
        Op::Append,
        Op::Write,
        Op::SyncData,
        Op::SyncDir,
        Op::Rename,
        Op::RemoveFile,
        Op::Read,
    ] {
        for fault in [Fault::Eio, Fault::Enospc] {
            // The n-th operation of this kind fails; n sweeps the run.
            for n in (1..1000).step_by(7) {
                let mem = MemFs::new();
                let faulty = Arc::new(FaultFs::new(Arc::new(mem.clone())));
                let db = Db::open_with_fs(faulty.clone(), "/db", opts()).expect("open");
                // Remember which file the failing operation touched.
                let hit = Arc::new(std::sync::Mutex::new((0u64, None)));
                let seen = Arc::clone(&hit);
                faulty.fail_nth_when(
                    move |o, path| {
                        if o != op {
                            return false;
                        }
                        let mut g = seen.lock().expect("lock");
                        g.0 += 1;
                        if g.0 == n {
                            g.1 = Some(path.to_path_buf());
                        }
                        true
                    },
                    n,
                    fault,
                );
                let (model, in_flight) = workload(&db);
                let _ = db.close();
                let injected = faulty.injected();
                injected_total += injected;
                faulty.clear_faults();

                let quiet = Options {
                    l0_compaction_trigger: 1000,
                    l0_slowdown_trigger: 1000,
                    l0_stop_trigger: 1000,
                    blob_gc_ratio: 1.0,
                    ..opts()
                };
                let at = hit.lock().expect("lock").1.clone();
                let fs: Arc<dyn Fs> = Arc::new(mem.clone());
                let db = Db::open_with_fs(Arc::clone(&fs), "/db", quiet)
                    .unwrap_or_else(|e| panic!("{op:?} #{n} {fault:?}: reopen failed: {e}"));
                let got: Model = common::collect(db.range::<&[u8], _>(..))
                    .into_iter()
                    .collect();
                let mut with_flight = model.clone();
                if let Some((k, v)) = &in_flight {
                    match v {
                        Some(v) => with_flight.insert(k.clone(), v.clone()),
                        None => with_flight.remove(k),
                    };
                }
                assert!(
                    got == model || got == with_flight,
                    "{op:?} #{n} {fault:?} on {at:?}: lost or resurrected writes\n got {}\nwant {}",
                    common::show(&got.clone().into_iter().collect::<Vec<_>>()).join(" "),
                    common::show(&model.clone().into_iter().collect::<Vec<_>>()).join(" ")
                );
                let report = db.verify().expect("verify");
                assert!(report.is_clean(), "{op:?} #{n} {fault:?}: {report:?}");
                assert_eq!(
                    common::blob_files_on_disk(&*fs),
                    db.stats().blob_files,
                    "{op:?} #{n} {fault:?}: blob files on disk differ from the manifest's"
                );
                db.close().expect("close");
                if injected == 0 {
                    break;
                }
            }
        }
    }
    assert!(injected_total > 50, "{injected_total} faults injected");
}

/// After a log append or sync fails, the log's tail is unknown: every later
/// write fails too (instead of appending after a partial record, which
/// recovery would have to call corruption), and a reopen recovers every
/// acknowledged write.
#[test]
fn a_failed_log_write_stops_later_writes() {
    for op in [Op::Append, Op::SyncData] {
        let mem = MemFs::new();
        let faulty = Arc::new(FaultFs::new(Arc::new(mem.clone())));
        let db = Db::open_with_fs(faulty.clone(), "/db", opts()).expect("open");
        db.put("before", "ok").expect("put");
        faulty.fail_nth_when(
            move |o, p| o == op && p.to_string_lossy().ends_with(".log"),
            1,
            Fault::Eio,
        );
        assert!(db.put("failed", "x").is_err(), "{op:?}");
        faulty.clear_faults();
        assert!(
            matches!(db.put("after", "y"), Err(larder_lsm::Error::Closed { .. })),
            "{op:?}: a write after a failed log write must fail"
        );
        drop(db);
        let db = Db::open_with_fs(Arc::new(mem), "/db", opts()).expect("reopen");
        assert_eq!(db.get(b"before").expect("get").as_deref(), Some(&b"ok"[..]));
        assert_eq!(db.get(b"after").expect("get"), None);
    }
}
