//! The serialized sketch (see `FORMAT.md`).

use crate::error::{Error, Result};
use crate::hll::{HashMode, HyperLogLog, check_precision, max_value};
use crate::registers::{Registers, packed_len};
use crate::sparse::Sparse;
use crate::ull::{UltraLogLog, valid_register};

const MAGIC: [u8; 4] = *b"HYLS";
const VERSION: u8 = 1;
const ENCODING_DENSE6: u8 = 1;
const ENCODING_SPARSE: u8 = 2;
const ENCODING_ULL8: u8 = 3;
const HASH_XXH3_64: u8 = 1;
const HASH_REDIS: u8 = 2;
const MAGIC_OFFSET: usize = 0;
const VERSION_OFFSET: usize = MAGIC_OFFSET + 4;
const ENCODING_OFFSET: usize = VERSION_OFFSET + 1;
const PRECISION_OFFSET: usize = ENCODING_OFFSET + 1;
const HASH_OFFSET: usize = PRECISION_OFFSET + 1;
const HEADER_LEN: usize = HASH_OFFSET + 1;
const CRC_LEN: usize = 4;
const _: () = assert!(HEADER_LEN == 8);

impl HyperLogLog {
    /// Serializes the sketch: header, packed registers (dense) or sorted
    /// entries (sparse), CRC-32.
    pub fn to_bytes(&self) -> Vec<u8> {
        let hash = match self.mode() {
            HashMode::Xxh3 => HASH_XXH3_64,
            HashMode::Redis => HASH_REDIS,
        };
        match self.sparse() {
            Some(sparse) => envelope(ENCODING_SPARSE, self.precision(), hash, |out| {
                out.extend_from_slice(&(sparse.entries().len() as u32).to_le_bytes());
                for e in sparse.entries() {
                    out.extend_from_slice(&e.to_le_bytes());
                }
            }),
            None => envelope(ENCODING_DENSE6, self.precision(), hash, |out| {
                out.extend_from_slice(self.packed());
            }),
        }
    }

    /// Decodes a sketch written by [`to_bytes`](Self::to_bytes).
    ///
    /// # Errors
    ///
    /// Truncated, trailing, corrupt (CRC), or foreign bytes; a precision out
    /// of range; a register value no hash can produce; nonzero padding; a
    /// sparse sketch that is not sorted or would have been dense.
    pub fn from_bytes(bytes: &[u8]) -> Result<HyperLogLog> {
        let precision = check_header(bytes)?;
        if bytes[ENCODING_OFFSET] == ENCODING_ULL8 {
            return Err(Error::BadHeader {
                reason: "an UltraLogLog sketch (read it with UltraLogLog::from_bytes)",
            });
        }
        let m = 1usize << precision;
        let len_expected = match bytes[ENCODING_OFFSET] {
            ENCODING_SPARSE => {
                let count = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize;
                if count.saturating_mul(4) > packed_len(m) {
                    return Err(Error::BadHeader {
                        reason: "sparse sketch larger than its dense form",
                    });
                }
                HEADER_LEN + 4 + count * 4 + CRC_LEN
            }
            _ => HEADER_LEN + packed_len(m) + CRC_LEN,
        };
        let body = check_len_and_crc(bytes, len_expected)?;
        let mode = match (bytes[ENCODING_OFFSET], bytes[HASH_OFFSET]) {
            (ENCODING_SPARSE, HASH_XXH3_64) => {
                let entries = bytes[HEADER_LEN + 4..body]
                    .chunks_exact(4)
                    .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                let sparse = Sparse::from_entries(entries).ok_or(Error::BadHeader {
                    reason: "sparse entries unsorted or out of range",
                })?;
                let sketch = HyperLogLog::from_sparse(precision, sparse);
                if !sketch.is_sparse() {
                    return Err(Error::BadHeader {
                        reason: "sparse sketch larger than its dense form",
                    });
                }
                return Ok(sketch);
            }
            (ENCODING_DENSE6, HASH_XXH3_64) => HashMode::Xxh3,
            (ENCODING_DENSE6, HASH_REDIS) => HashMode::Redis,
            _ => {
                return Err(Error::BadHeader {
                    reason: "unknown encoding or hash",
                });
            }
        };
        let registers = Registers::from_packed(bytes[HEADER_LEN..body].to_vec(), m);
        let max = max_value(precision);
        for (index, value) in registers.iter().enumerate() {
            if value > max {
                return Err(Error::RegisterValue { index, value, max });
            }
        }
        // Bits past the last register must be zero, so every sketch has one
        // encoding.
        let used_bits = m * crate::registers::REGISTER_BITS;
        let packed = registers.as_packed();
        let tail_nonzero = packed[used_bits / 8..].iter().enumerate().any(|(i, &b)| {
            if i == 0 {
                b >> (used_bits % 8) != 0
            } else {
                b != 0
            }
        });
        if tail_nonzero {
            return Err(Error::BadHeader {
                reason: "nonzero padding after the registers",
            });
        }
        Ok(HyperLogLog::from_registers(mode, precision, registers))
    }
}

/// Header, the body `write_body` appends, CRC-32 of both.
fn envelope(
    encoding: u8,
    precision: u8,
    hash: u8,
    write_body: impl FnOnce(&mut Vec<u8>),
) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + (1 << precision) + CRC_LEN);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&[VERSION, encoding, precision, hash]);
    write_body(&mut out);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Checks what every serialized sketch starts with: length for a header
/// and CRC, magic, version, precision. Returns the precision.
fn check_header(bytes: &[u8]) -> Result<u8> {
    if bytes.len() < HEADER_LEN + CRC_LEN {
        return Err(Error::Truncated {
            len: bytes.len(),
            len_expected: HEADER_LEN + CRC_LEN,
        });
    }
    if bytes[MAGIC_OFFSET..MAGIC_OFFSET + 4] != MAGIC {
        return Err(Error::BadHeader {
            reason: "not a sketch (magic)",
        });
    }
    if bytes[VERSION_OFFSET] != VERSION {
        return Err(Error::BadHeader {
            reason: "unsupported version",
        });
    }
    let precision = bytes[PRECISION_OFFSET];
    check_precision(precision)?;
    Ok(precision)
}

/// Checks the length the header implies and the CRC-32 at its end; returns
/// the length of the bytes before the CRC.
fn check_len_and_crc(bytes: &[u8], len_expected: usize) -> Result<usize> {
    if bytes.len() < len_expected {
        return Err(Error::Truncated {
            len: bytes.len(),
            len_expected,
        });
    }
    if bytes.len() > len_expected {
        return Err(Error::TrailingBytes {
            len: bytes.len(),
            len_expected,
        });
    }
    let body = len_expected - CRC_LEN;
    let expected = u32::from_le_bytes([
        bytes[body],
        bytes[body + 1],
        bytes[body + 2],
        bytes[body + 3],
    ]);
    let found = crc32fast::hash(&bytes[..body]);
    if expected != found {
        return Err(Error::Checksum { expected, found });
    }
    Ok(body)
}

impl UltraLogLog {
    /// Serializes the sketch: header (encoding 3), one byte per register,
    /// CRC-32 (see `FORMAT.md`).
    pub fn to_bytes(&self) -> Vec<u8> {
        envelope(ENCODING_ULL8, self.precision(), HASH_XXH3_64, |out| {
            out.extend_from_slice(self.as_bytes());
        })
    }

    /// Decodes a sketch written by [`to_bytes`](Self::to_bytes).
    ///
    /// # Errors
    ///
    /// Truncated, trailing, corrupt (CRC) or foreign bytes (a HyperLogLog
    /// is refused with [`Error::BadHeader`]); a precision out of range; a
    /// register no stream of hashes can produce ([`Error::RegisterValue`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<UltraLogLog> {
        let precision = check_header(bytes)?;
        if (bytes[ENCODING_OFFSET], bytes[HASH_OFFSET]) != (ENCODING_ULL8, HASH_XXH3_64) {
            return Err(Error::BadHeader {
                reason: "not an UltraLogLog sketch (encoding or hash)",
            });
        }
        let m = 1usize << precision;
        let body = check_len_and_crc(bytes, HEADER_LEN + m + CRC_LEN)?;
        let registers = bytes[HEADER_LEN..body].to_vec();
        if let Some((index, &value)) = registers
            .iter()
            .enumerate()
            .find(|&(_, &r)| !valid_register(r, precision))
        {
            return Err(Error::RegisterValue {
                index,
                value,
                max: (65 - precision) << 2 | 3,
            });
        }
        Ok(UltraLogLog::from_registers(precision, registers))
    }
}
