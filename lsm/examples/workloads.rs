//! The benchmark's workloads without criterion, for profiling: prefills 1M
//! random 16-byte keys (100-byte half-compressible values), prints "ready",
//! then runs one workload for a few seconds and prints its rate.
//! `cargo run --release -p larder-lsm --example workloads -- readrandom 8`
//! (workloads: fillrandom, readrandom, readmissing, readseq, scan).

#![allow(clippy::print_stdout, reason = "the example reports its measurements")]

use std::time::{Duration, Instant};

const KEYS: u64 = 1_000_000;

struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn keys(seed: u64) -> Vec<[u8; 16]> {
    let mut rng = SplitMix64(seed);
    (0..KEYS)
        .map(|i| {
            let mut k = [0u8; 16];
            k[..8].copy_from_slice(&rng.next_u64().to_be_bytes());
            k[8..].copy_from_slice(&i.to_be_bytes());
            k
        })
        .collect()
}

fn value(i: u64) -> Vec<u8> {
    let mut v = vec![0u8; 100];
    let mut rng = SplitMix64(i);
    for chunk in v.chunks_mut(8) {
        let x = rng.next_u64().to_le_bytes();
        let n = chunk.len().min(4);
        chunk[..n].copy_from_slice(&x[..n]);
    }
    v
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let what = args.next().unwrap_or_else(|| "readrandom".into());
    let secs: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(5);
    let present = keys(1);
    let missing = keys(2);
    let values: Vec<Vec<u8>> = (0..1024).map(value).collect();
    let dir = tempfile::tempdir()?;
    let mut opts = larder_lsm::Options::default();
    if let Ok(v) = std::env::var("LSM_COMPRESSION") {
        opts.compression = v == "1";
    }
    if let Ok(v) = std::env::var("LSM_WRITE_BUFFER_MIB") {
        opts.write_buffer_size_bytes = v.parse::<usize>()? << 20;
    }
    if let Ok(v) = std::env::var("LSM_L1_MIB") {
        opts.level1_bytes_max = v.parse::<u64>()? << 20;
    }
    let db = larder_lsm::Db::open(dir.path(), opts)?;
    let mut rng = SplitMix64(3);
    if what != "fillrandom" {
        let t = Instant::now();
        for (i, k) in present.iter().enumerate() {
            db.put(k.to_vec(), values[i % 1024].clone())?;
        }
        println!("fill 1M: {:.2} s", t.elapsed().as_secs_f64());
        // As the benchmark does before its reads: random overwrites.
        let overwrite_secs: u64 = std::env::var("LSM_OVERWRITE_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(overwrite_secs) {
            for _ in 0..1000 {
                let i = (rng.next_u64() % KEYS) as usize;
                db.put(present[i].to_vec(), values[(i + 1) % 1024].clone())?;
            }
        }
        db.flush()?;
        std::thread::sleep(Duration::from_secs(2));
    }
    println!("ready");
    let t = Instant::now();
    let mut ops = 0u64;
    while t.elapsed() < Duration::from_secs(secs) {
        for _ in 0..1000 {
            let i = (rng.next_u64() % KEYS) as usize;
            match what.as_str() {
                "fillrandom" => db.put(present[i].to_vec(), values[i % 1024].clone())?,
                "readrandom" => assert!(db.get(&present[i])?.is_some()),
                "readmissing" => assert!(db.get(&missing[i])?.is_none()),
                "scan" => {
                    let n = db.range(&missing[i][..]..).take(100).count();
                    ops += n as u64 - 1;
                }
                _ => {
                    for r in db.range::<&[u8], _>(..).take(1000) {
                        r?;
                    }
                    ops += 999;
                }
            }
            ops += 1;
        }
    }
    let el = t.elapsed().as_secs_f64();
    println!(
        "{what}: {:.0} ns/op ({:.0} ops/s)",
        el * 1e9 / ops as f64,
        ops as f64 / el
    );
    println!("{:?}", db.stats());
    Ok(())
}
