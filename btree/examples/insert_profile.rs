//! Times 1M-entry bulk load, then random inserts 1,000 per transaction:
//! `cargo run --release -p larder-btree --example insert_profile`.

use std::sync::Arc;
use std::time::Instant;

use larder_btree::{Db, Options};

fn main() -> larder_btree::Result<()> {
    let dir = std::env::temp_dir().join(format!("btree-profile-{}", std::process::id()));
    let fs = Arc::new(vfs::OsFs::new());
    vfs::Fs::create_dir_all(&*fs, &dir)?;
    let db = Db::open_with_fs(fs, dir.join("db"), Options::default())?;
    let mut x = 1u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut keys: Vec<[u8; 16]> = (0..1_000_000u64)
        .map(|i| {
            let mut k = [0u8; 16];
            k[..8].copy_from_slice(&next().to_be_bytes());
            k[8..].copy_from_slice(&i.to_be_bytes());
            k
        })
        .collect();
    keys.sort_unstable();
    let t = Instant::now();
    let mut txn = db.begin_write()?;
    if std::env::var_os("BULK").is_some() {
        txn.bulk_load(keys.iter().map(|k| (k, [1u8; 100])))?;
    } else {
        for k in &keys {
            txn.insert(k, &[1u8; 100])?;
        }
    }
    txn.commit()?;
    eprintln!("bulk load {:?}", t.elapsed());
    let gets = |label: &str| -> larder_btree::Result<()> {
        let read = db.begin_read()?;
        let t = Instant::now();
        let mut y = 7u64;
        for _ in 0..2_000_000 {
            y = y
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let k = &keys[(y >> 33) as usize % keys.len()];
            std::hint::black_box(read.get_ref(k)?);
        }
        eprintln!("{label} get {:?}/op", t.elapsed() / 2_000_000);
        Ok(())
    };
    gets("after load")?;
    let t = Instant::now();
    let rounds = 100;
    for _ in 0..rounds {
        let mut txn = db.begin_write()?;
        for _ in 0..1000 {
            let mut k = [0u8; 16];
            k[..8].copy_from_slice(&next().to_be_bytes());
            k[8..].copy_from_slice(&next().to_be_bytes());
            txn.insert(&k, &[2u8; 100])?;
        }
        if std::env::var_os("NOSYNC").is_some() {
            txn.set_durability(larder_btree::Durability::None);
        }
        txn.commit()?;
    }
    eprintln!("insert txn {:?}", t.elapsed() / rounds);
    gets("after inserts")?;
    eprintln!("{:?}", db.stats()?);
    vfs::Fs::remove_file(&vfs::OsFs::new(), &dir.join("db")).ok();
    Ok(())
}
