//! An I/O error (`EIO`, `ENOSPC`) at any operation of a put, a delete or a
//! repair is an `Err`, never a panic, and leaves the store consistent: after
//! reopening, acknowledged blobs are whole, and every listed blob is whole.

mod common;

use std::sync::Arc;

use common::*;
use larder_erasure::BlobStore;
use vfs::{Fault, FaultFs, Fs, MemFs, Op};

#[test]
fn io_error_at_any_operation_is_an_err_and_leaves_the_store_consistent() {
    let o = options(3, 2, 40);
    let a_bytes = blob(150, 1);
    let b_bytes = blob(90, 2);
    for op in [
        Op::Open,
        Op::Write,
        Op::SyncData,
        Op::Rename,
        Op::SyncDir,
        Op::RemoveFile,
        Op::Read,
    ] {
        for fault in [Fault::Eio, Fault::Enospc] {
            for n in 1.. {
                let mem = MemFs::new();
                let faulty = Arc::new(FaultFs::new(Arc::new(mem.clone())));
                let fs: Arc<dyn Fs> = faulty.clone();
                let store = open(&fs, o);
                let a = store.put(&a_bytes).unwrap();
                // Damage a shard of A so the repair has work.
                fs.remove_file(&shard_path(&store, 1, a)).unwrap();
                faulty.fail_nth(op, n, fault);
                let b = store.put(&b_bytes);
                let repaired = store.repair(a);
                let deleted = store.delete(a);
                let injected = faulty.injected();
                faulty.clear_faults();
                drop(store);
                let store = open(&fs, o);
                if let Ok(b) = b {
                    assert_eq!(store.get(b).unwrap(), b_bytes[..], "{op:?} #{n}");
                }
                if deleted.is_ok() {
                    assert!(!store.contains(a), "{op:?} #{n}");
                } else if store.contains(a) {
                    // A failed delete may or may not have committed; if not,
                    // the blob is whole.
                    assert_eq!(store.get(a).unwrap(), a_bytes[..], "{op:?} #{n}");
                    if repaired.is_ok() {
                        assert!(
                            store.stat(a).unwrap().healthy.iter().all(|&h| h),
                            "{op:?} #{n}"
                        );
                    }
                }
                for id in store.list() {
                    let got = store.get(id).unwrap();
                    assert!(got == a_bytes[..] || got == b_bytes[..], "{op:?} #{n}");
                }
                assert!(store.scrub().unwrap().blobs_lost.is_empty(), "{op:?} #{n}");
                drop(store);
                let _ = BlobStore::open_with_fs(Arc::new(mem), &dirs(5), o).unwrap();
                if injected == 0 {
                    break;
                }
            }
        }
    }
}
