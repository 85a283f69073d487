//! Golden files pin the on-disk format (`FORMAT.md`): a fixed workload must
//! write exactly the bytes in `tests/data/golden/` (WAL, table, manifest,
//! `CURRENT`), and a DB made of those files must read back.
//!
//! After a deliberate format change, regenerate with
//! `LSM_BLESS=1 cargo test -p lsm --test golden` and update FORMAT.md.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use lsm::{Db, Options};
use vfs::{Fs, MemFs, OpenMode};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden")
}

fn opts() -> Options {
    Options {
        compression: false,
        // The golden files pin the inline format (no blob directory).
        blob_threshold: None,
        ..Options::default()
    }
}

/// Writes a table (three puts and a delete, flushed) and a log (two more
/// writes, not flushed).
fn workload(fs: &MemFs) {
    let db = Db::open_with_fs(Arc::new(fs.clone()), "/db", opts()).expect("open");
    db.put("apple", "red").expect("put");
    db.put("banana", "yellow").expect("put");
    db.put("cherry", "dark red").expect("put");
    db.delete("banana").expect("delete");
    db.flush().expect("flush");
    db.put("date", "brown").expect("put");
    db.delete("apple").expect("delete");
    db.close().expect("close");
}

fn files(fs: &MemFs) -> Vec<(String, Vec<u8>)> {
    fs.list_dir(Path::new("/db"))
        .expect("list")
        .into_iter()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| n != "LOCK")
        .map(|n| {
            let data = fs
                .open(&Path::new("/db").join(&n), OpenMode::Read)
                .and_then(|f| f.map())
                .expect("read");
            (n, data.to_vec())
        })
        .collect()
}

#[test]
fn format_matches_golden_files_byte_for_byte() {
    let fs = MemFs::new();
    workload(&fs);
    let got = files(&fs);
    let dir = golden_dir();
    if std::env::var_os("LSM_BLESS").is_some() {
        std::fs::create_dir_all(&dir).expect("mkdir");
        for (name, data) in &got {
            std::fs::write(dir.join(name), data).expect("write golden");
        }
    }
    let mut want: Vec<String> = std::fs::read_dir(&dir)
        .expect("golden dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    want.sort();
    let names: Vec<String> = got.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(names, want, "file set changed");
    for (name, data) in &got {
        let golden = std::fs::read(dir.join(name)).expect("read golden");
        assert!(
            *data == golden,
            "{name} differs from tests/data/golden/{name}: the on-disk format changed"
        );
    }
}

#[test]
fn golden_files_open_and_read_back() {
    let fs = MemFs::new();
    fs.create_dir_all(Path::new("/db")).expect("mkdir");
    for e in std::fs::read_dir(golden_dir()).expect("golden dir") {
        let e = e.expect("entry");
        let f = fs
            .open(&Path::new("/db").join(e.file_name()), OpenMode::CreateNew)
            .expect("create");
        f.append(&std::fs::read(e.path()).expect("read"))
            .expect("write");
    }
    let db = Db::open_with_fs(Arc::new(fs), "/db", opts()).expect("open golden DB");
    let all: Vec<(Vec<u8>, Vec<u8>)> = db
        .range::<&[u8], _>(..)
        .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).expect("scan"))
        .collect();
    assert_eq!(
        all,
        vec![
            (b"cherry".to_vec(), b"dark red".to_vec()),
            (b"date".to_vec(), b"brown".to_vec()),
        ]
    );
}
