//! Injected faults surface as errors naming the operation and path.

use std::path::Path;
use std::sync::Arc;

use larder_vfs::crash_test::{ExploreOptions, explore};
use larder_vfs::{Error, Fault, FaultFs, Fs, MemFs, Op, OpenMode, OsFs};

fn raw_os_error(err: &Error) -> Option<i32> {
    if let Error::Io { source, .. } = err {
        source.raw_os_error()
    } else {
        None
    }
}

#[test]
fn nth_operation_fails_with_eio_and_names_path_and_op() {
    let fs = FaultFs::new(Arc::new(MemFs::new()));
    fs.fail_nth(Op::Append, 2, Fault::Eio);
    let file = fs.open(Path::new("/wal"), OpenMode::Append).unwrap();
    file.append(b"one").unwrap();
    let err = file.append(b"two").unwrap_err();
    assert!(matches!(&err, Error::Io { op: Op::Append, path, .. } if path == Path::new("/wal")));
    assert_eq!(raw_os_error(&err), Some(5));
    // Only the second: the third goes through, and the failed one had no effect.
    assert_eq!(file.append(b"three").unwrap(), 3);
    assert_eq!(fs.op_count(Op::Append), 3);
    assert_eq!(fs.injected(), 1);
}

#[test]
fn matching_operations_fail_with_enospc_until_cleared() {
    let fs = FaultFs::new(Arc::new(MemFs::new()));
    fs.fail_when(
        |op, path| op == Op::Write && path.ends_with("data"),
        Fault::Enospc,
    );
    let data = fs.open(Path::new("/data"), OpenMode::Append).unwrap();
    let other = fs.open(Path::new("/other"), OpenMode::Append).unwrap();
    for _ in 0..3 {
        let err = data.write_all_at(b"x", 0).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::StorageFull);
        assert_eq!(raw_os_error(&err), Some(28));
    }
    other.write_all_at(b"x", 0).unwrap();
    assert_eq!(data.len().unwrap(), 0);
    fs.clear_faults();
    data.write_all_at(b"x", 0).unwrap();
}

#[test]
fn every_operation_kind_can_fail_without_panicking() {
    for op in Op::ALL {
        let dir = tempfile::tempdir().unwrap();
        for inner in [Arc::new(MemFs::new()) as Arc<dyn Fs>, Arc::new(OsFs::new())] {
            let root = if inner.exists(dir.path()).unwrap() {
                dir.path().to_path_buf()
            } else {
                "/".into()
            };
            let fs = FaultFs::new(inner);
            fs.fail_when(move |o, _| o == op, Fault::Eio);
            // A small workload touching every operation; each step either
            // works or returns the injected error.
            let f = root.join("f");
            let results = [
                fs.create_dir_all(&root.join("d")).err(),
                fs.open(&f, OpenMode::Append)
                    .and_then(|file| {
                        file.append(b"abc")?;
                        file.write_all_at(b"z", 0)?;
                        let mut b = [0u8; 1];
                        file.read_exact_at(&mut b, 0)?;
                        file.sync_data()?;
                        file.set_len(2)?;
                        file.len()?;
                        file.map()?;
                        Ok(())
                    })
                    .err(),
                fs.hard_link(&f, &root.join("h")).err(),
                fs.rename(&f, &root.join("g")).err(),
                fs.list_dir(&root).err(),
                fs.exists(&f).err(),
                fs.sync_dir(&root).err(),
                fs.lock(&root.join("LOCK")).err(),
                fs.remove_file(&root.join("g")).err(),
                fs.remove_dir(&root.join("d")).err(),
            ];
            // Later steps may fail as a consequence (renaming a file whose
            // open failed); every EIO is the injected one, and there is one.
            let injected: Vec<_> = results
                .into_iter()
                .flatten()
                .filter(|e| raw_os_error(e) == Some(5))
                .collect();
            assert!(!injected.is_empty(), "{op}: no failure injected");
            for err in injected {
                assert_eq!(err.op(), Some(op), "{err}");
            }
            assert!(fs.injected() > 0);
        }
    }
}

#[test]
fn explore_checks_a_crash_before_every_sync() {
    // Two files, each written, synced and named durably.
    let workload = |fs: Arc<dyn Fs>| -> Vec<&'static str> {
        let mut durable = Vec::new();
        for name in ["/a", "/b"] {
            let step = || -> larder_vfs::Result<()> {
                let file = fs.open(Path::new(name), OpenMode::CreateNew)?;
                file.append(name.as_bytes())?;
                file.sync_data()?;
                fs.sync_dir(Path::new("/"))
            };
            if step().is_err() {
                break;
            }
            durable.push(name);
        }
        durable
    };
    let mut seen = Vec::new();
    let report = explore(
        &ExploreOptions::default(),
        workload,
        |point, disk, durable| {
            for name in &durable {
                assert!(
                    disk.exists(Path::new(name)).unwrap(),
                    "{point:?}: {name} lost"
                );
            }
            seen.push((point.before_sync, durable.len()));
        },
    );
    assert_eq!(report.syncs, 4);
    assert_eq!(report.crashes, 5 * 3 * 2);
    // Before sync 3 exactly "/a" was durable; after the workload both were.
    assert!(seen.contains(&(3, 1)));
    assert!(seen.contains(&(5, 2)));
    assert!(seen.contains(&(1, 0)));
}
