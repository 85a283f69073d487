//! The shard file format, pinned byte for byte: a change to `FORMAT.md` must
//! come with a change to these files.

mod common;

use common::*;
use larder_erasure::BlobId;
use vfs::OpenMode;

const GOLDEN: [&[u8]; 3] = [
    include_bytes!("data/golden_shard_0.bin"),
    include_bytes!("data/golden_shard_1.bin"),
    include_bytes!("data/golden_shard_2.bin"),
];
const BLOB: &[u8] = b"erasure golden blob: RS(2,1), 16-byte stripes";

#[test]
fn shard_files_match_the_golden_bytes() {
    let (_, fs) = mem();
    let store = open(&fs, options(2, 1, 16));
    let id = store.put(BLOB).unwrap();
    assert_eq!(id, BlobId(0));
    for (i, golden) in GOLDEN.iter().enumerate() {
        let f = fs.open(&shard_path(&store, i, id), OpenMode::Read).unwrap();
        let bytes = f.map().unwrap();
        if std::env::var_os("ERASURE_UPDATE_GOLDEN").is_some() {
            let path = format!(
                "{}/tests/data/golden_shard_{i}.bin",
                env!("CARGO_MANIFEST_DIR")
            );
            std::fs::write(path, &bytes).unwrap();
            continue;
        }
        assert_eq!(&bytes[..], *golden, "shard {i}");
    }
}

#[test]
fn golden_shard_files_read_back() {
    let (_, fs) = mem();
    let store = open(&fs, options(2, 1, 16));
    drop(store);
    // Lose shard 0: the parity shard's bytes are pinned too.
    for (i, golden) in GOLDEN.iter().enumerate().skip(1) {
        let f = fs
            .open(
                &dirs(3)[i].join("0000000000000000.shard"),
                OpenMode::CreateNew,
            )
            .unwrap();
        f.write_all_at(golden, 0).unwrap();
    }
    let store = open(&fs, options(2, 1, 16));
    assert_eq!(store.list(), vec![BlobId(0)]);
    assert_eq!(&store.get(BlobId(0)).unwrap()[..], BLOB);
}
