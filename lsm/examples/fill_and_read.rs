//! Fills a database with `N` random 16-byte keys (100-byte values), then
//! reads them back in random order and probes as many absent keys; prints
//! the rates and the engine's stats. A quick profile target:
//! `cargo run --release -p larder-lsm --example fill_and_read -- 1000000`.

#![allow(clippy::print_stdout, reason = "the example reports its measurements")]

use std::time::Instant;

fn key(i: u64, salt: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    let h = (i ^ salt).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    k[..8].copy_from_slice(&h.to_be_bytes());
    k[8..].copy_from_slice(&i.to_be_bytes());
    k
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir()?;
    let db = larder_lsm::Db::open(dir.path(), larder_lsm::Options::default())?;
    let value = [7u8; 100];
    let t = Instant::now();
    for i in 0..n {
        db.put(key(i, 0).to_vec(), value.to_vec())?;
    }
    println!("fill: {:.0} ops/s", n as f64 / t.elapsed().as_secs_f64());
    if std::env::args().nth(2).as_deref() == Some("fill") {
        return Ok(db.close()?);
    }
    db.flush()?;
    std::thread::sleep(std::time::Duration::from_secs(2));
    let t = Instant::now();
    let mut x = 1u64;
    for _ in 0..n {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        assert!(db.get(&key((x >> 11) % n, 0))?.is_some());
    }
    println!(
        "readrandom: {:.0} ops/s",
        n as f64 / t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    for i in 0..n {
        assert!(db.get(&key(i, 0xdead_beef))?.is_none());
    }
    println!(
        "readmissing: {:.0} ops/s",
        n as f64 / t.elapsed().as_secs_f64()
    );
    println!("{:?}", db.stats());
    db.close()?;
    Ok(())
}
