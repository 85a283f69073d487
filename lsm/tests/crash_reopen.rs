//! Power loss at every sync point of a workload that reopens the store
//! again and again: opens keep the replayed memtable (no table per open),
//! write a new manifest, delete what is obsolete and reserve file numbers,
//! so the power is cut inside each of those steps too. After each crash,
//! both opens recover every synced write with no false alarm, and a
//! read-only open sees what the read-write one sees.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use larder_lsm::{Db, Durability, Options};
use vfs::crash_test::{ExploreOptions, explore};

fn opts() -> Options {
    Options {
        durability: Durability::Immediate,
        ..common::blob_churn_options()
    }
}

/// Acknowledged (synced) puts in order, and the one in flight.
#[derive(Debug, Default)]
struct Outcome {
    acked: Vec<(Vec<u8>, Vec<u8>)>,
    in_flight: Option<(Vec<u8>, Vec<u8>)>,
}

fn workload(fs: Arc<dyn vfs::Fs>) -> Outcome {
    let mut out = Outcome::default();
    for round in 0..6u32 {
        let Ok(db) = Db::open_with_fs(Arc::clone(&fs), "/db", opts()) else {
            return out;
        };
        for i in 0..8u32 {
            let k = format!("key{:02}", (round * 5 + i) % 23).into_bytes();
            let v = format!("r{round}-{i}-{}", "x".repeat((i % 3) as usize * 30)).into_bytes();
            out.in_flight = Some((k.clone(), v.clone()));
            if db.put(k.clone(), v.clone()).is_err() {
                return out;
            }
            out.acked.push((k, v));
            out.in_flight = None;
        }
        if round % 3 == 2 && db.flush().is_err() {
            return out;
        }
        if db.close().is_err() {
            return out;
        }
    }
    out
}

fn contents(db: &Db) -> BTreeMap<Vec<u8>, Vec<u8>> {
    db.range::<&[u8], _>(..)
        .map(|r| {
            let (k, v) = r.expect("no checksum failure after a crash");
            (k.to_vec(), v.to_vec())
        })
        .collect()
}

#[test]
fn power_loss_during_reopen_cycles_keeps_every_synced_write() {
    let report = explore(
        &ExploreOptions {
            tear: true,
            ..ExploreOptions::default()
        },
        workload,
        |point, disk, outcome| {
            let fs: Arc<dyn vfs::Fs> = Arc::new(disk);
            let mut want: BTreeMap<Vec<u8>, Vec<u8>> = outcome.acked.into_iter().collect();
            if !fs.exists(std::path::Path::new("/db")).expect("exists") {
                // The power went before the directory's name was durable.
                assert!(want.is_empty(), "{point:?}");
                return;
            }
            let ro = Db::open_read_only_with_fs(Arc::clone(&fs), "/db", opts())
                .unwrap_or_else(|e| panic!("{point:?}: read-only recovery failed: {e}"));
            let seen = contents(&ro);
            drop(ro);
            let db = Db::open_with_fs(Arc::clone(&fs), "/db", opts())
                .unwrap_or_else(|e| panic!("{point:?}: recovery failed: {e}"));
            let got = contents(&db);
            assert_eq!(
                got, seen,
                "{point:?}: read-only and read-write opens differ"
            );
            if got != want {
                let (k, v) = outcome
                    .in_flight
                    .unwrap_or_else(|| panic!("{point:?}: lost a synced write"));
                want.insert(k, v);
                assert_eq!(
                    got, want,
                    "{point:?}: neither the synced writes nor them plus one"
                );
            }
            assert!(
                db.verify().expect("verify").problems.is_empty(),
                "{point:?}"
            );
            db.close().expect("close");
            let db = Db::open_with_fs(Arc::clone(&fs), "/db", opts()).expect("second reopen");
            assert_eq!(contents(&db), got, "{point:?}: second recovery differs");
        },
    );
    assert!(report.syncs > 50, "{report:?}");
}
