//! The object-storage benchmark: fill and readrandom on `lsm` with local
//! tables, on `lsm` with its tables on an in-process S3 server behind added
//! latency, and on SlateDB over the same bucket, in one run.
//!
//! ```sh
//! cargo run --release -p benches --features slatedb --bin remote -- --keys 1000000 --out docs/report/remote.md
//! ```
//!
//! Keys are 16 bytes (`benches::keys_16`), values 1 KiB of random bytes; the
//! fill writes every key once in random order, one key per write; readrandom
//! gets existing keys from several threads. Object-store requests are counted
//! by an `objstore::FaultObjectStore` with no rules wrapped around each
//! engine's view of the bucket.

use std::error::Error;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use benches::SplitMix64;
use benches::report::{Machine, thousands};
use bytes::Bytes;
use clap::Parser;
use hdrhistogram::Histogram;
use object_store::ObjectStore;
use object_store::throttle::{ThrottleConfig, ThrottledStore};
use objstore::{FaultObjectStore, ObjectOp};

type Res<T> = Result<T, Box<dyn Error + Send + Sync>>;
/// What one SlateDB reader task returns: its latencies and the values read.
type TaskReads = Res<(Histogram<u64>, Vec<(usize, Option<Bytes>)>)>;

const VALUE_BYTES: usize = 1024;
const CACHE_BYTES: usize = 64 << 20;

#[derive(Parser, Debug)]
#[command(about = "lsm on S3 (in-process, with added latency) vs local tables vs SlateDB")]
struct Args {
    /// Keys loaded by the fill (16-byte keys, 1 KiB values).
    #[arg(long, default_value_t = 1_000_000)]
    keys: u64,
    /// Gets of readrandom, per engine.
    #[arg(long, default_value_t = 20_000)]
    reads: u64,
    /// Threads (lsm) or tasks (SlateDB) sharing the readrandom gets.
    #[arg(long, default_value_t = 16)]
    threads: u64,
    /// Latency added to every object-store request, in milliseconds.
    #[arg(long, default_value_t = 20)]
    latency_ms: u64,
    /// Where the local stores (and the remote lsm's WAL and manifest) live.
    #[arg(long, default_value = "target/remote-data")]
    data: PathBuf,
    /// The markdown file to write.
    #[arg(long, default_value = "target/report/remote.md")]
    out: PathBuf,
    /// Engines to run, of `lsm-local`, `lsm-s3`, `slatedb` (default: all).
    #[arg(long, num_args = 1..)]
    only: Vec<String>,
}

/// Requests one engine sent to the object store during a phase.
#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    get: u64,
    put: u64,
    list: u64,
    other: u64,
}

impl Counts {
    fn of(store: &FaultObjectStore) -> Counts {
        let c = |op| store.op_count(op);
        Counts {
            get: c(ObjectOp::Get),
            put: c(ObjectOp::Put) + c(ObjectOp::PutMultipart),
            list: c(ObjectOp::List),
            other: c(ObjectOp::Head) + c(ObjectOp::Delete) + c(ObjectOp::Copy),
        }
    }

    fn since(self, before: Counts) -> Counts {
        Counts {
            get: self.get - before.get,
            put: self.put - before.put,
            list: self.list - before.list,
            other: self.other - before.other,
        }
    }
}

/// One phase of one engine.
struct Phase {
    ops: u64,
    secs: f64,
    latency: Histogram<u64>,
    requests: Option<Counts>,
}

impl Phase {
    fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.secs.max(1e-9)
    }

    fn quantile_us(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }
}

/// One engine's results.
struct Run {
    name: &'static str,
    config: String,
    fill: Phase,
    /// Untimed work between the fill and the reads, and what it was.
    settle: (f64, &'static str, Option<Counts>),
    read: Phase,
    notes: String,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid bounds")
}

fn record(h: &mut Histogram<u64>, d: Duration) {
    h.saturating_record(d.as_nanos().min(u64::MAX as u128) as u64);
}

/// The workload's inputs: keys in fill order and a pool values are cut from.
struct Data {
    keys: Vec<[u8; 16]>,
    pool: Vec<u8>,
}

impl Data {
    fn new(n: u64) -> Data {
        let mut rng = SplitMix64::new(0xB10B);
        let pool = (0..(1 << 17))
            .flat_map(|_| rng.next_u64().to_le_bytes())
            .collect();
        Data {
            keys: benches::keys_16(n, 42),
            pool,
        }
    }

    /// The value of the i-th key: 1 KiB of random bytes (incompressible).
    fn value(&self, i: usize) -> Bytes {
        let start = (i.wrapping_mul(7919) * 8) % (self.pool.len() - VALUE_BYTES);
        Bytes::copy_from_slice(&self.pool[start..start + VALUE_BYTES])
    }

    /// The keys readrandom gets, split among `threads`.
    fn read_plan(&self, reads: u64, threads: u64) -> Vec<Vec<usize>> {
        let mut rng = SplitMix64::new(7);
        let n = self.keys.len() as u64;
        let per = reads.div_ceil(threads);
        (0..threads)
            .map(|t| {
                let count = per.min(reads.saturating_sub(t * per));
                (0..count).map(|_| (rng.next_u64() % n) as usize).collect()
            })
            .collect()
    }
}

fn lsm_options() -> lsm::Options {
    lsm::Options {
        block_cache_bytes: CACHE_BYTES,
        ..lsm::Options::default()
    }
}

fn run_lsm(
    name: &'static str,
    data: &Data,
    args: &Args,
    dir: &std::path::Path,
    store: Option<(Arc<dyn objstore::Store>, FaultObjectStore)>,
) -> Res<Run> {
    let mut options = lsm_options();
    let counter = store.as_ref().map(|(_, c)| c.clone());
    let counts = || counter.as_ref().map(Counts::of);
    if let Some((s, _)) = &store {
        options.table_store = Some(s.clone());
    }
    let before = counts();
    let db = lsm::Db::open(dir, options)?;
    let mut fill = histogram();
    let start = Instant::now();
    for (i, key) in data.keys.iter().enumerate() {
        let t = Instant::now();
        db.put(Bytes::copy_from_slice(key), data.value(i))?;
        record(&mut fill, t.elapsed());
    }
    db.flush()?;
    let fill_secs = start.elapsed().as_secs_f64();
    let after_fill = counts();
    let t = Instant::now();
    db.wait_idle()?;
    let settle_secs = t.elapsed().as_secs_f64();
    let after_settle = counts();

    let plan = data.read_plan(args.reads, args.threads);
    let start = Instant::now();
    let results: Vec<Res<Histogram<u64>>> = std::thread::scope(|s| {
        let handles: Vec<_> = plan
            .iter()
            .map(|ids| {
                let db = db.clone();
                s.spawn(move || -> Res<Histogram<u64>> {
                    let mut h = histogram();
                    for &i in ids {
                        let t = Instant::now();
                        let got = db.get(&data.keys[i])?;
                        record(&mut h, t.elapsed());
                        if got.as_deref() != Some(&data.value(i)[..]) {
                            return Err(format!("{name}: key #{i} read back wrong").into());
                        }
                    }
                    Ok(h)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("a reader panicked".into())))
            .collect()
    });
    let read_secs = start.elapsed().as_secs_f64();
    let mut read = histogram();
    for r in results {
        read.add(r?)?;
    }
    let after_read = counts();
    let stats = db.stats();
    let ts = stats.table_store;
    let notes = if store.is_some() {
        format!(
            "table store: {} reads ({} MiB), {} puts ({} MiB), {} other; block cache hit rate {:.1}%",
            thousands(ts.reads),
            ts.read_bytes >> 20,
            thousands(ts.puts),
            ts.put_bytes >> 20,
            thousands(ts.other_requests),
            100.0 * ts.cache_hit_rate()
        )
    } else {
        String::new()
    };
    db.close()?;
    let diff = |a: Option<Counts>, b: Option<Counts>| a.zip(b).map(|(a, b)| a.since(b));
    let config = if store.is_some() {
        format!(
            "`Options::default()` with `block_cache_bytes` {} MiB and `table_store` = \
             `RemoteStore` (default `RemoteOptions`) over the throttled bucket, prefix `lsm`; \
             WAL and manifest in a local directory; no disk block cache",
            CACHE_BYTES >> 20
        )
    } else {
        format!(
            "`Options::default()` with `block_cache_bytes` {} MiB; everything in a local directory",
            CACHE_BYTES >> 20
        )
    };
    Ok(Run {
        name,
        config,
        fill: Phase {
            ops: data.keys.len() as u64,
            secs: fill_secs,
            latency: fill,
            requests: diff(after_fill, before),
        },
        settle: (
            settle_secs,
            "`wait_idle` (flushes and compactions finish)",
            diff(after_settle, after_fill),
        ),
        read: Phase {
            ops: args.reads,
            secs: read_secs,
            latency: read,
            requests: diff(after_read, after_settle),
        },
        notes,
    })
}

fn run_slatedb(
    data: &Data,
    args: &Args,
    bucket: Arc<dyn ObjectStore>,
    counter: FaultObjectStore,
) -> Res<Run> {
    use slatedb::config::{FlushOptions, FlushType};
    use slatedb::db_cache::moka::{MokaCache, MokaCacheOptions};
    use slatedb::db_cache::{DbCache, SplitCache};

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let moka = |bytes: usize| -> Option<Arc<dyn DbCache>> {
        Some(Arc::new(MokaCache::new_with_opts(MokaCacheOptions {
            max_capacity: bytes as u64,
            time_to_live: None,
            time_to_idle: None,
        })))
    };
    let cache = SplitCache::new()
        .with_block_cache(moka(CACHE_BYTES))
        .with_meta_cache(moka(CACHE_BYTES))
        .build();
    let before = Counts::of(&counter);
    let db = runtime.block_on(
        slatedb::Db::builder("slatedb", bucket)
            .with_db_cache(Arc::new(cache), 1)
            .build(),
    )?;
    let db = Arc::new(db);
    let mut fill = histogram();
    let start = Instant::now();
    runtime.block_on(async {
        for (i, key) in data.keys.iter().enumerate() {
            let t = Instant::now();
            // The handle is not awaited: the write is in the memtable and
            // becomes durable with the next WAL flush (await_durable false).
            db.put(key, data.value(i)).await?;
            record(&mut fill, t.elapsed());
        }
        db.flush().await
    })?;
    let fill_secs = start.elapsed().as_secs_f64();
    let after_fill = Counts::of(&counter);
    let t = Instant::now();
    runtime.block_on(db.flush_with_options(FlushOptions {
        flush_type: FlushType::MemTable,
    }))?;
    let settle_secs = t.elapsed().as_secs_f64();
    let after_settle = Counts::of(&counter);

    let plan = data.read_plan(args.reads, args.threads);
    let keys: Arc<Vec<[u8; 16]>> = Arc::new(data.keys.clone());
    let start = Instant::now();
    let results: Vec<TaskReads> = runtime.block_on(async {
        let tasks: Vec<_> = plan
            .into_iter()
            .map(|ids| {
                let db = db.clone();
                let keys = keys.clone();
                tokio::spawn(async move {
                    let mut h = histogram();
                    let mut got = Vec::with_capacity(ids.len());
                    for i in ids {
                        let t = Instant::now();
                        let v = db.get(&keys[i]).await?;
                        record(&mut h, t.elapsed());
                        got.push((i, v));
                    }
                    Ok::<_, Box<dyn Error + Send + Sync>>((h, got))
                })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap_or_else(|e| Err(e.into())));
        }
        out
    });
    let read_secs = start.elapsed().as_secs_f64();
    let mut read = histogram();
    for r in results {
        let (h, got) = r?;
        read.add(h)?;
        for (i, v) in got {
            if v.as_deref() != Some(&data.value(i)[..]) {
                return Err(format!("slatedb: key #{i} read back wrong").into());
            }
        }
    }
    let after_read = Counts::of(&counter);
    runtime.block_on(db.close())?;
    Ok(Run {
        name: "SlateDB on S3",
        config: format!(
            "slatedb 0.18 (features `moka`), `Settings::default()`, path `slatedb` in the same \
             throttled bucket; `SplitCache` of a {} MiB moka block cache and a {} MiB moka meta \
             cache (index and filters; lsm keeps these in memory unbounded); writes are `put` \
             without awaiting the handle's durability (await_durable false), the fill ends with \
             `flush()` (the WAL made durable in the bucket); gets with default options; one tokio \
             runtime of 2 workers",
            CACHE_BYTES >> 20,
            CACHE_BYTES >> 20
        ),
        fill: Phase {
            ops: data.keys.len() as u64,
            secs: fill_secs,
            latency: fill,
            requests: Some(after_fill.since(before)),
        },
        settle: (
            settle_secs,
            "`flush_with_options(MemTable)` (the memtable to an L0 SST)",
            Some(after_settle.since(after_fill)),
        ),
        read: Phase {
            ops: args.reads,
            secs: read_secs,
            latency: read,
            requests: Some(after_read.since(after_settle)),
        },
        notes: String::new(),
    })
}

fn per_op(count: u64, ops: u64) -> String {
    let r = count as f64 / ops.max(1) as f64;
    if count == 0 {
        "0".into()
    } else if r >= 0.1 {
        format!("{r:.2}")
    } else {
        format!("{r:.5}")
    }
}

fn requests_cell(c: Option<Counts>, ops: u64) -> String {
    match c {
        None => "local files".into(),
        Some(c) => format!(
            "{} / {} / {} / {}",
            per_op(c.get, ops),
            per_op(c.put, ops),
            per_op(c.list, ops),
            per_op(c.other, ops)
        ),
    }
}

fn totals_cell(c: Option<Counts>) -> String {
    match c {
        None => "-".into(),
        Some(c) => format!(
            "{} / {} / {} / {}",
            thousands(c.get),
            thousands(c.put),
            thousands(c.list),
            thousands(c.other)
        ),
    }
}

fn render(args: &Args, machine: &Machine, load: (&str, &str), runs: &[Run], secs: f64) -> String {
    let mut md = String::new();
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let _ = writeln!(
        md,
        "# lsm on object storage: local tables, S3, and SlateDB\n"
    );
    let _ = writeln!(
        md,
        "Machine: {} ({} cores), {:.1} GiB, Linux {}, data directory on {}. Commit `{}`, {}.\n",
        machine.cpu,
        machine.cores,
        machine.memory_gib,
        machine.kernel,
        machine.filesystem,
        machine.commit,
        machine.date
    );
    let _ = writeln!(
        md,
        "Command: `{command}` (binary built with `--release`); the run took {:.0} s. \
         Load average (1, 5, 15 min) at the start: {}; at the end: {}.\n",
        secs, load.0, load.1
    );
    let _ = writeln!(
        md,
        "Data: {} keys of 16 bytes (`benches::keys_16`, random order) with 1 KiB random \
         (incompressible) values, {:.2} GiB of keys and values. **fill** writes each key \
         once, one key per write, and ends with a flush (timed); then untimed settling; \
         **readrandom** gets {} existing keys chosen at random (the same keys for every engine), \
         from {} threads (lsm) or tokio tasks (SlateDB), and checks every value.\n",
        thousands(args.keys),
        (args.keys as f64 * (16 + VALUE_BYTES) as f64) / f64::from(1u32 << 30),
        thousands(args.reads),
        args.threads
    );
    let _ = writeln!(
        md,
        "Object store: `objstore::testing::S3Server` (s3s-fs, a real S3 server over a local \
         directory, in-process on 127.0.0.1, plain HTTP), one bucket, wrapped in \
         `object_store::throttle::ThrottledStore` adding **{} ms per request** \
         (`wait_get_per_call` (GET and HEAD), `wait_put_per_call` (PUT, multipart parts, copy), \
         `wait_list_per_call`, `wait_list_with_delimiter_per_call`, `wait_delete_per_call`; \
         nothing per byte or entry). Each engine sees the bucket through its own \
         `objstore::FaultObjectStore` with no rules, which counts requests by kind.\n",
        args.latency_ms
    );
    let _ = writeln!(
        md,
        "| engine | fill ops/s | fill p50 µs | fill p99 µs | settle s | readrandom ops/s | read p50 µs | read p99 µs |"
    );
    let _ = writeln!(
        md,
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for r in runs {
        let _ = writeln!(
            md,
            "| {} | {} | {:.1} | {:.1} | {:.1} | {} | {:.0} | {:.0} |",
            r.name,
            thousands(r.fill.ops_per_sec() as u64),
            r.fill.quantile_us(0.5),
            r.fill.quantile_us(0.99),
            r.settle.0,
            thousands(r.read.ops_per_sec() as u64),
            r.read.quantile_us(0.5),
            r.read.quantile_us(0.99),
        );
    }
    if let Some(base) = runs.iter().find(|r| r.name == "lsm on S3") {
        let _ = writeln!(
            md,
            "\nRatios against lsm on S3 (higher is faster for lsm on S3):\n"
        );
        let _ = writeln!(
            md,
            "| engine | fill ops/s: lsm on S3 / engine | readrandom ops/s: lsm on S3 / engine |"
        );
        let _ = writeln!(md, "| --- | ---: | ---: |");
        for r in runs {
            let _ = writeln!(
                md,
                "| {} | {:.2} | {:.2} |",
                r.name,
                base.fill.ops_per_sec() / r.fill.ops_per_sec(),
                base.read.ops_per_sec() / r.read.ops_per_sec()
            );
        }
    }
    let _ = writeln!(
        md,
        "\nObject-store requests per operation, GET (including ranged) / PUT (including \
         multipart starts) / LIST / other (HEAD, DELETE, copy), counted by the wrapper; fill \
         counts from open to the end of the timed flush, settle what the settling step sent, \
         readrandom what was sent while the gets ran (background work included):\n"
    );
    let _ = writeln!(
        md,
        "| engine | fill, per write | fill, total | settle, total | readrandom, per get | readrandom, total |"
    );
    let _ = writeln!(md, "| --- | --- | --- | --- | --- | --- |");
    for r in runs {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} |",
            r.name,
            requests_cell(r.fill.requests, r.fill.ops),
            totals_cell(r.fill.requests),
            totals_cell(r.settle.2),
            requests_cell(r.read.requests, r.read.ops),
            totals_cell(r.read.requests),
        );
    }
    let _ = writeln!(md, "\n## Configurations\n");
    for r in runs {
        let _ = writeln!(
            md,
            "- **{}**: {}. Settling: {}.{}",
            r.name,
            r.config,
            r.settle.1,
            if r.notes.is_empty() {
                String::new()
            } else {
                format!(" After the run: {}.", r.notes)
            }
        );
    }
    md
}

fn main() -> Res<()> {
    let args = Args::parse();
    if args.keys == 0 || args.threads == 0 {
        return Err("--keys and --threads must be at least 1".into());
    }
    let wanted = |name: &str| args.only.is_empty() || args.only.iter().any(|o| o == name);
    for o in &args.only {
        if !["lsm-local", "lsm-s3", "slatedb"].contains(&o.as_str()) {
            return Err(
                format!("--only: unknown engine {o:?} (lsm-local, lsm-s3, slatedb)").into(),
            );
        }
    }
    std::fs::create_dir_all(&args.data)?;
    let machine = Machine::detect(&args.data);
    let load = || {
        std::fs::read_to_string("/proc/loadavg")
            .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(", "))
            .unwrap_or_else(|_| "unknown".into())
    };
    let load_start = load();
    let started = Instant::now();
    eprintln!("generating {} keys", thousands(args.keys));
    let data = Data::new(args.keys);

    let server = objstore::testing::S3Server::start()?;
    let wait = Duration::from_millis(args.latency_ms);
    let throttle = ThrottleConfig {
        wait_get_per_call: wait,
        wait_put_per_call: wait,
        wait_list_per_call: wait,
        wait_list_with_delimiter_per_call: wait,
        wait_delete_per_call: wait,
        ..ThrottleConfig::default()
    };
    let bucket: Arc<dyn ObjectStore> =
        Arc::new(ThrottledStore::new(server.bucket("bench")?, throttle));

    let mut runs = Vec::new();
    if wanted("lsm-local") {
        eprintln!("lsm with local tables");
        let dir = tempfile::tempdir_in(&args.data)?;
        runs.push(run_lsm(
            "lsm, local tables",
            &data,
            &args,
            dir.path(),
            None,
        )?);
    }
    if wanted("lsm-s3") {
        eprintln!("lsm with tables on S3");
        let dir = tempfile::tempdir_in(&args.data)?;
        let counter = FaultObjectStore::new(bucket.clone());
        let store = objstore::RemoteStore::new(Arc::new(counter.clone()), "lsm")?;
        let store: Arc<dyn objstore::Store> = Arc::new(store);
        runs.push(run_lsm(
            "lsm on S3",
            &data,
            &args,
            dir.path(),
            Some((store, counter)),
        )?);
    }
    if wanted("slatedb") {
        eprintln!("SlateDB on S3");
        let counter = FaultObjectStore::new(bucket.clone());
        runs.push(run_slatedb(
            &data,
            &args,
            Arc::new(counter.clone()),
            counter,
        )?);
    }
    let md = render(
        &args,
        &machine,
        (&load_start, &load()),
        &runs,
        started.elapsed().as_secs_f64(),
    );
    if let Some(parent) = args.out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&args.out, &md)?;
    eprintln!("wrote {}", args.out.display());
    Ok(())
}
