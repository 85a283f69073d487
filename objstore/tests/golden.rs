//! Pins the bytes of an `FsStore` object file (FORMAT.md, version 1). After
//! a deliberate format change: `OBJSTORE_BLESS=1 cargo test -p
//! larder-objstore --test golden`, and update FORMAT.md.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use larder_objstore::{FsStore, PutMode, Store};
use vfs::{Fs, MemFs, OpenMode};

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/object-v1.bin");

fn written() -> Vec<u8> {
    let disk = MemFs::new();
    let store = FsStore::open(Arc::new(disk.clone()), "/s").unwrap();
    store
        .put(
            "t/golden",
            Bytes::from_static(b"hello, object"),
            PutMode::Overwrite,
        )
        .unwrap();
    store
        .put(
            "t/golden",
            Bytes::from_static(b"hello, objects"),
            PutMode::Overwrite,
        )
        .unwrap();
    let file = disk.open(Path::new("/s/t/golden"), OpenMode::Read).unwrap();
    let mut buf = vec![0u8; usize::try_from(file.len().unwrap()).unwrap()];
    file.read_exact_at(&mut buf, 0).unwrap();
    buf
}

#[test]
fn object_file_matches_the_golden_bytes() {
    let bytes = written();
    if std::env::var_os("OBJSTORE_BLESS").is_some() {
        std::fs::write(GOLDEN, &bytes).unwrap();
    }
    assert_eq!(bytes, std::fs::read(GOLDEN).unwrap());
    // Generation 2: the second put replaced the first.
    assert_eq!(&bytes[8..16], &2u64.to_le_bytes());
    assert_eq!(&bytes[40..], b"hello, objects");
}

#[test]
fn golden_object_reads_back() {
    let disk = MemFs::new();
    disk.create_dir_all(Path::new("/s")).unwrap();
    let file = disk.open(Path::new("/s/g"), OpenMode::CreateNew).unwrap();
    file.write_all_at(&std::fs::read(GOLDEN).unwrap(), 0)
        .unwrap();
    let store = FsStore::open(Arc::new(disk), "/s").unwrap();
    let (data, meta) = store.get("g").unwrap();
    assert_eq!(data, "hello, objects");
    assert!(meta.version.unwrap().starts_with("2-"));
}
