//! Durable single-key commits, as the report's durable-commit phase runs
//! them: on a fresh file holding `PRELOAD` random 16-byte keys with 100-byte
//! values, `COMMITS` transactions each insert one random key and commit with
//! `Durability::Immediate`, from 1 and then from 4 threads (a fresh file
//! each): `cargo run --release -p larder-btree --example commits -- PRELOAD COMMITS [DIR]`.
//! Prints commits per second, p50 and p99 commit latency.

mod support;

use support::key;

use std::sync::Arc;
use std::time::Instant;

use larder_btree::{Db, Durability, Options};

fn run(
    dir: &std::path::Path,
    preload: u64,
    commits: u64,
    threads: u64,
) -> larder_btree::Result<()> {
    let fs = Arc::new(vfs::OsFs::new());
    let path = dir.join(format!("commits-{threads}.db"));
    let _ = std::fs::remove_file(&path);
    let db = Db::open_with_fs(fs, &path, Options::default())?;
    let value = [7u8; 100];
    for start in (0..preload).step_by(1_000) {
        let mut txn = db.begin_write()?;
        txn.set_durability(Durability::None);
        for i in start..(start + 1_000).min(preload) {
            txn.insert(&key(i), &value)?;
        }
        txn.commit()?;
    }
    db.sync()?;
    let per_thread = commits / threads;
    let t = Instant::now();
    let mut latencies: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|th| {
                let db = &db;
                let value = &value;
                s.spawn(move || -> larder_btree::Result<Vec<u64>> {
                    let mut lat = Vec::with_capacity(per_thread as usize);
                    for j in 0..per_thread {
                        let i = preload + th * per_thread + j;
                        let t = Instant::now();
                        let mut txn = db.begin_write()?;
                        txn.insert(&key(i), value)?;
                        txn.commit()?;
                        lat.push(t.elapsed().as_nanos() as u64);
                    }
                    Ok(lat)
                })
            })
            .collect();
        let mut all = Vec::new();
        for h in handles {
            all.extend(h.join().expect("writer thread panicked")?);
        }
        Ok::<_, larder_btree::Error>(all)
    })?;
    let wall = t.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize] as f64 / 1e3;
    eprintln!(
        "threads={threads}: {:.0} commits/s, p50 {:.0} us, p99 {:.0} us",
        latencies.len() as f64 / wall,
        pct(0.5),
        pct(0.99),
    );
    drop(db);
    let _ = std::fs::remove_file(&path);
    Ok(())
}

fn main() -> larder_btree::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, default: u64| {
        args.get(i).map_or(default, |a| {
            a.parse().expect("numbers: PRELOAD COMMITS [DIR]")
        })
    };
    let (preload, commits) = (num(0, 100_000), num(1, 2_000).max(4));
    let dir = args.get(2).map_or_else(
        || std::env::temp_dir().join(format!("btree-commits-{}", std::process::id())),
        std::path::PathBuf::from,
    );
    vfs::Fs::create_dir_all(&vfs::OsFs::new(), &dir)?;
    for threads in [1, 4] {
        run(&dir, preload, commits, threads)?;
    }
    if args.get(2).is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}
