//! The db_bench phases at a scale beyond the block cache, for profiling
//! and A/B runs of the engine alone (no peers, no report harness).
//!
//! Loads `N` distinct 16-byte keys in random order (100-byte values by
//! default) with `Options::default()`, then `flush` + `wait_idle`, then:
//! readrandom (`N/10` gets of present keys), readmissing (`N/10` gets of
//! absent keys), readseq (one full scan), seekrandom + scan100 (`N/100`
//! seeks, each reading 100 pairs) and shortscan (`N/100` seeks, each
//! reading a uniformly drawn 1 to 100 pairs: YCSB-E's scan lengths, its
//! start keys uniform rather than Zipfian). `SCALE_SEEKS=K` sets the seeks
//! of both scan phases (more seeks: a finer CPU-time figure). Per phase it prints ops/s, the p99
//! latency and the CPU time of the calling thread per op (on a shared
//! machine the wall clock also counts other processes' turns); for the fill also the longest single put, p99.9, and the bytes
//! this process wrote to the file system (`/proc/self/io` `write_bytes`)
//! per byte loaded, with the engine's own write amplification.
//!
//! `cargo run --release -p larder-lsm --example scale -- 5000000 [value_bytes] [dir]`
//!
//! Without `dir` the store goes to a fresh temporary directory, deleted at
//! the end. One phase only: `SCALE_PHASES=fill,readrandom` (comma list of
//! fill, readrandom, readmissing, readseq, seekrandom, shortscan); without `fill`, an
//! existing store in `dir` is reopened and read. `SCALE_ORDER=seq` loads
//! the keys in key order (db_bench's fillseq) instead of random order.
//! The fill also prints the seconds spent in puts slower than 1 ms (the
//! report's write-stall figure). `SCALE_MEMTABLES=3` sets
//! `max_write_buffer_number` (default 2), for A/B runs of the memtables a
//! fill may hold while a flush runs. `SCALE_TABLE_STORE=mem` puts the tables
//! on an in-memory object store (`Options::table_store`, no added
//! latency) and prints, after each read phase, the store's requests and
//! bytes per operation and the block caches' hit rate.

#![allow(clippy::print_stdout, reason = "the example reports its measurements")]

mod support;

use std::time::{Duration, Instant};

use support::{key, mix};

/// Bytes this process has caused to be written to storage so far.
fn write_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("write_bytes: ")?.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// CPU seconds (user + system) used so far by this thread (`thread`) or
/// by the whole process, from `/proc`: on a shared machine the wall clock
/// also counts the time other processes held the cores.
fn cpu_seconds(thread: bool) -> f64 {
    let path = if thread {
        "/proc/thread-self/stat"
    } else {
        "/proc/self/stat"
    };
    let Ok(s) = std::fs::read_to_string(path) else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the line, in clock ticks (100 per second).
    let rest = s.rsplit_once(')').map_or("", |x| x.1);
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|x| x.parse().ok())
        .collect();
    f.iter().sum::<u64>() as f64 / 100.0
}

/// Latencies of one phase, in nanoseconds.
struct Lat(Vec<u32>);

impl Lat {
    fn with_capacity(n: usize) -> Lat {
        Lat(Vec::with_capacity(n))
    }

    fn push(&mut self, d: Duration) {
        self.0.push(u32::try_from(d.as_nanos()).unwrap_or(u32::MAX));
    }

    fn quantile(&mut self, q: f64) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        self.0.sort_unstable();
        let i = ((self.0.len() - 1) as f64 * q) as usize;
        Duration::from_nanos(u64::from(self.0[i]))
    }
}

fn report(name: &str, ops: u64, t: Duration, lat: &mut Lat, cpu0: f64) {
    println!(
        "{name:<12} {:>10.0} ops/s  p99 {:>8.1} us  thread cpu {:>6.2} us/op",
        ops as f64 / t.as_secs_f64(),
        lat.quantile(0.99).as_secs_f64() * 1e6,
        (cpu_seconds(true) - cpu0) * 1e6 / ops as f64
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: u64 = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let value_bytes: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(100);
    let keep = args.next();
    let phases = std::env::var("SCALE_PHASES")
        .unwrap_or_else(|_| "fill,readrandom,readmissing,readseq,seekrandom,shortscan".into());
    let seeks: u64 = std::env::var("SCALE_SEEKS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or((n / 100).max(1));
    let on = |p: &str| phases.split(',').any(|x| x == p);
    let seq_order = std::env::var("SCALE_ORDER").is_ok_and(|o| o == "seq");
    let tmp;
    let dir = match &keep {
        Some(d) => std::path::PathBuf::from(d),
        None => {
            tmp = tempfile::tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    let table_store: Option<std::sync::Arc<dyn objstore::Store>> =
        match std::env::var("SCALE_TABLE_STORE").as_deref() {
            Ok("mem") => Some(std::sync::Arc::new(objstore::MemStore::new())),
            _ => None,
        };
    let db = larder_lsm::Db::open(
        &dir,
        larder_lsm::Options {
            table_store,
            max_write_buffer_number: std::env::var("SCALE_MEMTABLES")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(larder_lsm::Options::default().max_write_buffer_number),
            ..larder_lsm::Options::default()
        },
    )?;
    let mut store_before = db.stats().table_store;
    let mut store_line = |db: &larder_lsm::Db, ops: u64| {
        let now = db.stats().table_store;
        if now == larder_lsm::TableStoreStats::default() {
            return;
        }
        let per = |a: u64, b: u64| (a - b) as f64 / ops.max(1) as f64;
        let hits = (now.memory_cache_hits - store_before.memory_cache_hits)
            + (now.disk_cache_hits - store_before.disk_cache_hits);
        let lookups = (now.memory_cache_hits + now.memory_cache_misses)
            - (store_before.memory_cache_hits + store_before.memory_cache_misses);
        println!(
            "  store: {:.3} reads/op, {:.0} bytes/op, block cache hit rate {:.3}",
            per(now.reads, store_before.reads),
            per(now.read_bytes, store_before.read_bytes),
            hits as f64 / lookups.max(1) as f64
        );
        store_before = now;
    };
    let mut value = vec![0u8; value_bytes];
    // Half-compressible values, as db_bench's: random bytes, then zeros.
    for (j, b) in value.iter_mut().enumerate().take(value_bytes / 2) {
        *b = mix(j as u64) as u8;
    }
    let mut rng = 0x1234_5678u64;
    let mut rand = move |m: u64| {
        rng = mix(rng);
        rng % m
    };

    if on("fill") {
        let w0 = write_bytes();
        let (cpu0, pcpu0) = (cpu_seconds(true), cpu_seconds(false));
        let mut lat = Lat::with_capacity(n as usize);
        let t = Instant::now();
        for i in 0..n {
            let t0 = Instant::now();
            value[value_bytes - 8..].copy_from_slice(&i.to_le_bytes());
            let k = if seq_order {
                let mut k = [0u8; 16];
                k[8..].copy_from_slice(&i.to_be_bytes());
                k
            } else {
                key(i, 0)
            };
            db.put(k.to_vec(), value.clone())?;
            lat.push(t0.elapsed());
        }
        let fill = t.elapsed();
        db.flush()?;
        db.wait_idle()?;
        let settle = t.elapsed();
        let loaded = n * (16 + value_bytes as u64);
        let slow_s: f64 = lat
            .0
            .iter()
            .filter(|&&ns| ns > 1_000_000)
            .map(|&ns| f64::from(ns))
            .sum::<f64>()
            / 1e9;
        report(
            if seq_order { "fillseq" } else { "fillrandom" },
            n,
            fill,
            &mut lat,
            cpu0,
        );
        println!(
            "  max put {:.1} ms, p99.9 {:.1} us, {slow_s:.2} s in puts > 1 ms; with flush+compaction {:.1} s, \
             process cpu {:.1} s; fs bytes written / loaded {:.2}; engine write amp {:.2}",
            lat.quantile(1.0).as_secs_f64() * 1e3,
            lat.quantile(0.999).as_secs_f64() * 1e6,
            settle.as_secs_f64(),
            cpu_seconds(false) - pcpu0,
            (write_bytes() - w0) as f64 / loaded as f64,
            db.stats().write_amplification
        );
        store_line(&db, n);
    }
    let reads = (n / 10).max(1);
    if on("readrandom") {
        let mut lat = Lat::with_capacity(reads as usize);
        let cpu0 = cpu_seconds(true);
        let t = Instant::now();
        for _ in 0..reads {
            let k = key(rand(n), 0);
            let t0 = Instant::now();
            let v = db.get(&k)?;
            lat.push(t0.elapsed());
            assert!(v.is_some(), "key missing");
        }
        report("readrandom", reads, t.elapsed(), &mut lat, cpu0);
        store_line(&db, reads);
    }
    if on("readmissing") {
        let mut lat = Lat::with_capacity(reads as usize);
        let cpu0 = cpu_seconds(true);
        let t = Instant::now();
        for _ in 0..reads {
            // Same 8-byte mix, a suffix no stored key has.
            let mut k = key(rand(n), 0);
            k[15] ^= 0x80;
            k[8] = 0xff;
            let t0 = Instant::now();
            let v = db.get(&k)?;
            lat.push(t0.elapsed());
            assert!(v.is_none(), "absent key found");
        }
        report("readmissing", reads, t.elapsed(), &mut lat, cpu0);
        store_line(&db, reads);
    }
    if on("readseq") {
        let mut lat = Lat::with_capacity(1);
        let cpu0 = cpu_seconds(true);
        let t = Instant::now();
        let mut count = 0u64;
        for pair in db.range::<&[u8], _>(..) {
            let (k, _) = pair?;
            count += k.len() as u64 / 16;
        }
        let d = t.elapsed();
        lat.push(d);
        assert_eq!(count, n, "readseq count");
        println!(
            "{:<12} {:>10.0} ops/s  thread cpu {:.3} us/op",
            "readseq",
            count as f64 / d.as_secs_f64(),
            (cpu_seconds(true) - cpu0) * 1e6 / count as f64
        );
        store_line(&db, count);
    }
    if on("seekrandom") {
        let mut lat = Lat::with_capacity(seeks as usize);
        let cpu0 = cpu_seconds(true);
        let t = Instant::now();
        for _ in 0..seeks {
            let k = key(rand(n), 0);
            let t0 = Instant::now();
            let got = db.range(k.as_slice()..).take(100).count();
            lat.push(t0.elapsed());
            assert!(got > 0);
        }
        report("seek+scan100", seeks, t.elapsed(), &mut lat, cpu0);
        store_line(&db, seeks);
    }
    if on("shortscan") {
        let mut lat = Lat::with_capacity(seeks as usize);
        let cpu0 = cpu_seconds(true);
        let t = Instant::now();
        for _ in 0..seeks {
            let k = key(rand(n), 0);
            let len = 1 + rand(100) as usize;
            let t0 = Instant::now();
            let got = db.range(k.as_slice()..).take(len).count();
            lat.push(t0.elapsed());
            assert!(got > 0);
        }
        report("shortscan", seeks, t.elapsed(), &mut lat, cpu0);
        store_line(&db, seeks);
    }
    println!("{:?}", db.stats());
    db.close()?;
    Ok(())
}
