//! Random point reads: loads `N` random 16-byte keys with `V`-byte values,
//! `1_000` per transaction with `Durability::None`, syncs, then times `GETS`
//! random gets of loaded keys from 1 and from 4 threads, each get in its own
//! read transaction (as the report's `readrandom` does):
//! `cargo run --release -p larder-btree --example reads -- N V GETS [DIR]`.
//! Prints wall-clock and CPU time (user + system, this process) per get:
//! on a shared machine the CPU time is the steadier figure.

mod support;

use support::key;

use std::sync::Arc;
use std::time::Instant;

use larder_btree::{Db, Durability, Options};

/// CPU time (user + system) of this process, in seconds, from `/proc/self/stat`.
fn cpu_seconds() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = s.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line; 12 and 13 past ")".
    (ticks(11) + ticks(12)) / 100.0
}

fn run(db: &Db, n: u64, gets: u64, threads: u64) -> larder_btree::Result<()> {
    let per_thread = gets / threads;
    let cpu0 = cpu_seconds();
    let t = Instant::now();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|th| {
                s.spawn(move || -> larder_btree::Result<u64> {
                    let mut x = 0x2545_F491_4F6C_DD1Du64 ^ (th + 1);
                    let mut found = 0;
                    for _ in 0..per_thread {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        let txn = db.begin_read()?;
                        found += u64::from(txn.get_ref(&key(x % n))?.is_some());
                    }
                    Ok(found)
                })
            })
            .collect();
        for h in handles {
            let found = h.join().expect("reader thread panicked")?;
            assert_eq!(found, per_thread, "every loaded key is found");
        }
        Ok::<_, larder_btree::Error>(())
    })?;
    let wall = t.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let total = (per_thread * threads) as f64;
    eprintln!(
        "threads={threads}: {:.0} gets/s, wall {:.3} us/get, cpu {:.3} us/get",
        total / wall,
        wall * 1e6 / total,
        cpu * 1e6 / total,
    );
    Ok(())
}

fn main() -> larder_btree::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, default: u64| {
        args.get(i)
            .map_or(default, |a| a.parse().expect("numbers: N V GETS [DIR]"))
    };
    let (n, vlen, gets) = (
        num(0, 1_000_000).max(1),
        num(1, 100) as usize,
        num(2, 2_000_000),
    );
    let dir = args.get(3).map_or_else(
        || std::env::temp_dir().join(format!("btree-reads-{}", std::process::id())),
        std::path::PathBuf::from,
    );
    let fs = Arc::new(vfs::OsFs::new());
    vfs::Fs::create_dir_all(&*fs, &dir)?;
    let path = dir.join("db");
    let fresh = !path.exists();
    let options = Options {
        durability: Durability::None,
        ..Options::default()
    };
    let db = Db::open_with_fs(fs, &path, options)?;
    if fresh {
        let t = Instant::now();
        let value = vec![7u8; vlen];
        for start in (0..n).step_by(1_000) {
            let mut txn = db.begin_write()?;
            for i in start..(start + 1_000).min(n) {
                txn.insert(&key(i), &value)?;
            }
            txn.commit()?;
        }
        db.sync()?;
        eprintln!(
            "loaded n={n} value={vlen} in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    // One untimed pass so every page is mapped and verified, as in a warm run.
    run(&db, n, gets.min(n), 1)?;
    for threads in [1, 4] {
        run(&db, n, gets, threads)?;
    }
    drop(db);
    if args.get(3).is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}
