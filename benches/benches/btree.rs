//! B+ tree benchmarks on 1M entries (16-byte keys, 100-byte values) in a
//! file on the real disk: bulk load, random inserts (1,000 per durable
//! transaction), random gets, a full scan, range scans of 100 entries, and
//! removing a range of 100,000 entries (`remove_range` against removing
//! the keys one by one, each inside a write transaction then aborted);
//! and inserting 10,000 pairs into a multimap table (1,000 keys of 10
//! values, in a fresh table, then aborted); `redb` under `--features
//! peers`, on the same inputs (its range removal is `retain_in` with a
//! predicate that keeps nothing, its multimap a `MultimapTableDefinition`).
//!
//! redb has no bulk load: its row inserts the sorted entries in one
//! transaction, which is what its users do. Both commit with immediate
//! durability (fsync) in the insert bench.
//!
//! `cargo bench -p benches --bench btree [--features peers]`

use std::hint::black_box;
use std::sync::Arc;

use benches::{SplitMix64, keys_16};
use btree::{Db, Options};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const N: u64 = 1_000_000;
const VALUE_BYTES: usize = 100;
const INSERTS_PER_TXN: u64 = 1_000;
const GETS_PER_ITER: usize = 1_000;
const RANGE_LEN: usize = 100;
/// Entries a range removal takes out (a tenth of the database).
const REMOVE_LEN: usize = 100_000;
/// Multimap pairs inserted per iteration: keys times values per key.
const MULTI_KEYS: u64 = 1_000;
const MULTI_VALUES: u64 = 10;

/// A directory under the system's temporary directory, removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("btree-bench-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

fn value(i: u64) -> [u8; VALUE_BYTES] {
    [i as u8; VALUE_BYTES]
}

fn sorted_keys() -> Vec<[u8; 16]> {
    let mut keys = keys_16(N, 42);
    keys.sort_unstable();
    keys
}

fn ours_open(dir: &std::path::Path) -> Db {
    Db::open_with_fs(
        Arc::new(vfs::OsFs::new()),
        dir.join("btree.db"),
        Options::default(),
    )
    .unwrap()
}

fn ours_load(db: &Db, keys: &[[u8; 16]]) {
    let mut txn = db.begin_write().unwrap();
    txn.bulk_load(keys.iter().enumerate().map(|(i, k)| (k, value(i as u64))))
        .unwrap();
    txn.commit().unwrap();
}

#[cfg(feature = "peers")]
use redb::{ReadableDatabase as _, ReadableTable as _};

#[cfg(feature = "peers")]
const TABLE: redb::TableDefinition<'static, &[u8], &[u8]> = redb::TableDefinition::new("t");

#[cfg(feature = "peers")]
const MULTI: redb::MultimapTableDefinition<'static, &[u8], &[u8]> =
    redb::MultimapTableDefinition::new("m");

/// The multimap pair `i`: a 16-byte key of `MULTI_KEYS` and a 32-byte value.
fn multi_pair(i: u64) -> ([u8; 16], [u8; 32]) {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(
        &(i % MULTI_KEYS)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .to_be_bytes(),
    );
    let mut v = [7u8; 32];
    v[..8].copy_from_slice(&i.wrapping_mul(0xD1B5_4A32_D192_ED03).to_be_bytes());
    (k, v)
}

#[cfg(feature = "peers")]
fn redb_load(dir: &std::path::Path, keys: &[[u8; 16]]) -> redb::Database {
    let db = redb::Database::create(dir.join("redb.db")).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut t = txn.open_table(TABLE).unwrap();
        for (i, k) in keys.iter().enumerate() {
            t.insert(&k[..], &value(i as u64)[..]).unwrap();
        }
    }
    txn.commit().unwrap();
    db
}

fn bench(c: &mut Criterion) {
    let keys = sorted_keys();
    let mut group = c.benchmark_group("btree/bulk_load");
    group.throughput(Throughput::Elements(N));
    group.sample_size(10);
    group.bench_function("btree", |b| {
        b.iter_with_large_drop(|| {
            let dir = TempDir::new();
            let db = ours_open(dir.path());
            ours_load(&db, &keys);
            (db, dir)
        })
    });
    #[cfg(feature = "peers")]
    group.bench_function("redb", |b| {
        b.iter_with_large_drop(|| {
            let dir = TempDir::new();
            let db = redb_load(dir.path(), &keys);
            (db, dir)
        })
    });
    group.finish();

    // One loaded database of each for the remaining benches.
    let dir = TempDir::new();
    let ours = ours_open(dir.path());
    ours_load(&ours, &keys);
    #[cfg(feature = "peers")]
    let peer = redb_load(dir.path(), &keys);

    let mut group = c.benchmark_group("btree/insert_random_1000_per_txn");
    group.throughput(Throughput::Elements(INSERTS_PER_TXN));
    group.sample_size(20);
    let mut rng = SplitMix64::new(7);
    group.bench_function("btree", |b| {
        b.iter(|| {
            let mut txn = ours.begin_write().unwrap();
            for _ in 0..INSERTS_PER_TXN {
                let mut k = [0u8; 16];
                k[..8].copy_from_slice(&rng.next_u64().to_be_bytes());
                k[8..].copy_from_slice(&rng.next_u64().to_be_bytes());
                txn.insert(&k, &value(k[0] as u64)).unwrap();
            }
            txn.commit().unwrap();
        })
    });
    #[cfg(feature = "peers")]
    group.bench_function("redb", |b| {
        let mut rng = SplitMix64::new(7);
        b.iter(|| {
            let txn = peer.begin_write().unwrap();
            {
                let mut t = txn.open_table(TABLE).unwrap();
                for _ in 0..INSERTS_PER_TXN {
                    let mut k = [0u8; 16];
                    k[..8].copy_from_slice(&rng.next_u64().to_be_bytes());
                    k[8..].copy_from_slice(&rng.next_u64().to_be_bytes());
                    t.insert(&k[..], &value(k[0] as u64)[..]).unwrap();
                }
            }
            txn.commit().unwrap();
        })
    });
    group.finish();

    let mut rng = SplitMix64::new(9);
    let probes: Vec<[u8; 16]> = (0..GETS_PER_ITER * 64)
        .map(|_| keys[(rng.next_u64() % N) as usize])
        .collect();

    let mut group = c.benchmark_group("btree/get_random");
    group.throughput(Throughput::Elements(GETS_PER_ITER as u64));
    let read = ours.begin_read().unwrap();
    let mut at = 0;
    group.bench_function("btree", |b| {
        b.iter(|| {
            for _ in 0..GETS_PER_ITER {
                at = (at + 1) % probes.len();
                black_box(read.get_ref(&probes[at]).unwrap().unwrap());
            }
        })
    });
    #[cfg(feature = "peers")]
    {
        let rtxn = peer.begin_read().unwrap();
        let t = rtxn.open_table(TABLE).unwrap();
        let mut at = 0;
        group.bench_function("redb", |b| {
            b.iter(|| {
                for _ in 0..GETS_PER_ITER {
                    at = (at + 1) % probes.len();
                    black_box(t.get(&probes[at][..]).unwrap().unwrap().value().len());
                }
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("btree/scan_full");
    group.sample_size(10);
    group.bench_function("btree", |b| {
        b.iter(|| {
            let mut bytes = 0;
            for kv in read.iter() {
                let (k, v) = kv.unwrap();
                bytes += k.len() + v.len();
            }
            black_box(bytes)
        })
    });
    #[cfg(feature = "peers")]
    {
        let rtxn = peer.begin_read().unwrap();
        let t = rtxn.open_table(TABLE).unwrap();
        group.bench_function("redb", |b| {
            b.iter(|| {
                let mut bytes = 0;
                for kv in t.iter().unwrap() {
                    let (k, v) = kv.unwrap();
                    bytes += k.value().len() + v.value().len();
                }
                black_box(bytes)
            })
        });
    }
    group.finish();

    // Remove the 100,000 entries after a tenth of the keys, then abort, so
    // each iteration starts from the same database: the removal's own work
    // (no commit) measured.
    let (lo, hi) = (keys[N as usize / 10], keys[N as usize / 10 + REMOVE_LEN]);
    let mut group = c.benchmark_group("btree/remove_range_100k");
    group.throughput(Throughput::Elements(REMOVE_LEN as u64));
    group.sample_size(10);
    group.bench_function("btree_remove_range", |b| {
        b.iter(|| {
            let mut txn = ours.begin_write().unwrap();
            let n = txn.remove_range(&lo[..]..&hi[..]).unwrap();
            assert_eq!(n, REMOVE_LEN as u64);
            txn.abort();
        })
    });
    group.bench_function("btree_key_by_key", |b| {
        b.iter(|| {
            let mut txn = ours.begin_write().unwrap();
            for k in &keys[N as usize / 10..N as usize / 10 + REMOVE_LEN] {
                black_box(txn.remove(k).unwrap());
            }
            txn.abort();
        })
    });
    #[cfg(feature = "peers")]
    {
        group.bench_function("redb_retain_in", |b| {
            b.iter(|| {
                let txn = peer.begin_write().unwrap();
                {
                    let mut t = txn.open_table(TABLE).unwrap();
                    t.retain_in(&lo[..]..&hi[..], |_, _| false).unwrap();
                }
                txn.abort().unwrap();
            })
        });
        group.bench_function("redb_key_by_key", |b| {
            b.iter(|| {
                let txn = peer.begin_write().unwrap();
                {
                    let mut t = txn.open_table(TABLE).unwrap();
                    for k in &keys[N as usize / 10..N as usize / 10 + REMOVE_LEN] {
                        black_box(t.remove(&k[..]).unwrap().is_some());
                    }
                }
                txn.abort().unwrap();
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("btree/multimap_insert_10k");
    group.throughput(Throughput::Elements(MULTI_KEYS * MULTI_VALUES));
    group.sample_size(10);
    group.bench_function("btree", |b| {
        b.iter(|| {
            let mut txn = ours.begin_write().unwrap();
            {
                let mut t = txn.open_multimap_table("m").unwrap();
                for i in 0..MULTI_KEYS * MULTI_VALUES {
                    let (k, v) = multi_pair(i);
                    t.insert(&k, &v).unwrap();
                }
            }
            txn.abort();
        })
    });
    #[cfg(feature = "peers")]
    group.bench_function("redb", |b| {
        b.iter(|| {
            let txn = peer.begin_write().unwrap();
            {
                let mut t = txn.open_multimap_table(MULTI).unwrap();
                for i in 0..MULTI_KEYS * MULTI_VALUES {
                    let (k, v) = multi_pair(i);
                    t.insert(&k[..], &v[..]).unwrap();
                }
            }
            txn.abort().unwrap();
        })
    });
    group.finish();

    let mut group = c.benchmark_group("btree/range_100");
    group.throughput(Throughput::Elements(RANGE_LEN as u64));
    let mut at = 0;
    group.bench_function("btree", |b| {
        b.iter(|| {
            at = (at + 1) % probes.len();
            let mut bytes = 0;
            for kv in read.range(&probes[at][..]..).take(RANGE_LEN) {
                let (k, v) = kv.unwrap();
                bytes += k.len() + v.len();
            }
            black_box(bytes)
        })
    });
    #[cfg(feature = "peers")]
    {
        let rtxn = peer.begin_read().unwrap();
        let t = rtxn.open_table(TABLE).unwrap();
        let mut at = 0;
        group.bench_function("redb", |b| {
            b.iter(|| {
                at = (at + 1) % probes.len();
                let mut bytes = 0;
                for kv in t.range(&probes[at][..]..).unwrap().take(RANGE_LEN) {
                    let (k, v) = kv.unwrap();
                    bytes += k.value().len() + v.value().len();
                }
                black_box(bytes)
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = benches::criterion(3);
    targets = bench
}
criterion_main!(benches);
