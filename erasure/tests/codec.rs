//! The codec against its promise: any `k` of `k + m` shards give the stripe
//! back, exactly; fewer is a clear error, never a panic.

mod common;

use common::reference_shards;
use larder_erasure::{Codec, Error, ShardBuffers};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// Splits `blob` into stripes, encodes each, drops `lost` shard indexes from
/// every stripe, decodes and joins.
fn round_trip(
    codec: &Codec,
    blob: &[u8],
    stripe: usize,
    lost: &[usize],
) -> larder_erasure::Result<Vec<u8>> {
    let mut out = Vec::new();
    for chunk in blob.chunks(stripe) {
        let mut shards: Vec<_> = codec.encode(chunk)?.into_iter().map(Some).collect();
        for &i in lost {
            shards[i] = None;
        }
        out.extend(codec.decode(&shards)?);
    }
    Ok(out)
}

fn case() -> impl Strategy<Value = (usize, usize, usize, Vec<u8>, u64)> {
    (1usize..=16, 0usize..=8, 1usize..=3000).prop_flat_map(|(k, m, stripe)| {
        (
            Just(k),
            Just(m),
            Just(stripe),
            proptest::collection::vec(any::<u8>(), 0..=stripe * 4 + 7),
            any::<u64>(),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_m_lost_shards_still_decode_exactly((k, m, stripe, blob, seed) in case()) {
        let codec = Codec::new(k, m).unwrap();
        let mut rng = StdRng::seed_from_u64(seed);
        let mut idx: Vec<usize> = (0..k + m).collect();
        idx.shuffle(&mut rng);
        let lost = rng.random_range(0..=m);
        let back = round_trip(&codec, &blob, stripe, &idx[..lost]).unwrap();
        prop_assert_eq!(back, blob);
    }

    #[test]
    fn m_plus_one_lost_shards_is_a_clear_error((k, m, stripe, mut blob, seed) in case()) {
        if blob.is_empty() { blob.push(1); }
        let codec = Codec::new(k, m).unwrap();
        let mut rng = StdRng::seed_from_u64(seed);
        let mut idx: Vec<usize> = (0..k + m).collect();
        idx.shuffle(&mut rng);
        let lost = (m + 1).min(k + m);
        let result = round_trip(&codec, &blob, stripe, &idx[..lost]);
        let present = k + m - lost;
        let ok = matches!(result, Err(Error::TooFewShards { present: p, needed }) if p == present && needed == k);
        prop_assert!(ok, "{:?}", result);
    }

    #[test]
    fn reconstruct_rebuilds_exactly_the_lost_shards((k, m, stripe, blob, seed) in case()) {
        let codec = Codec::new(k, m).unwrap();
        let mut rng = StdRng::seed_from_u64(seed);
        for chunk in blob.chunks(stripe) {
            let all = codec.encode(chunk).unwrap();
            let mut some: Vec<_> = all.iter().cloned().map(Some).collect();
            let mut idx: Vec<usize> = (0..k + m).collect();
            idx.shuffle(&mut rng);
            for &i in &idx[..rng.random_range(0..=m)] { some[i] = None; }
            codec.reconstruct(&mut some).unwrap();
            let back: Vec<_> = some.into_iter().map(Option::unwrap).collect();
            prop_assert_eq!(back, all);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// `encode_into` (slices of the caller's bytes, buffers reused across
    /// stripes of shrinking and growing lengths) and `encode` give the bytes
    /// of the copying encoder they replaced, for empty stripes and lengths
    /// that are no multiple of `k`.
    #[test]
    fn zero_copy_encode_matches_the_copying_encoder((k, m, stripe, blob, _seed) in case()) {
        let codec = Codec::new(k, m).unwrap();
        let mut buffers = ShardBuffers::default();
        let first = blob.chunks(stripe).next().unwrap_or(&[]);
        let stripes = blob.chunks(stripe).chain([&[][..], first, &blob[..blob.len().min(k + 1)]]);
        for chunk in stripes {
            let expected = reference_shards(k, m, chunk);
            let got = codec.encode_into(chunk, &mut buffers).unwrap();
            prop_assert_eq!(got.len(), k + m);
            for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
                prop_assert_eq!(*g, &e[..], "shard {} of {} bytes", i, chunk.len());
            }
            let owned = codec.encode(chunk).unwrap();
            for (i, (shard, e)) in owned.iter().zip(&expected).enumerate() {
                prop_assert_eq!(shard.index, i);
                prop_assert_eq!(shard.data_len, chunk.len() as u64);
                prop_assert_eq!(&shard.bytes, e);
            }
        }
    }

    /// `decode` copies only `k` shards and skips the code when the data
    /// shards are all there; `reconstruct` lends the present shards' bytes
    /// to the code. Neither may change what they return, and a failed
    /// `reconstruct` leaves the shards as they were.
    #[test]
    fn decode_and_reconstruct_leave_present_shards_whole((k, m, stripe, blob, seed) in case()) {
        let codec = Codec::new(k, m).unwrap();
        let mut rng = StdRng::seed_from_u64(seed);
        for chunk in blob.chunks(stripe) {
            let all = codec.encode(chunk).unwrap();
            let mut some: Vec<_> = all.iter().cloned().map(Some).collect();
            let mut idx: Vec<usize> = (0..k + m).collect();
            idx.shuffle(&mut rng);
            let lost = rng.random_range(0..=(m + 1).min(k + m));
            for &i in &idx[..lost] { some[i] = None; }
            let before = some.clone();
            if lost <= m {
                prop_assert_eq!(codec.decode(&some).unwrap(), chunk);
                codec.reconstruct(&mut some).unwrap();
                let back: Vec<_> = some.into_iter().map(Option::unwrap).collect();
                prop_assert_eq!(&back, &all);
            } else {
                prop_assert!(codec.decode(&some).is_err());
                prop_assert!(codec.reconstruct(&mut some).is_err());
                prop_assert_eq!(&some, &before);
            }
        }
    }
}

#[test]
fn padding_is_recorded_not_guessed() {
    // Trailing zeros in the data must survive although padding is zeros too.
    let codec = Codec::new(4, 2).unwrap();
    let data = [1u8, 0, 0, 0, 0, 0, 0];
    let shards = codec.encode(&data).unwrap();
    assert!(shards.iter().all(|s| s.data_len == 7 && s.bytes.len() == 2));
    let some: Vec<_> = shards.into_iter().map(Some).collect();
    assert_eq!(codec.decode(&some).unwrap(), data);
}
