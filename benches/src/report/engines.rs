//! The engine workloads: db_bench's fill/read/seek/delete phases and YCSB
//! A-F with a Zipfian key chooser, run the same way over every engine
//! behind [`KvEngine`], with latency percentiles, write and space
//! amplification and peak memory.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::{Cell, Plot, Scale, Section, Series, Table};
use crate::SplitMix64;

/// What a workload needs of an engine. Errors are strings: the report
/// prints them and stops that engine's run.
///
/// # Concurrency
///
/// The threaded phases call `get` from several threads at once, and
/// `readwhilewriting` and the durable phases call `put` from one or more
/// threads beside them: every method may run concurrently with any other.
pub trait KvEngine: Send + Sync {
    /// Sets `key` to `value`.
    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), String>;
    /// Sets every pair, in one transaction where the engine has them.
    fn put_batch(&self, pairs: &[(&[u8], &[u8])]) -> Result<(), String> {
        pairs.iter().try_for_each(|(k, v)| self.put(k, v))
    }
    /// Whether `key` is present (its value is read in full).
    fn get(&self, key: &[u8]) -> Result<bool, String>;
    /// Removes `key`.
    fn delete(&self, key: &[u8]) -> Result<(), String>;
    /// Reads up to `count` pairs from the first key at or after `from`;
    /// returns how many it read.
    fn scan(&self, from: &[u8], count: usize) -> Result<usize, String>;
    /// Reads pairs in order from the first, up to `max` or until `deadline`
    /// (checked every few hundred pairs); returns how many.
    fn scan_all(&self, max: usize, deadline: Instant) -> Result<usize, String>;
    /// Makes everything written durable and flushes the memtables to
    /// tables; compactions may go on in the background, as after a
    /// db_bench fill.
    fn settle(&self) -> Result<(), String>;
    /// Closes the engine: afterwards its files may be reopened.
    fn close(self: Box<Self>) -> Result<(), String> {
        Ok(())
    }
}

/// Opens (or creates, or reopens) an engine in a directory; with `durable`,
/// every `put` is synced before it returns.
pub type Open = fn(&Path, bool) -> Result<Box<dyn KvEngine>, String>;

/// An engine the report runs: a name and how to open it in a directory.
pub struct EngineSpec {
    /// The name in the tables, e.g. `"lsm"` or `"fjall 3.1 (peer)"`.
    pub name: String,
    /// Opens the engine.
    pub open: Open,
    /// Keys per `put_batch` call in the fills: 1 (a `put` each) for the
    /// LSM engines, as db_bench fills; 1,000 per transaction for B+ trees.
    pub fill_batch: usize,
}

/// Sizes and time budgets of one run. Every phase stops at its operation
/// count or its budget, whichever comes first (db_bench's `--duration`),
/// and reports the operations it did.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    /// Keys loaded by the fills (at most; a fill may stop at its budget).
    pub keys: u64,
    /// Operations of each read or YCSB phase, at most.
    pub ops: u64,
    /// Bytes per key (at least 8).
    pub key_len: usize,
    /// Bytes per value.
    pub value_len: usize,
    /// Budget of fillseq, seconds.
    pub fillseq_secs: f64,
    /// Budget of fillrandom, seconds.
    pub fill_secs: f64,
    /// Budget of every other phase, seconds.
    pub phase_secs: f64,
    /// The larger-value runs: value bytes and keys loaded, at most.
    pub big_values: [(usize, u64); 2],
    /// Budget of each larger-value fill, seconds.
    pub big_fill_secs: f64,
    /// Durable single-key commits per durable phase, at most.
    pub durable_ops: u64,
}

impl Sizes {
    /// The sizes of a scale, 16-byte keys and 100-byte values.
    ///
    /// The large tier's budgets, so six engines (lsm, btree, fjall, redb,
    /// RocksDB, LMDB) finish in 40 minutes on a 2-core machine, about 370 s
    /// each: fillseq 30 s + fillrandom 150 s (all 20 M keys for an engine
    /// filling at 134 k keys/s or more) + two larger-value fills of 25 s +
    /// 22 other phases of 5 s = 340 s of budgets, plus settling, closing,
    /// evicting, reopening and removing files: 2-8 s per engine in a
    /// release run at a tenth of the budgets (`--budget-factor 0.1`,
    /// 1.6-4.8 M keys loaded), 25-50 s in a debug-info run on a busy
    /// machine; allow 30 s at 20 M keys. Six engines: 6 × 370 s = 37 min
    /// at most. An engine faster than its budgets finishes sooner.
    pub fn of(scale: Scale) -> Sizes {
        let pick = |tiny, quick, full, large| scale.pick4(tiny, quick, full, large);
        let secs =
            |tiny: f64, quick: f64, full: f64, large: f64| scale.pick4(tiny, quick, full, large);
        Sizes {
            keys: pick(2_000, 200_000, 1_000_000, 20_000_000),
            ops: pick(1_000, 100_000, 500_000, 2_000_000),
            key_len: 16,
            value_len: 100,
            fillseq_secs: secs(60.0, 60.0, 120.0, 30.0),
            fill_secs: secs(60.0, 60.0, 120.0, 150.0),
            phase_secs: secs(60.0, 3.0, 10.0, 5.0),
            // About the same bytes as the 100-byte run (2.3 GB at large).
            big_values: [
                (1024, pick(500, 20_000, 100_000, 2_000_000)),
                (4096, pick(200, 5_000, 25_000, 500_000)),
            ],
            big_fill_secs: secs(60.0, 20.0, 30.0, 25.0),
            durable_ops: pick(100, 1_000, 10_000, 100_000),
        }
    }

    /// Every budget times `factor` (a slower or faster machine).
    pub fn budgets_times(mut self, factor: f64) -> Sizes {
        self.fillseq_secs *= factor;
        self.fill_secs *= factor;
        self.phase_secs *= factor;
        self.big_fill_secs *= factor;
        self
    }
}

/// A permutation of `0..n` without a table: rounds of bijections of the
/// enclosing power of two (multiply by an odd constant, xor-shift), walked
/// until the value falls below `n` (fewer than two steps on average).
#[derive(Clone, Copy, Debug)]
struct Permutation {
    n: u64,
    bits: u32,
}

impl Permutation {
    fn new(n: u64) -> Permutation {
        Permutation {
            n: n.max(1),
            bits: (64 - (n.max(2) - 1).leading_zeros()).max(2),
        }
    }

    fn at(&self, i: u64) -> u64 {
        debug_assert!(i < self.n);
        let mask = if self.bits == 64 {
            u64::MAX
        } else {
            (1u64 << self.bits) - 1
        };
        let half = self.bits / 2;
        let mut x = i;
        loop {
            for k in [
                0x9e37_79b9_7f4a_7c15u64,
                0xbf58_476d_1ce4_e5b9,
                0x94d0_49bb_1331_11eb,
            ] {
                x = x.wrapping_mul(k) & mask;
                x ^= x >> half;
            }
            if x < self.n {
                return x;
            }
        }
    }
}

/// Key `i`: its big-endian index, padded; ordered as the index is.
fn key(i: u64, len: usize) -> Vec<u8> {
    let mut k = vec![b'k'; len.max(8)];
    k[..8].copy_from_slice(&i.to_be_bytes());
    k
}

/// Value of key `i`: `len` random bytes, eight from each draw. They are
/// incompressible (db_bench's default values compress to half), so
/// compression saves no engine any space here.
fn value(i: u64, len: usize) -> Vec<u8> {
    let mut rng = SplitMix64::new(i);
    let mut v = vec![0u8; len];
    for chunk in v.chunks_mut(8) {
        chunk.copy_from_slice(&rng.next_u64().to_le_bytes()[..chunk.len()]);
    }
    v
}

/// YCSB's Zipfian generator (Gray et al., "Quickly generating billion-record
/// synthetic databases", 1994) over `0..n` with skew `theta`, ranks
/// scrambled by a hash so the hot keys are spread over the key space.
pub struct Zipfian {
    n: u64,
    theta: f64,
    alpha: f64,
    zeta_n: f64,
    eta: f64,
    rng: SplitMix64,
}

impl Zipfian {
    /// YCSB's default skew 0.99.
    pub fn new(n: u64, seed: u64) -> Zipfian {
        let theta = 0.99;
        let zeta = |n: u64| (1..=n).map(|i| 1.0 / (i as f64).powf(theta)).sum::<f64>();
        let zeta_n = zeta(n);
        let zeta_2 = zeta(2);
        Zipfian {
            n,
            theta,
            alpha: 1.0 / (1.0 - theta),
            zeta_n,
            eta: (1.0 - (2.0 / n as f64).powf(1.0 - theta)) / (1.0 - zeta_2 / zeta_n),
            rng: SplitMix64::new(seed),
        }
    }

    /// The next rank, 0 the most popular.
    pub fn next_rank(&mut self) -> u64 {
        let u = (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let uz = u * self.zeta_n;
        if uz < 1.0 {
            return 0;
        }
        if uz < 1.0 + 0.5f64.powf(self.theta) {
            return 1;
        }
        let rank = (self.n as f64 * (self.eta * u - self.eta + 1.0).powf(self.alpha)) as u64;
        rank.min(self.n - 1)
    }

    /// The next key index: a rank scrambled over `0..n` (FNV-1a of the
    /// rank, as YCSB's scrambled generator does).
    pub fn next_key(&mut self) -> u64 {
        let rank = self.next_rank();
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in rank.to_le_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100_0000_01b3);
        }
        h % self.n
    }
}

/// One phase's measurements.
#[derive(Clone, Debug)]
pub struct Phase {
    /// db_bench or YCSB name.
    pub name: &'static str,
    /// Operations done (keys written, for a fill).
    pub ops: u64,
    /// Operations per second.
    pub ops_per_sec: f64,
    /// Latency percentiles of one call, microseconds: p50, p99, p99.9.
    pub latency_us: [f64; 3],
    /// The longest single call, microseconds.
    pub max_us: f64,
    /// Seconds spent in calls slower than [`SLOW_NS`].
    pub slow_secs: f64,
}

/// A call slower than this counts as stalled: one threshold for every
/// engine, whatever its own notion of a slowdown.
pub const SLOW_NS: u64 = 1_000_000;

/// Write and space amplification of one fill.
#[derive(Clone, Debug)]
pub struct Amplification {
    /// Bytes per value.
    pub value_len: usize,
    /// Keys the fill loaded.
    pub keys: u64,
    /// Bytes the process wrote to storage during the fill and its settle,
    /// over the bytes of keys and values written.
    pub write: f64,
    /// Bytes on disk after the fill settled, over the bytes of live keys
    /// and values.
    pub space: f64,
    /// Bytes the process wrote to storage during the fill and its settle,
    /// per second of both: the bandwidth the engine drew from the device.
    pub write_mb_per_sec: f64,
}

/// An engine's results: its phases, and amplification of its fills.
#[derive(Clone, Debug)]
pub struct EngineRun {
    /// The engine.
    pub name: String,
    /// Keys per transaction of its fills.
    pub fill_batch: usize,
    /// Each phase in order.
    pub phases: Vec<Phase>,
    /// fillrandom's amplification, then each larger-value fill's.
    pub amplification: Vec<Amplification>,
    /// The writer's rate beside the readers of readwhilewriting, ops/s.
    pub writer_ops_per_sec: f64,
    /// Peak resident memory of the process during the run, MiB: the
    /// kernel's high-water mark, which counts the pages of mapped files
    /// the engine touched (page cache it shares with the OS).
    pub peak_rss_mib: f64,
    /// Peak anonymous resident memory during the run, MiB: heap, caches
    /// and memtables, without mapped files (`RssAnon`, sampled every 20 ms).
    pub peak_anon_mib: f64,
    /// Wall time of the engine's whole run, seconds: phases, settling,
    /// reopening, removing files.
    pub wall_secs: f64,
    /// The error that stopped the run early, if one did.
    pub error: Option<String>,
}

/// Bytes this process caused to be written to storage (`/proc/self/io`
/// `write_bytes`), falling back to bytes passed to write calls (`wchar`)
/// where the first is not counted (tmpfs).
fn bytes_written() -> u64 {
    let io = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    let field = |name: &str| {
        io.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    let disk = field("write_bytes:");
    if disk > 0 { disk } else { field("wchar:") }
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_bytes(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Resets the kernel's peak-RSS counter for this process, so each engine's
/// peak is its own; then reads it.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_mib() -> f64 {
    status_mib("VmHWM:")
}

/// A `/proc/self/status` field given in kB, in MiB (0 if absent).
fn status_mib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Samples `RssAnon` every [`AnonPeak::PERIOD`] on its own thread and keeps
/// the largest: the kernel keeps a high-water mark only for the whole
/// resident set, in which the pages of memory-mapped files (the page cache
/// an mmap engine reads through) count as much as its heap. A peak shorter
/// than the period can be missed; memtables and caches live far longer.
struct AnonPeak {
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<f64>,
}

impl AnonPeak {
    const PERIOD: Duration = Duration::from_millis(20);

    fn start() -> AnonPeak {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let mut peak = status_mib("RssAnon:");
            // Ends when `finish` sends or drops the sender.
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                stopped.recv_timeout(Self::PERIOD)
            {
                peak = peak.max(status_mib("RssAnon:"));
            }
            peak.max(status_mib("RssAnon:"))
        });
        AnonPeak { stop, thread }
    }

    /// The largest sample, in MiB.
    fn finish(self) -> f64 {
        drop(self.stop);
        self.thread.join().unwrap_or(0.0)
    }
}

/// Latencies of one phase's calls.
struct Timing {
    histogram: Histogram<u64>,
    ops: u64,
    max_ns: u64,
    slow_ns: u64,
}

impl Timing {
    fn new() -> Result<Timing, String> {
        Ok(Timing {
            histogram: Histogram::new_with_bounds(1, 600_000_000_000, 3)
                .map_err(|e| e.to_string())?,
            ops: 0,
            max_ns: 0,
            slow_ns: 0,
        })
    }

    /// One call of `ns` nanoseconds that did `ops` operations.
    fn record(&mut self, ns: u64, ops: u64) {
        let _ = self.histogram.record(ns.max(1));
        self.ops += ops;
        self.max_ns = self.max_ns.max(ns);
        if ns > SLOW_NS {
            self.slow_ns += ns;
        }
    }

    fn merge(&mut self, other: &Timing) {
        let _ = self.histogram.add(&other.histogram);
        self.ops += other.ops;
        self.max_ns = self.max_ns.max(other.max_ns);
        self.slow_ns += other.slow_ns;
    }

    fn phase(&self, name: &'static str, secs: f64) -> Phase {
        let us = |q: f64| self.histogram.value_at_quantile(q) as f64 / 1e3;
        Phase {
            name,
            ops: self.ops,
            ops_per_sec: self.ops as f64 / secs.max(1e-9),
            latency_us: [us(0.50), us(0.99), us(0.999)],
            max_us: self.max_ns as f64 / 1e3,
            slow_secs: self.slow_ns as f64 / 1e9,
        }
    }
}

/// Times up to `calls` calls of `op`, stopping once `budget_secs` have
/// passed (after at least one call); `op` returns the operations it did.
fn timed(
    name: &'static str,
    calls: u64,
    budget_secs: f64,
    mut op: impl FnMut(u64) -> Result<u64, String>,
) -> Result<Phase, String> {
    let mut timing = Timing::new()?;
    let budget = Duration::from_secs_f64(budget_secs);
    let started = Instant::now();
    for i in 0..calls {
        let t = Instant::now();
        let ops = op(i)?;
        let now = Instant::now();
        timing.record((now - t).as_nanos() as u64, ops);
        if now - started >= budget {
            break;
        }
    }
    Ok(timing.phase(name, started.elapsed().as_secs_f64()))
}

/// [`timed`] with one operation per call.
fn phase(
    name: &'static str,
    ops: u64,
    budget_secs: f64,
    mut op: impl FnMut(u64) -> Result<(), String>,
) -> Result<Phase, String> {
    timed(name, ops, budget_secs, |i| op(i).map(|()| 1))
}

/// `op` on `threads` threads at once, `ops` in all at most, each thread
/// stopping at its share or the budget; `op` gets the thread's index and
/// its own random stream.
fn threaded(
    name: &'static str,
    threads: usize,
    ops: u64,
    budget_secs: f64,
    op: &(dyn Fn(usize, &mut SplitMix64) -> Result<(), String> + Sync),
) -> Result<Phase, String> {
    let share = (ops / threads as u64).max(1);
    let budget = Duration::from_secs_f64(budget_secs);
    let started = Instant::now();
    let timings: Vec<Result<Timing, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut rng = SplitMix64::new(1000 + t as u64);
                    let mut timing = Timing::new()?;
                    for _ in 0..share {
                        let t0 = Instant::now();
                        op(t, &mut rng)?;
                        let now = Instant::now();
                        timing.record((now - t0).as_nanos() as u64, 1);
                        if now - started >= budget {
                            break;
                        }
                    }
                    Ok(timing)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(format!("{name}: a thread panicked")))
            })
            .collect()
    });
    let secs = started.elapsed().as_secs_f64();
    let mut total = Timing::new()?;
    for timing in timings {
        total.merge(&timing?);
    }
    Ok(total.phase(name, secs))
}

/// Writes keys `key_of(0..keys)` with `value_len`-byte values, `batch` per
/// call, until all are written or the budget ends: a fill.
#[allow(clippy::too_many_arguments, reason = "one call site per fill kind")]
fn fill(
    name: &'static str,
    db: &dyn KvEngine,
    batch: usize,
    keys: u64,
    budget_secs: f64,
    key_of: impl Fn(u64) -> u64,
    key_len: usize,
    value_len: usize,
) -> Result<Phase, String> {
    let batch = batch.max(1) as u64;
    let mut timing = Timing::new()?;
    let budget = Duration::from_secs_f64(budget_secs);
    let started = Instant::now();
    for call in 0..keys.div_ceil(batch) {
        // The pairs are made before the clock starts: only the engine's
        // call is timed.
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = (call * batch..((call + 1) * batch).min(keys))
            .map(|i| {
                let k = key_of(i);
                (key(k, key_len), value(k, value_len))
            })
            .collect();
        let t = Instant::now();
        if let [(k, v)] = pairs.as_slice() {
            db.put(k, v)?;
        } else {
            let refs: Vec<(&[u8], &[u8])> = pairs
                .iter()
                .map(|(k, v)| (k.as_slice(), v.as_slice()))
                .collect();
            db.put_batch(&refs)?;
        }
        let now = Instant::now();
        timing.record((now - t).as_nanos() as u64, pairs.len() as u64);
        if now - started >= budget {
            break;
        }
    }
    Ok(timing.phase(name, started.elapsed().as_secs_f64()))
}

/// Drops every file under `dir` from the OS page cache
/// (`posix_fadvise(POSIX_FADV_DONTNEED)`, no privileges needed), after
/// syncing it, as dirty pages are not dropped.
fn evict(dir: &Path) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            evict(&path)?;
            continue;
        }
        let file = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        file.sync_data()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed)
            .map_err(|e| format!("{}: posix_fadvise: {e}", path.display()))?;
    }
    Ok(())
}

/// Settles and closes `db`, evicts its files from the page cache, and
/// reopens it: the next reads pay for I/O.
fn reopen_cold(
    spec: &EngineSpec,
    db: Box<dyn KvEngine>,
    dir: &Path,
) -> Result<Box<dyn KvEngine>, String> {
    db.settle()?;
    db.close()?;
    evict(dir)?;
    (spec.open)(dir, false)
}

/// Runs every phase on `spec` in a fresh directory under `root`.
pub fn run_engine(
    spec: &EngineSpec,
    root: &Path,
    sizes: Sizes,
    progress: &mut dyn FnMut(&str),
) -> EngineRun {
    let dir: PathBuf = root.join(spec.name.replace(|c: char| !c.is_ascii_alphanumeric(), "_"));
    let _ = std::fs::remove_dir_all(&dir);
    let mut run = EngineRun {
        name: spec.name.clone(),
        fill_batch: spec.fill_batch,
        phases: Vec::new(),
        amplification: Vec::new(),
        writer_ops_per_sec: 0.0,
        peak_rss_mib: 0.0,
        peak_anon_mib: 0.0,
        wall_secs: 0.0,
        error: None,
    };
    let started = Instant::now();
    reset_peak_rss();
    let anon = AnonPeak::start();
    if let Err(e) = phases(spec, &dir, sizes, &mut run, progress) {
        run.error = Some(e);
    }
    run.peak_anon_mib = anon.finish();
    run.peak_rss_mib = peak_rss_mib();
    let _ = std::fs::remove_dir_all(&dir);
    run.wall_secs = started.elapsed().as_secs_f64();
    run
}

/// Progress steps [`run_engine`] reports per engine.
pub const STEPS_PER_ENGINE: u64 = 8;

fn fresh_dir(dir: &Path, name: &str) -> Result<PathBuf, String> {
    let d = dir.join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).map_err(|e| format!("{}: {e}", d.display()))?;
    Ok(d)
}

fn expect_found(phase: &str, k: u64, found: bool) -> Result<(), String> {
    match found {
        true => Ok(()),
        false => Err(format!("{phase}: key {k} missing")),
    }
}

fn phases(
    spec: &EngineSpec,
    dir: &Path,
    s: Sizes,
    run: &mut EngineRun,
    progress: &mut dyn FnMut(&str),
) -> Result<(), String> {
    let (n, ops, kl, vl) = (s.keys, s.ops, s.key_len, s.value_len);
    let pair_bytes = (kl + vl) as f64;
    let batch = spec.fill_batch;
    // fillseq in its own directory, so fillrandom's amplification is its own.
    progress(&format!("{}: fillseq", spec.name));
    {
        let seq_dir = fresh_dir(dir, "seq")?;
        let db = (spec.open)(&seq_dir, false)?;
        run.phases.push(fill(
            "fillseq",
            &*db,
            batch,
            n,
            s.fillseq_secs,
            |i| i,
            kl,
            vl,
        )?);
        db.settle()?;
        db.close()?;
    }
    let _ = std::fs::remove_dir_all(dir.join("seq"));
    let main_dir = fresh_dir(dir, "main")?;
    let mut db = (spec.open)(&main_dir, false)?;
    progress(&format!("{}: fillrandom", spec.name));
    // Every key once, in random order; a fill cut by its budget loaded the
    // first `loaded` of the order, and every later read picks among those.
    let perm = Permutation::new(n);
    let before = bytes_written();
    let fill_started = Instant::now();
    let filled = fill(
        "fillrandom",
        &*db,
        batch,
        n,
        s.fill_secs,
        |i| perm.at(i),
        kl,
        vl,
    )?;
    let loaded = filled.ops.max(1);
    run.phases.push(filled);
    db.settle()?;
    let written = (bytes_written() - before) as f64;
    run.amplification.push(Amplification {
        value_len: vl,
        keys: loaded,
        write: written / (loaded as f64 * pair_bytes),
        space: dir_bytes(&main_dir) as f64 / (loaded as f64 * pair_bytes),
        write_mb_per_sec: written / fill_started.elapsed().as_secs_f64().max(1e-9) / 1e6,
    });
    let existing = |rng: &mut SplitMix64| perm.at(rng.next_u64() % loaded);

    progress(&format!("{}: overwrite, reads, seeks", spec.name));
    let mut rng = SplitMix64::new(42);
    run.phases.push(phase("overwrite", ops, s.phase_secs, |_| {
        let k = existing(&mut rng);
        db.put(&key(k, kl), &value(k ^ 1, vl))
    })?);
    let mut rng = SplitMix64::new(7);
    run.phases.push(phase("readrandom", ops, s.phase_secs, |_| {
        let k = existing(&mut rng);
        expect_found("readrandom", k, db.get(&key(k, kl))?)
    })?);
    run.phases
        .push(phase("readmissing", ops, s.phase_secs, |_| {
            let k = n + rng.next_u64() % n;
            match db.get(&key(k, kl))? {
                false => Ok(()),
                true => Err(format!("readmissing: key {k} found")),
            }
        })?);
    {
        let t = Instant::now();
        let deadline = t + Duration::from_secs_f64(s.phase_secs);
        let read = db.scan_all(loaded as usize, deadline)?;
        let secs = t.elapsed().as_secs_f64().max(1e-9);
        if (read as u64) < loaded && Instant::now() < deadline {
            return Err(format!("readseq read {read} of {loaded} pairs"));
        }
        run.phases.push(Phase {
            name: "readseq",
            ops: read as u64,
            ops_per_sec: read as f64 / secs,
            latency_us: [f64::NAN; 3],
            max_us: f64::NAN,
            slow_secs: f64::NAN,
        });
    }
    let scans = (ops / 10).max(1);
    run.phases
        .push(phase("seekrandom+scan100", scans, s.phase_secs, |_| {
            let k = existing(&mut rng);
            match db.scan(&key(k, kl), 100)? {
                0 => Err(format!("seekrandom: nothing at or after key {k}")),
                _ => Ok(()),
            }
        })?);

    progress(&format!("{}: threads, readwhilewriting", spec.name));
    {
        let db: &dyn KvEngine = &*db;
        let read = |_: usize, rng: &mut SplitMix64| {
            let k = existing(rng);
            expect_found("readrandom", k, db.get(&key(k, kl))?)
        };
        for (name, threads) in [
            ("readrandom (1 thread)", 1),
            ("readrandom (2 threads)", 2),
            ("readrandom (4 threads)", 4),
        ] {
            run.phases
                .push(threaded(name, threads, ops, s.phase_secs, &read)?);
        }
        // One writer at full speed beside one reader (two cores in all).
        let stop = AtomicBool::new(false);
        let (readers, writer) = std::thread::scope(|scope| {
            let writer = scope.spawn(|| -> Result<(u64, f64), String> {
                let mut rng = SplitMix64::new(99);
                let t = Instant::now();
                let mut writes = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let k = existing(&mut rng);
                    db.put(&key(k, kl), &value(k ^ 3, vl))?;
                    writes += 1;
                }
                Ok((writes, t.elapsed().as_secs_f64()))
            });
            let readers = threaded("readwhilewriting", 1, ops, s.phase_secs, &read);
            stop.store(true, Ordering::Relaxed);
            let writer = writer
                .join()
                .unwrap_or_else(|_| Err("readwhilewriting: the writer panicked".into()));
            (readers, writer)
        });
        run.phases.push(readers?);
        let (writes, secs) = writer?;
        run.writer_ops_per_sec = writes as f64 / secs.max(1e-9);
    }

    progress(&format!("{}: YCSB A-F", spec.name));
    // Logical index `i` of the keys present: the loaded ones, then those
    // YCSB D and E insert (from `n` up, never loaded).
    let mut inserted = 0u64;
    let logical = |i: u64| {
        if i < loaded {
            perm.at(i)
        } else {
            n + (i - loaded)
        }
    };
    let mut zipf = Zipfian::new(loaded, 11);
    for (name, read_pct) in [("ycsb-a", 50u64), ("ycsb-b", 95), ("ycsb-c", 100)] {
        run.phases.push(phase(name, ops, s.phase_secs, |_| {
            let k = perm.at(zipf.next_key());
            if rng.next_u64() % 100 < read_pct {
                expect_found(name, k, db.get(&key(k, kl))?)
            } else {
                db.put(&key(k, kl), &value(k + 1, vl))
            }
        })?);
    }
    // D: read latest (the most recently inserted keys are the hot ones).
    run.phases.push(phase("ycsb-d", ops, s.phase_secs, |_| {
        let present = loaded + inserted;
        if rng.next_u64() % 100 < 95 {
            let back = zipf.next_rank().min(present - 1);
            let k = logical(present - 1 - back);
            expect_found("ycsb-d", k, db.get(&key(k, kl))?)
        } else {
            let k = logical(present);
            inserted += 1;
            db.put(&key(k, kl), &value(k, vl))
        }
    })?);
    // E: short scans (1 to 100 pairs) from Zipfian keys, 5% inserts.
    run.phases
        .push(phase("ycsb-e", (ops / 10).max(1), s.phase_secs, |_| {
            if rng.next_u64() % 100 < 95 {
                let len = 1 + (rng.next_u64() % 100) as usize;
                let k = perm.at(zipf.next_key());
                match db.scan(&key(k, kl), len)? {
                    0 => Err(format!("ycsb-e: nothing at or after key {k}")),
                    _ => Ok(()),
                }
            } else {
                let k = logical(loaded + inserted);
                inserted += 1;
                db.put(&key(k, kl), &value(k, vl))
            }
        })?);
    // F: read-modify-write half the time.
    run.phases.push(phase("ycsb-f", ops, s.phase_secs, |_| {
        let k = perm.at(zipf.next_key());
        expect_found("ycsb-f", k, db.get(&key(k, kl))?)?;
        if rng.next_u64().is_multiple_of(2) {
            db.put(&key(k, kl), &value(k + 2, vl))
        } else {
            Ok(())
        }
    })?);

    progress(&format!("{}: cold reads", spec.name));
    db = reopen_cold(spec, db, &main_dir)?;
    run.phases
        .push(phase("readrandom (cold)", ops, s.phase_secs, |_| {
            let k = existing(&mut rng);
            expect_found("readrandom (cold)", k, db.get(&key(k, kl))?)
        })?);
    db = reopen_cold(spec, db, &main_dir)?;
    run.phases.push(phase(
        "seekrandom+scan100 (cold)",
        scans,
        s.phase_secs,
        |_| {
            let k = existing(&mut rng);
            match db.scan(&key(k, kl), 100)? {
                0 => Err(format!("seekrandom (cold): nothing at or after key {k}")),
                _ => Ok(()),
            }
        },
    )?);
    run.phases
        .push(phase("deleterandom", ops, s.phase_secs, |_| {
            let k = existing(&mut rng);
            db.delete(&key(k, kl))
        })?);
    db.settle()?;
    db.close()?;
    let _ = std::fs::remove_dir_all(&main_dir);

    progress(&format!("{}: durable commits", spec.name));
    {
        let durable_dir = fresh_dir(dir, "durable")?;
        let db = (spec.open)(&durable_dir, true)?;
        run.phases.push(phase(
            "durable put (1 thread)",
            s.durable_ops,
            s.phase_secs,
            |_| {
                let k = rng.next_u64() >> 20;
                db.put(&key(k, kl), &value(k, vl))
            },
        )?);
        let db: &dyn KvEngine = &*db;
        let put = |_: usize, rng: &mut SplitMix64| {
            let k = rng.next_u64() >> 20;
            db.put(&key(k, kl), &value(k, vl))
        };
        run.phases.push(threaded(
            "durable put (4 threads)",
            4,
            s.durable_ops,
            s.phase_secs,
            &put,
        )?);
    }
    let _ = std::fs::remove_dir_all(dir.join("durable"));

    progress(&format!("{}: values of 1 KiB and 4 KiB", spec.name));
    for (big_len, keys) in s.big_values {
        let (fill_name, read_name) = match big_len {
            1024 => ("fillrandom (1 KiB values)", "readrandom (1 KiB values)"),
            4096 => ("fillrandom (4 KiB values)", "readrandom (4 KiB values)"),
            other => return Err(format!("no phase names for {other}-byte values")),
        };
        let big_dir = fresh_dir(dir, &format!("values{big_len}"))?;
        let db = (spec.open)(&big_dir, false)?;
        let perm = Permutation::new(keys);
        let before = bytes_written();
        let fill_started = Instant::now();
        let filled = fill(
            fill_name,
            &*db,
            batch,
            keys,
            s.big_fill_secs,
            |i| perm.at(i),
            kl,
            big_len,
        )?;
        let loaded = filled.ops.max(1);
        run.phases.push(filled);
        db.settle()?;
        let bytes = loaded as f64 * (kl + big_len) as f64;
        let written = (bytes_written() - before) as f64;
        run.amplification.push(Amplification {
            value_len: big_len,
            keys: loaded,
            write: written / bytes,
            space: dir_bytes(&big_dir) as f64 / bytes,
            write_mb_per_sec: written / fill_started.elapsed().as_secs_f64().max(1e-9) / 1e6,
        });
        run.phases.push(phase(read_name, ops, s.phase_secs, |_| {
            let k = perm.at(rng.next_u64() % loaded);
            expect_found(read_name, k, db.get(&key(k, kl))?)
        })?);
        db.close()?;
        let _ = std::fs::remove_dir_all(&big_dir);
    }
    Ok(())
}

/// Bytes of a run's data as "2.32 GB, 35× the 64 MiB block cache".
fn data_size(keys: u64, pair_bytes: usize) -> String {
    let bytes = keys as f64 * pair_bytes as f64;
    format!(
        "{:.2} GB of keys and values, {:.1}× the 64 MiB block cache",
        bytes / 1e9,
        bytes / f64::from(64u32 << 20)
    )
}

fn find<'a>(r: &'a EngineRun, name: &str) -> Option<&'a Phase> {
    r.phases.iter().find(|p| p.name == name)
}

/// The report section for `runs` of the same sizes.
pub fn section(
    runs: &[EngineRun],
    sizes: Sizes,
    limits: Result<super::device::DeviceLimits, String>,
) -> Section {
    // The longest run names every phase (an engine stopped early lacks some).
    let names: Vec<&'static str> = runs
        .iter()
        .max_by_key(|r| r.phases.len())
        .map(|r| r.phases.iter().map(|p| p.name).collect())
        .unwrap_or_default();
    let engine_columns = |unit: &str| {
        let mut columns = vec!["workload".to_string()];
        columns.extend(runs.iter().map(|r| format!("{} ({unit})", r.name)));
        columns
    };
    let per_phase = |cell: &dyn Fn(&Phase) -> Cell| -> Vec<Vec<Cell>> {
        names
            .iter()
            .map(|name| {
                let mut row = vec![Cell::Text((*name).to_string())];
                row.extend(
                    runs.iter()
                        .map(|r| find(r, name).map_or(Cell::Text("failed".into()), cell)),
                );
                row
            })
            .collect()
    };
    let mut tables = vec![
        Table {
            caption: format!(
                "Throughput, {} keys of {} bytes with values of {} bytes ({}); phases run in \
                 this order, one thread unless named (fillseq, the durable commits and the \
                 larger values each on their own store).",
                super::thousands(sizes.keys),
                sizes.key_len,
                sizes.value_len,
                data_size(sizes.keys, sizes.key_len + sizes.value_len),
            ),
            columns: engine_columns("ops/s"),
            rows: per_phase(&|p| Cell::Num(p.ops_per_sec)),
        },
        Table {
            caption: "Operations each phase did before its count or its time budget ran out \
                      (keys loaded, for a fill)."
                .into(),
            columns: engine_columns("ops"),
            rows: per_phase(&|p| Cell::Num(p.ops as f64)),
        },
    ];
    let mut latency_rows = Vec::new();
    for name in names.iter().filter(|n| **n != "readseq") {
        for r in runs {
            if let Some(p) = find(r, name) {
                latency_rows.push(vec![
                    Cell::Text((*name).to_string()),
                    Cell::Text(r.name.clone()),
                    p.latency_us[0].into(),
                    p.latency_us[1].into(),
                    p.latency_us[2].into(),
                ]);
            }
        }
    }
    tables.push(Table {
        caption: "Latency of one call (hdrhistogram); a B+ tree's fill call is a transaction \
                  of 1,000 keys."
            .into(),
        columns: ["workload", "engine", "p50 (µs)", "p99 (µs)", "p99.9 (µs)"]
            .map(String::from)
            .to_vec(),
        rows: latency_rows,
    });
    let mut stall_rows = Vec::new();
    for name in names
        .iter()
        .filter(|n| n.starts_with("fill") || **n == "overwrite")
    {
        for r in runs {
            if let Some(p) = find(r, name) {
                stall_rows.push(vec![
                    Cell::Text((*name).to_string()),
                    Cell::Text(r.name.clone()),
                    Cell::Num(r.fill_batch as f64),
                    Cell::Num(p.max_us / 1e3),
                    Cell::Num(p.latency_us[2] / 1e3),
                    Cell::Num(p.slow_secs),
                ]);
            }
        }
    }
    tables.push(Table {
        caption: format!(
            "Write stalls: the longest single write call, p99.9, and the seconds spent in \
             calls slower than {} ms (one engine-independent threshold: time a writer waited, \
             whatever the engine calls it).",
            SLOW_NS / 1_000_000
        ),
        columns: [
            "fill",
            "engine",
            "keys per call (keys)",
            "longest (ms)",
            "p99.9 (ms)",
            "in calls > 1 ms (s)",
        ]
        .map(String::from)
        .to_vec(),
        rows: stall_rows,
    });
    let mut amplification_rows = Vec::new();
    for r in runs {
        for a in &r.amplification {
            amplification_rows.push(vec![
                Cell::Text(r.name.clone()),
                Cell::Num(a.value_len as f64),
                Cell::Num(a.keys as f64),
                a.write.into(),
                a.space.into(),
                a.write_mb_per_sec.into(),
                limits.as_ref().map_or(Cell::Text("-".into()), |l| {
                    (100.0 * a.write_mb_per_sec / l.write_mb_per_sec).into()
                }),
            ]);
        }
    }
    tables.push(Table {
        caption: "Each random fill, settled: bytes the process wrote to storage and bytes on \
                  disk, over the bytes of the keys and values it loaded; the bytes written \
                  per second of the fill and its settle, and that rate as a share of the \
                  device's sequential write bandwidth measured in this run (a synced \
                  write of the probe file). Bytes count when the engine writes them into \
                  the page cache, which absorbs a burst faster than the device, so a short \
                  fill can exceed 100%; a long one settles at or below it."
            .into(),
        columns: [
            "engine",
            "value (bytes)",
            "keys loaded (keys)",
            "write amplification (×)",
            "space amplification (×)",
            "written (MB/s)",
            "of the device's write bandwidth (%)",
        ]
        .map(String::from)
        .to_vec(),
        rows: amplification_rows,
    });
    let mut probe_failed = None;
    match &limits {
        Ok(l) => tables.push(Table {
            caption: format!(
                "The device under the data directory, measured in this run: a {} MiB probe file \
                 written in 1 MiB writes and one `fdatasync`, then dropped from the page \
                 cache and read 4 KiB at a time at random offsets from one thread, \
                 read-ahead off (`POSIX_FADV_RANDOM`), for the phase budget. A cold get \
                 costs at least one such read; each engine's cold readrandom is set beside \
                 it. Reads that find their page already cached (the probe's, as the \
                 engines', warm up over the phase) count at their cached speed in both.",
                l.file_bytes >> 20
            ),
            columns: [
                "engine",
                "readrandom (cold) (ops/s)",
                "p50 (µs)",
                "of the device's random reads/s (×)",
            ]
            .map(String::from)
            .to_vec(),
            rows: std::iter::once(vec![
                Cell::Text(format!(
                    "device: 4 KiB random reads (sequential write {:.0} MB/s)",
                    l.write_mb_per_sec
                )),
                l.reads_per_sec.into(),
                l.read_p50_us.into(),
                1.0.into(),
            ])
            .chain(runs.iter().filter_map(|r| {
                let p = find(r, "readrandom (cold)")?;
                Some(vec![
                    Cell::Text(r.name.clone()),
                    p.ops_per_sec.into(),
                    p.latency_us[0].into(),
                    (p.ops_per_sec / l.reads_per_sec).into(),
                ])
            }))
            .collect(),
        }),
        Err(e) => probe_failed = Some(format!("The device probe failed: {e}.")),
    }
    tables.push(Table {
        caption: "Peak memory of each engine's run: anonymous memory (heap, caches, \
                  memtables; sampled every 20 ms) and the whole resident set, which also \
                  counts the pages of memory-mapped files the engine touched (page cache, \
                  given back under memory pressure); the writer's rate beside the reader \
                  of readwhilewriting, and the wall time of the engine's whole run."
            .into(),
        columns: [
            "engine",
            "peak anonymous (MiB)",
            "peak resident incl. mapped files (MiB)",
            "readwhilewriting writer (ops/s)",
            "run (s)",
        ]
        .map(String::from)
        .to_vec(),
        rows: runs
            .iter()
            .map(|r| {
                vec![
                    Cell::Text(r.name.clone()),
                    r.peak_anon_mib.into(),
                    r.peak_rss_mib.into(),
                    r.writer_ops_per_sec.into(),
                    r.wall_secs.into(),
                ]
            })
            .collect(),
    });
    let [(v1, k1), (v2, k2)] = sizes.big_values;
    let mut notes = vec![
        format!(
            "Every phase stops at its operation count or its time budget, whichever comes \
             first (db_bench's `--duration`), and reports the operations it did: fillseq \
             {:.0} s, fillrandom {:.0} s, the {v1}- and {v2}-byte fills {:.0} s each, every \
             other phase {:.0} s. Reads pick among the keys the fill loaded.",
            sizes.fillseq_secs, sizes.fill_secs, sizes.big_fill_secs, sizes.phase_secs
        ),
        format!(
            "Larger values: {} keys with {v1}-byte values ({}) and {} keys with {v2}-byte \
             values ({}), each filled in random order on a fresh store, then read at random.",
            super::thousands(k1),
            data_size(k1, sizes.key_len + v1),
            super::thousands(k2),
            data_size(k2, sizes.key_len + v2),
        ),
        format!(
            "{} The LSM engines fill one key per write, as db_bench does; the B+ trees \
             (`btree`, redb, LMDB) commit 1,000 keys per transaction in the fills, and one \
             operation per transaction elsewhere. Writes are durable at settle (log without a \
             sync per write; B+ tree commits without a sync), except the durable phases.",
            super::adapters::CACHE_NOTE
        ),
        "Cold reads: the store is settled and closed, every file of its directory is \
         dropped from the OS page cache with `posix_fadvise(POSIX_FADV_DONTNEED)`, and the \
         store reopened before the phase, so its reads pay for I/O until the pages they need \
         are back. `lsm` and `btree` read through memory maps advised `MADV_RANDOM` (as \
         RocksDB advises its table files random on open, and LMDB its map with \
         `MDB_NORDAHEAD`, set here): a page fault reads its page, not \
         the device's read-ahead window around it, which on a large read-ahead would bring \
         a whole table back with the first get. Threads: readrandom from 1, 2 and 4 threads at once; readwhilewriting is \
         one reader measured beside one writer overwriting at full speed. Durable commits: \
         single-key writes each synced before it returns (`lsm` with group commit, RocksDB \
         `sync = true`, `btree` and redb immediate durability, fjall `persist(SyncData)`, \
         LMDB a sync per commit), from 1 and from 4 threads, on a fresh store."
            .into(),
    ];
    for r in runs {
        for (name, wanted) in [
            ("fillrandom", sizes.keys),
            ("fillrandom (1 KiB values)", k1),
            ("fillrandom (4 KiB values)", k2),
        ] {
            if let Some(p) = find(r, name).filter(|p| p.ops < wanted) {
                notes.push(format!(
                    "**{}** loaded {} of {} keys in its {name} budget; the phases after it \
                     read those.",
                    r.name,
                    super::thousands(p.ops),
                    super::thousands(wanted)
                ));
            }
        }
    }
    notes.extend(runs.iter().filter_map(|r| {
        r.error
            .as_ref()
            .map(|e| format!("**{} stopped early:** {e}", r.name))
    }));
    let plot = Plot {
        name: "engines_throughput".into(),
        title: "Engines: throughput by workload".into(),
        x_label: "workload".into(),
        y_label: "operations per second (log)".into(),
        log_x: false,
        log_y: true,
        categories: names.iter().map(|n| n.to_string()).collect(),
        series: runs
            .iter()
            .map(|r| Series {
                name: r.name.clone(),
                points: names
                    .iter()
                    .enumerate()
                    .filter_map(|(i, name)| find(r, name).map(|p| ((i + 1) as f64, p.ops_per_sec)))
                    .collect(),
            })
            .collect(),
    };
    notes.extend(probe_failed);
    Section {
        name: "engines".into(),
        title: "Key-value engines".into(),
        notes,
        tables,
        plots: vec![plot],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    /// A model engine: the workloads' own logic is what is tested here.
    struct Model(Mutex<BTreeMap<Vec<u8>, Vec<u8>>>);

    impl Model {
        fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<Vec<u8>, Vec<u8>>> {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        }
    }

    impl KvEngine for Model {
        fn put(&self, key: &[u8], value: &[u8]) -> Result<(), String> {
            self.map().insert(key.to_vec(), value.to_vec());
            Ok(())
        }
        fn get(&self, key: &[u8]) -> Result<bool, String> {
            Ok(self.map().contains_key(key))
        }
        fn delete(&self, key: &[u8]) -> Result<(), String> {
            self.map().remove(key);
            Ok(())
        }
        fn scan(&self, from: &[u8], count: usize) -> Result<usize, String> {
            Ok(self.map().range(from.to_vec()..).take(count).count())
        }
        fn scan_all(&self, max: usize, _deadline: Instant) -> Result<usize, String> {
            Ok(self.map().len().min(max))
        }
        fn settle(&self) -> Result<(), String> {
            Ok(())
        }
    }

    /// The model keeps its pairs in a file of its directory, so a reopen
    /// (the cold phases) finds them and the eviction has a file to drop.
    struct FileModel {
        model: Model,
        path: PathBuf,
    }

    impl FileModel {
        fn open(dir: &Path, _durable: bool) -> Result<Box<dyn KvEngine>, String> {
            let path = dir.join("model.json");
            let mut map = BTreeMap::new();
            if let Ok(text) = std::fs::read_to_string(&path) {
                let pairs: Vec<(Vec<u8>, Vec<u8>)> =
                    serde_json::from_str(&text).map_err(|e| e.to_string())?;
                map.extend(pairs);
            }
            Ok(Box::new(FileModel {
                model: Model(Mutex::new(map)),
                path,
            }))
        }
    }

    impl KvEngine for FileModel {
        fn put(&self, key: &[u8], value: &[u8]) -> Result<(), String> {
            self.model.put(key, value)
        }
        fn get(&self, key: &[u8]) -> Result<bool, String> {
            self.model.get(key)
        }
        fn delete(&self, key: &[u8]) -> Result<(), String> {
            self.model.delete(key)
        }
        fn scan(&self, from: &[u8], count: usize) -> Result<usize, String> {
            self.model.scan(from, count)
        }
        fn scan_all(&self, max: usize, deadline: Instant) -> Result<usize, String> {
            self.model.scan_all(max, deadline)
        }
        fn settle(&self) -> Result<(), String> {
            let pairs: Vec<(Vec<u8>, Vec<u8>)> = self
                .model
                .map()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let text = serde_json::to_string(&pairs).map_err(|e| e.to_string())?;
            std::fs::write(&self.path, text).map_err(|e| e.to_string())
        }
    }

    const PHASES: [&str; 26] = [
        "fillseq",
        "fillrandom",
        "overwrite",
        "readrandom",
        "readmissing",
        "readseq",
        "seekrandom+scan100",
        "readrandom (1 thread)",
        "readrandom (2 threads)",
        "readrandom (4 threads)",
        "readwhilewriting",
        "ycsb-a",
        "ycsb-b",
        "ycsb-c",
        "ycsb-d",
        "ycsb-e",
        "ycsb-f",
        "readrandom (cold)",
        "seekrandom+scan100 (cold)",
        "deleterandom",
        "durable put (1 thread)",
        "durable put (4 threads)",
        "fillrandom (1 KiB values)",
        "readrandom (1 KiB values)",
        "fillrandom (4 KiB values)",
        "readrandom (4 KiB values)",
    ];

    fn run_model(fill_batch: usize) -> (EngineRun, Sizes, u64) {
        let dir = tempfile::tempdir().unwrap();
        let spec = EngineSpec {
            name: "model".into(),
            open: FileModel::open,
            fill_batch,
        };
        let sizes = Sizes::of(Scale::Tiny);
        let mut steps = 0;
        let run = run_engine(&spec, dir.path(), sizes, &mut |_| steps += 1);
        (run, sizes, steps)
    }

    #[test]
    fn every_phase_runs_and_checks_what_it_reads() {
        for fill_batch in [1, 1000, 7] {
            let (run, sizes, steps) = run_model(fill_batch);
            assert_eq!(run.error, None, "batch {fill_batch}");
            assert_eq!(steps, STEPS_PER_ENGINE);
            let names: Vec<_> = run.phases.iter().map(|p| p.name).collect();
            assert_eq!(names, PHASES);
            assert!(run.phases.iter().all(|p| p.ops_per_sec > 0.0 && p.ops > 0));
            // Tiny budgets are generous: every fill loads every key.
            let ops = |name: &str| run.phases.iter().find(|p| p.name == name).unwrap().ops;
            assert_eq!(ops("fillseq"), sizes.keys);
            assert_eq!(ops("fillrandom"), sizes.keys);
            assert_eq!(ops("readseq"), sizes.keys);
            assert_eq!(ops("readrandom (4 threads)"), sizes.ops);
            assert_eq!(ops("fillrandom (1 KiB values)"), sizes.big_values[0].1);
            assert_eq!(ops("fillrandom (4 KiB values)"), sizes.big_values[1].1);
            assert_eq!(ops("durable put (4 threads)"), sizes.durable_ops);
            assert_eq!(run.amplification.len(), 3);
            assert!(run.amplification.iter().all(|a| a.space > 0.0));
            let limits = crate::report::device::DeviceLimits {
                file_bytes: 1 << 20,
                write_mb_per_sec: 100.0,
                reads_per_sec: 1_000.0,
                read_p50_us: 900.0,
                read_p99_us: 2_000.0,
            };
            let section = section(&[run], sizes, Ok(limits));
            assert_eq!(section.tables[0].rows.len(), names.len());
            let device = section
                .tables
                .iter()
                .find(|t| t.caption.contains("read 4 KiB at a time"))
                .expect("the device table");
            // The device's own row, then the engine's cold readrandom.
            assert_eq!(device.rows.len(), 2);
            for table in &section.tables {
                assert!(
                    table.rows.iter().all(|r| r.len() == table.columns.len()),
                    "{}",
                    table.caption
                );
            }
        }
    }

    #[test]
    fn a_phase_stops_at_its_budget_after_one_call() {
        let p = phase("x", 1_000, 0.0, |_| Ok(())).unwrap();
        assert_eq!(p.ops, 1);
        let p = timed("y", 10, 0.0, |_| Ok(1_000)).unwrap();
        assert_eq!(p.ops, 1_000);
        let p = threaded("z", 4, 1_000, 0.0, &|_, _| Ok(())).unwrap();
        assert_eq!(p.ops, 4);
    }

    #[test]
    fn a_budget_cut_fill_is_read_back_from_what_it_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let spec = EngineSpec {
            name: "model".into(),
            open: FileModel::open,
            fill_batch: 10,
        };
        let mut sizes = Sizes::of(Scale::Tiny);
        sizes.fillseq_secs = 0.0;
        sizes.fill_secs = 0.0;
        sizes.big_fill_secs = 0.0;
        let run = run_engine(&spec, dir.path(), sizes, &mut |_| {});
        assert_eq!(run.error, None);
        let fill = run.phases.iter().find(|p| p.name == "fillrandom").unwrap();
        assert_eq!(fill.ops, 10);
        assert_eq!(run.amplification[0].keys, 10);
        let section = section(&[run], sizes, Err("no disk".into()));
        assert!(
            section
                .notes
                .iter()
                .any(|n| n.contains("loaded 10 of 2,000 keys in its fillrandom budget")),
            "{:?}",
            section.notes
        );
        assert!(
            section
                .notes
                .iter()
                .any(|n| n == "The device probe failed: no disk."),
            "{:?}",
            section.notes
        );
    }

    #[test]
    fn the_permutation_visits_every_index_once() {
        for n in [1u64, 2, 3, 1000, 1 << 12, 5_000] {
            let p = Permutation::new(n);
            let mut seen = vec![false; n as usize];
            for i in 0..n {
                let x = p.at(i);
                assert!(x < n && !seen[x as usize], "n {n} i {i} x {x}");
                seen[x as usize] = true;
            }
        }
    }

    #[test]
    fn eviction_drops_every_file_of_a_tree() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("a/b/f"), b"x").unwrap();
        std::fs::write(dir.path().join("g"), b"y").unwrap();
        evict(dir.path()).unwrap();
        assert!(evict(&dir.path().join("missing")).is_err());
    }

    #[test]
    fn zipfian_ranks_are_skewed_and_in_range() {
        let mut z = Zipfian::new(10_000, 1);
        let mut counts = vec![0u32; 10_000];
        for _ in 0..100_000 {
            counts[z.next_rank() as usize] += 1;
        }
        // With theta 0.99 the top rank draws about 1/zeta(n) ≈ 10% here,
        // far above uniform's 0.01%.
        assert!(counts[0] > 7_000 && counts[0] < 13_000, "{}", counts[0]);
        assert!(counts[0] > counts[1] && counts[1] > counts[10]);
        let mut z = Zipfian::new(1000, 2);
        assert!((0..10_000).all(|_| z.next_key() < 1000));
    }
}
