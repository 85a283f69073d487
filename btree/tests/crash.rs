//! Crash tests: a scripted workload runs on `vfs::MemFs`, and the power is
//! cut before every sync it makes (unsynced writes dropped, or the last one
//! torn). After reopening, the database equals the last commit that
//! returned durable, or the one being committed when the power went, and
//! every page's checksum holds.

mod common;

use std::path::Path;
use std::sync::Arc;

use larder_btree::{Db, Durability, Options};
use vfs::Fs;
use vfs::crash_test::{ExploreOptions, explore};

use common::{Model, contents};

/// What the workload knew when it stopped.
#[derive(Clone, Default)]
struct Known {
    /// The last commit that returned with its data durable.
    durable: Model,
    /// A durable commit that failed part way: it may or may not have landed.
    in_flight: Option<Model>,
}

fn options() -> Options {
    Options {
        page_size_bytes: 512,
        durability: Durability::Immediate,
        initial_size_bytes: 0,
        ..Options::default()
    }
}

/// Deterministic changes, some large values, some removes; every third
/// commit is not durable by itself.
fn workload(fs: Arc<dyn Fs>, commits: u32) -> Known {
    workload_with(fs, commits, |c| c % 3 != 1)
}

/// The same changes, durable only where `durable(c)` says: runs of
/// non-durable commits reuse the pages they allocated themselves.
fn workload_with(fs: Arc<dyn Fs>, commits: u32, durable: fn(u32) -> bool) -> Known {
    let mut known = Known::default();
    let Ok(db) = Db::open_with_fs(fs, "/db", options()) else {
        return known;
    };
    let mut model = Model::new();
    let mut since_durable = Model::new();
    for c in 0..commits {
        let Ok(mut txn) = db.begin_write() else {
            return known;
        };
        for j in 0..12u32 {
            let k = ((c * 7 + j * 13) % 60).to_be_bytes().to_vec();
            if (c + j) % 5 == 0 {
                if txn.remove(&k).is_err() {
                    return known;
                }
                model.remove(&k);
            } else {
                let len = if (c + j) % 9 == 0 {
                    1500
                } else {
                    (j * 10) as usize
                };
                let v = vec![(c + j) as u8; len];
                if txn.insert(&k, &v).is_err() {
                    return known;
                }
                model.insert(k, v);
            }
        }
        let durable = durable(c);
        if !durable {
            txn.set_durability(Durability::None);
        }
        match txn.commit() {
            Ok(()) if durable => {
                known.durable = model.clone();
                since_durable = model.clone();
            }
            Ok(()) => {}
            Err(_) => {
                if durable {
                    known.in_flight = Some(model);
                }
                return known;
            }
        }
    }
    // A final sync makes the last (non-durable) commits durable.
    match db.sync() {
        Ok(()) => known.durable = model,
        Err(_) => {
            if model != since_durable {
                known.in_flight = Some(model);
            }
        }
    }
    known
}

fn check_every_power_loss(
    commits: u32,
    durable: fn(u32) -> bool,
) -> vfs::crash_test::ExploreReport {
    explore(
        &ExploreOptions::default(),
        |fs| workload_with(fs, commits, durable),
        |point, disk, known| {
            let disk: Arc<dyn Fs> = Arc::new(disk);
            if !disk.exists(Path::new("/db")).unwrap() {
                assert!(known.durable.is_empty(), "{point:?}: the file vanished");
                return;
            }
            let db = Db::open_with_fs(disk, "/db", options())
                .unwrap_or_else(|e| panic!("{point:?}: {e}"));
            db.check().unwrap_or_else(|e| panic!("{point:?}: {e}"));
            let got = contents(&db);
            let ok = got == known.durable || known.in_flight.as_ref() == Some(&got);
            assert!(
                ok,
                "{point:?}: state is neither the last durable commit nor the one in flight"
            );
            // The reopened database takes new commits.
            let mut txn = db.begin_write().unwrap();
            txn.insert(b"after", b"crash").unwrap();
            txn.commit().unwrap();
            db.check().unwrap();
        },
    )
}

#[test]
fn reopen_after_power_loss_at_every_sync_equals_the_last_durable_commit() {
    let report = check_every_power_loss(40, |c| c % 3 != 1);
    assert!(report.syncs > 25, "{report:?}");
}

/// Long runs of non-durable commits recycle pages allocated since the last
/// durable commit; a crash must still find that commit whole.
#[test]
fn power_loss_after_runs_of_non_durable_commits_that_reuse_pages() {
    let report = check_every_power_loss(60, |c| c % 8 == 7);
    assert!(report.syncs > 5, "{report:?}");
}

#[test]
fn reopen_after_power_loss_during_compaction_keeps_every_entry() {
    let report = explore(
        &ExploreOptions::default(),
        |fs| {
            let mut known = workload(fs.clone(), 6);
            // Reopen (the workload's Db is gone) and compact.
            if let Ok(db) = Db::open_with_fs(fs, "/db", options())
                && db.compact().is_err()
            {
                known.in_flight = Some(known.durable.clone());
            }
            known
        },
        |point, disk, known| {
            let disk: Arc<dyn Fs> = Arc::new(disk);
            if !disk.exists(Path::new("/db")).unwrap() {
                assert!(known.durable.is_empty(), "{point:?}: the file vanished");
                return;
            }
            let db = Db::open_with_fs(disk, "/db", options())
                .unwrap_or_else(|e| panic!("{point:?}: {e}"));
            db.check().unwrap_or_else(|e| panic!("{point:?}: {e}"));
            let got = contents(&db);
            assert!(
                got == known.durable || known.in_flight.as_ref() == Some(&got),
                "{point:?}"
            );
        },
    );
    assert!(report.syncs > 5, "{report:?}");
}
