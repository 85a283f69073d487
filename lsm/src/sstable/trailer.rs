//! The 5-byte trailer after every block: compression type and CRC-32.
//!
//! `contents[n] | compression: u8 | crc32: u32`, the CRC covering the
//! (possibly compressed) contents and the compression byte.

use std::path::Path;

use bytes::Bytes;

use crate::{Error, Result};

/// Offset of the compression byte within the trailer.
pub(crate) const COMPRESSION_OFFSET: usize = 0;
/// Offset of the CRC within the trailer.
pub(crate) const CRC_OFFSET: usize = COMPRESSION_OFFSET + 1;
/// Bytes of a block trailer.
pub(crate) const TRAILER_SIZE_BYTES: usize = CRC_OFFSET + 4;
const _: () = assert!(TRAILER_SIZE_BYTES == 5);

/// Contents stored as written.
pub(crate) const COMPRESSION_NONE: u8 = 0;
/// Contents are `lz4_flex` block format with a prepended u32 size.
pub(crate) const COMPRESSION_LZ4: u8 = 1;

/// The most an LZ4 block expands: a sequence spends at least one byte per
/// 255 bytes of match length, so no block decompresses to more than 255
/// times its size (plus a little for the last literals). A size prefix
/// beyond that is damage, and is refused before anything is allocated:
/// `lz4_flex` allocates the claimed size up front.
const LZ4_EXPANSION_MAX: usize = 256;

/// Encodes `raw` plus trailer into `out`, compressing when it saves at least
/// an eighth. Returns the bytes appended.
pub(crate) fn encode(raw: &[u8], compress: bool, out: &mut Vec<u8>) -> usize {
    let start = out.len();
    let compressed = compress.then(|| lz4_flex::compress_prepend_size(raw));
    let (body, ty) = match &compressed {
        Some(c) if c.len() < raw.len() - raw.len() / 8 => (&c[..], COMPRESSION_LZ4),
        _ => (raw, COMPRESSION_NONE),
    };
    out.extend_from_slice(body);
    out.push(ty);
    let mut h = crc32fast::Hasher::new();
    h.update(body);
    h.update(&[ty]);
    out.extend_from_slice(&h.finalize().to_le_bytes());
    out.len() - start
}

/// Checks and decodes the block stored in `stored` (contents plus trailer),
/// which starts at `offset` of `file`.
///
/// # Errors
///
/// [`Error::Corruption`] on a CRC mismatch, an unknown compression type or
/// contents that do not decompress.
pub(crate) fn decode(stored: Bytes, file: &Path, offset: u64) -> Result<Bytes> {
    let Some(body_len) = stored.len().checked_sub(TRAILER_SIZE_BYTES) else {
        return Err(Error::corruption(
            file,
            offset,
            "block shorter than its trailer",
            TRAILER_SIZE_BYTES as u64,
            stored.len() as u64,
        ));
    };
    let ty = stored[body_len + COMPRESSION_OFFSET];
    let c = &stored[body_len + CRC_OFFSET..];
    let crc_stored = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
    let mut h = crc32fast::Hasher::new();
    h.update(&stored[..body_len]);
    h.update(&[ty]);
    let crc_found = h.finalize();
    if crc_found != crc_stored {
        return Err(Error::corruption(
            file,
            offset,
            "block checksum",
            u64::from(crc_stored),
            u64::from(crc_found),
        ));
    }
    match ty {
        COMPRESSION_NONE => Ok(stored.slice(..body_len)),
        COMPRESSION_LZ4 => {
            let body = &stored[..body_len];
            let claimed = body
                .get(..4)
                .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            let bound = body_len.saturating_mul(LZ4_EXPANSION_MAX);
            if claimed as usize > bound {
                return Err(Error::corruption(
                    file,
                    offset,
                    "lz4 size prefix larger than the block can decompress to",
                    bound as u64,
                    u64::from(claimed),
                ));
            }
            lz4_flex::decompress_size_prepended(body)
                .map(Bytes::from)
                .map_err(|_| {
                    Error::corruption(
                        file,
                        offset,
                        "lz4 block does not decompress to its size prefix (compressed bytes found)",
                        u64::from(claimed),
                        body_len as u64,
                    )
                })
        }
        other => Err(Error::corruption(
            file,
            offset,
            "block compression type",
            1,
            u64::from(other),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rewrites the size prefix of an encoded LZ4 block and reseals it.
    fn with_prefix(mut stored: Vec<u8>, prefix: u32) -> Vec<u8> {
        stored[..4].copy_from_slice(&prefix.to_le_bytes());
        let body_len = stored.len() - TRAILER_SIZE_BYTES;
        let crc = crc32fast::hash(&stored[..=body_len]);
        stored[body_len + CRC_OFFSET..].copy_from_slice(&crc.to_le_bytes());
        stored
    }

    #[test]
    fn a_block_shorter_than_its_trailer_says_how_short() {
        let err =
            decode(Bytes::from_static(&[1, 2, 3]), Path::new("t.sst"), 40).expect_err("short");
        assert!(matches!(
            err,
            Error::Corruption { offset: 40, expected, found: 3, .. }
                if expected == TRAILER_SIZE_BYTES as u64
        ));
    }

    #[test]
    fn the_most_compressible_block_is_within_the_expansion_bound() {
        let raw = vec![0u8; 1 << 20];
        let mut stored = Vec::new();
        encode(&raw, true, &mut stored);
        assert_eq!(stored[stored.len() - TRAILER_SIZE_BYTES], COMPRESSION_LZ4);
        let got = decode(Bytes::from(stored), Path::new("t.sst"), 0).expect("decode");
        assert_eq!(got.len(), raw.len());
    }

    #[test]
    fn a_size_prefix_beyond_the_bound_is_corruption_not_an_allocation() {
        let raw = vec![7u8; 4096];
        let mut stored = Vec::new();
        encode(&raw, true, &mut stored);
        let body_len = stored.len() - TRAILER_SIZE_BYTES;
        let hostile = with_prefix(stored, u32::MAX);
        let err = decode(Bytes::from(hostile), Path::new("t.sst"), 12).expect_err("refused");
        assert!(matches!(
            err,
            Error::Corruption { offset: 12, expected, found, .. }
                if expected == (body_len * LZ4_EXPANSION_MAX) as u64 && found == u64::from(u32::MAX)
        ));
    }
}
