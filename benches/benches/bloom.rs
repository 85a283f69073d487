//! Bloom filter benchmarks: insert, contains of present keys and contains of
//! absent keys, at 1M keys (the filter fits in cache) and 50M keys (it does
//! not), for every kind, and `fastbloom` under `--features peers`.
//!
//! Every filter has 10 bits per key. Keys are 8-byte little-endian integers;
//! each filter hashes them with its own default hasher (ours xxh3-128, or
//! xxh64 for the Parquet kind; fastbloom SipHash-1-3, fed the `u64`).
//!
//! `cargo bench -p benches --bench bloom [--features peers]`

use std::hint::black_box;

use bloom::{BlockedBloomFilter, BloomFilter, CountingBloomFilter, SplitBlockBloomFilter};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const BITS_PER_KEY: u64 = 10;
const SIZES: [u64; 2] = [1_000_000, 50_000_000];
/// Absent keys come from a range no present key is in.
const ABSENT_BASE: u64 = 1 << 40;

/// The kinds under test, built over `0..n`.
struct Filters {
    n: u64,
    classic: BloomFilter,
    blocked: BlockedBloomFilter,
    split: SplitBlockBloomFilter,
    counting: CountingBloomFilter,
    #[cfg(feature = "peers")]
    fastbloom: fastbloom::BloomFilter,
}

fn empty(n: u64) -> Filters {
    let bits = n * BITS_PER_KEY;
    Filters {
        n,
        classic: BloomFilter::with_bits(bits, 7).unwrap(),
        // The best probe count for a blocked filter at 10 bits/key is 6.
        blocked: BlockedBloomFilter::with_bits(bits, 6).unwrap(),
        split: SplitBlockBloomFilter::with_bytes((bits / 8).div_ceil(32) as usize * 32).unwrap(),
        counting: CountingBloomFilter::with_counters(bits, 7).unwrap(),
        #[cfg(feature = "peers")]
        fastbloom: fastbloom::BloomFilter::with_num_bits(bits as usize).hashes(7),
    }
}

fn full(n: u64) -> Filters {
    let mut f = empty(n);
    for i in 0..n {
        let key = i.to_le_bytes();
        f.classic.insert(&key);
        f.blocked.insert(&key);
        f.split.insert(&key);
        f.counting.insert(&key);
        #[cfg(feature = "peers")]
        f.fastbloom.insert(&i);
    }
    f
}

fn report_rates(f: &Filters) {
    let probes = 1_000_000u64;
    let rate = |contains: &dyn Fn(&[u8]) -> bool| {
        (0..probes)
            .filter(|i| contains(&(ABSENT_BASE + i).to_le_bytes()))
            .count() as f64
            / probes as f64
    };
    eprintln!(
        "measured FPR at {} keys, 10 bits/key: classic {:.4}%, blocked {:.4}%, split-block {:.4}%, counting {:.4}%",
        f.n,
        100.0 * rate(&|k| f.classic.contains(k)),
        100.0 * rate(&|k| f.blocked.contains(k)),
        100.0 * rate(&|k| f.split.contains(k)),
        100.0 * rate(&|k| f.counting.contains(k)),
    );
    #[cfg(feature = "peers")]
    {
        let hits = (0..probes)
            .filter(|i| f.fastbloom.contains(&(ABSENT_BASE + i)))
            .count();
        eprintln!("  fastbloom {:.4}%", 100.0 * hits as f64 / probes as f64);
    }
}

/// Benchmarks a lookup over a cycling key sequence starting at `base`.
macro_rules! lookups {
    ($group:expr, $name:expr, $n:expr, $base:expr, |$key:ident, $i:ident| $body:expr) => {
        $group.bench_function(BenchmarkId::new($name, $n), |b| {
            let mut $i: u64 = 0;
            b.iter(|| {
                $i = if $i + 1 == $n { 0 } else { $i + 1 };
                let $key = ($base + $i).to_le_bytes();
                black_box($body)
            })
        });
    };
}

fn bench(c: &mut Criterion) {
    for n in SIZES {
        let mut group = c.benchmark_group("bloom/insert");
        group.throughput(Throughput::Elements(1));
        let mut f = empty(n);
        lookups!(group, "classic", n, 0, |k, _i| f.classic.insert(&k));
        lookups!(group, "blocked", n, 0, |k, _i| f.blocked.insert(&k));
        lookups!(group, "split_block", n, 0, |k, _i| f.split.insert(&k));
        lookups!(group, "counting", n, 0, |k, _i| f.counting.insert(&k));
        #[cfg(feature = "peers")]
        lookups!(group, "fastbloom", n, 0, |_k, i| f.fastbloom.insert(&i));
        group.finish();
        drop(f);

        let f = full(n);
        report_rates(&f);
        for (what, base) in [("contains_present", 0), ("contains_absent", ABSENT_BASE)] {
            let mut group = c.benchmark_group(format!("bloom/{what}"));
            group.throughput(Throughput::Elements(1));
            lookups!(group, "classic", n, base, |k, _i| f.classic.contains(&k));
            lookups!(group, "blocked", n, base, |k, _i| f.blocked.contains(&k));
            lookups!(group, "split_block", n, base, |k, _i| f.split.contains(&k));
            lookups!(group, "counting", n, base, |k, _i| f.counting.contains(&k));
            #[cfg(feature = "peers")]
            lookups!(group, "fastbloom", n, base, |_k, i| f
                .fastbloom
                .contains(&(base + i)));
            group.finish();
        }
    }
}

criterion_group! {
    name = benches;
    config = benches::criterion(2);
    targets = bench
}
criterion_main!(benches);
