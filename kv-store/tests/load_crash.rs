//! `load` on a disk that loses power (`vfs::MemFs`) at every sync point, on
//! both engines: after the crash the store holds a whole number of batches
//! from the start of the input (never a torn batch, never a gap), and at
//! least every line `load` reported committed.

use std::path::Path;
use std::sync::Arc;

use kv_store::store::open_engine;
use kv_store::{EngineKind, Error, Flow, ScanSpec};
use vfs::crash_test::{ExploreOptions, explore};

const GOOD_LINES: u64 = 2_500;
const BATCH: usize = 1_000;

fn key(i: u64) -> Vec<u8> {
    format!("key{i:06}").into_bytes()
}

fn crash_during_load_keeps_a_prefix_of_whole_batches(kind: EngineKind) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.tsv");
    let mut text: String = (0..GOOD_LINES)
        .map(|i| format!("key{i:06}\tvalue {i}\n"))
        .collect();
    text += "a line without a tab\nkey999999\tnever loaded\n";
    std::fs::write(&input, text).unwrap();
    let input = input.to_str().unwrap().to_string();
    let store = Path::new("/store");

    let workload = |fs: Arc<dyn vfs::Fs>| -> u64 {
        let Ok(engine) = open_engine(fs, store, kind) else {
            return 0;
        };
        match kv_store::transfer::load(&*engine, &input, kv_store::codec::Format::Tsv, BATCH) {
            // The bad line: everything before it is committed and synced.
            Err(Error::BadLine {
                line, committed, ..
            }) => {
                assert_eq!((line, committed), (GOOD_LINES + 1, GOOD_LINES));
                committed
            }
            Ok(report) => panic!("the bad line was accepted: {report:?}"),
            Err(_) => 0,
        }
    };
    let report = explore(
        &ExploreOptions::default(),
        workload,
        |point, disk, durable| {
            let engine = open_engine(Arc::new(disk), store, kind)
                .unwrap_or_else(|e| panic!("{kind} at {point:?}: reopen failed: {e}"));
            let mut n = 0u64;
            engine
                .scan(&ScanSpec::default(), &mut |k, v| {
                    assert_eq!(k, key(n), "{kind} at {point:?}: gap or stray key");
                    assert_eq!(v, format!("value {n}").as_bytes());
                    n += 1;
                    Ok(Flow::Continue)
                })
                .unwrap_or_else(|e| panic!("{kind} at {point:?}: scan failed: {e}"));
            assert!(
                n >= durable,
                "{kind} at {point:?}: {n} pairs, {durable} were durable"
            );
            assert!(
                n.is_multiple_of(BATCH as u64) || n == GOOD_LINES,
                "{kind} at {point:?}: {n} pairs is a torn batch"
            );
        },
    );
    assert!(report.crashes > 3, "{report:?}");
}

#[test]
fn lsm_crash_during_load_keeps_a_prefix_of_whole_batches() {
    crash_during_load_keeps_a_prefix_of_whole_batches(EngineKind::Lsm);
}

#[test]
fn btree_crash_during_load_keeps_a_prefix_of_whole_batches() {
    crash_during_load_keeps_a_prefix_of_whole_batches(EngineKind::Btree);
}
