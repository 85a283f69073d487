//! I/O errors (EIO, ENOSPC) injected into every write, sync, resize and map
//! a workload makes: each surfaces as an `Err`, never a panic; the handle
//! refuses further writes; and a reopened database is at the last commit
//! that returned `Ok` or at the failed one, whole.

mod common;

use std::sync::Arc;

use larder_btree::{Db, Error, Options};
use vfs::{Fault, FaultFs, MemFs, Op};

use common::{Model, contents};

fn options() -> Options {
    Options {
        page_size_bytes: 512,
        initial_size_bytes: 0,
        ..Options::default()
    }
}

/// Runs 12 commits; returns the last model that committed and the failed one.
fn workload(db: &Db) -> (Model, Option<Model>) {
    let mut model = Model::new();
    for c in 0..12u32 {
        let mut next = model.clone();
        let mut txn = match db.begin_write() {
            Ok(t) => t,
            Err(e) => panic!("{e:?}"),
        };
        for j in 0..20u32 {
            let k = ((c * 31 + j * 7) % 90).to_be_bytes().to_vec();
            let v = vec![c as u8; if j == 3 { 1500 } else { 40 }];
            if txn.insert(&k, &v).is_err() {
                return (model, None);
            }
            next.insert(k, v);
        }
        match txn.commit() {
            Ok(()) => model = next,
            Err(e) => {
                assert!(matches!(e, Error::Io(_)), "{e:?}");
                assert!(matches!(db.begin_write(), Err(Error::Poisoned)));
                return (model, Some(next));
            }
        }
    }
    (model, None)
}

#[test]
fn injected_io_errors_fail_the_commit_and_reopen_is_consistent() {
    let mut injected = 0;
    for op in [Op::Write, Op::SyncData, Op::SetLen, Op::Map] {
        for n in 1..40 {
            let mem = MemFs::new();
            let faulty = FaultFs::new(Arc::new(mem.clone()));
            let db = Db::open_with_fs(Arc::new(faulty.clone()), "/db", options()).unwrap();
            faulty.fail_nth(
                op,
                n,
                if n % 2 == 0 {
                    Fault::Eio
                } else {
                    Fault::Enospc
                },
            );
            let (ok, failed) = workload(&db);
            injected += faulty.injected();
            drop(db);
            faulty.clear_faults();
            let db = Db::open_with_fs(Arc::new(mem), "/db", options()).unwrap();
            db.check().unwrap_or_else(|e| panic!("{op:?} #{n}: {e}"));
            let got = contents(&db);
            assert!(got == ok || Some(&got) == failed.as_ref(), "{op:?} #{n}");
        }
    }
    assert!(injected > 60, "{injected}");
}
