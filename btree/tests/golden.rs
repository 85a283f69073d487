//! Pins the file format: a small database built the same way each time must
//! match `tests/data/golden.db` byte for byte, and that file must open and
//! read back. Regenerate (after a deliberate format change, with FORMAT.md
//! updated in the same commit) with `BTREE_BLESS=1 cargo test -p larder-btree --test golden`.

use std::path::Path;
use std::sync::Arc;

use larder_btree::{Db, Options};
use vfs::{Fs, MemFs, OpenMode};

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/golden.db");
/// The same database written by format 1 (before child checksums): kept to
/// prove this build still reads and writes it. Never regenerated.
const GOLDEN_V1: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/golden_v1.db");
/// The same database written by format 2 (values inline only up to
/// `page_size / 8 - 32` bytes, without the `medium` entry). Never regenerated.
const GOLDEN_V2: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/golden_v2.db");
/// The same database written by format 3 (each durable commit synced its
/// pages, then its meta page; no synced transaction id). Never regenerated.
const GOLDEN_V3: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/golden_v3.db");
/// The same database written by format 4 (no table catalogue), as main
/// wrote it before named tables: kept to prove its tree opens as the default
/// table. Never regenerated.
const GOLDEN_V4: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/golden_v4.db");
/// A value inline in format 3 (its entry fits half a 512-byte page), which
/// format 2 put in an overflow run.
const MEDIUM: [u8; 200] = [5u8; 200];

fn options() -> Options {
    Options {
        page_size_bytes: 512,
        initial_size_bytes: 0,
        ..Options::default()
    }
}

fn build() -> Vec<u8> {
    let fs = Arc::new(MemFs::new());
    let db = Db::open_with_fs(fs.clone(), "/db", options()).unwrap();
    let mut txn = db.begin_write().unwrap();
    for i in 0..40u8 {
        txn.insert(&[b'k', i], &[i; 20]).unwrap();
    }
    txn.insert(b"large", &[7u8; 1000]).unwrap();
    txn.insert(b"medium", &MEDIUM).unwrap();
    txn.commit().unwrap();
    let mut txn = db.begin_write().unwrap();
    txn.remove(&[b'k', 3]).unwrap();
    txn.insert(b"", b"empty key").unwrap();
    // Format 5: named tables, committed with the default table.
    let mut fruit = txn.open_table("fruit").unwrap();
    fruit.insert(b"apple", b"red").unwrap();
    fruit.insert(b"banana", b"yellow").unwrap();
    txn.open_table("empty").unwrap();
    let mut tags = txn.open_multimap_table("tags").unwrap();
    tags.insert(b"a\x00b", b"x").unwrap();
    tags.insert(b"a\x00b", b"").unwrap();
    txn.commit().unwrap();
    drop(db);
    let f = fs.open(Path::new("/db"), OpenMode::Read).unwrap();
    let mut bytes = vec![0u8; f.len().unwrap() as usize];
    f.read_exact_at(&mut bytes, 0).unwrap();
    bytes
}

#[test]
fn file_bytes_match_the_golden_file() {
    let bytes = build();
    if std::env::var_os("BTREE_BLESS").is_some() {
        std::fs::write(GOLDEN, &bytes).unwrap();
    }
    let golden = std::fs::read(GOLDEN).unwrap();
    assert_eq!(bytes.len(), golden.len());
    let first_diff = bytes.iter().zip(&golden).position(|(a, b)| a != b);
    assert_eq!(first_diff, None, "format changed at byte {first_diff:?}");
}

/// Opens a copy of `file` and checks it holds what `build` wrote (before
/// format 3, without the `medium` entry).
fn open_and_read_back(file: &[u8], medium: bool) -> (Db, Arc<MemFs>) {
    let fs = Arc::new(MemFs::new());
    fs.open(Path::new("/db"), OpenMode::Truncate)
        .unwrap()
        .write_all_at(file, 0)
        .unwrap();
    let db = Db::open_with_fs(fs.clone(), "/db", options()).unwrap();
    db.check().unwrap();
    let read = db.begin_read().unwrap();
    assert_eq!(read.len(), 41 + u64::from(medium));
    assert_eq!(read.get(b"").unwrap().as_deref(), Some(&b"empty key"[..]));
    assert_eq!(
        read.get(b"medium").unwrap().as_deref(),
        medium.then_some(&MEDIUM[..])
    );
    assert_eq!(
        read.get(b"large").unwrap().as_deref(),
        Some(&[7u8; 1000][..])
    );
    assert_eq!(read.get(&[b'k', 3]).unwrap(), None);
    assert_eq!(
        read.get(&[b'k', 39]).unwrap().as_deref(),
        Some(&[39u8; 20][..])
    );
    drop(read);
    (db, fs)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// Byte-level pins of the meta page layout (FORMAT.md, "Meta page"); returns
/// the meta page with the higher transaction id.
fn pin_meta(file: &[u8], version: u32) -> &[u8] {
    let (a, b) = (&file[..512], &file[512..1024]);
    for (slot, meta) in [a, b].into_iter().enumerate() {
        assert_eq!(&meta[32..40], b"CowBTree");
        assert_eq!(u32_at(meta, 40), version);
        assert_eq!(u32_at(meta, 44), 512);
        assert_eq!(meta[4], 1, "kind: meta");
        assert_eq!(u64_at(meta, 8), slot as u64, "page number");
        assert_eq!(crc32fast_hash(&meta[4..]), u32_at(meta, 0));
    }
    if u64_at(a, 16) > u64_at(b, 16) { a } else { b }
}

#[test]
fn golden_file_opens_and_reads_back() {
    let golden = std::fs::read(GOLDEN).unwrap();
    let (db, _) = open_and_read_back(&golden, true);
    // Format 3: the 200-byte value is inline; only the 1,000-byte one takes
    // an overflow run (3 pages of 512 bytes).
    assert_eq!(db.check().unwrap().overflow_pages, 3);
    let meta = pin_meta(&golden, 5);
    // Format 4: both commits were small, each written under one sync, so
    // each meta page names the commit before it as the last synced one.
    assert_eq!(u64_at(meta, 16), 2, "the second commit");
    assert_eq!(u64_at(meta, 88), 1, "synced transaction id");
    // Format 2: the root's CRC-32 follows the entry count in the meta page,
    // and each branch entry records its child's (FORMAT.md, "Branch page").
    let root = u64_at(meta, 48) as usize;
    let page = &golden[root * 512..(root + 1) * 512];
    assert_eq!(
        u32_at(meta, 80),
        u32_at(page, 0),
        "root CRC in the meta page"
    );
    assert_eq!(page[4], 2, "kind: branch");
    assert_eq!(page[5], 1, "flag: entries carry child CRCs");
    let count = u64_at(page, 24) as usize;
    assert!(count >= 2);
    for i in 0..count {
        let slot = 32 + 6 * i;
        let at = u16::from_le_bytes([page[slot], page[slot + 1]]) as usize;
        let key_len = u16::from_le_bytes([page[at], page[at + 1]]) as usize;
        let child = u64_at(page, at + 2) as usize;
        let child_page = &golden[child * 512..(child + 1) * 512];
        assert_eq!(u32_at(page, at + 10), u32_at(child_page, 0), "child {i}");
        assert_eq!(
            crc32fast_hash(&child_page[4..]),
            u32_at(child_page, 0),
            "child {i} is sealed"
        );
        assert_eq!(child_page[4], 3, "kind: leaf");
        assert_eq!(child_page[5], 0, "a leaf has no flags");
        assert_eq!(key_len == 0, i == 0);
    }
}

/// The format-1 file (written before branch entries carried child CRCs)
/// still opens, reads back, and takes writes: its branch pages are
/// rewritten in format 2 as commits copy them.
#[test]
fn format_1_file_opens_reads_back_and_takes_writes() {
    let v1 = std::fs::read(GOLDEN_V1).unwrap();
    pin_meta(&v1, 1);
    let (db, _) = open_and_read_back(&v1, false);
    let mut txn = db.begin_write().unwrap();
    txn.remove(&[b'k', 10]).unwrap();
    for i in 40..120u8 {
        txn.insert(&[b'k', i], &[i; 20]).unwrap();
    }
    txn.commit().unwrap();
    db.check().unwrap();
    let read = db.begin_read().unwrap();
    assert_eq!(read.len(), 41 - 1 + 80);
    assert_eq!(read.get(&[b'k', 10]).unwrap(), None);
    for i in (0..120u8).filter(|&i| i != 3 && i != 10) {
        assert_eq!(read.get(&[b'k', i]).unwrap().as_deref(), Some(&[i; 20][..]));
    }
    assert_eq!(read.iter().count(), 120);
}

/// The format-2 file still opens, reads back, and takes writes: its first
/// commit writes a format-3 meta page, and a value format 2 kept in an
/// overflow run is stored inline when written again.
#[test]
fn format_2_file_opens_reads_back_and_takes_writes() {
    let v2 = std::fs::read(GOLDEN_V2).unwrap();
    pin_meta(&v2, 2);
    let (db, fs) = open_and_read_back(&v2, false);
    let overflow_before = db.check().unwrap().overflow_pages;
    let mut txn = db.begin_write().unwrap();
    txn.insert(b"medium", &MEDIUM).unwrap();
    txn.insert(b"large", &MEDIUM).unwrap();
    txn.commit().unwrap();
    let stats = db.check().unwrap();
    assert!(stats.overflow_pages < overflow_before, "{stats:?}");
    assert_eq!(stats.overflow_pages, 0);
    let read = db.begin_read().unwrap();
    assert_eq!(read.len(), 42);
    assert_eq!(read.get(b"medium").unwrap().as_deref(), Some(&MEDIUM[..]));
    assert_eq!(read.get(b"large").unwrap().as_deref(), Some(&MEDIUM[..]));
    drop(read);
    drop(db);
    let f = fs.open(Path::new("/db"), OpenMode::Read).unwrap();
    let mut bytes = vec![0u8; f.len().unwrap() as usize];
    f.read_exact_at(&mut bytes, 0).unwrap();
    let newest = if u64_at(&bytes, 16) > u64_at(&bytes, 512 + 16) {
        &bytes[..512]
    } else {
        &bytes[512..1024]
    };
    assert_eq!(
        u32_at(newest, 40),
        5,
        "the commit wrote a format-5 meta page"
    );
    let db = Db::open_with_fs(fs, "/db", options()).unwrap();
    db.check().unwrap();
    assert_eq!(db.begin_read().unwrap().len(), 42);
}

/// The format-3 file still opens, reads back and takes writes: its meta
/// pages have no synced transaction id (each commit synced its pages before
/// its meta page), and its first commit writes a format-5 meta page that
/// names the format-3 commit as the last synced one.
#[test]
fn format_3_file_opens_reads_back_and_takes_writes() {
    let v3 = std::fs::read(GOLDEN_V3).unwrap();
    let meta = pin_meta(&v3, 3);
    assert_eq!(u64_at(meta, 88), 0, "no synced transaction id in format 3");
    let (db, fs) = open_and_read_back(&v3, true);
    let mut txn = db.begin_write().unwrap();
    txn.insert(b"new", b"value").unwrap();
    txn.commit().unwrap();
    drop(db);
    let f = fs.open(Path::new("/db"), OpenMode::Read).unwrap();
    let mut bytes = vec![0u8; f.len().unwrap() as usize];
    f.read_exact_at(&mut bytes, 0).unwrap();
    let (a, b) = (&bytes[..512], &bytes[512..1024]);
    let newest = if u64_at(a, 16) > u64_at(b, 16) { a } else { b };
    assert_eq!(u32_at(newest, 40), 5);
    assert_eq!(u64_at(newest, 16), 3);
    // One sync (the format-3 commit was the last synced one), unless the
    // commit grew the file, which syncs before the meta page.
    let synced = if bytes.len() > v3.len() { 3 } else { 2 };
    assert_eq!(u64_at(newest, 88), synced, "synced transaction id");
    let db = Db::open_with_fs(fs, "/db", options()).unwrap();
    assert!(db.recovery().is_clean(), "{}", db.recovery());
    db.check().unwrap();
    let read = db.begin_read().unwrap();
    assert_eq!(read.len(), 43);
    assert_eq!(read.get(b"new").unwrap().as_deref(), Some(&b"value"[..]));
}

/// The format-4 file (before named tables) opens unchanged: its tree is the
/// default table, it has no named table, and it takes writes, a new named
/// table among them, in a format-5 meta page.
#[test]
fn format_4_file_opens_as_the_default_table_and_takes_named_tables() {
    let v4 = std::fs::read(GOLDEN_V4).unwrap();
    pin_meta(&v4, 4);
    let (db, fs) = open_and_read_back(&v4, true);
    assert!(db.begin_read().unwrap().list_tables().unwrap().is_empty());
    let mut txn = db.begin_write().unwrap();
    txn.insert(b"new", b"value").unwrap();
    txn.open_table("t").unwrap().insert(b"k", b"v").unwrap();
    txn.commit().unwrap();
    db.check().unwrap();
    drop(db);
    let db = Db::open_with_fs(fs, "/db", options()).unwrap();
    db.check().unwrap();
    let read = db.begin_read().unwrap();
    assert_eq!(read.len(), 43);
    assert_eq!(read.get(b"new").unwrap().as_deref(), Some(&b"value"[..]));
    assert_eq!(read.list_tables().unwrap(), ["t"]);
    let t = read.open_table("t").unwrap().unwrap();
    assert_eq!(t.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
}

/// Byte-level pins of the table catalogue (FORMAT.md, "Table catalogue"):
/// the meta page records its root and CRC-32; its leaf maps each name to a
/// 24-byte record (root, root CRC-32, kind, entry count); a multimap
/// table's tree keys are its encoded pairs.
#[test]
fn golden_file_pins_the_table_catalogue() {
    let golden = std::fs::read(GOLDEN).unwrap();
    let meta = pin_meta(&golden, 5);
    let root = u64_at(meta, 96) as usize;
    let page = &golden[root * 512..(root + 1) * 512];
    assert_eq!(u32_at(meta, 104), u32_at(page, 0), "catalogue root CRC");
    assert_eq!(page[4], 3, "kind: leaf");
    assert_eq!(u64_at(page, 24), 3, "three tables");
    let mut names = Vec::new();
    for i in 0..3 {
        let slot = 32 + 6 * i;
        let at = u16::from_le_bytes([page[slot], page[slot + 1]]) as usize;
        assert_eq!(page[at], 0, "inline value");
        let key_len = u16::from_le_bytes([page[at + 1], page[at + 2]]) as usize;
        assert_eq!(u32_at(page, at + 3), 24, "record bytes");
        let name = &page[at + 7..at + 7 + key_len];
        let record = &page[at + 7 + key_len..at + 7 + key_len + 24];
        names.push(name.to_vec());
        assert_eq!(
            u32_at(record, 12),
            u32::from(name == b"tags"),
            "kind: 0 plain, 1 multimap"
        );
        match name {
            b"empty" => {
                assert_eq!(u64_at(record, 0), u64::MAX, "no root");
                assert_eq!(u64_at(record, 16), 0);
            }
            b"fruit" => {
                let t = u64_at(record, 0) as usize;
                let table = &golden[t * 512..(t + 1) * 512];
                assert_eq!(u32_at(record, 8), u32_at(table, 0), "table root CRC");
                assert_eq!(u64_at(record, 16), 2, "entries");
            }
            b"tags" => {
                // One leaf of two pairs: the key with its zero byte escaped,
                // the terminator, then the value; values sort after it.
                let t = u64_at(record, 0) as usize;
                let leaf = &golden[t * 512..(t + 1) * 512];
                assert_eq!(u64_at(leaf, 24), 2);
                let mut keys = Vec::new();
                for j in 0..2 {
                    let slot = 32 + 6 * j;
                    let at = u16::from_le_bytes([leaf[slot], leaf[slot + 1]]) as usize;
                    let len = u16::from_le_bytes([leaf[at + 1], leaf[at + 2]]) as usize;
                    assert_eq!(u32_at(leaf, at + 3), 0, "empty value");
                    keys.push(leaf[at + 7..at + 7 + len].to_vec());
                }
                assert_eq!(
                    keys,
                    [
                        b"a\x00\xffb\x00\x00".to_vec(),
                        b"a\x00\xffb\x00\x00x".to_vec()
                    ]
                );
            }
            other => panic!("unexpected table {other:?}"),
        }
    }
    assert_eq!(
        names,
        [b"empty".to_vec(), b"fruit".to_vec(), b"tags".to_vec()]
    );
    let (db, _) = open_and_read_back(&golden, true);
    let read = db.begin_read().unwrap();
    let fruit = read.open_table("fruit").unwrap().unwrap();
    assert_eq!(
        fruit.get(b"banana").unwrap().as_deref(),
        Some(&b"yellow"[..])
    );
    assert!(read.open_table("empty").unwrap().unwrap().is_empty());
}

/// A format-1 file whose root branch is nearly full, written by the build
/// before format 2: two-byte keys `k < 390` with value `[k as u8]` inserted
/// in order into 512-byte pages (24 leaves under one root), then keys
/// `100i + 7` given the value `[i; 700]` (overflow runs) for `i < 3`.
/// Rewritten in format 2 the root grows by 4 bytes per entry, past its
/// page, so even a remove must split it.
const FULL_V1: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/full_v1.db");

#[test]
fn format_1_file_of_a_full_branch_takes_removes_and_inserts() {
    let fs = Arc::new(MemFs::new());
    fs.open(Path::new("/db"), OpenMode::Truncate)
        .unwrap()
        .write_all_at(&std::fs::read(FULL_V1).unwrap(), 0)
        .unwrap();
    let mut model = std::collections::BTreeMap::new();
    for k in 0..390u16 {
        model.insert(k.to_be_bytes().to_vec(), vec![k as u8]);
    }
    for i in 0..3u16 {
        model.insert((i * 100 + 7).to_be_bytes().to_vec(), vec![i as u8; 700]);
    }
    let db = Db::open_with_fs(fs.clone(), "/db", options()).unwrap();
    let before = db.check().unwrap();
    assert_eq!((before.height, before.branch_pages), (2, 1));
    let mut txn = db.begin_write().unwrap();
    for k in (0..390u16).step_by(3) {
        assert!(txn.remove(&k.to_be_bytes()).unwrap().is_some());
        model.remove(&k.to_be_bytes()[..]);
    }
    txn.commit().unwrap();
    assert_eq!(db.check().unwrap().height, 3, "the root split");
    let mut txn = db.begin_write().unwrap();
    for k in 390..600u16 {
        txn.insert(&k.to_be_bytes(), b"new").unwrap();
        model.insert(k.to_be_bytes().to_vec(), b"new".to_vec());
    }
    // An overflow value of format 1 (no CRC in its entry) is replaced too.
    txn.insert(&7u16.to_be_bytes(), &[9u8; 900]).unwrap();
    model.insert(7u16.to_be_bytes().to_vec(), vec![9u8; 900]);
    txn.commit().unwrap();
    drop(db);
    let db = Db::open_with_fs(fs, "/db", options()).unwrap();
    db.check().unwrap();
    let read = db.begin_read().unwrap();
    let got: std::collections::BTreeMap<Vec<u8>, Vec<u8>> = read
        .iter()
        .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
        .collect();
    assert_eq!(got, model);
}

fn crc32fast_hash(bytes: &[u8]) -> u32 {
    // CRC-32 (IEEE), bitwise: the test does not trust the crate's own helper.
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
