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
            "block shorter than trailer",
            0,
            0,
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
        COMPRESSION_LZ4 => lz4_flex::decompress_size_prepended(&stored[..body_len])
            .map(Bytes::from)
            .map_err(|_| Error::corruption(file, offset, "lz4 block does not decompress", 0, 0)),
        other => Err(Error::corruption(
            file,
            offset,
            "block compression type",
            1,
            u64::from(other),
        )),
    }
}
