//! Reads of a store that is not in memory: for A/B runs of how the engine
//! reads its files when the page cache is cold.
//!
//! Reopens a store the `scale` example filled and kept
//! (`scale N 100 DIR`), then, by `MODE`:
//! - `get`: `GETS` gets of random present keys, each timed: ops/s, p50 and
//!   p99; then the same number again (the first pass warmed some pages);
//! - `seq`: one full scan (readseq), ops/s.
//!
//! Evict the store's files from the page cache first (fsync, then
//! `posix_fadvise(POSIX_FADV_DONTNEED)` on each), and check with
//! `fincore DIR/*`; also after the run, to see what it read.
//!
//! `cargo run --release -p larder-lsm --example cold_reads -- DIR N [GETS] [MODE]`

#![allow(clippy::print_stdout, reason = "the example reports its measurements")]

mod support;

use std::time::{Duration, Instant};

use support::{key, mix};

fn quantile(sorted: &[Duration], q: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e6)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = args
        .first()
        .ok_or("usage: cold_reads DIR N [GETS] [get|seq]")?;
    let n: u64 = args.get(1).and_then(|s| s.parse().ok()).ok_or("N")?;
    let gets: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let mode = args.get(3).map_or("get", String::as_str);
    let t = Instant::now();
    let db = larder_lsm::Db::open(dir, larder_lsm::Options::default())?;
    println!("open {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
    let mut rng = 0x5EED_u64;
    match mode {
        "get" => {
            for pass in ["cold", "again"] {
                let mut lat = Vec::with_capacity(gets as usize);
                let t = Instant::now();
                for _ in 0..gets {
                    rng = mix(rng);
                    let k = key(rng % n, 0);
                    let t0 = Instant::now();
                    let v = db.get(&k)?;
                    lat.push(t0.elapsed());
                    assert!(v.is_some(), "key missing");
                }
                let d = t.elapsed();
                lat.sort_unstable();
                println!(
                    "get {pass:<5} {:>9.0} ops/s  p50 {:>7.1} us  p99 {:>7.1} us",
                    gets as f64 / d.as_secs_f64(),
                    quantile(&lat, 0.5),
                    quantile(&lat, 0.99)
                );
            }
        }
        "seq" => {
            let t = Instant::now();
            let mut count = 0u64;
            for pair in db.range::<&[u8], _>(..) {
                pair?;
                count += 1;
            }
            let d = t.elapsed();
            println!(
                "readseq {:>9.0} ops/s  ({count} pairs in {:.2} s)",
                count as f64 / d.as_secs_f64(),
                d.as_secs_f64()
            );
        }
        other => return Err(format!("mode {other}: want get or seq").into()),
    }
    db.close()?;
    Ok(())
}
