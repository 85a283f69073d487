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
    BlobStore::open_with_fs(fs.clone(), &dirs(o.data_shards + o.parity_shards), o).unwrap()
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

/// A stripe's `k + m` shards as the codec made them before
/// `Codec::encode_into`: each data shard a zero-padded copy of its part of
/// `stripe`, the parity coded over those copies. The reference the
/// zero-copy paths must match byte for byte.
pub fn reference_shards(k: usize, m: usize, stripe: &[u8]) -> Vec<Vec<u8>> {
    use larder_erasure::{ErasureCode, ReedSolomonCode};
    let code = ReedSolomonCode::new(k, m).unwrap();
    let shard_len = stripe.len().div_ceil(k);
    let mut chunks = vec![vec![0u8; shard_len]; k + m];
    for (i, chunk) in chunks.iter_mut().take(k).enumerate() {
        let start = (i * shard_len).min(stripe.len());
        let end = ((i + 1) * shard_len).min(stripe.len());
        chunk[..end - start].copy_from_slice(&stripe[start..end]);
    }
    if shard_len > 0 {
        let (data, parity) = chunks.split_at_mut(k);
        let data: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
        let mut parity: Vec<&mut [u8]> = parity.iter_mut().map(Vec::as_mut_slice).collect();
        code.encode(&data, &mut parity).unwrap();
    }
    chunks
}
