//! Damage to a `btree` store's file is reported, never read as an empty or
//! older store (issue 20, items 4 and 5): after a load, a truncated, emptied
//! or deleted `btree.db`, or a damaged newest meta page, makes `verify` exit
//! 1 naming the file, and `get` fail; nothing recreates the file.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

const PAGE: u64 = 4096;

fn kv(db: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let all: Vec<&str> = ["--engine", "btree"]
        .into_iter()
        .chain(args.iter().copied())
        .collect();
    common::run(db, &all, stdin)
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// A store loaded twice (so both meta pages hold loads), with overwrites.
fn loaded(dir: &tempfile::TempDir) -> (PathBuf, PathBuf) {
    let db = dir.path().join("store");
    for round in 0..2 {
        let input: String = (0..3000)
            .map(|i| format!("key{:05}\tvalue {round} {i}\n", i + round * 1000))
            .collect();
        let out = kv(&db, &["load", "-"], input.as_bytes());
        assert!(out.status.success(), "{}", text(&out));
    }
    let out = kv(&db, &["verify"], b"");
    assert!(text(&out).starts_with("ok: 4000 pairs"), "{}", text(&out));
    let file = db.join("btree.db");
    (db, file)
}

/// `verify` exits 1 naming `btree.db`, and `get` of a loaded key fails.
fn damage_is_reported(db: &Path, what: &str) {
    let out = kv(db, &["verify"], b"");
    assert_eq!(out.status.code(), Some(1), "{what}: {}", text(&out));
    assert!(text(&out).contains("btree.db"), "{what}: {}", text(&out));
    assert!(
        !text(&out).contains("ok: 0 pairs"),
        "{what}: {}",
        text(&out)
    );
    let out = kv(db, &["get", "key03500"], b"");
    assert!(!out.status.success(), "{what}: get succeeded");
    assert!(text(&out).contains("btree.db"), "{what}: {}", text(&out));
}

#[test]
fn a_truncated_btree_file_is_damage_not_an_empty_store() {
    for len in [2 * PAGE, PAGE, 0, 5 * PAGE] {
        let dir = tempfile::tempdir().unwrap();
        let (db, file) = loaded(&dir);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&file)
            .unwrap()
            .set_len(len)
            .unwrap();
        damage_is_reported(&db, &format!("truncated to {len}"));
        assert_eq!(std::fs::metadata(&file).unwrap().len(), len, "file changed");
    }
}

#[test]
fn a_deleted_btree_file_is_damage_and_is_not_recreated() {
    let dir = tempfile::tempdir().unwrap();
    let (db, file) = loaded(&dir);
    std::fs::remove_file(&file).unwrap();
    damage_is_reported(&db, "deleted");
    // Not even by a writing command.
    let out = kv(&db, &["put", "k", "v"], b"");
    assert!(!out.status.success(), "{}", text(&out));
    assert!(!file.exists());
}

#[test]
fn a_damaged_newest_meta_page_is_reported_not_reverted() {
    for zero in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let (db, file) = loaded(&dir);
        let mut bytes = std::fs::read(&file).unwrap();
        let txn = |slot: usize| {
            let at = slot * PAGE as usize + 16;
            u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())
        };
        let newest = if txn(0) > txn(1) { 0 } else { 1 };
        let page = newest * PAGE as usize..(newest + 1) * PAGE as usize;
        if zero {
            bytes[page].fill(0);
        } else {
            bytes[page.start + 50] ^= 0x40;
        }
        std::fs::write(&file, &bytes).unwrap();
        damage_is_reported(&db, &format!("meta page {newest}, zeroed {zero}"));
    }
}

#[test]
fn a_damaged_older_meta_page_is_named_by_verify_and_reads_still_work() {
    let dir = tempfile::tempdir().unwrap();
    let (db, file) = loaded(&dir);
    let mut bytes = std::fs::read(&file).unwrap();
    let txn = |bytes: &[u8], slot: usize| {
        let at = slot * PAGE as usize + 16;
        u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())
    };
    let older = if txn(&bytes, 0) > txn(&bytes, 1) {
        1
    } else {
        0
    };
    bytes[older * PAGE as usize + 60] ^= 0x01;
    std::fs::write(&file, &bytes).unwrap();
    let out = kv(&db, &["verify"], b"");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let expected = format!("opened commit {} from meta page", txn(&bytes, 1 - older));
    assert!(text(&out).contains(&expected), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("meta page {older} is damaged")),
        "{}",
        text(&out)
    );
    let out = kv(&db, &["get", "key03500"], b"");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "value 1 2500\n");
    let out = kv(&db, &["stats"], b"");
    assert!(text(&out).contains("is damaged"), "{}", text(&out));
}
