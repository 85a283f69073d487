//! Redis compatibility: its hash, and the `HYLL` strings `GET` returns and
//! `SET` stores.
//!
//! A Redis HyperLogLog string is a 16-byte header (`HYLL`, encoding byte
//! 0 dense / 1 sparse, 3 unused bytes, 8 bytes of cached cardinality whose
//! top bit marks the cache stale) then, dense, 16,384 6-bit registers packed
//! least significant bit first (12,288 bytes), or, sparse, run-length
//! opcodes: `00xxxxxx` a run of `x + 1` zero registers, `01xxxxxx yyyyyyyy` a
//! run of `(x << 8 | y) + 1` zero registers, `1vvvvvxx` a run of `x + 1`
//! registers holding `v + 1`.

use crate::error::{Error, Result};
use crate::hll::{HashMode, HyperLogLog};
use crate::registers::{Registers, packed_len};

/// Redis' precision: 2^14 registers.
pub(crate) const REDIS_PRECISION: u8 = 14;
/// The seed Redis hashes elements with.
pub(crate) const REDIS_SEED: u32 = 0xadc8_3b19;

const REGISTERS: usize = 1 << REDIS_PRECISION;
const HEADER_LEN: usize = 16;
const DENSE_LEN: usize = REGISTERS * 6 / 8;
const ENCODING_DENSE: u8 = 0;
const ENCODING_SPARSE: u8 = 1;
/// The top bit of the cached cardinality's last byte: cache stale.
const CACHE_STALE: u8 = 0x80;

/// MurmurHash64A (Austin Appleby), as Redis computes it: 8-byte words read
/// little-endian, the tail folded in from its last byte down.
pub fn murmur_hash64a(key: &[u8], seed: u32) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = u64::from(seed) ^ (key.len() as u64).wrapping_mul(M);
    let mut words = key.chunks_exact(8);
    for word in &mut words {
        let mut k = u64::from_le_bytes([
            word[0], word[1], word[2], word[3], word[4], word[5], word[6], word[7],
        ]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate().rev() {
            h ^= u64::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

impl HyperLogLog {
    /// Reads a HyperLogLog string as Redis' `GET` returns it, dense or
    /// sparse, into a [`HashMode::Redis`] sketch of precision 14 (its cached
    /// cardinality is ignored; `count()` recomputes it).
    ///
    /// # Errors
    ///
    /// [`Error::Redis`] naming what is wrong: magic, encoding, length, a run
    /// past the last register or short of it.
    pub fn from_redis(bytes: &[u8]) -> Result<HyperLogLog> {
        if bytes.len() < HEADER_LEN || &bytes[..4] != b"HYLL" {
            return Err(Error::Redis {
                reason: "no HYLL header",
            });
        }
        let body = &bytes[HEADER_LEN..];
        let mut registers = Registers::new(REGISTERS);
        match bytes[4] {
            ENCODING_DENSE => {
                if body.len() != DENSE_LEN {
                    return Err(Error::Redis {
                        reason: "dense body is not 12,288 bytes",
                    });
                }
                let mut packed = body.to_vec();
                packed.resize(packed_len(REGISTERS), 0);
                registers = Registers::from_packed(packed, REGISTERS);
            }
            ENCODING_SPARSE => {
                let mut index = 0usize;
                let mut at = 0;
                while at < body.len() {
                    let op = body[at];
                    let (run, value) = if op & 0xc0 == 0x00 {
                        at += 1;
                        (usize::from(op & 0x3f) + 1, 0)
                    } else if op & 0xc0 == 0x40 {
                        let low = *body.get(at + 1).ok_or(Error::Redis {
                            reason: "truncated XZERO",
                        })?;
                        at += 2;
                        ((usize::from(op & 0x3f) << 8 | usize::from(low)) + 1, 0)
                    } else {
                        at += 1;
                        (usize::from(op & 0x3) + 1, ((op >> 2) & 0x1f) + 1)
                    };
                    if index + run > REGISTERS {
                        return Err(Error::Redis {
                            reason: "sparse runs past the last register",
                        });
                    }
                    if value > 0 {
                        for i in index..index + run {
                            registers.set(i, value);
                        }
                    }
                    index += run;
                }
                if index != REGISTERS {
                    return Err(Error::Redis {
                        reason: "sparse runs cover fewer than 16,384 registers",
                    });
                }
            }
            _ => {
                return Err(Error::Redis {
                    reason: "unknown encoding",
                });
            }
        }
        Ok(HyperLogLog::from_registers(
            HashMode::Redis,
            REDIS_PRECISION,
            registers,
        ))
    }

    /// Writes the sketch as a dense Redis HyperLogLog string, with its cached
    /// cardinality marked stale so Redis recomputes it: `SET` it, and
    /// `PFCOUNT` agrees with [`count`](Self::count).
    ///
    /// # Errors
    ///
    /// [`Error::Redis`] unless the sketch is a [`HashMode::Redis`] sketch of
    /// precision 14 (reduce a larger one first).
    pub fn to_redis(&self) -> Result<Vec<u8>> {
        if self.mode() != HashMode::Redis || self.precision() != REDIS_PRECISION {
            return Err(Error::Redis {
                reason: "only a Redis-mode sketch of precision 14 is a Redis HyperLogLog",
            });
        }
        let mut out = Vec::with_capacity(HEADER_LEN + DENSE_LEN);
        out.extend_from_slice(b"HYLL");
        out.extend_from_slice(&[ENCODING_DENSE, 0, 0, 0]);
        out.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, CACHE_STALE]);
        out.extend_from_slice(&self.packed()[..DENSE_LEN]);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur_matches_reference_values() {
        // Values of the reference MurmurHash64A (seed 0), little-endian.
        assert_eq!(murmur_hash64a(b"", 0), 0);
        assert_ne!(
            murmur_hash64a(b"a", REDIS_SEED),
            murmur_hash64a(b"b", REDIS_SEED)
        );
    }

    #[test]
    fn sparse_opcodes_decode_as_documented() {
        // XZERO of 16,000, VAL 3 x2, ZERO 64, XZERO of the remaining 318.
        let mut bytes = b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80".to_vec();
        let xzero = |n: usize| [0x40 | ((n - 1) >> 8) as u8, ((n - 1) & 0xff) as u8];
        bytes.extend_from_slice(&xzero(16_000));
        bytes.push(0x80 | (2 << 2) | 1);
        bytes.push(63);
        bytes.extend_from_slice(&xzero(REGISTERS - 16_000 - 2 - 64));
        let s = HyperLogLog::from_redis(&bytes).unwrap();
        assert_eq!(s.register(15_999), Some(0));
        assert_eq!(
            (s.register(16_000), s.register(16_001), s.register(16_002)),
            (Some(3), Some(3), Some(0))
        );
        let mut short = bytes.clone();
        short.pop();
        short.pop();
        assert!(matches!(
            HyperLogLog::from_redis(&short),
            Err(Error::Redis { .. })
        ));
    }
}
