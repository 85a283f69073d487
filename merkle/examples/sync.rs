//! Anti-entropy between two replicas: find the key ranges where they differ
//! with range trees, and repair the stale replica from the fresh one.
//!
//! `cargo run --release -p larder-merkle --example sync`

#![allow(
    clippy::print_stdout,
    reason = "an example reports what it did on stdout"
)]

use std::collections::BTreeMap;

use larder_merkle::{RangeTree, Xxh3, diff_counted};

fn main() -> larder_merkle::Result<()> {
    let fresh: BTreeMap<Vec<u8>, Vec<u8>> = (0u64..1_000_000)
        .map(|i| {
            (
                i.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes().to_vec(),
                i.to_le_bytes().to_vec(),
            )
        })
        .collect();
    let mut stale = fresh.clone();
    // The stale replica missed some writes, a delete and an update.
    let keys: Vec<Vec<u8>> = fresh.keys().step_by(100_003).cloned().collect();
    for key in &keys[..4] {
        stale.remove(key);
    }
    stale.insert(b"\xffzombie".to_vec(), b"deleted elsewhere".to_vec());
    stale.insert(keys[5].clone(), b"old value".to_vec());

    const RANGES: u32 = 4096;
    let fresh_tree = RangeTree::<Xxh3>::build_uniform(RANGES, fresh.iter())?;
    let stale_tree = RangeTree::<Xxh3>::build_uniform(RANGES, stale.iter())?;
    let diff = diff_counted(&fresh_tree, &stale_tree)?;
    println!(
        "{} keys, {RANGES} ranges: {} ranges differ, found with {} hash comparisons (a full scan compares {} entries)",
        fresh.len(),
        diff.ranges.len(),
        diff.hashes_compared,
        fresh.len()
    );

    let mut copied = 0;
    for range in &diff.ranges {
        stale.retain(|k, _| !range.contains(k));
        for (k, v) in fresh.range(range.start.clone().unwrap_or_default()..) {
            if !range.contains(k) {
                break;
            }
            stale.insert(k.clone(), v.clone());
            copied += 1;
        }
    }
    let repaired = RangeTree::<Xxh3>::build_uniform(RANGES, stale.iter())?;
    println!(
        "copied {copied} entries; replicas equal: {}",
        repaired.root() == fresh_tree.root() && stale == fresh
    );
    assert!(stale == fresh);
    Ok(())
}
