//! Reads of a B+ tree that is not in memory: reopens a store the `reads`
//! example loaded and kept (`reads N V GETS DIR`), then times `GETS` random
//! gets of loaded keys, each timed (ops/s, p50, p99), twice (the first pass
//! cold, the second with what it brought in).
//!
//! Evict the store's file from the page cache first (fsync, then
//! `posix_fadvise(POSIX_FADV_DONTNEED)`), and check with `fincore DIR/db`.
//!
//! `cargo run --release -p larder-btree --example reads_cold -- DIR N [GETS]`

#![allow(clippy::print_stderr, reason = "the example reports its measurements")]

mod support;

use support::key;

use std::sync::Arc;
use std::time::{Duration, Instant};

use larder_btree::{Db, Durability, Options};

fn quantile(sorted: &[Duration], q: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e6)
}

fn main() -> larder_btree::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = std::path::PathBuf::from(args.first().expect("usage: reads_cold DIR N [GETS]"));
    let n: u64 = args.get(1).map_or(1, |a| a.parse().expect("N"));
    let gets: u64 = args.get(2).map_or(20_000, |a| a.parse().expect("GETS"));
    let fs = Arc::new(vfs::OsFs::new());
    let options = Options {
        durability: Durability::None,
        ..Options::default()
    };
    let t = Instant::now();
    let db = Db::open_with_fs(fs, dir.join("db"), options)?;
    eprintln!("open {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    for pass in ["cold", "again"] {
        let mut lat = Vec::with_capacity(gets as usize);
        let t = Instant::now();
        for _ in 0..gets {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let t0 = Instant::now();
            let txn = db.begin_read()?;
            let found = txn.get_ref(&key(x % n))?.is_some();
            lat.push(t0.elapsed());
            assert!(found, "every loaded key is found");
        }
        let d = t.elapsed();
        lat.sort_unstable();
        eprintln!(
            "get {pass:<5} {:>9.0} ops/s  p50 {:>7.1} us  p99 {:>7.1} us",
            gets as f64 / d.as_secs_f64(),
            quantile(&lat, 0.5),
            quantile(&lat, 0.99)
        );
    }
    Ok(())
}
