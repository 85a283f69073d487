//! Pins the file format: a small database built the same way each time must
//! match `tests/data/golden.db` byte for byte, and that file must open and
//! read back. Regenerate (after a deliberate format change, with FORMAT.md
//! updated in the same commit) with `BTREE_BLESS=1 cargo test -p btree --test golden`.

use std::path::Path;
use std::sync::Arc;

use btree::{Db, Options};
use vfs::{Fs, MemFs, OpenMode};

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/golden.db");

fn options() -> Options {
    Options {
        page_size_bytes: 512,
        initial_size_bytes: 0,
        ..Options::default()
    }
}

fn build() -> Vec<u8> {
    let fs = Arc::new(MemFs::new());
    let db = Db::open(fs.clone(), "/db", options()).unwrap();
    let mut txn = db.begin_write().unwrap();
    for i in 0..40u8 {
        txn.insert(&[b'k', i], &[i; 20]).unwrap();
    }
    txn.insert(b"large", &[7u8; 1000]).unwrap();
    txn.commit().unwrap();
    let mut txn = db.begin_write().unwrap();
    txn.remove(&[b'k', 3]).unwrap();
    txn.insert(b"", b"empty key").unwrap();
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

#[test]
fn golden_file_opens_and_reads_back() {
    let golden = std::fs::read(GOLDEN).unwrap();
    let fs = Arc::new(MemFs::new());
    fs.open(Path::new("/db"), OpenMode::Truncate)
        .unwrap()
        .write_all_at(&golden, 0)
        .unwrap();
    let db = Db::open(fs, "/db", options()).unwrap();
    db.check().unwrap();
    let read = db.begin_read().unwrap();
    assert_eq!(read.len(), 41);
    assert_eq!(read.get(b"").unwrap().as_deref(), Some(&b"empty key"[..]));
    assert_eq!(
        read.get(b"large").unwrap().as_deref(),
        Some(&[7u8; 1000][..])
    );
    assert_eq!(read.get(&[b'k', 3]).unwrap(), None);
    assert_eq!(
        read.get(&[b'k', 39]).unwrap().as_deref(),
        Some(&[39u8; 20][..])
    );
    // Byte-level pins of the meta page layout (FORMAT.md, "Meta page").
    let meta = &golden[..512];
    assert_eq!(&meta[32..40], b"CowBTree");
    assert_eq!(u32::from_le_bytes(meta[40..44].try_into().unwrap()), 1);
    assert_eq!(u32::from_le_bytes(meta[44..48].try_into().unwrap()), 512);
    assert_eq!(meta[4], 1, "kind: meta");
    assert_eq!(
        crc32fast_hash(&meta[4..]),
        u32::from_le_bytes(meta[0..4].try_into().unwrap())
    );
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
