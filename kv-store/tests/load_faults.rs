//! `load` on a disk that fills up (`vfs::FaultFs` failing writes with
//! `ENOSPC`), on both engines: the error is the first cause (the I/O error,
//! its kind and its file), not what the failure left behind ("a failed
//! commit left the write side unusable", or a pair blamed for it).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use kv_store::store::open_engine;
use kv_store::{EngineKind, Error};
use vfs::{Fault, FaultFs, MemFs, Op};

const LINES: u64 = 20_000;

fn load_on_a_full_disk_reports_enospc(kind: EngineKind, writes_before_full: u64) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.tsv");
    let text: String = (0..LINES)
        .map(|i| format!("key{i:06}\tvalue {i} {}\n", "x".repeat(200)))
        .collect();
    std::fs::write(&input, text).unwrap();
    let input = input.to_str().unwrap().to_string();

    let fault = FaultFs::new(Arc::new(MemFs::new()));
    let engine = open_engine(Arc::new(fault.clone()), Path::new("/store"), kind).unwrap();
    // The disk fills up once the store has written a few batches: every
    // later write of data fails with ENOSPC.
    let seen = AtomicU64::new(0);
    fault.fail_when(
        move |op, _| {
            matches!(op, Op::Write | Op::Append | Op::SetLen)
                && seen.fetch_add(1, Ordering::Relaxed) >= writes_before_full
        },
        Fault::Enospc,
    );
    let result = kv_store::transfer::load(&*engine, &input, kv_store::codec::Format::Tsv, 1_000);
    match result {
        Err(Error::Io { path, source }) => {
            assert_eq!(
                source.kind(),
                std::io::ErrorKind::StorageFull,
                "{kind}: {path:?}: {source}"
            );
            assert!(path.starts_with("/store"), "{kind}: names {path:?}");
        }
        other => panic!("{kind}: expected the ENOSPC as the error, got {other:?}"),
    }
    assert!(fault.injected() > 0);
}

#[test]
fn btree_load_on_a_full_disk_reports_enospc() {
    load_on_a_full_disk_reports_enospc(EngineKind::Btree, 20);
}

#[test]
fn lsm_load_on_a_full_disk_reports_enospc() {
    load_on_a_full_disk_reports_enospc(EngineKind::Lsm, 5);
}
