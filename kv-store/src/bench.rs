//! `bench`: a quick db_bench-style run on a fresh store (fillrandom,
//! readrandom, seekrandom scans of 100 pairs), printing ops/s and latency
//! percentiles from an `hdrhistogram`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::cli::BenchArgs;
use crate::engine::{Engine, EngineKind, Flow, ScanSpec};
use crate::store::{Create, Store};
use crate::{Error, Result};

/// Pairs read by each scan of the `scan` workload.
pub(crate) const SCAN_LEN: u64 = 100;

/// One workload's numbers.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// Workload name.
    pub name: &'static str,
    /// Operations run.
    pub ops: u64,
    /// Wall time of all of them.
    pub elapsed: Duration,
    /// Latency of each, in nanoseconds.
    pub latency_ns: Histogram<u64>,
}

impl Outcome {
    fn new(name: &'static str) -> Result<Outcome> {
        let latency_ns = Histogram::new_with_bounds(1, 3_600_000_000_000, 3)
            .map_err(|e| Error::Internal(format!("histogram: {e}")))?;
        Ok(Outcome {
            name,
            ops: 0,
            elapsed: Duration::ZERO,
            latency_ns,
        })
    }

    fn record(&mut self, started: Instant) {
        self.latency_ns
            .saturating_record(started.elapsed().as_nanos().max(1) as u64);
        self.ops += 1;
    }
}

/// Runs the benchmark on a fresh store in `db` (kept after) or, when `None`,
/// in a temporary directory (removed after), and prints a table.
///
/// # Errors
///
/// Engine and I/O errors; a `db` that exists and is not an empty directory;
/// [`Error::Interrupted`] after Ctrl-C.
pub(crate) fn run(
    args: &BenchArgs,
    db: Option<&Path>,
    engine: Option<EngineKind>,
    out: &mut dyn Write,
) -> Result<()> {
    let _interruptible = crate::interrupt::Guard::new();
    let (dir, _temp) = fresh_dir(db, "kv-store-bench")?;
    let store = Store::open(&dir, engine, Create::IfMissing)?;
    let result = workloads(store.engine(), args, out);
    let closed = store.close();
    result.and(closed)
}

/// Where `bench` and `demo` make their store: `given` (which must not exist
/// or be an empty directory) or `store` inside a new temporary directory,
/// returned too so that it lives as long as the caller needs it.
///
/// # Errors
///
/// [`Error::BadArgument`] when `given` holds anything; I/O errors.
pub(crate) fn fresh_dir(
    given: Option<&Path>,
    prefix: &str,
) -> Result<(PathBuf, Option<tempfile::TempDir>)> {
    match given {
        Some(dir) => {
            if dir.exists() && !dir.is_dir() {
                return Err(Error::NotADirectory {
                    path: dir.to_path_buf(),
                });
            }
            let holds_files = match std::fs::read_dir(dir) {
                Ok(mut entries) => entries.next().is_some(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
                Err(e) => return Err(Error::io(dir, e)),
            };
            if holds_files {
                return Err(Error::BadArgument(format!(
                    "--db {} is not empty; this command makes a fresh store, so give a new or empty directory",
                    dir.display()
                )));
            }
            Ok((dir.to_path_buf(), None))
        }
        None => {
            let temp = tempfile::Builder::new()
                .prefix(prefix)
                .tempdir()
                .map_err(|e| Error::io(std::env::temp_dir(), e))?;
            Ok((temp.path().join("store"), Some(temp)))
        }
    }
}

fn workloads(engine: &dyn Engine, args: &BenchArgs, out: &mut dyn Write) -> Result<()> {
    let w = |r: std::io::Result<()>| r.map_err(Error::Output);
    let num = args.num;
    w(writeln!(
        out,
        "engine {}, {num} keys of 16 bytes, values of {} bytes; writes are not synced one by one (one sync at the end of fillrandom)",
        engine.kind(),
        args.value_size
    ))?;
    let mut rng = StdRng::seed_from_u64(0x6b76);
    let keys: Vec<[u8; 16]> = (0..num)
        .map(|_| {
            let mut k = [0u8; 16];
            k.copy_from_slice(format!("{:016x}", rng.random::<u64>()).as_bytes());
            k
        })
        .collect();
    let value: Vec<u8> = (0..args.value_size).map(|i| (i % 251) as u8).collect();

    let mut fill = Outcome::new("fillrandom")?;
    let pb = crate::progress::bar(Some(num), "fillrandom", false);
    let t0 = Instant::now();
    for k in &keys {
        crate::interrupt::check()?;
        let t = Instant::now();
        engine.put(k, &value)?;
        fill.record(t);
        pb.inc(1);
    }
    engine.sync()?;
    fill.elapsed = t0.elapsed();
    pb.finish_and_clear();

    let mut read = Outcome::new("readrandom")?;
    let pb = crate::progress::bar(Some(num), "readrandom", false);
    let t0 = Instant::now();
    for _ in 0..num {
        crate::interrupt::check()?;
        let k = &keys[rng.random_range(0..keys.len())];
        let t = Instant::now();
        let found = engine.get(k)?;
        read.record(t);
        if found.is_none() {
            return Err(Error::Internal(
                "bench: a written key was not found".to_string(),
            ));
        }
        pb.inc(1);
    }
    read.elapsed = t0.elapsed();
    pb.finish_and_clear();

    let scans = (num / SCAN_LEN).max(1);
    let mut scan = Outcome::new("scan100")?;
    let pb = crate::progress::bar(Some(scans), "scan", false);
    let t0 = Instant::now();
    for _ in 0..scans {
        crate::interrupt::check()?;
        let k = &keys[rng.random_range(0..keys.len())];
        let spec = ScanSpec {
            from: Some(k.to_vec()),
            limit: Some(SCAN_LEN),
            ..ScanSpec::default()
        };
        let t = Instant::now();
        engine.scan(&spec, &mut |_, _| Ok(Flow::Continue))?;
        scan.record(t);
        pb.inc(1);
    }
    scan.elapsed = t0.elapsed();
    pb.finish_and_clear();

    w(writeln!(
        out,
        "{:<11} {:>9} {:>12} {:>10} {:>10} {:>10} {:>10}",
        "workload", "ops", "ops/s", "p50 us", "p99 us", "p99.9 us", "max us"
    ))?;
    for o in [&fill, &read, &scan] {
        let us = |q: f64| o.latency_ns.value_at_quantile(q) as f64 / 1000.0;
        w(writeln!(
            out,
            "{:<11} {:>9} {:>12} {:>10.1} {:>10.1} {:>10.1} {:>10.1}",
            o.name,
            o.ops,
            crate::stats::per_second(o.ops, o.elapsed).trim_end_matches("/s"),
            us(0.5),
            us(0.99),
            us(0.999),
            o.latency_ns.max() as f64 / 1000.0
        ))?;
    }
    w(writeln!(
        out,
        "(scan100: one op is a seek plus {SCAN_LEN} pairs read)"
    ))
}
