//! The erasure code of one stripe: `k` data shards and `m` parity shards, any
//! `k` of which give the stripe back.
//!
//! [`ErasureCode`] is the small trait a coding library sits behind (here
//! [`ReedSolomonCode`], over `reed-solomon-erasure`, GF(2^8)), so another can
//! be swapped in; [`Codec`] adds stripe framing on top: it splits a stripe into
//! equal shards, zero-pads the last, and records the stripe's length in every
//! [`Shard`] so decoding cuts the padding by what was recorded, not by a guess.

use std::fmt;
use std::sync::Arc;

use crate::{Error, Result};

/// Most shards (data plus parity) a code over GF(2^8) can have.
pub const SHARDS_MAX: usize = 256;

/// A systematic erasure code over equal-length shards: the first `k` shards
/// are the data itself, the last `m` are parity.
///
/// # Concurrency
///
/// Implementations are immutable after construction; any thread may call
/// any method at once.
pub trait ErasureCode: Send + Sync + fmt::Debug {
    /// `k`, the number of data shards.
    fn data_shards(&self) -> usize;

    /// `m`, the number of parity shards.
    fn parity_shards(&self) -> usize;

    /// Computes the `m` parity shards from the `k` data shards. Every slice
    /// has the same length; what `parity` held before is overwritten, every
    /// byte of it ([`Codec::encode_into`] reuses its buffers unzeroed).
    ///
    /// # Errors
    ///
    /// [`Error::InconsistentShards`] if the counts or lengths are wrong.
    fn encode(&self, data: &[&[u8]], parity: &mut [&mut [u8]]) -> Result<()>;

    /// Fills in the missing (`None`) shards of `shards` (`k + m` entries, the
    /// present ones of equal, non-zero length): all of them, or only the data
    /// shards when `data_only`.
    ///
    /// # Errors
    ///
    /// [`Error::TooFewShards`] if fewer than `k` are present.
    fn reconstruct(&self, shards: &mut [Option<Vec<u8>>], data_only: bool) -> Result<()>;

    /// Shard lengths must be a multiple of this (1 for Reed-Solomon over
    /// GF(2^8); 2 for codes over GF(2^16) such as `reed-solomon-simd`).
    /// [`Codec`] pads shards up to it.
    fn shard_len_multiple(&self) -> usize {
        1
    }
}

/// [`ErasureCode`] over the `reed-solomon-erasure` crate (GF(2^8), Vandermonde
/// based, the Backblaze construction). With no parity shards it is the
/// identity code: nothing to compute, and nothing can be lost.
pub struct ReedSolomonCode {
    data_shards: usize,
    parity_shards: usize,
    // None when parity_shards == 0: the crate refuses that layout.
    rs: Option<reed_solomon_erasure::galois_8::ReedSolomon>,
}

impl fmt::Debug for ReedSolomonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReedSolomonCode")
            .field("data_shards", &self.data_shards)
            .field("parity_shards", &self.parity_shards)
            .finish()
    }
}

impl ReedSolomonCode {
    /// A code with `data_shards` data and `parity_shards` parity shards.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidLayout`] if `data_shards == 0` or the total exceeds
    /// [`SHARDS_MAX`].
    pub fn new(data_shards: usize, parity_shards: usize) -> Result<ReedSolomonCode> {
        check_layout(data_shards, parity_shards)?;
        let rs = if parity_shards == 0 {
            None
        } else {
            Some(
                reed_solomon_erasure::galois_8::ReedSolomon::new(data_shards, parity_shards)
                    .map_err(|e| Error::InvalidLayout {
                        reason: format!("{e:?}"),
                    })?,
            )
        };
        Ok(ReedSolomonCode {
            data_shards,
            parity_shards,
            rs,
        })
    }
}

/// Checks `k ≥ 1` and `k + m ≤ 256`.
pub(crate) fn check_layout(data_shards: usize, parity_shards: usize) -> Result<()> {
    if data_shards == 0 {
        return Err(Error::InvalidLayout {
            reason: "at least one data shard is needed".into(),
        });
    }
    if data_shards + parity_shards > SHARDS_MAX {
        return Err(Error::InvalidLayout {
            reason: format!(
                "{data_shards} data + {parity_shards} parity shards exceed {SHARDS_MAX}"
            ),
        });
    }
    Ok(())
}

fn inconsistent(e: reed_solomon_erasure::Error) -> Error {
    Error::InconsistentShards {
        reason: format!("{e:?}"),
    }
}

impl ErasureCode for ReedSolomonCode {
    fn data_shards(&self) -> usize {
        self.data_shards
    }

    fn parity_shards(&self) -> usize {
        self.parity_shards
    }

    fn encode(&self, data: &[&[u8]], parity: &mut [&mut [u8]]) -> Result<()> {
        if data.len() != self.data_shards || parity.len() != self.parity_shards {
            return Err(Error::InconsistentShards {
                reason: format!(
                    "{} data and {} parity slices for a {}+{} code",
                    data.len(),
                    parity.len(),
                    self.data_shards,
                    self.parity_shards
                ),
            });
        }
        match &self.rs {
            None => Ok(()),
            Some(rs) => rs.encode_sep(data, parity).map_err(inconsistent),
        }
    }

    fn reconstruct(&self, shards: &mut [Option<Vec<u8>>], data_only: bool) -> Result<()> {
        let present = shards.iter().filter(|s| s.is_some()).count();
        if present < self.data_shards {
            return Err(Error::TooFewShards {
                present,
                needed: self.data_shards,
            });
        }
        if present == shards.len() {
            return Ok(());
        }
        match &self.rs {
            // With no parity, k present out of k means all present.
            None => Err(Error::TooFewShards {
                present,
                needed: self.data_shards,
            }),
            Some(rs) if data_only => rs.reconstruct_data(shards).map_err(inconsistent),
            Some(rs) => rs.reconstruct(shards).map_err(inconsistent),
        }
    }
}

/// One shard of one stripe, as [`Codec::encode`] makes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Position among the `k + m` shards: `0..k` data, `k..k+m` parity.
    pub index: usize,
    /// Length of the stripe's data before padding: what decoding returns.
    pub data_len: u64,
    /// The shard's bytes; every shard of a stripe has the same length.
    pub bytes: Vec<u8>,
}

/// The buffers [`Codec::encode_into`] writes into: the parity shards, and
/// the data shards that the padding reaches. Keep one across stripes so
/// coding allocates nothing after the first; it holds about `m + 1` shards.
#[derive(Clone, Debug, Default)]
pub struct ShardBuffers {
    /// The `m` parity shards of the last stripe coded.
    parity: Vec<Vec<u8>>,
    /// The data shards past the last one wholly inside the stripe's bytes:
    /// the stripe's tail, then zeros up to a whole number of shards.
    padded: Vec<u8>,
}

/// Splits stripes into `k` data shards plus `m` parity shards and back.
///
/// ```
/// # fn main() -> larder_erasure::Result<()> {
/// let codec = larder_erasure::Codec::new(4, 2)?;
/// let shards = codec.encode(b"eleven bytes")?;
/// let mut some: Vec<_> = shards.into_iter().map(Some).collect();
/// some[0] = None;
/// some[5] = None;
/// assert_eq!(codec.decode(&some)?, b"eleven bytes");
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Codec {
    code: Arc<dyn ErasureCode>,
}

impl Codec {
    /// A Reed-Solomon codec ([`ReedSolomonCode`]) with `k = data_shards`,
    /// `m = parity_shards`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidLayout`] if `data_shards == 0` or `k + m > 256`.
    pub fn new(data_shards: usize, parity_shards: usize) -> Result<Codec> {
        Ok(Codec {
            code: Arc::new(ReedSolomonCode::new(data_shards, parity_shards)?),
        })
    }

    /// A codec over any [`ErasureCode`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidLayout`] if the code's layout is out of range.
    pub fn with_code(code: Arc<dyn ErasureCode>) -> Result<Codec> {
        check_layout(code.data_shards(), code.parity_shards())?;
        Ok(Codec { code })
    }

    /// `k`.
    pub fn data_shards(&self) -> usize {
        self.code.data_shards()
    }

    /// `m`.
    pub fn parity_shards(&self) -> usize {
        self.code.parity_shards()
    }

    /// `k + m`.
    pub fn total_shards(&self) -> usize {
        self.data_shards() + self.parity_shards()
    }

    /// The length of each shard of a stripe of `data_len` bytes: `data_len / k`
    /// rounded up, then up to the code's
    /// [`shard_len_multiple`](ErasureCode::shard_len_multiple) (the data
    /// shards are zero-padded).
    pub fn shard_len(&self, data_len: u64) -> u64 {
        let multiple = self.code.shard_len_multiple().max(1) as u64;
        data_len
            .div_ceil(self.data_shards() as u64)
            .next_multiple_of(multiple)
    }

    /// Encodes one stripe into `k + m` owned shards, `k` of which suffice to
    /// decode. The data shards are copies of `data`; to code without copying,
    /// use [`Codec::encode_into`].
    ///
    /// # Errors
    ///
    /// Only if the underlying code fails (a bug in it).
    pub fn encode(&self, data: &[u8]) -> Result<Vec<Shard>> {
        let k = self.data_shards();
        let mut buffers = ShardBuffers::default();
        let shards = self.encode_into(data, &mut buffers)?;
        let mut bytes: Vec<Vec<u8>> = shards[..k].iter().map(|s| s.to_vec()).collect();
        // The parity buffers become the parity shards: no copy.
        bytes.extend(std::mem::take(&mut buffers.parity));
        let data_len = data.len() as u64;
        Ok(bytes
            .into_iter()
            .enumerate()
            .map(|(index, bytes)| Shard {
                index,
                data_len,
                bytes,
            })
            .collect())
    }

    /// Encodes one stripe without copying it: returns the `k + m` shards, in
    /// order, as slices. Data shards that lie wholly inside `data` are slices
    /// of it; the zero-padded rest (less than one shard of `data`, plus fewer
    /// than `k` bytes of zeros, or than `k` times the code's
    /// [`shard_len_multiple`](ErasureCode::shard_len_multiple)) and the
    /// parity are written into `buffers`, which a caller coding many stripes
    /// keeps, so that after the first stripe coding allocates nothing but
    /// the returned list. The bytes are those [`Codec::encode`] returns.
    ///
    /// ```
    /// # fn main() -> larder_erasure::Result<()> {
    /// let codec = larder_erasure::Codec::new(4, 2)?;
    /// let mut buffers = larder_erasure::ShardBuffers::default();
    /// let shards = codec.encode_into(b"ten bytes!", &mut buffers)?;
    /// assert_eq!(shards.len(), 6);
    /// assert_eq!(shards[1], b" by");
    /// // Only the last data shard is a copy: the tail and its padding.
    /// assert_eq!(shards[3], b"!\0\0");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidLayout`] if the stripe is too large for this
    /// platform's memory; otherwise only if the underlying code fails (a bug
    /// in it).
    pub fn encode_into<'a>(
        &self,
        data: &'a [u8],
        buffers: &'a mut ShardBuffers,
    ) -> Result<Vec<&'a [u8]>> {
        let k = self.data_shards();
        let m = self.parity_shards();
        let shard_len = usize::try_from(self.shard_len(data.len() as u64)).map_err(|_| {
            Error::InvalidLayout {
                reason: "stripe too large for this platform".into(),
            }
        })?;
        // Data shards 0..whole are slices of `data`; whole..k, the ones the
        // padding reaches, are copied into `buffers.padded`.
        let whole = data.len().checked_div(shard_len).unwrap_or(0).min(k);
        let tail = &data[whole * shard_len..];
        let padded_len = (k - whole) * shard_len;
        debug_assert!(tail.len() <= padded_len);
        buffers.padded.clear();
        buffers.padded.extend_from_slice(tail);
        buffers.padded.resize(padded_len, 0);
        buffers.parity.resize_with(m, Vec::new);
        for p in &mut buffers.parity {
            // Every byte is overwritten by the code: no need to zero them.
            p.resize(shard_len, 0);
        }
        let padded = buffers.padded.as_slice();
        let data_shards: Vec<&'a [u8]> = if shard_len == 0 {
            vec![&[]; k]
        } else {
            data[..whole * shard_len]
                .chunks_exact(shard_len)
                .chain(padded.chunks_exact(shard_len))
                .collect()
        };
        debug_assert_eq!(data_shards.len(), k);
        if shard_len > 0 {
            let mut parity_refs: Vec<&mut [u8]> =
                buffers.parity.iter_mut().map(Vec::as_mut_slice).collect();
            self.code.encode(&data_shards, &mut parity_refs)?;
        }
        let mut shards = data_shards;
        shards.extend(buffers.parity.iter().map(Vec::as_slice));
        Ok(shards)
    }

    /// Decodes a stripe from its shards (`k + m` entries, `None` for a lost
    /// one); any `k` present suffice.
    ///
    /// # Errors
    ///
    /// [`Error::TooFewShards`] with fewer than `k` present;
    /// [`Error::InconsistentShards`] if the entries disagree (index, length,
    /// recorded data length).
    pub fn decode(&self, shards: &[Option<Shard>]) -> Result<Vec<u8>> {
        let data_len = self.check(shards)?;
        let k = self.data_shards();
        let len = usize::try_from(data_len).unwrap_or(usize::MAX);
        // The code is systematic: with every data shard present there is
        // nothing to compute, and nothing to copy but the result.
        if shards[..k].iter().all(Option::is_some) {
            let mut out = Vec::with_capacity(len);
            for shard in shards[..k].iter().flatten() {
                let take = (len - out.len()).min(shard.bytes.len());
                out.extend_from_slice(&shard.bytes[..take]);
            }
            return Ok(out);
        }
        // Decoding needs `k` shards: copy no more than that.
        let mut chunks: Vec<Option<Vec<u8>>> = vec![None; shards.len()];
        let mut taken = 0;
        for (chunk, shard) in chunks.iter_mut().zip(shards) {
            if taken == k {
                break;
            }
            if let Some(shard) = shard {
                *chunk = Some(shard.bytes.clone());
                taken += 1;
            }
        }
        self.reconstruct_chunks(&mut chunks, data_len, true)?;
        join_data(&chunks, k, data_len)
    }

    /// Rebuilds the missing shards of a stripe in place, leaving the present
    /// ones untouched (their bytes are lent to the code, not copied).
    ///
    /// # Errors
    ///
    /// As [`Codec::decode`]; `shards` is then as it was.
    pub fn reconstruct(&self, shards: &mut [Option<Shard>]) -> Result<()> {
        let data_len = self.check(shards)?;
        let mut chunks: Vec<Option<Vec<u8>>> = shards
            .iter_mut()
            .map(|s| s.as_mut().map(|s| std::mem::take(&mut s.bytes)))
            .collect();
        let result = self.reconstruct_chunks(&mut chunks, data_len, false);
        // The present shards get their bytes back whatever the result.
        for (index, (slot, chunk)) in shards.iter_mut().zip(chunks).enumerate() {
            match slot {
                Some(shard) => {
                    if let Some(bytes) = chunk {
                        shard.bytes = bytes;
                    }
                }
                None if result.is_ok() => {
                    *slot = chunk.map(|bytes| Shard {
                        index,
                        data_len,
                        bytes,
                    });
                }
                None => {}
            }
        }
        result
    }

    /// Rebuilds missing chunks of a stripe of `data_len` bytes: every one, or
    /// only the data chunks when `data_only`.
    pub(crate) fn reconstruct_chunks(
        &self,
        chunks: &mut [Option<Vec<u8>>],
        data_len: u64,
        data_only: bool,
    ) -> Result<()> {
        let present = chunks.iter().filter(|c| c.is_some()).count();
        let needed = self.data_shards();
        if chunks.len() != self.total_shards() {
            return Err(Error::InconsistentShards {
                reason: format!(
                    "{} shards given, codec has {}",
                    chunks.len(),
                    self.total_shards()
                ),
            });
        }
        if present < needed {
            return Err(Error::TooFewShards { present, needed });
        }
        if data_len == 0 {
            // Every shard of an empty stripe is empty: nothing to compute.
            for c in chunks.iter_mut() {
                c.get_or_insert_with(Vec::new);
            }
            return Ok(());
        }
        self.code.reconstruct(chunks, data_only)
    }

    /// Checks the shards agree; returns the recorded data length.
    fn check(&self, shards: &[Option<Shard>]) -> Result<u64> {
        if shards.len() != self.total_shards() {
            return Err(Error::InconsistentShards {
                reason: format!(
                    "{} shards given, codec has {}",
                    shards.len(),
                    self.total_shards()
                ),
            });
        }
        let mut data_len = None;
        for (i, shard) in shards.iter().enumerate() {
            let Some(shard) = shard else { continue };
            if shard.index != i {
                return Err(Error::InconsistentShards {
                    reason: format!("shard {} given at position {i}", shard.index),
                });
            }
            if *data_len.get_or_insert(shard.data_len) != shard.data_len {
                return Err(Error::InconsistentShards {
                    reason: format!("shard {i} records a different data length"),
                });
            }
            if shard.bytes.len() as u64 != self.shard_len(shard.data_len) {
                return Err(Error::InconsistentShards {
                    reason: format!(
                        "shard {i} has {} bytes, {} expected",
                        shard.bytes.len(),
                        self.shard_len(shard.data_len)
                    ),
                });
            }
        }
        data_len.ok_or(Error::TooFewShards {
            present: 0,
            needed: self.data_shards(),
        })
    }
}

/// Concatenates the first `k` chunks and cuts the padding.
pub(crate) fn join_data(chunks: &[Option<Vec<u8>>], k: usize, data_len: u64) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(usize::try_from(data_len).unwrap_or(0));
    for chunk in &chunks[..k] {
        let Some(chunk) = chunk else {
            return Err(Error::InconsistentShards {
                reason: "a data shard was not rebuilt".into(),
            });
        };
        out.extend_from_slice(chunk);
    }
    out.truncate(usize::try_from(data_len).unwrap_or(usize::MAX));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_with_too_few_shards_says_how_many() {
        let codec = Codec::new(3, 1).unwrap();
        let mut shards: Vec<_> = codec
            .encode(b"abcdefg")
            .unwrap()
            .into_iter()
            .map(Some)
            .collect();
        shards[0] = None;
        shards[2] = None;
        assert!(matches!(
            codec.decode(&shards),
            Err(Error::TooFewShards {
                present: 2,
                needed: 3
            })
        ));
    }

    #[test]
    fn layout_limits_are_errors() {
        assert!(matches!(Codec::new(0, 2), Err(Error::InvalidLayout { .. })));
        assert!(matches!(
            Codec::new(200, 57),
            Err(Error::InvalidLayout { .. })
        ));
        assert!(Codec::new(200, 56).is_ok());
    }

    #[test]
    fn reconstruct_fills_only_missing_shards() {
        let codec = Codec::new(4, 2).unwrap();
        let all = codec.encode(&[7u8; 101]).unwrap();
        let mut some: Vec<_> = all.iter().cloned().map(Some).collect();
        some[1] = None;
        some[4] = None;
        codec.reconstruct(&mut some).unwrap();
        let back: Vec<Shard> = some.into_iter().map(Option::unwrap).collect();
        assert_eq!(back, all);
    }
}
