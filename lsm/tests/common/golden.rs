//! Golden stores: the files a workload writes, compared byte for byte with
//! a committed directory under `tests/data/` (`LSM_BLESS=1` rewrites it),
//! and copied back onto an in-memory disk to be opened.

use std::path::Path;

use vfs::{Fs, MemFs, OpenMode};

/// The subdirectories of a store that hold files: the store's own, and
/// its blob files'.
const SUBDIRS: [&str; 2] = ["", "blobs"];

fn relative(sub: &str, name: String) -> String {
    if sub.is_empty() {
        name
    } else {
        format!("{sub}/{name}")
    }
}

/// Every file of the store at `/db` (and `/db/blobs`) but the lock, by
/// name relative to `/db`, sorted.
pub(crate) fn store_files(fs: &MemFs) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for sub in SUBDIRS {
        let dir = Path::new("/db").join(sub);
        let Ok(names) = fs.list_dir(&dir) else {
            continue;
        };
        for n in names {
            let n = n.to_string_lossy().into_owned();
            let path = dir.join(&n);
            if n == "LOCK" || fs.list_dir(&path).is_ok() {
                continue;
            }
            let data = fs
                .open(&path, OpenMode::Read)
                .and_then(|f| f.map())
                .expect("read");
            out.push((relative(sub, n), data.to_vec()));
        }
    }
    out.sort();
    out
}

/// The files of the golden directory `dir`, relative to it, sorted.
pub(crate) fn golden_names(dir: &Path) -> Vec<String> {
    let mut want = Vec::new();
    for sub in SUBDIRS {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for e in entries {
            let e = e.expect("entry");
            if e.file_type().expect("type").is_dir() {
                continue;
            }
            want.push(relative(sub, e.file_name().to_string_lossy().into_owned()));
        }
    }
    want.sort();
    want
}

/// Asserts that `got` (from [`store_files`]) is the golden directory
/// `dir`, file for file and byte for byte, after rewriting it first under
/// `LSM_BLESS`. The blob store's manifest is skipped: it holds a random
/// store id (the erasure crate's golden files pin its format).
pub(crate) fn assert_golden(got: &[(String, Vec<u8>)], dir: &Path) {
    if std::env::var_os("LSM_BLESS").is_some() {
        for (name, data) in got {
            let path = dir.join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("mkdir");
            }
            std::fs::write(path, data).expect("write golden");
        }
    }
    let names: Vec<String> = got.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(
        names,
        golden_names(dir),
        "file set changed in {}",
        dir.display()
    );
    for (name, data) in got {
        if name == "blobs/MANIFEST" {
            continue;
        }
        let golden = std::fs::read(dir.join(name)).expect("read golden");
        assert!(
            *data == golden,
            "{name} differs from {}/{name}: the on-disk format changed",
            dir.display()
        );
    }
}

/// A fresh in-memory disk holding the golden directory `dir` as the store
/// at `/db`.
pub(crate) fn golden_disk(dir: &Path) -> MemFs {
    let fs = MemFs::new();
    fs.create_dir_all(Path::new("/db/blobs")).expect("mkdir");
    for name in golden_names(dir) {
        let f = fs
            .open(&Path::new("/db").join(&name), OpenMode::CreateNew)
            .expect("create");
        f.append(&std::fs::read(dir.join(&name)).expect("read"))
            .expect("write");
    }
    fs
}
