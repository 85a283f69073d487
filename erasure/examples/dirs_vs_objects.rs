//! A/B of the blob store over `k + m` directories (`BlobStore` on an
//! in-memory `vfs::MemFs`) and over `k + m` object stores (`ObjectBlobStore`
//! on `objstore::MemStore`s), in one run: streaming puts of whole blobs
//! through `BlobWriter`, whole gets, and 4 KiB ranged gets. Both sides are
//! in memory, so this measures the code paths (coding, CRCs, buffering,
//! requests), not a disk or a network.
//!
//! `cargo run --release -p larder-erasure --example dirs_vs_objects [blobs] [blob KiB] [rounds]`

#![allow(
    clippy::print_stdout,
    reason = "an example reports what it measured on stdout"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use larder_erasure::{BlobId, BlobStore, ObjectBlobStore, Options};
use objstore::{MemStore, Store};

fn arg(i: usize, default: usize) -> usize {
    std::env::args()
        .nth(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

/// Times per operation kind for one side.
#[derive(Default)]
struct Times {
    put: Duration,
    get: Duration,
    range: Duration,
}

fn main() -> larder_erasure::Result<()> {
    let blobs = arg(1, 64);
    let blob_kib = arg(2, 1024);
    let rounds = arg(3, 5);
    let ranges_per_blob = 64;
    let options = Options {
        data_shards: 4,
        parity_shards: 2,
        ..Options::default()
    };
    let data: Vec<u8> = (0..blob_kib * 1024).map(|i| (i * 31 % 251) as u8).collect();
    let (mut dirs_t, mut objs_t) = (Times::default(), Times::default());
    for _ in 0..rounds {
        // Directories.
        let fs = Arc::new(vfs::MemFs::new());
        let dirs: Vec<String> = (0..6).map(|i| format!("/d{i}")).collect();
        let store = BlobStore::open_with_fs(fs, &dirs, options)?;
        let t = Instant::now();
        let mut ids = Vec::new();
        for i in 0..blobs {
            let mut w = store.writer_with_id(BlobId(i as u64))?;
            for piece in data.chunks(64 << 10) {
                w.write_all_bytes(piece)?;
            }
            ids.push(w.finish()?);
        }
        dirs_t.put += t.elapsed();
        let t = Instant::now();
        for &id in &ids {
            assert_eq!(store.get(id)?.len(), data.len());
        }
        dirs_t.get += t.elapsed();
        let t = Instant::now();
        for &id in &ids {
            for r in 0..ranges_per_blob {
                let off = (r * 7919 * 4096) % (data.len() - 4096);
                assert_eq!(store.get_range(id, off as u64, 4096)?.len(), 4096);
            }
        }
        dirs_t.range += t.elapsed();

        // Object stores.
        let stores: Vec<Arc<dyn Store>> = (0..6)
            .map(|_| Arc::new(MemStore::new()) as Arc<dyn Store>)
            .collect();
        let store = ObjectBlobStore::open(stores, options)?;
        let t = Instant::now();
        let mut ids = Vec::new();
        for i in 0..blobs {
            let mut w = store.writer_with_id(BlobId(i as u64));
            for piece in data.chunks(64 << 10) {
                w.write_all_bytes(piece)?;
            }
            ids.push(w.finish()?);
        }
        objs_t.put += t.elapsed();
        let t = Instant::now();
        for &id in &ids {
            assert_eq!(store.get(id)?.len(), data.len());
        }
        objs_t.get += t.elapsed();
        let t = Instant::now();
        for &id in &ids {
            for r in 0..ranges_per_blob {
                let off = (r * 7919 * 4096) % (data.len() - 4096);
                assert_eq!(store.get_range(id, off as u64, 4096)?.len(), 4096);
            }
        }
        objs_t.range += t.elapsed();
    }
    let mib = (blobs * blob_kib * rounds) as f64 / 1024.0;
    let ranges = (blobs * ranges_per_blob * rounds) as f64;
    println!(
        "RS(4,2), {blobs} blobs of {blob_kib} KiB, {rounds} rounds, {ranges_per_blob} ranged gets of 4 KiB per blob"
    );
    println!("op           dirs (MemFs)    objects (MemStore)   objects/dirs");
    for (name, d, o, per) in [
        ("put MiB/s", dirs_t.put, objs_t.put, mib),
        ("get MiB/s", dirs_t.get, objs_t.get, mib),
        ("range op/s", dirs_t.range, objs_t.range, ranges),
    ] {
        let (a, b) = (per / d.as_secs_f64(), per / o.as_secs_f64());
        println!("{name:<12} {a:>12.1}    {b:>12.1}         {:>6.2}", b / a);
    }
    Ok(())
}
