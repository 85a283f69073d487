//! A damaged data block never makes a read return an older value: with two
//! tables holding every key (the older one with value 1, the newer one with
//! value 2), one flipped bit in a data block of either table must leave
//! every read either right (value 2) or `Err`, never value 1 and never a
//! pair skipped without an error. Gets, forward and reverse scans of the
//! whole store, and scans from (or down to) every key are all checked.
//!
//! The reverse scan is the one that went wrong: versions of a key come
//! oldest first from the back, and an error met before the newest version
//! ended the key's group early, so the older table's version was returned.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use larder_lsm::{Db, Durability, Error, Options};
use vfs::{Fs, MemFs, OpenMode};

const KEYS: u32 = 400;

fn opts() -> Options {
    Options {
        durability: Durability::Immediate,
        compression: false,
        block_size_bytes: 1024,
        ..Options::default()
    }
}

fn open(fs: &MemFs) -> Db {
    Db::open_with_fs(Arc::new(fs.clone()), "/db", opts()).expect("open reads no data block")
}

fn key(i: u32) -> Bytes {
    Bytes::from(format!("key{i:05}"))
}

fn value(i: u32, generation: u32) -> Bytes {
    Bytes::from(format!("v{generation}-{i}-{}", "x".repeat(40)))
}

/// Two tables, each holding every key: the older with generation 1, the
/// newer with generation 2. Returns them oldest first.
fn two_tables() -> (MemFs, PathBuf, PathBuf) {
    let fs = MemFs::new();
    let db = open(&fs);
    for generation in [1, 2] {
        for i in 0..KEYS {
            db.put(key(i), value(i, generation)).expect("put");
        }
        db.flush().expect("flush");
    }
    db.close().expect("close");
    let mut tables: Vec<PathBuf> = fs
        .list_dir(Path::new("/db"))
        .expect("list")
        .into_iter()
        .filter(|n| n.to_string_lossy().ends_with(".sst"))
        .map(|n| Path::new("/db").join(n))
        .collect();
    tables.sort();
    assert_eq!(tables.len(), 2, "{tables:?}");
    (fs, tables[0].clone(), tables[1].clone())
}

fn len(fs: &MemFs, path: &Path) -> u64 {
    fs.open(path, OpenMode::Read)
        .and_then(|f| f.len())
        .expect("len")
}

/// Checks what a scan yielded: `expect` is the keys it must yield in order
/// (each with value 2) unless it fails first. Returns whether it failed.
fn check_scan(
    what: &str,
    got: impl Iterator<Item = larder_lsm::Result<(Bytes, Bytes)>>,
    mut expect: impl Iterator<Item = u32>,
    table: &Path,
) -> bool {
    for r in got {
        match r {
            Ok((k, v)) => {
                let i = expect
                    .next()
                    .unwrap_or_else(|| panic!("{what}: {k:?} past the end"));
                assert_eq!(k, key(i), "{what}: a key skipped without an error");
                assert_eq!(v, value(i, 2), "{what}: {k:?} read a wrong (older) value");
            }
            Err(e) => {
                assert!(
                    matches!(&e, Error::Corruption { file, .. } if file == table),
                    "{what}: {e}"
                );
                return true;
            }
        }
    }
    assert_eq!(expect.next(), None, "{what}: ended early without an error");
    false
}

/// Flips a bit in the middle of `damaged` (a data block: the index, filter
/// and properties blocks are small and at the end) and checks every read.
/// Returns how many gets failed.
fn check_every_read(fs: &MemFs, damaged: &Path) -> usize {
    // A data block: the index, filter and properties blocks are small and
    // lie at the end.
    fs.flip_bit(damaged, len(fs, damaged) / 3, 0).expect("flip");
    let db = open(fs);
    let mut failed_gets = 0;
    for i in 0..KEYS {
        match db.get(&key(i)) {
            Ok(v) => assert_eq!(
                v.as_deref(),
                Some(&value(i, 2)[..]),
                "get {i} read a wrong value"
            ),
            Err(e) => {
                assert!(
                    matches!(&e, Error::Corruption { file, .. } if file == damaged),
                    "get {i}: {e}"
                );
                failed_gets += 1;
            }
        }
    }
    let full = db.range::<&[u8], _>(..);
    assert!(
        check_scan("forward scan", full, 0..KEYS, damaged),
        "forward scan over a damaged block succeeded"
    );
    let full = db.range::<&[u8], _>(..).rev();
    assert!(
        check_scan("reverse scan", full, (0..KEYS).rev(), damaged),
        "reverse scan over a damaged block succeeded"
    );
    for i in 0..KEYS {
        let k = key(i);
        check_scan(
            &format!("scan from {i}"),
            db.range(k.clone()..),
            i..KEYS,
            damaged,
        );
        check_scan(
            &format!("reverse scan down from {i}"),
            db.range(..=k.clone()).rev(),
            (0..=i).rev(),
            damaged,
        );
        check_scan(
            &format!("reverse scan from the end down to {i}"),
            db.range(k..).rev(),
            (i..KEYS).rev(),
            damaged,
        );
    }
    db.close().expect("close");
    failed_gets
}

#[test]
fn damaged_block_of_the_newer_table_fails_reads_of_its_keys() {
    let (fs, _older, newer) = two_tables();
    let failed = check_every_read(&fs, &newer);
    assert!(failed > 0, "no get read the damaged block");
}

#[test]
fn damaged_block_of_the_older_table_never_hides_the_newer_value() {
    let (fs, older, _newer) = two_tables();
    let failed = check_every_read(&fs, &older);
    // Every get is answered by the newer table.
    assert_eq!(failed, 0);
}
