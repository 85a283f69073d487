//! HyperLogLog benchmarks at precision 14: insert 10M distinct u64 keys
//! (hashing included; one `insert` per key, and `insert_all`), count a full
//! dense sketch, merge two dense sketches; `hyperloglogplus` under
//! `--features peers`; UltraLogLog at the same precision beside them.
//!
//! Ours hashes the key's 8 little-endian bytes with xxh3-64; hyperloglogplus
//! hashes the `u64` through `std::hash::Hash` with its `BuildHasher` (std's
//! `RandomState`, SipHash-1-3), as its documentation shows.
//!
//! `cargo bench -p benches --bench hyperloglog [--features peers]`

use std::hint::black_box;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hyperloglog::{HyperLogLog, UltraLogLog};

const KEYS: u64 = 10_000_000;
const PRECISION: u8 = 14;

/// One `insert` call per key.
fn ours(offset: u64) -> HyperLogLog {
    let mut s = HyperLogLog::new(PRECISION).unwrap();
    for k in offset..offset + KEYS {
        s.insert(&k.to_le_bytes());
    }
    s
}

/// The same keys through `insert_all`.
fn ours_all(offset: u64) -> HyperLogLog {
    let mut s = HyperLogLog::new(PRECISION).unwrap();
    s.insert_all((offset..offset + KEYS).map(u64::to_le_bytes));
    s
}

/// UltraLogLog at the same precision (16 KiB instead of 12 KiB).
fn ull(offset: u64) -> UltraLogLog {
    let mut s = UltraLogLog::new(PRECISION).unwrap();
    s.insert_all((offset..offset + KEYS).map(u64::to_le_bytes));
    s
}

#[cfg(feature = "peers")]
type Peer = hyperloglogplus::HyperLogLogPlus<u64, std::collections::hash_map::RandomState>;

#[cfg(feature = "peers")]
fn peer(offset: u64) -> Peer {
    use hyperloglogplus::HyperLogLog as _;
    let mut s = Peer::new(PRECISION, std::collections::hash_map::RandomState::new()).unwrap();
    for k in offset..offset + KEYS {
        s.insert(&k);
    }
    s
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("hyperloglog/insert");
    group.throughput(Throughput::Elements(KEYS));
    group.sample_size(10);
    group.bench_function(BenchmarkId::new("hyperloglog", KEYS), |b| {
        b.iter(|| black_box(ours(0)))
    });
    group.bench_function(BenchmarkId::new("hyperloglog_insert_all", KEYS), |b| {
        b.iter(|| black_box(ours_all(0)))
    });
    group.bench_function(BenchmarkId::new("ultraloglog_insert_all", KEYS), |b| {
        b.iter(|| black_box(ull(0)))
    });
    #[cfg(feature = "peers")]
    group.bench_function(BenchmarkId::new("hyperloglogplus", KEYS), |b| {
        b.iter(|| black_box(peer(0)))
    });
    group.finish();

    let (a, b2) = (ours(0), ours(KEYS / 2));
    let mut group = c.benchmark_group("hyperloglog/count_dense");
    group.bench_function("hyperloglog", |b| b.iter(|| black_box(a.count())));
    let (ua, ub) = (ull(0), ull(KEYS / 2));
    group.bench_function("ultraloglog", |b| b.iter(|| black_box(ua.count())));
    #[cfg(feature = "peers")]
    let (mut pa, pb) = (peer(0), peer(KEYS / 2));
    #[cfg(feature = "peers")]
    group.bench_function("hyperloglogplus", |b| {
        use hyperloglogplus::HyperLogLog as _;
        b.iter(|| black_box(pa.count()))
    });
    group.finish();

    let mut group = c.benchmark_group("hyperloglog/merge_dense");
    group.bench_function("hyperloglog", |b| {
        b.iter_batched(
            || a.clone(),
            |mut x| x.merge(&b2).unwrap(),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("ultraloglog", |b| {
        b.iter_batched(
            || ua.clone(),
            |mut x| x.merge(&ub).unwrap(),
            BatchSize::SmallInput,
        )
    });
    #[cfg(feature = "peers")]
    group.bench_function("hyperloglogplus", |b| {
        b.iter_batched(
            || pa.clone(),
            |mut x| x.merge(&pb).unwrap(),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = benches::criterion(3);
    targets = bench
}
criterion_main!(benches);
