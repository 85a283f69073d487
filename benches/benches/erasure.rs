//! Erasure coding benchmarks: encode and decode throughput (bytes of blob
//! data per second) for RS(4,2), RS(10,4) and RS(17,3) at 64 KiB and 1 MiB
//! stripes, decode with `m` data shards missing (the worst case: every lost
//! shard is a data shard), and `put`/`get` end to end on a temporary
//! directory; `reed-solomon-simd` under `--features peers`.
//!
//! `codec` is the crate's `Codec::encode` (splits and pads the stripe into
//! fresh shard buffers, then codes); `rse` is the `ReedSolomonCode` under it,
//! on pre-split shards, the like-for-like comparison with
//! `reed_solomon_simd`, whose encoder/decoder objects are reused across
//! iterations as its docs advise. Shard lengths are rounded up to even bytes
//! for both (reed-solomon-simd requires it).
//!
//! `erasure/encode_64MiB_RS(10,4)` codes 64 MiB of data stripe by stripe
//! (1 MiB and 64 MiB stripes), side by side: `reed_solomon_erasure`, the
//! backend alone (`ReedSolomonCode::encode`, a straight pass to the crate's
//! `encode_sep`) on shards split beforehand; `codec_encode_into`, the codec
//! from the caller's bytes into reused buffers; `codec_encode`, owned shards
//! (data copied); `copy_then_code`, what `Codec::encode` did before
//! `encode_into` (fresh zeroed shard buffers, the stripe copied in, then
//! coded). `codec_encode_into / reed_solomon_erasure` is the codec's cost.
//!
//! `cargo bench -p benches --bench erasure [--features peers]`

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use erasure::{BlobStore, Codec, ErasureCode, Options, ReedSolomonCode, ShardBuffers};

const LAYOUTS: [(usize, usize); 3] = [(4, 2), (10, 4), (17, 3)];
const STRIPES: [usize; 2] = [64 << 10, 1 << 20];

fn data(len: usize) -> Vec<u8> {
    let mut rng = benches::SplitMix64::new(len as u64);
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

/// The stripe split into `k` shards of an even length.
fn split(stripe: &[u8], k: usize) -> Vec<Vec<u8>> {
    let len = stripe.len().div_ceil(k).next_multiple_of(2);
    (0..k)
        .map(|i| {
            let mut s = vec![0u8; len];
            let lo = (i * len).min(stripe.len());
            let hi = ((i + 1) * len).min(stripe.len());
            s[..hi - lo].copy_from_slice(&stripe[lo..hi]);
            s
        })
        .collect()
}

fn coding(c: &mut Criterion) {
    for (k, m) in LAYOUTS {
        for stripe_len in STRIPES {
            let stripe = data(stripe_len);
            let shards = split(&stripe, k);
            let shard_len = shards[0].len();
            let label = format!("RS({k},{m})/{}KiB", stripe_len >> 10);
            let codec = Codec::new(k, m).unwrap();
            let rse = ReedSolomonCode::new(k, m).unwrap();
            let mut parity: Vec<Vec<u8>> = vec![vec![0u8; shard_len]; m];

            let mut group = c.benchmark_group("erasure/encode");
            group.throughput(Throughput::Bytes(stripe_len as u64));
            group.bench_function(BenchmarkId::new("codec", &label), |b| {
                b.iter(|| black_box(codec.encode(&stripe).unwrap()))
            });
            group.bench_function(BenchmarkId::new("rse", &label), |b| {
                b.iter(|| {
                    let data: Vec<&[u8]> = shards.iter().map(Vec::as_slice).collect();
                    let mut p: Vec<&mut [u8]> = parity.iter_mut().map(Vec::as_mut_slice).collect();
                    rse.encode(&data, &mut p).unwrap();
                    black_box(&p);
                })
            });
            #[cfg(feature = "peers")]
            {
                let mut enc = reed_solomon_simd::ReedSolomonEncoder::new(k, m, shard_len).unwrap();
                group.bench_function(BenchmarkId::new("reed_solomon_simd", &label), |b| {
                    b.iter(|| {
                        enc.reset(k, m, shard_len).unwrap();
                        for s in &shards {
                            enc.add_original_shard(s).unwrap();
                        }
                        let r = enc.encode().unwrap();
                        black_box(r.recovery(0).map(|s| s[0]));
                    })
                });
            }
            group.finish();

            // Decode with m data shards missing.
            let data_refs: Vec<&[u8]> = shards.iter().map(Vec::as_slice).collect();
            {
                let mut p: Vec<&mut [u8]> = parity.iter_mut().map(Vec::as_mut_slice).collect();
                rse.encode(&data_refs, &mut p).unwrap();
            }
            let mut all: Vec<Option<Vec<u8>>> = shards
                .iter()
                .chain(parity.iter())
                .cloned()
                .map(Some)
                .collect();
            for s in all.iter_mut().take(m) {
                *s = None;
            }
            let mut group = c.benchmark_group("erasure/decode_m_missing");
            group.throughput(Throughput::Bytes(stripe_len as u64));
            group.bench_function(BenchmarkId::new("rse", &label), |b| {
                b.iter_batched(
                    || all.clone(),
                    |mut s| {
                        rse.reconstruct(&mut s, true).unwrap();
                        black_box(s)
                    },
                    BatchSize::LargeInput,
                )
            });
            #[cfg(feature = "peers")]
            {
                let mut dec = reed_solomon_simd::ReedSolomonDecoder::new(k, m, shard_len).unwrap();
                group.bench_function(BenchmarkId::new("reed_solomon_simd", &label), |b| {
                    b.iter(|| {
                        dec.reset(k, m, shard_len).unwrap();
                        for (i, s) in shards.iter().enumerate().skip(m) {
                            dec.add_original_shard(i, s).unwrap();
                        }
                        for (i, s) in parity.iter().enumerate() {
                            dec.add_recovery_shard(i, s).unwrap();
                        }
                        let r = dec.decode().unwrap();
                        black_box(r.restored_original(0).map(|s| s[0]));
                    })
                });
            }
            group.finish();
        }
    }
}

/// `stripe` split into `k` zero-padded shards of `shard_len` bytes each.
fn split_to(stripe: &[u8], k: usize, shard_len: usize) -> Vec<Vec<u8>> {
    (0..k)
        .map(|i| {
            let mut s = vec![0u8; shard_len];
            let lo = (i * shard_len).min(stripe.len());
            let hi = ((i + 1) * shard_len).min(stripe.len());
            s[..hi - lo].copy_from_slice(&stripe[lo..hi]);
            s
        })
        .collect()
}

fn encode_64mib(c: &mut Criterion) {
    const DATA_LEN: usize = 64 << 20;
    let (k, m) = (10, 4);
    let blob = data(DATA_LEN);
    let codec = Codec::new(k, m).unwrap();
    let rse = ReedSolomonCode::new(k, m).unwrap();
    let mut group = c.benchmark_group("erasure/encode_64MiB_RS(10,4)");
    group.throughput(Throughput::Bytes(DATA_LEN as u64));
    group.sample_size(10);
    for stripe_len in [1usize << 20, 64 << 20] {
        let label = format!("{}MiB_stripes", stripe_len >> 20);
        let shard_len = codec.shard_len(stripe_len as u64) as usize;
        let split: Vec<Vec<Vec<u8>>> = blob
            .chunks(stripe_len)
            .map(|s| split_to(s, k, shard_len))
            .collect();
        let mut parity = vec![vec![0u8; shard_len]; m];
        group.bench_function(BenchmarkId::new("reed_solomon_erasure", &label), |b| {
            b.iter(|| {
                for shards in &split {
                    let data: Vec<&[u8]> = shards.iter().map(Vec::as_slice).collect();
                    let mut p: Vec<&mut [u8]> = parity.iter_mut().map(Vec::as_mut_slice).collect();
                    rse.encode(&data, &mut p).unwrap();
                }
                black_box(parity[0][0]);
            })
        });
        drop(split);
        let mut buffers = ShardBuffers::default();
        group.bench_function(BenchmarkId::new("codec_encode_into", &label), |b| {
            b.iter(|| {
                for stripe in blob.chunks(stripe_len) {
                    let shards = codec.encode_into(stripe, &mut buffers).unwrap();
                    black_box(shards[k][0]);
                }
            })
        });
        group.bench_function(BenchmarkId::new("codec_encode", &label), |b| {
            b.iter(|| {
                for stripe in blob.chunks(stripe_len) {
                    black_box(codec.encode(stripe).unwrap());
                }
            })
        });
        group.bench_function(BenchmarkId::new("copy_then_code", &label), |b| {
            b.iter(|| {
                for stripe in blob.chunks(stripe_len) {
                    let mut shards: Vec<Vec<u8>> =
                        (0..k + m).map(|_| vec![0u8; shard_len]).collect();
                    for (i, shard) in shards.iter_mut().take(k).enumerate() {
                        let lo = (i * shard_len).min(stripe.len());
                        let hi = ((i + 1) * shard_len).min(stripe.len());
                        shard[..hi - lo].copy_from_slice(&stripe[lo..hi]);
                    }
                    let (data, parity) = shards.split_at_mut(k);
                    let data: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
                    let mut p: Vec<&mut [u8]> = parity.iter_mut().map(Vec::as_mut_slice).collect();
                    rse.encode(&data, &mut p).unwrap();
                    black_box(shards);
                }
            })
        });
    }
    group.finish();
}

fn end_to_end(c: &mut Criterion) {
    const BLOB_LEN: usize = 8 << 20;
    let tmp = std::env::temp_dir().join(format!("erasure-bench-{}", std::process::id()));
    let dirs: Vec<_> = (0..6).map(|i| tmp.join(format!("d{i}"))).collect();
    let fs: Arc<dyn vfs::Fs> = Arc::new(vfs::OsFs::new());
    let options = Options {
        data_shards: 4,
        parity_shards: 2,
        stripe_size_bytes: 1 << 20,
    };
    let store = BlobStore::open_with_fs(fs, &dirs, options).unwrap();
    let blob = data(BLOB_LEN);
    let mut group = c.benchmark_group("erasure/store_RS(4,2)_1MiB");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(BLOB_LEN as u64));
    group.bench_function(BenchmarkId::new("put", "8MiB"), |b| {
        b.iter(|| {
            let id = store.put(&blob).unwrap();
            store.delete(id).unwrap();
        })
    });
    let id = store.put(&blob).unwrap();
    group.bench_function(BenchmarkId::new("get", "8MiB"), |b| {
        b.iter(|| black_box(store.get(id).unwrap()))
    });
    group.finish();
    // Throughput of a ranged read is the bytes asked for.
    let mut ranged = c.benchmark_group("erasure/store_RS(4,2)_1MiB");
    ranged.throughput(Throughput::Bytes(4096));
    let mut range_bench = |name: &str| {
        ranged.bench_function(BenchmarkId::new(name, "8MiB"), |b| {
            let mut off = 0u64;
            b.iter(|| {
                off = (off + 1_000_003) % (BLOB_LEN as u64 - 4096);
                black_box(store.get_range(id, off, 4096).unwrap())
            })
        });
    };
    range_bench("get_range_4KiB");
    // Two data shards lost: half the ranges need their stripe rebuilt.
    std::fs::remove_file(dirs[0].join(format!("{id}.shard"))).unwrap();
    std::fs::remove_file(dirs[1].join(format!("{id}.shard"))).unwrap();
    range_bench("get_range_4KiB_2_shards_lost");
    ranged.finish();
    let mut group = c.benchmark_group("erasure/store_RS(4,2)_1MiB");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(BLOB_LEN as u64));
    group.bench_function(BenchmarkId::new("get_2_shards_lost", "8MiB"), |b| {
        b.iter(|| black_box(store.get(id).unwrap()))
    });
    group.finish();
    drop(store);
    let _ = std::fs::remove_dir_all(&tmp);
}

criterion_group! {
    name = benches;
    config = benches::criterion(3);
    targets = encode_64mib, coding, end_to_end
}
criterion_main!(benches);
