//! LSM engine benchmarks, db_bench style: 1M keys of 16 bytes, 100-byte
//! values, WAL on, no per-write sync. `fjall` (3.1, default options, 64 MiB
//! cache like ours) runs the same workloads under `--features peers`.
//!
//! Each workload is measured per operation (`iter_custom`): fills keep
//! writing into one database for the whole measurement; reads run against a
//! database prefilled with 1M keys in random order (then overwritten, so
//! its tree has the shape a live database has). The prefill itself is timed
//! once and printed with our write amplification, as `fillrandom_1m`.
//! Each workload measures the engines back to back, so load that comes and
//! goes on a shared machine falls on both alike.
//!
//! `cargo bench -p benches --features peers --bench lsm -- --warm-up-time 1 --measurement-time 3 --sample-size 10`

use std::hint::black_box;
use std::time::{Duration, Instant};

use benches::{SplitMix64, keys_16};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const KEYS: u64 = 1_000_000;
const VALUE_BYTES: usize = 100;
const SCAN_LEN: usize = 100;

fn value(i: u64) -> Vec<u8> {
    let mut v = vec![0u8; VALUE_BYTES];
    let mut rng = SplitMix64::new(i);
    for chunk in v.chunks_mut(8) {
        let x = rng.next_u64().to_le_bytes();
        // Half random, half zeros: compressible like db_bench's 0.5 ratio.
        let n = chunk.len().min(4);
        chunk[..n].copy_from_slice(&x[..n]);
    }
    v
}

/// What the workloads need from an engine.
trait Engine {
    fn name(&self) -> &'static str;
    fn put(&self, key: &[u8], value: &[u8]);
    fn get(&self, key: &[u8]) -> bool;
    /// Reads up to `n` pairs starting at `from`; returns how many.
    fn scan(&self, from: &[u8], n: usize) -> usize;
    /// Reads `n` pairs in key order from the start, wrapping around.
    fn read_seq(&self, n: u64) -> u64;
    /// Makes reads hit tables, not the memtable.
    fn flush(&self);
    /// Waits until background work started by the writes so far is done,
    /// so the reads measure one tree shape every run.
    fn settle(&self);
    /// The engine's own account of its tree and lookups, if it has one.
    fn describe(&self) -> String {
        String::new()
    }
}

struct Ours {
    db: lsm::Db,
    _dir: tempfile::TempDir,
}

impl Ours {
    fn open() -> Ours {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = lsm::Db::open(dir.path(), lsm::Options::default()).expect("open lsm");
        Ours { db, _dir: dir }
    }
}

impl Engine for Ours {
    fn name(&self) -> &'static str {
        "lsm"
    }
    fn put(&self, key: &[u8], value: &[u8]) {
        self.db.put(key.to_vec(), value.to_vec()).expect("lsm put");
    }
    fn get(&self, key: &[u8]) -> bool {
        self.db.get(key).expect("lsm get").is_some()
    }
    fn scan(&self, from: &[u8], n: usize) -> usize {
        let mut read = 0;
        for r in self.db.range(from..).take(n) {
            black_box(r.expect("lsm scan"));
            read += 1;
        }
        read
    }
    fn read_seq(&self, n: u64) -> u64 {
        let mut done = 0;
        while done < n {
            for r in self.db.range::<&[u8], _>(..) {
                black_box(r.expect("lsm iter"));
                done += 1;
                if done == n {
                    break;
                }
            }
        }
        done
    }
    fn flush(&self) {
        self.db.flush().expect("lsm flush");
    }
    fn settle(&self) {
        self.db.wait_idle().expect("lsm wait_idle");
    }
    fn describe(&self) -> String {
        let s = self.db.stats();
        format!(
            "files per level {:?}, {:.2} tables probed per get, {} compactions",
            s.levels.iter().map(|l| l.files).collect::<Vec<_>>(),
            s.tables_probed as f64 / s.gets.max(1) as f64,
            s.compactions
        )
    }
}

#[cfg(feature = "peers")]
struct Fjall {
    _db: fjall::Database,
    ks: fjall::Keyspace,
    _dir: tempfile::TempDir,
}

#[cfg(feature = "peers")]
impl Fjall {
    fn open() -> Fjall {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = fjall::Database::builder(dir.path())
            .cache_size(64 << 20)
            .open()
            .expect("open fjall");
        let ks = db
            .keyspace("bench", fjall::KeyspaceCreateOptions::default)
            .expect("keyspace");
        Fjall {
            _db: db,
            ks,
            _dir: dir,
        }
    }
}

#[cfg(feature = "peers")]
impl Engine for Fjall {
    fn name(&self) -> &'static str {
        "fjall"
    }
    fn put(&self, key: &[u8], value: &[u8]) {
        self.ks.insert(key, value).expect("fjall insert");
    }
    fn get(&self, key: &[u8]) -> bool {
        self.ks.get(key).expect("fjall get").is_some()
    }
    fn scan(&self, from: &[u8], n: usize) -> usize {
        let mut read = 0;
        for g in self.ks.range(from..).take(n) {
            black_box(g.into_inner().expect("fjall scan"));
            read += 1;
        }
        read
    }
    fn read_seq(&self, n: u64) -> u64 {
        let mut done = 0;
        while done < n {
            for g in self.ks.iter() {
                black_box(g.into_inner().expect("fjall iter"));
                done += 1;
                if done == n {
                    break;
                }
            }
        }
        done
    }
    fn flush(&self) {
        self.ks.rotate_memtable_and_wait().expect("fjall flush");
    }
    fn settle(&self) {
        // fjall offers no wait for its compactions: give them time.
        std::thread::sleep(Duration::from_secs(2));
    }
}

type MakeEngine = Box<dyn Fn() -> Box<dyn Engine>>;

fn engines() -> Vec<MakeEngine> {
    vec![
        Box::new(|| Box::new(Ours::open()) as Box<dyn Engine>),
        #[cfg(feature = "peers")]
        Box::new(|| Box::new(Fjall::open()) as Box<dyn Engine>),
    ]
}

fn sequential_key(i: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[8..].copy_from_slice(&i.to_be_bytes());
    k
}

/// True when the command line filters for the blob benchmarks only: the
/// 1M-key prefills of the other workloads then are skipped too.
fn only_blob() -> bool {
    std::env::args().skip(1).any(|a| a.contains("blob"))
}

/// Runs `run` once per engine inside one criterion group, the engines back
/// to back: on a shared machine, load that comes and goes then hits both
/// engines' measurements of a workload alike, instead of whichever engine
/// ran during it.
fn group_each(
    c: &mut Criterion,
    name: &str,
    engines: &[Box<dyn Engine>],
    mut run: impl FnMut(&mut criterion::Bencher<'_>, &dyn Engine, usize),
) {
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(1));
    for (n, e) in engines.iter().enumerate() {
        group.bench_function(BenchmarkId::new(e.name(), KEYS), |b| run(b, &**e, n));
    }
    group.finish();
}

fn bench(c: &mut Criterion) {
    if only_blob() || only_delete_range() || only_merge() || only_ttl() || only_keyspaces() {
        return;
    }
    let keys = keys_16(KEYS, 1);
    let missing = keys_16(KEYS, 2);
    let values: Vec<Vec<u8>> = (0..1024).map(value).collect();
    let val = |i: u64| values[(i % 1024) as usize].as_slice();
    let fresh = || engines().iter().map(|make| make()).collect::<Vec<_>>();

    // fillseq: keys in increasing order into a fresh database.
    let es = fresh();
    let mut next = vec![0u64; es.len()];
    group_each(c, "lsm/fillseq", &es, |b, e, n| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for _ in 0..iters {
                e.put(&sequential_key(next[n]), val(next[n]));
                next[n] += 1;
            }
            t.elapsed()
        })
    });
    drop(es);

    // fillrandom: random keys of the 1M into a fresh database.
    let es = fresh();
    let mut rngs: Vec<SplitMix64> = es.iter().map(|_| SplitMix64::new(3)).collect();
    group_each(c, "lsm/fillrandom", &es, |b, e, n| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for _ in 0..iters {
                let i = rngs[n].next_u64() % KEYS;
                e.put(&keys[i as usize], val(i));
            }
            t.elapsed()
        })
    });
    drop(es);

    // The read databases: all 1M keys in random order, timed once.
    let es = fresh();
    for e in &es {
        let t = Instant::now();
        for (i, k) in keys.iter().enumerate() {
            e.put(k, val(i as u64));
        }
        let fill = t.elapsed();
        eprintln!(
            "lsm/fillrandom_1m/{}: {:.2} s, {:.0} ops/s",
            e.name(),
            fill.as_secs_f64(),
            KEYS as f64 / fill.as_secs_f64()
        );
    }

    // overwrite: random keys of the full database.
    let mut rngs: Vec<SplitMix64> = es.iter().map(|_| SplitMix64::new(4)).collect();
    group_each(c, "lsm/overwrite", &es, |b, e, n| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for _ in 0..iters {
                let i = rngs[n].next_u64() % KEYS;
                e.put(&keys[i as usize], val(i + 1));
            }
            t.elapsed()
        })
    });
    for e in &es {
        e.flush();
        e.settle();
    }
    for e in &es {
        let about = e.describe();
        if !about.is_empty() {
            eprintln!("lsm/before_reads/{}: {about}", e.name());
        }
    }

    let mut rngs: Vec<SplitMix64> = es.iter().map(|_| SplitMix64::new(5)).collect();
    group_each(c, "lsm/readrandom", &es, |b, e, n| {
        b.iter(|| {
            let i = rngs[n].next_u64() % KEYS;
            assert!(e.get(&keys[i as usize]));
        })
    });

    let mut rngs: Vec<SplitMix64> = es.iter().map(|_| SplitMix64::new(6)).collect();
    group_each(c, "lsm/readmissing", &es, |b, e, n| {
        b.iter(|| {
            let i = rngs[n].next_u64() % KEYS;
            assert!(!e.get(&missing[i as usize]));
        })
    });
    for e in &es {
        let about = e.describe();
        if !about.is_empty() {
            eprintln!("lsm/after_reads/{}: {about}", e.name());
        }
    }

    group_each(c, "lsm/readseq", &es, |b, e, _| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            black_box(e.read_seq(iters));
            t.elapsed()
        })
    });

    let mut rngs: Vec<SplitMix64> = es.iter().map(|_| SplitMix64::new(7)).collect();
    group_each(c, "lsm/seekrandom_scan100", &es, |b, e, n| {
        b.iter(|| {
            let i = rngs[n].next_u64() % KEYS;
            black_box(e.scan(&missing[i as usize], SCAN_LEN))
        })
    });
}

/// Write amplification after a 1M-key fillrandom (printed, for the README).
fn write_amplification(_c: &mut Criterion) {
    if only_blob() || only_delete_range() || only_merge() || only_ttl() || only_keyspaces() {
        return;
    }
    let keys = keys_16(KEYS, 1);
    let e = Ours::open();
    for (i, k) in keys.iter().enumerate() {
        e.put(k, &value(i as u64 % 1024));
    }
    e.flush();
    std::thread::sleep(Duration::from_secs(2));
    let s = e.db.stats();
    eprintln!(
        "lsm/write_amplification after fillrandom 1M: {:.2} (user {} B, flush {} B, compaction {} B, files per level {:?})",
        s.write_amplification,
        s.user_bytes,
        s.flush_bytes,
        s.compaction_bytes,
        s.levels.iter().map(|l| l.files).collect::<Vec<_>>()
    );
}

/// Bytes written by callers in each key-value separation fill: 16 MiB.
const BLOB_FILL_BYTES: usize = 16 << 20;

/// The separation configurations compared: name, threshold, (k, m).
const BLOB_CONFIGS: [(&str, Option<usize>, lsm::BlobCode); 3] = [
    ("off", None, lsm::BlobCode::SINGLE),
    ("on", Some(4096), lsm::BlobCode::SINGLE),
    (
        "on_rs4_2",
        Some(4096),
        lsm::BlobCode {
            data_shards: 4,
            parity_shards: 2,
        },
    ),
];

fn open_blob_db(dir: &std::path::Path, threshold: Option<usize>, code: lsm::BlobCode) -> lsm::Db {
    let blob_dirs = if code == lsm::BlobCode::SINGLE {
        Vec::new()
    } else {
        (0..code.shards())
            .map(|i| dir.join(format!("blob{i}")))
            .collect()
    };
    let opts = lsm::Options {
        blob_threshold_bytes: threshold,
        blob_dirs,
        blob_code: code,
        ..lsm::Options::default()
    };
    lsm::Db::open(dir.join("db"), opts).expect("open lsm")
}

/// Random (incompressible) values of `len` bytes.
fn big_value(i: u64, len: usize) -> Vec<u8> {
    let mut rng = SplitMix64::new(i);
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        v.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    v.truncate(len);
    v
}

/// Key-value separation: fillrandom (16 MiB of 16 KiB or 64 KiB values into a
/// fresh database, flushed, compactions settled; one fill per iteration) and
/// readrandom (point gets on that database), separation off vs on vs on with
/// RS(4,2) over six directories. Each fill prints its write amplification.
fn blob_separation(c: &mut Criterion) {
    for value_len in [16usize << 10, 64 << 10] {
        let n = (BLOB_FILL_BYTES / value_len) as u64;
        let keys = keys_16(n, 7);
        let values: Vec<Vec<u8>> = (0..16).map(|i| big_value(i, value_len)).collect();
        for (name, threshold, code) in BLOB_CONFIGS {
            let id = format!("{name}/{}KiB", value_len >> 10);
            let mut group = c.benchmark_group("lsm/blob_fillrandom");
            group.throughput(Throughput::Bytes(BLOB_FILL_BYTES as u64));
            group.sample_size(10);
            group.sampling_mode(criterion::SamplingMode::Flat);
            let mut printed = false;
            group.bench_function(BenchmarkId::from_parameter(&id), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let dir = tempfile::tempdir().expect("tempdir");
                        let t = Instant::now();
                        let db = open_blob_db(dir.path(), threshold, code);
                        for (i, k) in keys.iter().enumerate() {
                            db.put(k.to_vec(), values[i % 16].clone()).expect("put");
                        }
                        db.flush().expect("flush");
                        db.compact_range::<&[u8], _>(..).expect("compact");
                        total += t.elapsed();
                        if !printed {
                            printed = true;
                            let s = db.stats();
                            eprintln!(
                                "lsm/blob_fillrandom/{id}: write amplification {:.2} (user {} B, flush {} B, compaction {} B, blob {} B)",
                                s.write_amplification,
                                s.user_bytes,
                                s.flush_bytes,
                                s.compaction_bytes,
                                s.blob_bytes
                            );
                        }
                        db.close().expect("close");
                    }
                    total
                })
            });
            group.finish();

            let mut group = c.benchmark_group("lsm/blob_readrandom");
            group.throughput(Throughput::Elements(1));
            let mut db: Option<(lsm::Db, tempfile::TempDir)> = None;
            let mut i = 0u64;
            group.bench_function(BenchmarkId::from_parameter(&id), |b| {
                let (db, _) = db.get_or_insert_with(|| {
                    let dir = tempfile::tempdir().expect("tempdir");
                    let db = open_blob_db(dir.path(), threshold, code);
                    for (i, k) in keys.iter().enumerate() {
                        db.put(k.to_vec(), values[i % 16].clone()).expect("put");
                    }
                    db.flush().expect("flush");
                    db.compact_range::<&[u8], _>(..).expect("compact");
                    (db, dir)
                });
                b.iter(|| {
                    i = i.wrapping_add(0x9e37_79b9) % n;
                    black_box(db.get(&keys[i as usize]).expect("get"))
                })
            });
            group.finish();
        }
    }
}

/// Blob garbage collection (printed, for the README): 16 MiB of 16 KiB
/// values, then three rounds each overwriting a random half of the keys, with
/// collection at the default ratio (0.5) and off (ratio 1: only wholly dead
/// blob files go). Prints blob space amplification, the bytes the blob
/// store holds against the live bytes, and write amplification.
fn blob_gc(_c: &mut Criterion) {
    if !only_blob() {
        return;
    }
    let value_len = 16usize << 10;
    let n = (BLOB_FILL_BYTES / value_len) as u64;
    let keys = keys_16(n, 11);
    for (name, ratio) in [("gc_0.5", 0.5), ("gc_off", 1.0)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let opts = lsm::Options {
            blob_gc_ratio: ratio,
            // 4 MiB memtables, so the 40 MiB written spread over many blob
            // files (with the 64 MiB default they would share one).
            write_buffer_size_bytes: 4 << 20,
            ..lsm::Options::default()
        };
        let db = lsm::Db::open(dir.path().join("db"), opts).expect("open lsm");
        let t = Instant::now();
        for round in 0..4u64 {
            let mut rng = SplitMix64::new(round);
            let mut order: Vec<usize> = (0..keys.len()).collect();
            for i in (1..order.len()).rev() {
                order.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
            }
            // After the first fill, a random half of the keys each round:
            // every blob file ends up partly live, partly garbage.
            if round > 0 {
                order.truncate(order.len() / 2);
            }
            for &i in &order {
                db.put(keys[i].to_vec(), big_value(round * n + i as u64, value_len))
                    .expect("put");
            }
        }
        db.flush().expect("flush");
        db.compact_range::<&[u8], _>(..).expect("compact");
        // Let the compaction thread collect what the compaction left.
        let mut s = db.stats();
        for _ in 0..200 {
            std::thread::sleep(Duration::from_millis(50));
            let now = db.stats();
            if now.blob_gc_bytes == s.blob_gc_bytes && now.blob_files == s.blob_files {
                s = now;
                break;
            }
            s = now;
        }
        let elapsed = t.elapsed();
        let disk: u64 = std::fs::read_dir(dir.path().join("db/blobs"))
            .expect("blob dir")
            .filter_map(|e| e.ok()?.metadata().ok())
            .map(|m| m.len())
            .sum();
        eprintln!(
            "lsm/blob_gc/{name}: 16 MiB + 3 x 8 MiB written in {:.2} s; blob space amplification {:.2} (live {} B, garbage {} B, {} files, {} deleted, store holds {} B); collected {} B; write amplification {:.2}",
            elapsed.as_secs_f64(),
            s.blob_space_amplification,
            s.blob_live_bytes,
            s.blob_garbage_bytes,
            s.blob_files,
            s.blob_files_deleted,
            disk,
            s.blob_gc_bytes,
            s.write_amplification
        );
        db.close().expect("close");
    }
}

/// Keys the `lsm/delete_range` workload deletes (`LSM_RANGE_KEYS`,
/// default 200,000).
fn range_keys() -> u64 {
    std::env::var("LSM_RANGE_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000)
}

/// True when the command line filters for `lsm/delete_range`: the 1M-key
/// prefills of the other workloads then are skipped.
fn only_delete_range() -> bool {
    std::env::args().skip(1).any(|a| a.contains("delete_range"))
}

/// What the `lsm/delete_range` workload needs of an engine.
trait RangeEngine {
    fn name(&self) -> &'static str;
    fn put(&self, key: &[u8], value: &[u8]);
    fn delete(&self, key: &[u8]);
    fn delete_range(&self, from: &[u8], to: &[u8]);
    fn get(&self, key: &[u8]) -> bool;
    /// Pairs from `from` on, at most `n`.
    fn scan(&self, from: &[u8], n: usize) -> usize;
    /// Pairs from the end back, at most `n`.
    fn scan_back(&self, n: usize) -> usize;
    /// Memtable to tables, background work settled.
    fn flush(&self);
}

/// Pairs an iterator yields, each checked and read.
fn count_pairs<T, E: std::fmt::Debug>(it: impl Iterator<Item = Result<T, E>>) -> usize {
    let mut n = 0;
    for r in it {
        black_box(r.expect("scan"));
        n += 1;
    }
    n
}

/// [`Ours`] for the range-delete workload (its own type: the two traits
/// share method names).
struct OursRange(Ours);

impl RangeEngine for OursRange {
    fn name(&self) -> &'static str {
        "lsm"
    }
    fn put(&self, key: &[u8], value: &[u8]) {
        self.0.db.put(key.to_vec(), value.to_vec()).expect("put");
    }
    fn delete(&self, key: &[u8]) {
        self.0.db.delete(key.to_vec()).expect("delete");
    }
    fn delete_range(&self, from: &[u8], to: &[u8]) {
        self.0.db.delete_range(from..to).expect("delete_range");
    }
    fn get(&self, key: &[u8]) -> bool {
        self.0.db.get(key).expect("get").is_some()
    }
    fn scan(&self, from: &[u8], n: usize) -> usize {
        count_pairs(self.0.db.range(from..).take(n))
    }
    fn scan_back(&self, n: usize) -> usize {
        count_pairs(self.0.db.iter().rev().take(n))
    }
    fn flush(&self) {
        self.0.db.flush().expect("flush");
        self.0.db.wait_idle().expect("wait_idle");
    }
}

/// RocksDB's options for the workloads below: LZ4, 64 MiB memtables, a
/// 64 MiB block cache and 10-bit Bloom filters, as db_bench sets them.
#[cfg(feature = "rocksdb")]
fn rocks_options() -> rocksdb::Options {
    let mut options = rocksdb::Options::default();
    options.create_if_missing(true);
    options.set_compression_type(rocksdb::DBCompressionType::Lz4);
    options.set_write_buffer_size(64 << 20);
    let mut table = rocksdb::BlockBasedOptions::default();
    table.set_block_cache(&rocksdb::Cache::new_lru_cache(64 << 20));
    table.set_bloom_filter(10.0, false);
    options.set_block_based_table_factory(&table);
    options
}

/// A RocksDB database with `options` in a fresh temporary directory.
#[cfg(feature = "rocksdb")]
fn rocks_open(options: &rocksdb::Options) -> (rocksdb::DB, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = rocksdb::DB::open(options, dir.path()).expect("open rocksdb");
    (db, dir)
}

#[cfg(feature = "rocksdb")]
struct Rocks {
    db: rocksdb::DB,
    _dir: tempfile::TempDir,
}

#[cfg(feature = "rocksdb")]
impl Rocks {
    /// db_bench's options as `benches/src/report/adapters.rs` sets them.
    fn open() -> Rocks {
        let mut options = rocks_options();
        options.set_level_compaction_dynamic_level_bytes(true);
        let (db, dir) = rocks_open(&options);
        Rocks { db, _dir: dir }
    }
}

#[cfg(feature = "rocksdb")]
impl RangeEngine for Rocks {
    fn name(&self) -> &'static str {
        "rocksdb"
    }
    fn put(&self, key: &[u8], value: &[u8]) {
        self.db.put(key, value).expect("rocksdb put");
    }
    fn delete(&self, key: &[u8]) {
        self.db.delete(key).expect("rocksdb delete");
    }
    fn delete_range(&self, from: &[u8], to: &[u8]) {
        // `WriteBatch::delete_range`, the call `DeleteRange` makes for
        // the default column family.
        let mut b = rocksdb::WriteBatch::default();
        b.delete_range(from, to);
        self.db.write(b).expect("rocksdb delete_range");
    }
    fn get(&self, key: &[u8]) -> bool {
        self.db.get_pinned(key).expect("rocksdb get").is_some()
    }
    fn scan(&self, from: &[u8], n: usize) -> usize {
        let mode = rocksdb::IteratorMode::From(from, rocksdb::Direction::Forward);
        count_pairs(self.db.iterator(mode).take(n))
    }
    fn scan_back(&self, n: usize) -> usize {
        count_pairs(self.db.iterator(rocksdb::IteratorMode::End).take(n))
    }
    fn flush(&self) {
        self.db.flush().expect("rocksdb flush");
        // RocksDB offers no wait for its compactions: give them time.
        std::thread::sleep(Duration::from_secs(2));
    }
}

fn range_engines() -> Vec<Box<dyn Fn() -> Box<dyn RangeEngine>>> {
    vec![
        Box::new(|| Box::new(OursRange(Ours::open())) as Box<dyn RangeEngine>),
        #[cfg(feature = "rocksdb")]
        Box::new(|| Box::new(Rocks::open()) as Box<dyn RangeEngine>),
    ]
}

/// Range deletes (`lsm/delete_range`): `range_keys()` sequential keys in
/// tables, then the middle 90% deleted with one `delete_range` or one
/// `delete` per key, and reads after (in the memtable, then flushed):
/// 10,000 gets of deleted keys, a scan from the start of the deleted
/// range (it finds the keys after it) and one from the end back. Each
/// engine and method on a fresh database, back to back; printed as times
/// and as ratios of one-by-one to `delete_range`.
///
/// `LSM_RANGE_KEYS=100000 cargo bench -p benches --bench lsm -- delete_range`
/// (`--features rocksdb` adds RocksDB's `WriteBatch::delete_range`).
fn delete_range(c: &mut Criterion) {
    if !only_delete_range() {
        return;
    }
    let _ = c;
    let n = range_keys();
    let (lo, hi) = (n / 20, n - n / 20);
    let v = value(7);
    for make in range_engines() {
        let mut times: Vec<(&str, [Duration; 3])> = Vec::new();
        let mut name = "";
        for method in ["delete_range", "one_by_one"] {
            let e = make();
            name = e.name();
            for i in 0..n {
                e.put(&sequential_key(i), &v);
            }
            e.flush();
            let t = Instant::now();
            if method == "delete_range" {
                e.delete_range(&sequential_key(lo), &sequential_key(hi));
            } else {
                for i in lo..hi {
                    e.delete(&sequential_key(i));
                }
            }
            let delete = t.elapsed();
            let reads = |e: &dyn RangeEngine| {
                let t = Instant::now();
                let mut rng = SplitMix64::new(3);
                for _ in 0..10_000 {
                    let i = lo + rng.next_u64() % (hi - lo);
                    assert!(!e.get(&sequential_key(i)));
                }
                assert_eq!(e.scan(&sequential_key(lo), 100), 100);
                assert_eq!(e.scan_back(usize::MAX), (n - (hi - lo)) as usize);
                t.elapsed()
            };
            let in_memtable = reads(&*e);
            e.flush();
            let flushed = reads(&*e);
            eprintln!(
                "lsm/delete_range/{}/{method}: {} keys deleted in {:.2} ms; reads after (10k gets, 2 scans) {:.2} ms in the memtable, {:.2} ms flushed",
                e.name(),
                hi - lo,
                delete.as_secs_f64() * 1e3,
                in_memtable.as_secs_f64() * 1e3,
                flushed.as_secs_f64() * 1e3,
            );
            times.push((method, [delete, in_memtable, flushed]));
        }
        let ratio = |i: usize| times[1].1[i].as_secs_f64() / times[0].1[i].as_secs_f64().max(1e-9);
        eprintln!(
            "lsm/delete_range/{name}: one-by-one / delete_range: delete {:.0}x, reads in the memtable {:.2}x, reads flushed {:.2}x",
            ratio(0),
            ratio(1),
            ratio(2)
        );
    }
}

/// True when the command line filters for the merge benchmarks only: the
/// 1M-key prefills of the other workloads then are skipped.
fn only_merge() -> bool {
    std::env::args().skip(1).any(|a| a.contains("merge"))
}

/// Counters of the merge workloads.
const MERGE_KEYS: u64 = 10_000;
/// Increments per counter before the reads are measured.
const MERGE_PREFILL_PER_KEY: u64 = 20;

/// A store of `u64` counters: incremented, then read.
trait Counters {
    fn name(&self) -> &'static str;
    fn increment(&self, key: &[u8], by: u64);
    fn read(&self, key: &[u8]) -> u64;
    fn settle(&self);
}

fn counter_key(i: u64) -> [u8; 16] {
    let mut k = *b"counter-________";
    k[8..].copy_from_slice(&i.to_be_bytes());
    k
}

fn le_u64(v: &[u8]) -> u64 {
    v.try_into().map(u64::from_le_bytes).unwrap_or(0)
}

/// Ours with `U64AddOperator`: an increment is one `merge`.
struct OursMerge {
    db: lsm::Db,
    _dir: tempfile::TempDir,
}

/// Ours without an operator: an increment is a `get` and a `put` (what an
/// application does without merge operators; single-threaded here, so no
/// transaction is needed to keep it correct).
struct OursGetPut {
    db: lsm::Db,
    _dir: tempfile::TempDir,
}

fn open_counters(
    op: Option<std::sync::Arc<dyn lsm::MergeOperator>>,
) -> (lsm::Db, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = lsm::Options {
        merge_operator: op,
        ..lsm::Options::default()
    };
    let db = lsm::Db::open(dir.path(), opts).expect("open");
    (db, dir)
}

impl Counters for OursMerge {
    fn name(&self) -> &'static str {
        "ours-merge"
    }
    fn increment(&self, key: &[u8], by: u64) {
        self.db
            .merge(key.to_vec(), by.to_le_bytes().to_vec())
            .expect("merge");
    }
    fn read(&self, key: &[u8]) -> u64 {
        self.db.get(key).expect("get").map_or(0, |v| le_u64(&v))
    }
    fn settle(&self) {
        self.db.flush().expect("flush");
        self.db.wait_idle().expect("idle");
    }
}

impl Counters for OursGetPut {
    fn name(&self) -> &'static str {
        "ours-get+put"
    }
    fn increment(&self, key: &[u8], by: u64) {
        let v = self.read(key).wrapping_add(by);
        self.db
            .put(key.to_vec(), v.to_le_bytes().to_vec())
            .expect("put");
    }
    fn read(&self, key: &[u8]) -> u64 {
        self.db.get(key).expect("get").map_or(0, |v| le_u64(&v))
    }
    fn settle(&self) {
        self.db.flush().expect("flush");
        self.db.wait_idle().expect("idle");
    }
}

/// RocksDB with an associative merge operator (`set_merge_operator_associative`,
/// the same function as full and partial merge), as db_bench's
/// `mergerandom` with `--merge_operator=uint64add`.
#[cfg(feature = "rocksdb")]
struct RocksMerge {
    db: rocksdb::DB,
    _dir: tempfile::TempDir,
}

#[cfg(feature = "rocksdb")]
impl RocksMerge {
    fn open() -> RocksMerge {
        fn add(
            _key: &[u8],
            existing: Option<&[u8]>,
            ops: &rocksdb::MergeOperands,
        ) -> Option<Vec<u8>> {
            let mut sum = existing.map_or(0, le_u64);
            for op in ops {
                sum = sum.wrapping_add(le_u64(op));
            }
            Some(sum.to_le_bytes().to_vec())
        }
        let mut options = rocks_options();
        options.set_merge_operator_associative("uint64add", add);
        let (db, dir) = rocks_open(&options);
        RocksMerge { db, _dir: dir }
    }
}

#[cfg(feature = "rocksdb")]
impl Counters for RocksMerge {
    fn name(&self) -> &'static str {
        "rocksdb-merge"
    }
    fn increment(&self, key: &[u8], by: u64) {
        self.db.merge(key, by.to_le_bytes()).expect("merge");
    }
    fn read(&self, key: &[u8]) -> u64 {
        self.db.get(key).expect("get").map_or(0, |v| le_u64(&v))
    }
    fn settle(&self) {
        self.db.flush().expect("flush");
    }
}

fn counter_stores() -> Vec<Box<dyn Counters>> {
    let (db, dir) = open_counters(Some(std::sync::Arc::new(lsm::U64AddOperator)));
    let merge = OursMerge { db, _dir: dir };
    let (db, dir) = open_counters(None);
    let get_put = OursGetPut { db, _dir: dir };
    vec![
        Box::new(merge),
        Box::new(get_put),
        #[cfg(feature = "rocksdb")]
        Box::new(RocksMerge::open()),
    ]
}

/// `lsm/merge`: counters over [`MERGE_KEYS`] keys. `increment`: random
/// increments, one `merge` each against a `get` and a `put` in our own
/// engine (and RocksDB's `merge` with `--features rocksdb`). `read`: random
/// gets after [`MERGE_PREFILL_PER_KEY`] increments per counter, flushed
/// (operands spread over the memtable and tables, versus one value per key
/// for get+put). The stores run back to back in each group.
fn merge_counters(c: &mut Criterion) {
    if only_blob() || only_keyspaces() {
        return;
    }
    let stores = counter_stores();
    let mut rng = SplitMix64::new(25);
    let mut group = c.benchmark_group("lsm/merge/increment");
    group.throughput(Throughput::Elements(1));
    for s in &stores {
        group.bench_function(BenchmarkId::new(s.name(), MERGE_KEYS), |b| {
            b.iter_custom(|iters| {
                let t = Instant::now();
                for _ in 0..iters {
                    s.increment(&counter_key(rng.next_u64() % MERGE_KEYS), 1);
                }
                t.elapsed()
            });
        });
    }
    group.finish();

    // The same counts in every store: a fresh set, each counter incremented
    // the same number of times, in rounds so operands reach several tables.
    let stores = counter_stores();
    for s in &stores {
        for round in 0..MERGE_PREFILL_PER_KEY {
            for i in 0..MERGE_KEYS {
                s.increment(&counter_key(i), round + 1);
            }
            if round % 5 == 4 {
                s.settle();
            }
        }
        s.settle();
        let want: u64 = (1..=MERGE_PREFILL_PER_KEY).sum();
        assert_eq!(s.read(&counter_key(7)), want, "{}", s.name());
    }
    let mut group = c.benchmark_group("lsm/merge/read");
    group.throughput(Throughput::Elements(1));
    for s in &stores {
        group.bench_function(BenchmarkId::new(s.name(), MERGE_KEYS), |b| {
            b.iter_custom(|iters| {
                let t = Instant::now();
                for _ in 0..iters {
                    black_box(s.read(&counter_key(rng.next_u64() % MERGE_KEYS)));
                }
                t.elapsed()
            });
        });
    }
    group.finish();
}

/// True when the command line filters for the TTL benchmarks only.
fn only_ttl() -> bool {
    std::env::args().skip(1).any(|a| a.contains("ttl"))
}

/// Keys of the TTL benchmarks: small enough to prefill quickly.
const TTL_KEYS: u64 = 200_000;

/// A database of `TTL_KEYS` random keys, flushed and compacted, with `ttl`
/// (a day when on: nothing expires, so both configurations read the same
/// data and only the 8-byte write time and its check differ).
fn ttl_db(ttl: Option<Duration>, keys: &[[u8; 16]]) -> (lsm::Db, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = lsm::Options {
        ttl,
        ..lsm::Options::default()
    };
    let db = lsm::Db::open(dir.path().join("db"), opts).expect("open lsm");
    for (i, k) in keys.iter().enumerate() {
        db.put(k.to_vec(), value(i as u64)).expect("put");
    }
    db.flush().expect("flush");
    db.compact_range::<&[u8], _>(..).expect("compact");
    (db, dir)
}

/// The cost of TTL (`Options::ttl`), our engine only (rust-rocksdb 0.25
/// has no TTL database): fillrandom into a fresh database, readrandom and
/// 100-entry scans on a prefilled one, TTL off and on back to back.
/// `cargo bench -p benches --bench lsm -- ttl`
fn ttl(c: &mut Criterion) {
    if !only_ttl() {
        return;
    }
    let keys = keys_16(TTL_KEYS, 5);
    let values: Vec<Vec<u8>> = (0..1024).map(value).collect();
    let configs = [
        ("ttl_off", None),
        ("ttl_on", Some(Duration::from_secs(86_400))),
    ];

    let mut group = c.benchmark_group("lsm/ttl_fillrandom");
    group.throughput(Throughput::Elements(1));
    for (name, ttl) in configs {
        let mut db: Option<(lsm::Db, tempfile::TempDir)> = None;
        let mut rng = SplitMix64::new(3);
        group.bench_function(BenchmarkId::new(name, TTL_KEYS), |b| {
            let (db, _) = db.get_or_insert_with(|| {
                let dir = tempfile::tempdir().expect("tempdir");
                let opts = lsm::Options {
                    ttl,
                    ..lsm::Options::default()
                };
                (
                    lsm::Db::open(dir.path().join("db"), opts).expect("open"),
                    dir,
                )
            });
            b.iter_custom(|iters| {
                let t = Instant::now();
                for _ in 0..iters {
                    let i = rng.next_u64() % TTL_KEYS;
                    db.put(
                        keys[i as usize].to_vec(),
                        values[(i % 1024) as usize].clone(),
                    )
                    .expect("put");
                }
                t.elapsed()
            })
        });
    }
    group.finish();

    let dbs: Vec<(&str, lsm::Db, tempfile::TempDir)> = configs
        .iter()
        .map(|(name, ttl)| {
            let (db, dir) = ttl_db(*ttl, &keys);
            (*name, db, dir)
        })
        .collect();
    let mut group = c.benchmark_group("lsm/ttl_readrandom");
    group.throughput(Throughput::Elements(1));
    for (name, db, _) in &dbs {
        let mut rng = SplitMix64::new(9);
        group.bench_function(BenchmarkId::new(*name, TTL_KEYS), |b| {
            b.iter(|| {
                let i = rng.next_u64() % TTL_KEYS;
                black_box(db.get(&keys[i as usize]).expect("get"))
            })
        });
    }
    group.finish();
    let mut group = c.benchmark_group("lsm/ttl_scan100");
    group.throughput(Throughput::Elements(SCAN_LEN as u64));
    for (name, db, _) in &dbs {
        let mut rng = SplitMix64::new(10);
        group.bench_function(BenchmarkId::new(*name, TTL_KEYS), |b| {
            b.iter(|| {
                let i = rng.next_u64() % TTL_KEYS;
                let n = db
                    .range(keys[i as usize].as_slice()..)
                    .take(SCAN_LEN)
                    .map(|r| r.expect("scan").1.len())
                    .sum::<usize>();
                black_box(n)
            })
        });
    }
    group.finish();
}

/// True when the command line filters for the keyspace benchmarks only.
fn only_keyspaces() -> bool {
    std::env::args().skip(1).any(|a| a.contains("keyspaces"))
}

/// Keyspaces of the keyspace workloads, and keys in each.
const KEYSPACES: usize = 4;
const KEYSPACE_KEYS: u64 = 1_000_000;

/// What the keyspace workloads need of a store.
trait KeyspaceStore {
    fn name(&self) -> &'static str;
    /// One atomic batch: a put into each of `writes`' keyspaces.
    fn write(&self, writes: &[(usize, &[u8], &[u8])]);
    fn get(&self, ks: usize, key: &[u8]) -> bool;
    /// Flushes and waits for compactions.
    fn settle(&self);
}

/// Our engine with [`KEYSPACES`] keyspaces.
struct OursKeyspaces {
    db: lsm::Db,
    ks: Vec<lsm::Keyspace>,
    _dir: tempfile::TempDir,
}

impl OursKeyspaces {
    fn open() -> OursKeyspaces {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = lsm::Db::open(dir.path().join("db"), lsm::Options::default()).expect("open");
        let ks = (0..KEYSPACES)
            .map(|i| db.keyspace(&format!("ks{i}")).expect("keyspace"))
            .collect();
        OursKeyspaces { db, ks, _dir: dir }
    }
}

impl KeyspaceStore for OursKeyspaces {
    fn name(&self) -> &'static str {
        "lsm-keyspaces"
    }
    fn write(&self, writes: &[(usize, &[u8], &[u8])]) {
        let mut b = lsm::WriteBatch::new();
        for &(i, k, v) in writes {
            b.put_in(&self.ks[i], k.to_vec(), v.to_vec());
        }
        self.db.write(b).expect("write");
    }
    fn get(&self, ks: usize, key: &[u8]) -> bool {
        self.ks[ks].get(key).expect("get").is_some()
    }
    fn settle(&self) {
        self.db.flush().expect("flush");
        self.db.wait_idle().expect("idle");
    }
}

/// Our engine with one keyspace, the keyspace index as a key prefix: what
/// keyspaces cost (or save) against sharing one tree.
struct OursPrefixed {
    db: lsm::Db,
    _dir: tempfile::TempDir,
}

fn prefixed(ks: usize, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 1);
    k.push(ks as u8);
    k.extend_from_slice(key);
    k
}

impl KeyspaceStore for OursPrefixed {
    fn name(&self) -> &'static str {
        "lsm-one-tree-prefixed"
    }
    fn write(&self, writes: &[(usize, &[u8], &[u8])]) {
        let mut b = lsm::WriteBatch::new();
        for &(i, k, v) in writes {
            b.put(prefixed(i, k), v.to_vec());
        }
        self.db.write(b).expect("write");
    }
    fn get(&self, ks: usize, key: &[u8]) -> bool {
        self.db.get(&prefixed(ks, key)).expect("get").is_some()
    }
    fn settle(&self) {
        self.db.flush().expect("flush");
        self.db.wait_idle().expect("idle");
    }
}

/// RocksDB with [`KEYSPACES`] column families.
#[cfg(feature = "rocksdb")]
struct RocksColumnFamilies {
    db: rocksdb::DB,
    _dir: tempfile::TempDir,
}

#[cfg(feature = "rocksdb")]
impl RocksColumnFamilies {
    fn open() -> RocksColumnFamilies {
        let mut options = rocks_options();
        options.create_missing_column_families(true);
        let dir = tempfile::tempdir().expect("tempdir");
        let cfs: Vec<rocksdb::ColumnFamilyDescriptor> = (0..KEYSPACES)
            .map(|i| rocksdb::ColumnFamilyDescriptor::new(format!("ks{i}"), rocks_options()))
            .collect();
        let db = rocksdb::DB::open_cf_descriptors(&options, dir.path(), cfs).expect("open");
        RocksColumnFamilies { db, _dir: dir }
    }

    fn cf(&self, i: usize) -> &rocksdb::ColumnFamily {
        self.db.cf_handle(&format!("ks{i}")).expect("column family")
    }
}

#[cfg(feature = "rocksdb")]
impl KeyspaceStore for RocksColumnFamilies {
    fn name(&self) -> &'static str {
        "rocksdb-column-families"
    }
    fn write(&self, writes: &[(usize, &[u8], &[u8])]) {
        let mut b = rocksdb::WriteBatch::default();
        for &(i, k, v) in writes {
            b.put_cf(self.cf(i), k, v);
        }
        self.db.write(b).expect("write");
    }
    fn get(&self, ks: usize, key: &[u8]) -> bool {
        self.db.get_cf(self.cf(ks), key).expect("get").is_some()
    }
    fn settle(&self) {
        for i in 0..KEYSPACES {
            self.db.flush_cf(self.cf(i)).expect("flush");
        }
    }
}

fn keyspace_stores() -> Vec<Box<dyn KeyspaceStore>> {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = lsm::Db::open(dir.path().join("db"), lsm::Options::default()).expect("open");
    vec![
        Box::new(OursKeyspaces::open()),
        Box::new(OursPrefixed { db, _dir: dir }),
        #[cfg(feature = "rocksdb")]
        Box::new(RocksColumnFamilies::open()),
    ]
}

/// `lsm/keyspaces`: [`KEYSPACES`] keyspaces (RocksDB column families with
/// `--features rocksdb`; and our engine with one tree and a keyspace byte
/// in front of each key). `batch_fill`: random keys, each write one batch
/// with a put of a 100-byte value into every keyspace, into a store that
/// starts empty and grows past its memtables. `readrandom`: random gets in
/// random keyspaces of a store prefilled with [`KEYSPACE_KEYS`] keys per
/// keyspace (400 MB of values), flushed and compacted.
/// `cargo bench -p benches --features rocksdb --profile release --bench lsm -- keyspaces`
fn keyspaces(c: &mut Criterion) {
    if !only_keyspaces() {
        return;
    }
    let keys = keys_16(KEYSPACE_KEYS, 17);
    let values: Vec<Vec<u8>> = (0..1024).map(value).collect();
    let stores = keyspace_stores();
    let mut group = c.benchmark_group("lsm/keyspaces/batch_fill");
    group.throughput(Throughput::Elements(KEYSPACES as u64));
    for s in &stores {
        let mut rng = SplitMix64::new(4);
        group.bench_function(BenchmarkId::new(s.name(), KEYSPACES), |b| {
            b.iter_custom(|iters| {
                let t = Instant::now();
                for _ in 0..iters {
                    let k = &keys[(rng.next_u64() % KEYSPACE_KEYS) as usize];
                    let v = &values[(rng.next_u64() % 1024) as usize];
                    let writes: Vec<(usize, &[u8], &[u8])> =
                        (0..KEYSPACES).map(|i| (i, &k[..], &v[..])).collect();
                    s.write(&writes);
                }
                t.elapsed()
            })
        });
    }
    group.finish();

    let stores = keyspace_stores();
    for s in &stores {
        for (i, k) in keys.iter().enumerate() {
            let v = &values[i % 1024];
            let writes: Vec<(usize, &[u8], &[u8])> =
                (0..KEYSPACES).map(|ks| (ks, &k[..], &v[..])).collect();
            s.write(&writes);
        }
        s.settle();
    }
    let mut group = c.benchmark_group("lsm/keyspaces/readrandom");
    group.throughput(Throughput::Elements(1));
    for s in &stores {
        let mut rng = SplitMix64::new(8);
        group.bench_function(BenchmarkId::new(s.name(), KEYSPACES), |b| {
            b.iter(|| {
                let r = rng.next_u64();
                let k = &keys[(r % KEYSPACE_KEYS) as usize];
                assert!(s.get((r >> 32) as usize % KEYSPACES, k));
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = benches::criterion(3).sample_size(10);
    targets = bench, write_amplification, blob_separation, blob_gc, delete_range, merge_counters, ttl, keyspaces
}
criterion_main!(benches);
