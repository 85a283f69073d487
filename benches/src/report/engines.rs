//! The engine workloads: db_bench's fill/read/seek/delete phases and YCSB
//! A-F with a Zipfian key chooser, run the same way over every engine
//! behind [`KvEngine`], with latency percentiles, write and space
//! amplification and peak memory.

use std::path::{Path, PathBuf};
use std::time::Instant;

use hdrhistogram::Histogram;

use super::{Cell, Plot, Scale, Section, Series, Table};
use crate::SplitMix64;

/// What a workload needs of an engine. Errors are strings: the report
/// prints them and stops that engine's run.
pub trait KvEngine {
    /// Sets `key` to `value`.
    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), String>;
    /// Whether `key` is present (its value is read in full).
    fn get(&self, key: &[u8]) -> Result<bool, String>;
    /// Removes `key`.
    fn delete(&self, key: &[u8]) -> Result<(), String>;
    /// Reads up to `count` pairs from the first key at or after `from`;
    /// returns how many it read.
    fn scan(&self, from: &[u8], count: usize) -> Result<usize, String>;
    /// Reads every pair in order; returns how many.
    fn scan_all(&self) -> Result<usize, String>;
    /// Makes everything written durable and lets background work (flushes,
    /// compactions) finish, so disk usage is settled.
    fn settle(&self) -> Result<(), String>;
}

/// An engine the report runs: a name and how to open it in a directory.
pub struct EngineSpec {
    /// The name in the tables, e.g. `"lsm"` or `"fjall 3.1 (peer)"`.
    pub name: String,
    /// Opens (or creates) the engine in an empty directory.
    pub open: fn(&Path) -> Result<Box<dyn KvEngine>, String>,
}

/// Sizes of one run.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    /// Keys loaded.
    pub keys: u64,
    /// Operations of each read or YCSB phase.
    pub ops: u64,
    /// Bytes per key (at least 8).
    pub key_len: usize,
    /// Bytes per value.
    pub value_len: usize,
}

impl Sizes {
    /// The sizes of a scale, 16-byte keys and 100-byte values.
    pub fn of(scale: Scale) -> Sizes {
        Sizes {
            keys: scale.pick(2_000, 200_000, 1_000_000),
            ops: scale.pick(1_000, 100_000, 500_000),
            key_len: 16,
            value_len: 100,
        }
    }
}

/// Key `i`: its big-endian index, padded; ordered as the index is.
fn key(i: u64, len: usize) -> Vec<u8> {
    let mut k = vec![b'k'; len.max(8)];
    k[..8].copy_from_slice(&i.to_be_bytes());
    k
}

fn value(i: u64, len: usize) -> Vec<u8> {
    let mut rng = SplitMix64::new(i);
    (0..len).map(|_| rng.next_u64() as u8).collect()
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
    /// Operations done.
    pub ops: u64,
    /// Operations per second.
    pub ops_per_sec: f64,
    /// Latency percentiles, microseconds: p50, p99, p99.9.
    pub latency_us: [f64; 3],
}

/// An engine's results: its phases, and amplification after `fillrandom`.
#[derive(Clone, Debug)]
pub struct EngineRun {
    /// The engine.
    pub name: String,
    /// Each phase in order.
    pub phases: Vec<Phase>,
    /// Bytes the process wrote to storage during fillrandom, over the bytes
    /// of keys and values written.
    pub write_amplification: f64,
    /// Bytes on disk after fillrandom settled, over the bytes of live keys
    /// and values.
    pub space_amplification: f64,
    /// Peak resident memory of the process during the run, MiB.
    pub peak_rss_mib: f64,
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
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Times `ops` calls of `op` into a histogram of nanoseconds.
fn phase(
    name: &'static str,
    ops: u64,
    mut op: impl FnMut(u64) -> Result<(), String>,
) -> Result<Phase, String> {
    let mut histogram =
        Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).map_err(|e| e.to_string())?;
    let started = Instant::now();
    for i in 0..ops {
        let t = Instant::now();
        op(i)?;
        let _ = histogram.record((t.elapsed().as_nanos() as u64).max(1));
    }
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    let us = |q: f64| histogram.value_at_quantile(q) as f64 / 1e3;
    Ok(Phase {
        name,
        ops,
        ops_per_sec: ops as f64 / secs,
        latency_us: [us(0.50), us(0.99), us(0.999)],
    })
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
        phases: Vec::new(),
        write_amplification: 0.0,
        space_amplification: 0.0,
        peak_rss_mib: 0.0,
        error: None,
    };
    reset_peak_rss();
    if let Err(e) = phases(spec, &dir, sizes, &mut run, progress) {
        run.error = Some(e);
    }
    run.peak_rss_mib = peak_rss_mib();
    let _ = std::fs::remove_dir_all(&dir);
    run
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
    let mut rng = SplitMix64::new(42);
    // fillseq in its own directory, so fillrandom's amplification is its own.
    progress(&format!("{}: fillseq", spec.name));
    {
        let seq_dir = dir.join("seq");
        std::fs::create_dir_all(&seq_dir).map_err(|e| e.to_string())?;
        let db = (spec.open)(&seq_dir)?;
        run.phases
            .push(phase("fillseq", n, |i| db.put(&key(i, kl), &value(i, vl)))?);
        db.settle()?;
    }
    let _ = std::fs::remove_dir_all(dir.join("seq"));
    let main_dir = dir.join("main");
    std::fs::create_dir_all(&main_dir).map_err(|e| e.to_string())?;
    let db = (spec.open)(&main_dir)?;
    progress(&format!("{}: fillrandom", spec.name));
    let order: Vec<u64> = {
        // A random permutation of 0..n: every key once.
        let mut v: Vec<u64> = (0..n).collect();
        for i in (1..v.len()).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
        v
    };
    let before = bytes_written();
    run.phases.push(phase("fillrandom", n, |i| {
        let k = order[i as usize];
        db.put(&key(k, kl), &value(k, vl))
    })?);
    db.settle()?;
    run.write_amplification = (bytes_written() - before) as f64 / (n as f64 * pair_bytes);
    run.space_amplification = dir_bytes(&main_dir) as f64 / (n as f64 * pair_bytes);

    progress(&format!("{}: overwrite, reads, seeks", spec.name));
    run.phases.push(phase("overwrite", ops, |_| {
        let k = rng.next_u64() % n;
        db.put(&key(k, kl), &value(k ^ 1, vl))
    })?);
    let mut rng = SplitMix64::new(7);
    run.phases.push(phase("readrandom", ops, |_| {
        let k = rng.next_u64() % n;
        match db.get(&key(k, kl))? {
            true => Ok(()),
            false => Err(format!("readrandom: key {k} missing")),
        }
    })?);
    run.phases.push(phase("readmissing", ops, |_| {
        let k = n + rng.next_u64() % n;
        match db.get(&key(k, kl))? {
            false => Ok(()),
            true => Err(format!("readmissing: key {k} found")),
        }
    })?);
    {
        let t = Instant::now();
        let read = db.scan_all()?;
        if read as u64 != n {
            return Err(format!("readseq read {read} of {n} pairs"));
        }
        let secs = t.elapsed().as_secs_f64().max(1e-9);
        run.phases.push(Phase {
            name: "readseq",
            ops: n,
            ops_per_sec: n as f64 / secs,
            latency_us: [f64::NAN; 3],
        });
    }
    let scans = (ops / 10).max(1);
    run.phases.push(phase("seekrandom+scan100", scans, |_| {
        let k = rng.next_u64() % n;
        db.scan(&key(k, kl), 100).map(|_| ())
    })?);

    progress(&format!("{}: YCSB A-F", spec.name));
    let mut zipf = Zipfian::new(n, 11);
    let mut inserted = n;
    for (name, read_pct) in [("ycsb-a", 50u64), ("ycsb-b", 95), ("ycsb-c", 100)] {
        run.phases.push(phase(name, ops, |_| {
            let k = zipf.next_key();
            if rng.next_u64() % 100 < read_pct {
                db.get(&key(k, kl)).map(|_| ())
            } else {
                db.put(&key(k, kl), &value(k + 1, vl))
            }
        })?);
    }
    // D: read latest (the most recently inserted keys are the hot ones).
    run.phases.push(phase("ycsb-d", ops, |_| {
        if rng.next_u64() % 100 < 95 {
            let back = zipf.next_rank().min(inserted - 1);
            db.get(&key(inserted - 1 - back, kl)).map(|_| ())
        } else {
            inserted += 1;
            db.put(&key(inserted - 1, kl), &value(inserted, vl))
        }
    })?);
    // E: short scans (1 to 100 pairs) from Zipfian keys, 5% inserts.
    run.phases.push(phase("ycsb-e", (ops / 10).max(1), |_| {
        if rng.next_u64() % 100 < 95 {
            let len = 1 + (rng.next_u64() % 100) as usize;
            db.scan(&key(zipf.next_key(), kl), len).map(|_| ())
        } else {
            inserted += 1;
            db.put(&key(inserted - 1, kl), &value(inserted, vl))
        }
    })?);
    // F: read-modify-write half the time.
    run.phases.push(phase("ycsb-f", ops, |_| {
        let k = zipf.next_key();
        let present = db.get(&key(k, kl))?;
        if rng.next_u64().is_multiple_of(2) && present {
            db.put(&key(k, kl), &value(k + 2, vl))
        } else {
            Ok(())
        }
    })?);
    run.phases.push(phase("deleterandom", ops, |_| {
        let k = rng.next_u64() % n;
        db.delete(&key(k, kl))
    })?);
    db.settle()?;
    Ok(())
}

/// The report section for `runs` of the same sizes.
pub fn section(runs: &[EngineRun], sizes: Sizes) -> Section {
    let names: Vec<&'static str> = runs
        .first()
        .map(|r| r.phases.iter().map(|p| p.name).collect())
        .unwrap_or_default();
    let mut tables = Vec::new();
    let mut throughput_rows = Vec::new();
    for name in &names {
        let mut row = vec![Cell::Text((*name).to_string())];
        for r in runs {
            row.push(
                r.phases
                    .iter()
                    .find(|p| p.name == *name)
                    .map_or(Cell::Text("failed".into()), |p| Cell::Num(p.ops_per_sec)),
            );
        }
        throughput_rows.push(row);
    }
    let mut columns = vec!["workload".to_string()];
    columns.extend(runs.iter().map(|r| format!("{} (ops/s)", r.name)));
    tables.push(Table {
        caption: format!(
            "Throughput, {} keys of {} bytes, values of {} bytes, one thread; phases run in this \
             order on one store (fillseq on its own).",
            super::thousands(sizes.keys),
            sizes.key_len,
            sizes.value_len
        ),
        columns,
        rows: throughput_rows,
    });
    let mut latency_rows = Vec::new();
    for name in names.iter().filter(|n| **n != "readseq") {
        for r in runs {
            if let Some(p) = r.phases.iter().find(|p| p.name == *name) {
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
        caption: "Latency per operation (hdrhistogram).".into(),
        columns: ["workload", "engine", "p50 (µs)", "p99 (µs)", "p99.9 (µs)"]
            .map(String::from)
            .to_vec(),
        rows: latency_rows,
    });
    tables.push(Table {
        caption: "After fillrandom settled: bytes the process wrote to storage and bytes on \
                  disk, over the bytes of keys and values; peak resident memory of the run."
            .into(),
        columns: [
            "engine",
            "write amplification (×)",
            "space amplification (×)",
            "peak memory (MiB)",
        ]
        .map(String::from)
        .to_vec(),
        rows: runs
            .iter()
            .map(|r| {
                vec![
                    Cell::Text(r.name.clone()),
                    r.write_amplification.into(),
                    r.space_amplification.into(),
                    r.peak_rss_mib.into(),
                ]
            })
            .collect(),
    });
    let notes = runs
        .iter()
        .filter_map(|r| {
            r.error
                .as_ref()
                .map(|e| format!("**{} stopped early:** {e}", r.name))
        })
        .collect();
    let plot = Plot {
        name: "engines_throughput".into(),
        title: "Engines: throughput by workload".into(),
        x_label: "workload".into(),
        y_label: "operations per second (log)".into(),
        log_x: false,
        log_y: true,
        categories: runs
            .first()
            .map(|r| r.phases.iter().map(|p| p.name.to_string()).collect())
            .unwrap_or_default(),
        series: runs
            .iter()
            .map(|r| Series {
                name: r.name.clone(),
                points: r
                    .phases
                    .iter()
                    .enumerate()
                    .map(|(i, p)| ((i + 1) as f64, p.ops_per_sec))
                    .collect(),
            })
            .collect(),
    };
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
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    /// A model engine: the workloads' own logic is what is tested here.
    struct Model(RefCell<BTreeMap<Vec<u8>, Vec<u8>>>);

    impl KvEngine for Model {
        fn put(&self, key: &[u8], value: &[u8]) -> Result<(), String> {
            self.0.borrow_mut().insert(key.to_vec(), value.to_vec());
            Ok(())
        }
        fn get(&self, key: &[u8]) -> Result<bool, String> {
            Ok(self.0.borrow().contains_key(key))
        }
        fn delete(&self, key: &[u8]) -> Result<(), String> {
            self.0.borrow_mut().remove(key);
            Ok(())
        }
        fn scan(&self, from: &[u8], count: usize) -> Result<usize, String> {
            Ok(self.0.borrow().range(from.to_vec()..).take(count).count())
        }
        fn scan_all(&self) -> Result<usize, String> {
            Ok(self.0.borrow().len())
        }
        fn settle(&self) -> Result<(), String> {
            Ok(())
        }
    }

    #[test]
    fn every_phase_runs_and_checks_what_it_reads() {
        let dir = tempfile::tempdir().unwrap();
        let spec = EngineSpec {
            name: "model".into(),
            open: |_| Ok(Box::new(Model(RefCell::new(BTreeMap::new())))),
        };
        let sizes = Sizes::of(Scale::Tiny);
        let run = run_engine(&spec, dir.path(), sizes, &mut |_| {});
        assert_eq!(run.error, None);
        let names: Vec<_> = run.phases.iter().map(|p| p.name).collect();
        assert_eq!(
            names,
            [
                "fillseq",
                "fillrandom",
                "overwrite",
                "readrandom",
                "readmissing",
                "readseq",
                "seekrandom+scan100",
                "ycsb-a",
                "ycsb-b",
                "ycsb-c",
                "ycsb-d",
                "ycsb-e",
                "ycsb-f",
                "deleterandom"
            ]
        );
        assert!(run.phases.iter().all(|p| p.ops_per_sec > 0.0));
        let section = section(&[run], sizes);
        assert_eq!(section.tables[0].rows.len(), names.len());
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
