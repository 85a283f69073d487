//! Power loss at every sync point of a workload of puts, deletes and repairs
//! (`vfs::crash_test::explore`): after reopening, every blob whose `put`
//! returned is whole, no blob whose `delete` returned comes back, and every
//! listed blob is whole (no partial blob is visible).

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::*;
use larder_erasure::{BlobId, BlobStore, Options};
use vfs::crash_test::{ExploreOptions, explore};
use vfs::{Fs, OpenMode};

/// What the workload knows when it stops.
#[derive(Debug, Default)]
struct Model {
    /// Blobs whose put returned and which were not deleted.
    live: BTreeMap<BlobId, Vec<u8>>,
    /// Blobs whose delete returned.
    deleted: Vec<BlobId>,
    /// The operation in flight when it stopped: a blob that may or may not
    /// exist, but if it does must be whole.
    maybe: Option<Vec<u8>>,
}

fn workload(o: Options) -> impl Fn(Arc<dyn Fs>) -> Model {
    move |fs: Arc<dyn Fs>| {
        let mut model = Model::default();
        let Ok(store) =
            BlobStore::open_with_fs(fs.clone(), &dirs(o.data_shards + o.parity_shards), o)
        else {
            return model;
        };
        let blobs: Vec<Vec<u8>> = [0, 1, 37, 150].iter().map(|&n| blob(n, n as u64)).collect();
        for (step, b) in blobs.iter().enumerate() {
            model.maybe = Some(b.clone());
            let Ok(id) = store.put(b) else { return model };
            model.maybe = None;
            model.live.insert(id, b.clone());
            if step == 2 {
                // Delete the first blob.
                let (&first, _) = model.live.iter().next().expect("a blob");
                model.maybe = model.live.remove(&first);
                if store.delete(first).is_err() {
                    return model;
                }
                model.maybe = None;
                model.deleted.push(first);
            }
            if step == 3 && o.parity_shards > 0 {
                // Rot: cut shard 0 short, then repair it.
                let path = shard_path(&store, 0, id);
                let Ok(f) = fs.open(&path, OpenMode::ReadWrite) else {
                    return model;
                };
                if f.set_len(60).is_err() {
                    return model;
                }
                drop(f);
                if store.repair(id).is_err() {
                    return model;
                }
            }
        }
        model
    }
}

fn check(o: Options) {
    let report = explore(
        &ExploreOptions::default(),
        workload(o),
        |point, disk, model| {
            let fs: Arc<dyn Fs> = Arc::new(disk);
            let store =
                BlobStore::open_with_fs(fs.clone(), &dirs(o.data_shards + o.parity_shards), o)
                    .unwrap_or_else(|e| panic!("{point:?}: reopen failed: {e}"));
            for (id, b) in &model.live {
                let got = store
                    .get(*id)
                    .unwrap_or_else(|e| panic!("{point:?}: blob {id} lost: {e}"));
                assert_eq!(&got[..], &b[..], "{point:?}: blob {id}");
            }
            for id in &model.deleted {
                assert!(
                    !store.contains(*id),
                    "{point:?}: deleted blob {id} came back"
                );
            }
            for id in store.list() {
                let got = store
                    .get(id)
                    .unwrap_or_else(|e| panic!("{point:?}: listed blob {id} unreadable: {e}"));
                let known = model.live.get(&id).or(model.maybe.as_ref());
                assert_eq!(
                    Some(&got.to_vec()),
                    known,
                    "{point:?}: listed blob {id} is not one that was put"
                );
            }
            let report = store.scrub().unwrap();
            assert!(report.blobs_lost.is_empty(), "{point:?}: {report:?}");
            // No leftovers after the reopen.
            for d in store.dirs() {
                for name in fs.list_dir(d).unwrap() {
                    let name = name.to_string_lossy();
                    assert!(
                        !name.ends_with(".pending")
                            && !name.ends_with(".repair")
                            && !name.ends_with(".tmp"),
                        "{point:?}: leftover {name}"
                    );
                }
            }
        },
    );
    eprintln!("{o:?}: {report:?}");
    assert!(report.syncs > 20, "{report:?}");
}

#[test]
fn power_loss_at_every_sync_point_keeps_acknowledged_puts_and_deletes_rs_2_1() {
    check(options(2, 1, 16));
}

#[test]
fn power_loss_at_every_sync_point_keeps_acknowledged_puts_and_deletes_rs_3_2() {
    check(options(3, 2, 50));
}

#[test]
fn power_loss_at_every_sync_point_keeps_acknowledged_puts_and_deletes_no_parity() {
    check(options(2, 0, 64));
}
