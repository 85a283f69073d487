//! Bytes written per byte loaded, and file size per byte stored: loads `N`
//! random 16-byte keys with `V`-byte values, `PER` keys per transaction
//! with `Durability::None`, syncs, and reads `/proc/self/io` (Linux):
//! `cargo run --release -p larder-btree --example write_amp -- N PER V [BUFFER_BYTES]`.
//! `wchar` counts bytes passed to `write`; `write_bytes` bytes the kernel
//! marked dirty (a page dirtied twice before writeback counts once).

use std::sync::Arc;
use std::time::Instant;

use larder_btree::{Db, Durability, Options};

fn io() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    let field = |name: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    (field("wchar:"), field("write_bytes:"))
}

fn main() -> larder_btree::Result<()> {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numbers: N PER V [BUFFER_BYTES]"))
        .collect();
    let (n, per, vlen) = match args[..] {
        [n, per, v, ..] => (n, per.max(1), v as usize),
        _ => (1_000_000, 1_000, 100),
    };
    let buffer = args
        .get(3)
        .copied()
        .unwrap_or(Options::default().write_buffer_bytes);
    let dir = std::env::temp_dir().join(format!("btree-write-amp-{}", std::process::id()));
    let fs = Arc::new(vfs::OsFs::new());
    vfs::Fs::create_dir_all(&*fs, &dir)?;
    let path = dir.join("db");
    let options = Options {
        durability: Durability::None,
        write_buffer_bytes: buffer,
        ..Options::default()
    };
    let db = Db::open_with_fs(fs, &path, options)?;
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let keys: Vec<[u8; 16]> = (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut k = [0u8; 16];
            k[..8].copy_from_slice(&x.to_be_bytes());
            k[8..].copy_from_slice(&i.to_be_bytes());
            k
        })
        .collect();
    let value = vec![7u8; vlen];
    let loaded = n * (16 + vlen as u64);
    let (w0, d0) = io();
    let t = Instant::now();
    for chunk in keys.chunks(per as usize) {
        let mut txn = db.begin_write()?;
        for k in chunk {
            txn.insert(k, &value)?;
        }
        txn.commit()?;
    }
    db.sync()?;
    let elapsed = t.elapsed();
    let (w1, d1) = io();
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "n={n} per={per} value={vlen} buffer={buffer}: {:.0} keys/s, wchar/loaded {:.2}, \
         write_bytes/loaded {:.2}, file/loaded {:.2}",
        n as f64 / elapsed.as_secs_f64(),
        (w1 - w0) as f64 / loaded as f64,
        (d1 - d0) as f64 / loaded as f64,
        size as f64 / loaded as f64,
    );
    let st = db.stats()?;
    eprintln!(
        "pages in use/loaded {:.2} (leaf {} branch {} overflow {} free {} free-tree {}), \
         leaf fill {:.2}",
        (st.page_count * u64::from(st.page_size_bytes)) as f64 / loaded as f64,
        st.leaf_pages,
        st.branch_pages,
        st.overflow_pages,
        st.free_pages,
        st.free_tree_pages,
        st.fill_factor,
    );
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
