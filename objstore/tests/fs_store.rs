//! `FsStore` beyond the conformance suite: power cuts at every sync point
//! of a workload of puts (all three modes) and deletes (after recovery each
//! object is absent or whole, every put that returned is there, and no temp
//! file is left), cleaning of abandoned temp files, damage at rest, and
//! conditional puts racing through two handles.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use larder_objstore::{Error, FsStore, PutMode, Store, TMP_DIR};
use vfs::crash_test::{ExploreOptions, explore};
use vfs::{Fs, MemFs, OpenMode};

/// One step: the object `name` ends up holding this, or gone (`None`).
type Step = (&'static str, Option<Bytes>);

/// What the workload did: the steps whose call returned `Ok`, and the one
/// in flight when the power went (it may or may not have happened).
#[derive(Debug, Default)]
struct Done {
    acked: Vec<Step>,
    in_flight: Option<Step>,
}

fn content(tag: &str, len: usize) -> Bytes {
    Bytes::from(tag.bytes().cycle().take(len).collect::<Vec<u8>>())
}

fn workload(fs: Arc<dyn Fs>) -> Done {
    let mut done = Done::default();
    let Ok(store) = FsStore::open(fs, "/db/objects") else {
        return done;
    };
    let mut step = |name: &'static str, data: Option<Bytes>, f: &dyn Fn() -> bool| {
        done.in_flight = Some((name, data.clone()));
        if !f() {
            return false;
        }
        done.in_flight = None;
        done.acked.push((name, data));
        true
    };
    let t1 = content("table one ", 5000);
    let m1 = content("manifest 1 ", 100);
    let m2 = content("manifest 2 ", 120);
    let t2 = content("table two ", 9000);
    let _ = step("tables/000001.sst", Some(t1.clone()), &|| {
        store
            .put("tables/000001.sst", t1.clone(), PutMode::Overwrite)
            .is_ok()
    }) && step("MANIFEST", Some(m1.clone()), &|| {
        store.put("MANIFEST", m1.clone(), PutMode::Create).is_ok()
    }) && step("MANIFEST", Some(m2.clone()), &|| {
        let Ok(meta) = store.head("MANIFEST") else {
            return false;
        };
        let version = meta.version.unwrap();
        store
            .put("MANIFEST", m2.clone(), PutMode::Update { version })
            .is_ok()
    }) && step("tables/000002.sst", Some(t2.clone()), &|| {
        store
            .put("tables/000002.sst", t2.clone(), PutMode::Overwrite)
            .is_ok()
    }) && step("tables/000001.sst", None, &|| {
        store.delete("tables/000001.sst").is_ok()
    });
    done
}

#[test]
fn power_cut_at_every_sync_leaves_objects_whole_and_acked_puts_durable() {
    let report = explore(&ExploreOptions::default(), workload, |point, disk, done| {
        let fs: Arc<dyn Fs> = Arc::new(disk.clone());
        let store = FsStore::open(fs, "/db/objects")
            .unwrap_or_else(|e| panic!("{point:?}: reopen failed: {e}"));
        let mut expected: BTreeMap<&str, Option<Bytes>> = BTreeMap::new();
        for (name, data) in &done.acked {
            expected.insert(name, data.clone());
        }
        for name in ["tables/000001.sst", "tables/000002.sst", "MANIFEST"] {
            let found = match store.get(name) {
                Ok((data, _)) => Some(data),
                Err(Error::NotFound { .. }) => None,
                Err(e) => panic!("{point:?}: {name}: {e}"),
            };
            let acked = expected.get(name).cloned().unwrap_or(None);
            let flying = done
                .in_flight
                .as_ref()
                .filter(|(n, _)| *n == name)
                .map(|(_, d)| d.clone());
            assert!(
                found == acked || Some(&found) == flying.as_ref(),
                "{point:?}: {name} holds {:?} bytes; acked {:?}, in flight {:?}",
                found.as_ref().map(Bytes::len),
                acked.as_ref().map(Bytes::len),
                flying.map(|d| d.map(|d| d.len())),
            );
        }
        // Nothing but the lock is left under the temp root.
        let left = disk
            .list_dir(&Path::new("/db/objects").join(TMP_DIR))
            .unwrap();
        assert_eq!(left, ["LOCK"], "{point:?}");
    });
    assert!(report.syncs >= 10, "{report:?}");
}

#[test]
fn open_removes_abandoned_temp_files_only_when_no_writer_is_alive() {
    let disk = MemFs::new();
    let fs: Arc<dyn Fs> = Arc::new(disk.clone());
    let tmp_root = Path::new("/s").join(TMP_DIR);
    let orphan = || {
        drop(
            disk.open(&tmp_root.join("77-1-1.tmp"), OpenMode::Truncate)
                .unwrap(),
        );
    };
    drop(FsStore::open(fs.clone(), "/s").unwrap());
    orphan();
    // A stranger's file in the temp root is never ours to remove.
    drop(
        disk.open(&tmp_root.join("notes.txt"), OpenMode::CreateNew)
            .unwrap(),
    );
    let first = FsStore::open(fs.clone(), "/s").unwrap();
    assert_eq!(disk.list_dir(&tmp_root).unwrap(), ["LOCK", "notes.txt"]);
    // With a handle open, a temp file may be a live upload's: kept.
    orphan();
    let second = FsStore::open(fs.clone(), "/s").unwrap();
    first
        .put("a", Bytes::from_static(b"a"), PutMode::Overwrite)
        .unwrap();
    assert_eq!(
        disk.list_dir(&tmp_root).unwrap(),
        ["77-1-1.tmp", "LOCK", "notes.txt"]
    );
    drop((first, second));
    let _third = FsStore::open(fs, "/s").unwrap();
    assert_eq!(disk.list_dir(&tmp_root).unwrap(), ["LOCK", "notes.txt"]);
}

#[test]
fn damage_at_rest_is_reported_with_its_offset() {
    let disk = MemFs::new();
    let store = FsStore::open(Arc::new(disk.clone()), "/s").unwrap();
    store
        .put("t", Bytes::from_static(b"0123456789"), PutMode::Overwrite)
        .unwrap();
    disk.flip_bit(Path::new("/s/t"), 45, 0).unwrap();
    let err = store.get("t").unwrap_err();
    assert!(matches!(err, Error::Corrupt { offset: 40, .. }), "{err}");
    disk.flip_bit(Path::new("/s/t"), 3, 0).unwrap();
    let err = store.head("t").unwrap_err();
    assert!(matches!(err, Error::Corrupt { offset: 0, .. }), "{err}");
    // A damaged object can be replaced.
    store
        .put("t", Bytes::from_static(b"fresh"), PutMode::Overwrite)
        .unwrap();
    assert_eq!(store.get("t").unwrap().0, "fresh");
}

#[test]
fn updates_racing_through_two_handles_have_one_winner() {
    let fs: Arc<dyn Fs> = Arc::new(MemFs::new());
    let a = FsStore::open(fs.clone(), "/s").unwrap();
    let b = FsStore::open(fs, "/s").unwrap();
    let first = a
        .put("MANIFEST", Bytes::from_static(b"v1"), PutMode::Create)
        .unwrap();
    let version = first.version.unwrap();
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let store = if i % 2 == 0 { &a } else { &b };
                let version = version.clone();
                scope.spawn(move || {
                    store.put(
                        "MANIFEST",
                        Bytes::from(format!("writer {i}")),
                        PutMode::Update { version },
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let won: Vec<_> = results.iter().filter(|r| r.is_ok()).collect();
    assert_eq!(won.len(), 1, "{results:?}");
    assert!(
        results
            .iter()
            .filter(|r| r.is_err())
            .all(|r| matches!(r, Err(Error::Precondition { .. }))),
        "{results:?}"
    );
    assert_eq!(
        b.head("MANIFEST").unwrap().version,
        won[0].as_ref().unwrap().version
    );
}
