//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::sync::Arc;

use larder_erasure::{BlobId, BlobStore, Options};
use vfs::{Fs, MemFs};

pub fn dirs(n: usize) -> Vec<PathBuf> {
    (0..n).map(|i| PathBuf::from(format!("/d{i}"))).collect()
}

pub fn options(k: usize, m: usize, stripe: u64) -> Options {
    Options {
        data_shards: k,
        parity_shards: m,
        stripe_size_bytes: stripe,
    }
}

pub fn open(fs: &Arc<dyn Fs>, o: Options) -> BlobStore {
    BlobStore::open(fs.clone(), &dirs(o.data_shards + o.parity_shards), o).unwrap()
}

pub fn mem() -> (MemFs, Arc<dyn Fs>) {
    let m = MemFs::new();
    let fs: Arc<dyn Fs> = Arc::new(m.clone());
    (m, fs)
}

pub fn shard_path(store: &BlobStore, index: usize, id: BlobId) -> PathBuf {
    store.dirs()[index].join(format!("{id}.shard"))
}

pub fn blob(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
