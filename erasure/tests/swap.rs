//! The codec is swappable: `reed-solomon-simd` (an FFT-based code over
//! GF(2^16)) behind `ErasureCode` passes the same property as the default.

use std::sync::Arc;

use larder_erasure::{Codec, ErasureCode, Error, Result};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

#[derive(Debug)]
struct SimdCode {
    k: usize,
    m: usize,
}

fn err(e: reed_solomon_simd::Error) -> Error {
    Error::InconsistentShards {
        reason: e.to_string(),
    }
}

impl ErasureCode for SimdCode {
    fn data_shards(&self) -> usize {
        self.k
    }

    fn parity_shards(&self) -> usize {
        self.m
    }

    fn shard_len_multiple(&self) -> usize {
        2
    }

    fn encode(&self, data: &[&[u8]], parity: &mut [&mut [u8]]) -> Result<()> {
        if self.m == 0 {
            return Ok(());
        }
        let recovery = reed_solomon_simd::encode(self.k, self.m, data).map_err(err)?;
        for (p, r) in parity.iter_mut().zip(recovery) {
            p.copy_from_slice(&r);
        }
        Ok(())
    }

    fn reconstruct(&self, shards: &mut [Option<Vec<u8>>], data_only: bool) -> Result<()> {
        let present = shards.iter().filter(|s| s.is_some()).count();
        if present < self.k || (self.m == 0 && present < shards.len()) {
            return Err(Error::TooFewShards {
                present,
                needed: self.k,
            });
        }
        if shards[..self.k].iter().any(Option::is_none) {
            let original = (0..self.k).filter_map(|i| shards[i].as_ref().map(|s| (i, s.clone())));
            let recovery =
                (0..self.m).filter_map(|i| shards[self.k + i].as_ref().map(|s| (i, s.clone())));
            let restored =
                reed_solomon_simd::decode(self.k, self.m, original, recovery).map_err(err)?;
            for (i, s) in restored {
                shards[i] = Some(s);
            }
        }
        if !data_only && shards[self.k..].iter().any(Option::is_none) {
            let data: Vec<&[u8]> = shards[..self.k]
                .iter()
                .flatten()
                .map(Vec::as_slice)
                .collect();
            let recovery = reed_solomon_simd::encode(self.k, self.m, data).map_err(err)?;
            for (slot, r) in shards[self.k..].iter_mut().zip(recovery) {
                slot.get_or_insert(r);
            }
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn swapped_codec_decodes_any_m_lost_shards_exactly(
        k in 1usize..=16,
        m in 0usize..=8,
        data in proptest::collection::vec(any::<u8>(), 0..3000),
        seed in any::<u64>(),
    ) {
        let codec = Codec::with_code(Arc::new(SimdCode { k, m })).unwrap();
        let shards = codec.encode(&data).unwrap();
        prop_assert!(shards.iter().all(|s| s.bytes.len() % 2 == 0));
        let mut rng = StdRng::seed_from_u64(seed);
        let mut idx: Vec<usize> = (0..k + m).collect();
        idx.shuffle(&mut rng);
        let mut some: Vec<_> = shards.iter().cloned().map(Some).collect();
        for &i in &idx[..rng.random_range(0..=m)] {
            some[i] = None;
        }
        prop_assert_eq!(codec.decode(&some).unwrap(), data);
        codec.reconstruct(&mut some).unwrap();
        let back: Vec<_> = some.into_iter().map(Option::unwrap).collect();
        prop_assert_eq!(back, shards);
    }
}
