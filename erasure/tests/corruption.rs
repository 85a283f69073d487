//! Any `m` shards of a blob may be deleted, rot (a flipped bit) or be cut
//! short, and the blob still comes back exactly; `m + 1` lost shards are a
//! clear error. Ranged reads agree with slicing a full read.

mod common;

use common::*;
use larder_erasure::Error;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use vfs::OpenMode;

#[derive(Clone, Copy, Debug)]
enum Damage {
    Delete,
    FlipBit,
    Truncate,
}

fn layout() -> impl Strategy<Value = (usize, usize, u64, usize, u64)> {
    (1usize..=16, 0usize..=8, 1u64..=700).prop_flat_map(|(k, m, stripe)| {
        (
            Just(k),
            Just(m),
            Just(stripe),
            0usize..=(stripe as usize * 4 + 13),
            any::<u64>(),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn any_m_damaged_shards_still_give_the_exact_blob((k, m, stripe, len, seed) in layout()) {
        let (mem, fs) = mem();
        let store = open(&fs, options(k, m, stripe));
        let b = blob(len, seed);
        let id = store.put(&b).unwrap();
        let other = store.put(&blob(len / 2 + 1, seed ^ 1)).unwrap();
        let mut rng = StdRng::seed_from_u64(seed);
        let mut idx: Vec<usize> = (0..k + m).collect();
        idx.shuffle(&mut rng);
        for &i in &idx[..rng.random_range(0..=m)] {
            let path = shard_path(&store, i, id);
            let file_len = fs.open(&path, OpenMode::Read).unwrap().len().unwrap();
            match [Damage::Delete, Damage::FlipBit, Damage::Truncate][rng.random_range(0..3)] {
                Damage::Delete => fs.remove_file(&path).unwrap(),
                Damage::FlipBit => mem
                    .flip_bit(&path, rng.random_range(0..file_len), rng.random_range(0..8))
                    .unwrap(),
                Damage::Truncate => {
                    let f = fs.open(&path, OpenMode::ReadWrite).unwrap();
                    f.set_len(rng.random_range(0..file_len)).unwrap();
                }
            }
        }
        prop_assert_eq!(&store.get(id).unwrap()[..], &b[..]);
        // A range anywhere agrees with the slice.
        let offset = rng.random_range(0..=len);
        let n = rng.random_range(0..=len - offset);
        prop_assert_eq!(&store.get_range(id, offset as u64, n as u64).unwrap()[..], &b[offset..offset + n]);
        // Repair makes every shard healthy again.
        store.repair(id).unwrap();
        prop_assert!(store.stat(id).unwrap().healthy.iter().all(|&h| h));
        prop_assert_eq!(&store.get(id).unwrap()[..], &b[..]);
        prop_assert_eq!(&store.get(other).unwrap()[..], &blob(len / 2 + 1, seed ^ 1)[..]);
    }

    #[test]
    fn m_plus_one_lost_shards_are_a_clear_error((k, m, stripe, len, seed) in layout()) {
        let (_, fs) = mem();
        let store = open(&fs, options(k, m, stripe));
        let id = store.put(&blob(len.max(1), seed)).unwrap();
        let mut rng = StdRng::seed_from_u64(seed);
        let mut idx: Vec<usize> = (0..k + m).collect();
        idx.shuffle(&mut rng);
        let mut lost = idx[..m + 1].to_vec();
        lost.sort_unstable();
        for &i in &lost {
            fs.remove_file(&shard_path(&store, i, id)).unwrap();
        }
        let result = store.get(id);
        let ok = match &result {
            // No header left at all (k = 1): every shard is named.
            Err(Error::Unrecoverable { blob, stripe: 0, bad_shards, good: 0, needed }) if k == 1 =>
                *blob == id && bad_shards.len() == k + m && *needed == 1,
            Err(Error::Unrecoverable { blob, stripe: 0, bad_shards, good, needed }) =>
                *blob == id
                    && *good == k - 1
                    && *needed == k
                    && bad_shards.iter().all(|s| lost.contains(&(*s as usize))),
            _ => false,
        };
        prop_assert!(ok, "{:?}", result);
        prop_assert!(store.repair(id).is_err());
        prop_assert_eq!(store.scrub().unwrap().blobs_lost, vec![id]);
    }

    #[test]
    fn ranged_reads_agree_with_slicing_get((k, m, stripe, len, seed) in layout()) {
        let (_, fs) = mem();
        let store = open(&fs, options(k, m, stripe));
        let b = blob(len, seed);
        let id = store.put(&b).unwrap();
        let mut rng = StdRng::seed_from_u64(seed);
        // With one data shard gone, affected stripes are rebuilt.
        if m > 0 && rng.random_bool(0.5) {
            fs.remove_file(&shard_path(&store, rng.random_range(0..k), id)).unwrap();
        }
        let full = store.get(id).unwrap();
        for _ in 0..8 {
            let offset = rng.random_range(0..=len);
            let n = rng.random_range(0..=len - offset);
            prop_assert_eq!(
                store.get_range(id, offset as u64, n as u64).unwrap(),
                full.slice(offset..offset + n)
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Stripes large enough that each shard's piece spans several 4 KiB CRC
    /// blocks: rot in one block is caught by ranged reads touching it, and
    /// ranges elsewhere read straight through.
    #[test]
    fn ranged_reads_over_multi_block_pieces_survive_rot(
        k in 1usize..=4,
        m in 1usize..=2,
        stripe in 4096u64..=40_000,
        stripes in 0.2f64..3.0,
        seed in any::<u64>(),
    ) {
        let (mem, fs) = mem();
        let store = open(&fs, options(k, m, stripe));
        let len = (stripe as f64 * stripes) as usize;
        let b = blob(len, seed);
        let id = store.put(&b).unwrap();
        let mut rng = StdRng::seed_from_u64(seed);
        let mut idx: Vec<usize> = (0..k + m).collect();
        idx.shuffle(&mut rng);
        for &i in &idx[..m] {
            let path = shard_path(&store, i, id);
            let file_len = fs.open(&path, OpenMode::Read).unwrap().len().unwrap();
            for _ in 0..3 {
                mem.flip_bit(&path, rng.random_range(0..file_len), rng.random_range(0..8)).unwrap();
            }
        }
        for _ in 0..12 {
            let offset = rng.random_range(0..=len);
            let n = rng.random_range(0..=(len - offset).min(20_000));
            prop_assert_eq!(&store.get_range(id, offset as u64, n as u64).unwrap()[..], &b[offset..offset + n]);
        }
        prop_assert_eq!(&store.get(id).unwrap()[..], &b[..]);
        store.repair(id).unwrap();
        prop_assert!(store.stat(id).unwrap().healthy.iter().all(|&h| h));
    }
}
