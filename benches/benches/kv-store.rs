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
const VALUE: [u8; VALUE_BYTES] = [7; VALUE_BYTES];

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

fn scan_via_trait(engine: &dyn Engine, from: &[u8]) -> u64 {
    let spec = ScanSpec {
        from: Some(from.to_vec()),
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
}

fn open_via_trait(dir: &std::path::Path, kind: EngineKind) -> Box<dyn Engine> {
    kv_store::store::open_engine(Arc::new(vfs::OsFs::new()), dir, kind).unwrap()
}

/// Each group measures the engine called directly, closes it, and measures
/// the same files opened through the `Engine` trait.
fn bench_lsm(c: &mut Criterion, keys: &[[u8; 16]]) {
    let dir = TempDir::new("lsm");
    let probes = probes(keys);
    let open = || lsm::Db::open(&dir.0, lsm::Options::default()).unwrap();
    let db = open();
    for k in keys {
        db.put(k.to_vec(), VALUE.to_vec()).unwrap();
    }
    db.flush().unwrap();
    db.close().unwrap();

    let mut group = c.benchmark_group("kv-store/lsm_get");
    group.throughput(Throughput::Elements(GETS_PER_ITER as u64));
    let db = open();
    group.bench_function("direct", |b| {
        b.iter(|| {
            probes
                .iter()
                .filter(|k| db.get(&k[..]).unwrap().is_some())
                .count()
        })
    });
    db.close().unwrap();
    let engine = open_via_trait(&dir.0, EngineKind::Lsm);
    group.bench_function("engine_trait", |b| {
        b.iter(|| {
            probes
                .iter()
                .filter(|k| engine.get(&k[..]).unwrap().is_some())
                .count()
        })
    });
    engine.close().unwrap();
    group.finish();

    let mut group = c.benchmark_group("kv-store/lsm_scan100");
    group.throughput(Throughput::Elements(SCAN_LEN));
    let db = open();
    group.bench_function("direct", |b| {
        b.iter(|| {
            db.range::<&[u8], _>((Bound::Included(&probes[0][..]), Bound::Unbounded))
                .take(SCAN_LEN as usize)
                .map(|r| r.unwrap().0.len() as u64)
                .sum::<u64>()
        })
    });
    db.close().unwrap();
    let engine = open_via_trait(&dir.0, EngineKind::Lsm);
    group.bench_function("engine_trait", |b| {
        b.iter(|| scan_via_trait(&*engine, &probes[0]))
    });
    engine.close().unwrap();
    group.finish();
}

fn bench_btree(c: &mut Criterion, keys: &[[u8; 16]]) {
    let dir = TempDir::new("btree");
    let probes = probes(keys);
    let open = || {
        btree::Db::open_with_fs(
            Arc::new(vfs::OsFs::new()),
            dir.0.join(kv_store::store::BTREE_FILE),
            btree::Options::default(),
        )
        .unwrap()
    };
    let db = open();
    let mut txn = db.begin_write().unwrap();
    for k in keys {
        txn.insert(k, &VALUE).unwrap();
    }
    txn.commit().unwrap();
    drop(db);

    let mut group = c.benchmark_group("kv-store/btree_get");
    group.throughput(Throughput::Elements(GETS_PER_ITER as u64));
    let db = open();
    group.bench_function("direct", |b| {
        b.iter(|| {
            probes
                .iter()
                .filter(|k| db.begin_read().unwrap().get(&k[..]).unwrap().is_some())
                .count()
        })
    });
    drop(db);
    let engine = open_via_trait(&dir.0, EngineKind::Btree);
    group.bench_function("engine_trait", |b| {
        b.iter(|| {
            probes
                .iter()
                .filter(|k| engine.get(&k[..]).unwrap().is_some())
                .count()
        })
    });
    engine.close().unwrap();
    group.finish();

    let mut group = c.benchmark_group("kv-store/btree_scan100");
    group.throughput(Throughput::Elements(SCAN_LEN));
    let db = open();
    group.bench_function("direct", |b| {
        b.iter(|| {
            let read = db.begin_read().unwrap();
            read.range::<[u8], _>((Bound::Included(&probes[0][..]), Bound::Unbounded))
                .take(SCAN_LEN as usize)
                .map(|r| r.unwrap().0.len() as u64)
                .sum::<u64>()
        })
    });
    drop(db);
    let engine = open_via_trait(&dir.0, EngineKind::Btree);
    group.bench_function("engine_trait", |b| {
        b.iter(|| scan_via_trait(&*engine, &probes[0]))
    });
    engine.close().unwrap();
    group.finish();
}

fn bench(c: &mut Criterion) {
    let keys = keys_16(N, 42);
    bench_lsm(c, &keys);
    bench_btree(c, &keys);

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
