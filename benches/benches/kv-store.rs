//! What the `kv-store` tool adds on top of the engines: the cost of going
//! through its `Engine` trait object instead of calling each engine directly
//! (100,000 keys of 16 bytes, 100-byte values, 1,000 random gets and one
//! 100-pair scan per iteration), and its byte escaping against the standard
//! library's `escape_ascii` on 64 KiB of random bytes.
//!
//! `cargo bench -p benches --bench kv-store`

use std::hint::black_box;
use std::ops::Bound;
use std::sync::Arc;

use benches::{SplitMix64, keys_16};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kv_store::{Engine, EngineKind, Flow, ScanSpec};

const N: u64 = 100_000;
const VALUE_BYTES: usize = 100;
const GETS_PER_ITER: usize = 1_000;
const SCAN_LEN: u64 = 100;

/// A directory under the system's temporary directory, removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let path =
            std::env::temp_dir().join(format!("kv-store-bench-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

fn probes(keys: &[[u8; 16]]) -> Vec<[u8; 16]> {
    let mut rng = SplitMix64::new(7);
    (0..GETS_PER_ITER)
        .map(|_| keys[(rng.next_u64() % keys.len() as u64) as usize])
        .collect()
}

fn via_trait(
    c: &mut Criterion,
    kind: EngineKind,
    keys: &[[u8; 16]],
    direct_get: &dyn Fn(&[u8]) -> bool,
    direct_scan: &dyn Fn(&[u8]) -> u64,
    engine: &dyn Engine,
) {
    let probes = probes(keys);
    let mut group = c.benchmark_group(format!("kv-store/{kind}_get"));
    group.throughput(Throughput::Elements(GETS_PER_ITER as u64));
    group.bench_function("direct", |b| {
        b.iter(|| probes.iter().filter(|k| direct_get(&k[..])).count())
    });
    group.bench_function("engine_trait", |b| {
        b.iter(|| {
            probes
                .iter()
                .filter(|k| engine.get(&k[..]).unwrap().is_some())
                .count()
        })
    });
    group.finish();

    let mut group = c.benchmark_group(format!("kv-store/{kind}_scan100"));
    group.throughput(Throughput::Elements(SCAN_LEN));
    group.bench_function("direct", |b| b.iter(|| direct_scan(&probes[0])));
    group.bench_function("engine_trait", |b| {
        b.iter(|| {
            let spec = ScanSpec {
                from: Some(probes[0].to_vec()),
                limit: Some(SCAN_LEN),
                ..ScanSpec::default()
            };
            let mut n = 0u64;
            engine
                .scan(&spec, &mut |k, _| {
                    n += k.len() as u64;
                    Ok(Flow::Continue)
                })
                .unwrap();
            n
        })
    });
    group.finish();
}

fn bench(c: &mut Criterion) {
    let keys = keys_16(N, 42);
    let value = [7u8; VALUE_BYTES];

    {
        let dir = TempDir::new("lsm");
        let db = lsm::Db::open(&dir.0, lsm::Options::default()).unwrap();
        for k in &keys {
            db.put(k.to_vec(), value.to_vec()).unwrap();
        }
        db.flush().unwrap();
        let engine = kv_store::store::open_engine(
            Arc::new(vfs::OsFs::new()),
            &dir.0.join("via"),
            EngineKind::Lsm,
        )
        .unwrap();
        let mut batch = Vec::new();
        for k in &keys {
            batch.push(kv_store::Op::Put(k.to_vec(), value.to_vec()));
        }
        engine.write(&batch).unwrap();
        engine.sync().unwrap();
        let get = |k: &[u8]| db.get(k).unwrap().is_some();
        let scan = |from: &[u8]| {
            db.range::<&[u8], _>((Bound::Included(from), Bound::Unbounded))
                .take(SCAN_LEN as usize)
                .map(|r| r.unwrap().0.len() as u64)
                .sum::<u64>()
        };
        via_trait(c, EngineKind::Lsm, &keys, &get, &scan, &*engine);
    }
    {
        let dir = TempDir::new("btree");
        let db = btree::Db::open(
            Arc::new(vfs::OsFs::new()),
            dir.0.join("direct.db"),
            btree::Options::default(),
        )
        .unwrap();
        let mut txn = db.begin_write().unwrap();
        for k in &keys {
            txn.insert(k, &value).unwrap();
        }
        txn.commit().unwrap();
        let engine = kv_store::store::open_engine(
            Arc::new(vfs::OsFs::new()),
            &dir.0.join("via"),
            EngineKind::Btree,
        )
        .unwrap();
        let batch: Vec<_> = keys
            .iter()
            .map(|k| kv_store::Op::Put(k.to_vec(), value.to_vec()))
            .collect();
        engine.write(&batch).unwrap();
        engine.sync().unwrap();
        let get = |k: &[u8]| db.begin_read().unwrap().get(k).unwrap().is_some();
        let scan = |from: &[u8]| {
            let read = db.begin_read().unwrap();
            read.range::<[u8], _>((Bound::Included(from), Bound::Unbounded))
                .take(SCAN_LEN as usize)
                .map(|r| r.unwrap().0.len() as u64)
                .sum::<u64>()
        };
        via_trait(c, EngineKind::Btree, &keys, &get, &scan, &*engine);
    }

    let mut rng = SplitMix64::new(3);
    let bytes: Vec<u8> = (0..64 * 1024).map(|_| rng.next_u64() as u8).collect();
    let mut group = c.benchmark_group("kv-store/escape_64KiB");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("kv_store_escape", |b| {
        b.iter(|| kv_store::codec::escape(black_box(&bytes)))
    });
    group.bench_function("std_escape_ascii", |b| {
        b.iter(|| black_box(&bytes).escape_ascii().to_string())
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = benches::criterion(3);
    targets = bench
}
criterion_main!(benches);
