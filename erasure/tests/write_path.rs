//! The writer codes whole stripes straight from the caller's bytes and
//! buffers only across stripe boundaries. Either way each shard file is the
//! header, then per stripe the shard bytes of the copying encoder it
//! replaced and their block CRCs: the format does not move by a byte.

mod common;

use common::*;
use larder_erasure::BlobId;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vfs::{Fs, OpenMode};

/// Bytes of the shard header (`FORMAT.md`), which holds the blob id.
const HEADER_LEN: usize = 52;
/// Each stripe region carries one CRC-32 per block of this many bytes.
const CRC_BLOCK_BYTES: usize = 4096;

/// Shard `index`'s file past its header, as `FORMAT.md` lays it out.
fn expected_regions(k: usize, m: usize, stripe: usize, blob: &[u8], index: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in blob.chunks(stripe) {
        let shard = &reference_shards(k, m, chunk)[index];
        out.extend_from_slice(shard);
        for block in shard.chunks(CRC_BLOCK_BYTES) {
            out.extend_from_slice(&crc32fast::hash(block).to_le_bytes());
        }
    }
    out
}

fn shard_file(
    fs: &std::sync::Arc<dyn Fs>,
    store: &larder_erasure::BlobStore,
    i: usize,
    id: BlobId,
) -> Vec<u8> {
    let f = fs.open(&shard_path(store, i, id), OpenMode::Read).unwrap();
    f.map().unwrap().to_vec()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn put_and_writer_pieces_write_the_reference_bytes(
        k in 1usize..=6,
        m in 0usize..=3,
        stripe in 1usize..=12_000,
        len in 0usize..=40_000,
        seed in any::<u64>(),
    ) {
        let (_, fs) = mem();
        let store = open(&fs, options(k, m, stripe as u64));
        let data = blob(len, seed);
        // Whole stripes straight from the caller's slice.
        let whole = store.put(&data).unwrap();
        // Random pieces: stripes assembled in the writer's buffer, and whole
        // stripes inside a piece coded from it.
        let mut rng = StdRng::seed_from_u64(seed);
        let mut w = store.writer().unwrap();
        let mut rest = &data[..];
        while !rest.is_empty() {
            let n = rng.random_range(1..=rest.len().min(3 * stripe));
            w.write_all_bytes(&rest[..n]).unwrap();
            rest = &rest[n..];
        }
        let pieces = w.finish().unwrap();
        for i in 0..k + m {
            let expected = expected_regions(k, m, stripe, &data, i);
            let a = shard_file(&fs, &store, i, whole);
            let b = shard_file(&fs, &store, i, pieces);
            prop_assert!(a[HEADER_LEN..] == expected[..], "shard {} of put differs", i);
            prop_assert!(b[HEADER_LEN..] == expected[..], "shard {} of the writer differs", i);
        }
        prop_assert_eq!(&store.get(pieces).unwrap()[..], &data[..]);
    }
}
