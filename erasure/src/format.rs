//! The shard file: a fixed header, then per stripe the shard's bytes and
//! their CRC-32. `FORMAT.md` draws the same thing; the offsets below are
//! derived from each other so the two cannot drift apart silently.

use std::path::Path;

use vfs::File;

use crate::{BlobId, Error, Result};

/// First bytes of every shard file.
pub(crate) const SHARD_MAGIC: [u8; 8] = *b"ERASHRD\0";
/// Version of the shard file format.
pub(crate) const SHARD_VERSION: u32 = 1;

pub(crate) const MAGIC_OFFSET: usize = 0;
pub(crate) const VERSION_OFFSET: usize = MAGIC_OFFSET + 8;
pub(crate) const SHARD_INDEX_OFFSET: usize = VERSION_OFFSET + 4;
pub(crate) const DATA_SHARDS_OFFSET: usize = SHARD_INDEX_OFFSET + 2;
pub(crate) const PARITY_SHARDS_OFFSET: usize = DATA_SHARDS_OFFSET + 2;
pub(crate) const CRC_BLOCK_LOG2_OFFSET: usize = PARITY_SHARDS_OFFSET + 2;
pub(crate) const STRIPE_SIZE_OFFSET: usize = CRC_BLOCK_LOG2_OFFSET + 2;
pub(crate) const BLOB_ID_OFFSET: usize = STRIPE_SIZE_OFFSET + 4;
pub(crate) const BLOB_LEN_OFFSET: usize = BLOB_ID_OFFSET + 8;
pub(crate) const BLOB_CHECKSUM_OFFSET: usize = BLOB_LEN_OFFSET + 8;
pub(crate) const HEADER_CRC_OFFSET: usize = BLOB_CHECKSUM_OFFSET + 8;
/// Bytes of the shard header; the CRC covers `0..HEADER_CRC_OFFSET`.
pub(crate) const HEADER_LEN: usize = HEADER_CRC_OFFSET + 4;
const _: () = assert!(HEADER_LEN == 52);

/// Bytes of one CRC-32 in a stripe's CRC array.
pub(crate) const CHUNK_CRC_LEN: u64 = 4;
/// Each stripe's shard bytes carry one CRC-32 per block of this many bytes
/// (log2), so a ranged read checks only the blocks it reads.
pub(crate) const CRC_BLOCK_LOG2: u16 = 12;
/// Bytes per CRC block: 4 KiB.
pub(crate) const CRC_BLOCK_BYTES: u64 = 1 << CRC_BLOCK_LOG2;

/// Largest stripe (bytes of blob data per stripe) the format allows.
pub const STRIPE_SIZE_MAX: u64 = u32::MAX as u64;

/// The header of one shard file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ShardHeader {
    pub(crate) shard_index: u16,
    pub(crate) data_shards: u16,
    pub(crate) parity_shards: u16,
    /// log2 of the CRC block size; [`CRC_BLOCK_LOG2`] in version 1.
    pub(crate) crc_block_log2: u16,
    pub(crate) stripe_size: u32,
    pub(crate) blob_id: BlobId,
    pub(crate) blob_len: u64,
    /// xxh3-64 of the whole blob.
    pub(crate) blob_checksum: u64,
}

impl ShardHeader {
    pub(crate) fn to_bytes(self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[MAGIC_OFFSET..VERSION_OFFSET].copy_from_slice(&SHARD_MAGIC);
        b[VERSION_OFFSET..SHARD_INDEX_OFFSET].copy_from_slice(&SHARD_VERSION.to_le_bytes());
        b[SHARD_INDEX_OFFSET..DATA_SHARDS_OFFSET].copy_from_slice(&self.shard_index.to_le_bytes());
        b[DATA_SHARDS_OFFSET..PARITY_SHARDS_OFFSET]
            .copy_from_slice(&self.data_shards.to_le_bytes());
        b[PARITY_SHARDS_OFFSET..CRC_BLOCK_LOG2_OFFSET]
            .copy_from_slice(&self.parity_shards.to_le_bytes());
        b[CRC_BLOCK_LOG2_OFFSET..STRIPE_SIZE_OFFSET]
            .copy_from_slice(&self.crc_block_log2.to_le_bytes());
        b[STRIPE_SIZE_OFFSET..BLOB_ID_OFFSET].copy_from_slice(&self.stripe_size.to_le_bytes());
        b[BLOB_ID_OFFSET..BLOB_LEN_OFFSET].copy_from_slice(&self.blob_id.0.to_le_bytes());
        b[BLOB_LEN_OFFSET..BLOB_CHECKSUM_OFFSET].copy_from_slice(&self.blob_len.to_le_bytes());
        b[BLOB_CHECKSUM_OFFSET..HEADER_CRC_OFFSET]
            .copy_from_slice(&self.blob_checksum.to_le_bytes());
        let crc = crc32fast::hash(&b[..HEADER_CRC_OFFSET]);
        b[HEADER_CRC_OFFSET..HEADER_LEN].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Parses and checks magic, version and CRC; `file` names the shard in
    /// errors.
    pub(crate) fn from_bytes(b: &[u8; HEADER_LEN], file: &Path) -> Result<ShardHeader> {
        let corrupt =
            |offset: usize, what: &'static str, expected: u64, found: u64| Error::Corruption {
                file: file.to_path_buf(),
                offset: offset as u64,
                what,
                expected,
                found,
            };
        let magic = u64::from_le_bytes(le(b, MAGIC_OFFSET));
        if b[MAGIC_OFFSET..VERSION_OFFSET] != SHARD_MAGIC {
            return Err(corrupt(
                MAGIC_OFFSET,
                "shard magic",
                u64::from_le_bytes(SHARD_MAGIC),
                magic,
            ));
        }
        let crc = u32::from_le_bytes(le(b, HEADER_CRC_OFFSET));
        let computed = crc32fast::hash(&b[..HEADER_CRC_OFFSET]);
        if crc != computed {
            return Err(corrupt(
                HEADER_CRC_OFFSET,
                "shard header crc",
                u64::from(crc),
                u64::from(computed),
            ));
        }
        let version = u32::from_le_bytes(le(b, VERSION_OFFSET));
        if version != SHARD_VERSION {
            return Err(corrupt(
                VERSION_OFFSET,
                "shard format version",
                u64::from(SHARD_VERSION),
                u64::from(version),
            ));
        }
        Ok(ShardHeader {
            shard_index: u16::from_le_bytes(le(b, SHARD_INDEX_OFFSET)),
            data_shards: u16::from_le_bytes(le(b, DATA_SHARDS_OFFSET)),
            parity_shards: u16::from_le_bytes(le(b, PARITY_SHARDS_OFFSET)),
            crc_block_log2: u16::from_le_bytes(le(b, CRC_BLOCK_LOG2_OFFSET)),
            stripe_size: u32::from_le_bytes(le(b, STRIPE_SIZE_OFFSET)),
            blob_id: BlobId(u64::from_le_bytes(le(b, BLOB_ID_OFFSET))),
            blob_len: u64::from_le_bytes(le(b, BLOB_LEN_OFFSET)),
            blob_checksum: u64::from_le_bytes(le(b, BLOB_CHECKSUM_OFFSET)),
        })
    }
}

/// `N` bytes of `b` at `offset`, for `from_le_bytes`.
pub(crate) fn le<const N: usize>(b: &[u8], offset: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(src) = b.get(offset..offset + N) {
        out.copy_from_slice(src);
    }
    out
}

/// Where each stripe's bytes sit in a shard file, for a blob of a given
/// length and layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub(crate) data_shards: u64,
    pub(crate) stripe_size: u64,
    pub(crate) blob_len: u64,
}

impl Geometry {
    pub(crate) fn stripes(&self) -> u64 {
        self.blob_len.div_ceil(self.stripe_size)
    }

    /// Bytes of blob data in stripe `s`.
    pub(crate) fn stripe_data_len(&self, s: u64) -> u64 {
        self.stripe_size
            .min(self.blob_len.saturating_sub(s * self.stripe_size))
    }

    /// Bytes of each shard's part of stripe `s` (CRCs excluded).
    pub(crate) fn chunk_len(&self, s: u64) -> u64 {
        self.chunk_len_for(self.stripe_data_len(s))
    }

    /// Bytes of each shard's part of a stripe of `stripe_data_len` bytes.
    pub(crate) fn chunk_len_for(&self, stripe_data_len: u64) -> u64 {
        stripe_data_len.div_ceil(self.data_shards)
    }

    /// Offset of stripe `s`'s region (shard bytes, then CRC array) in every
    /// shard file: every stripe but the last is full, so this does not
    /// depend on the blob's length.
    pub(crate) fn chunk_offset(&self, s: u64) -> u64 {
        HEADER_LEN as u64 + s * region_len(self.stripe_size.div_ceil(self.data_shards))
    }

    /// The length of each shard file.
    pub(crate) fn file_len(&self) -> u64 {
        match self.stripes() {
            0 => HEADER_LEN as u64,
            n => self.chunk_offset(n - 1) + region_len(self.chunk_len(n - 1)),
        }
    }
}

/// Bytes a stripe's region takes for `chunk_len` shard bytes: the bytes,
/// then one CRC-32 per started [`CRC_BLOCK_BYTES`] block.
pub(crate) fn region_len(chunk_len: u64) -> u64 {
    chunk_len + CHUNK_CRC_LEN * chunk_len.div_ceil(CRC_BLOCK_BYTES)
}

/// Sets `crcs` to the CRC array of a stripe's region for `chunk`: one
/// CRC-32 per [`CRC_BLOCK_BYTES`] block, in order, little-endian.
pub(crate) fn block_crcs(chunk: &[u8], crcs: &mut Vec<u8>) {
    crcs.clear();
    for block in chunk.chunks(CRC_BLOCK_BYTES as usize) {
        crcs.extend_from_slice(&crc32fast::hash(block).to_le_bytes());
    }
}

/// Writes a stripe's region for `chunk` at `offset` of `file`: the bytes as
/// they are (no copy into a region buffer), then their CRC array, built in
/// `crcs` (a buffer the caller reuses).
///
/// # Errors
///
/// [`Error::Io`] from either write.
pub(crate) fn write_region(
    file: &dyn File,
    chunk: &[u8],
    offset: u64,
    crcs: &mut Vec<u8>,
) -> Result<()> {
    block_crcs(chunk, crcs);
    debug_assert_eq!(
        (chunk.len() + crcs.len()) as u64,
        region_len(chunk.len() as u64)
    );
    file.write_all_at(chunk, offset)?;
    file.write_all_at(crcs, offset + chunk.len() as u64)?;
    Ok(())
}

/// Whether `data` (blocks starting at a block boundary) matches `crcs`
/// (their CRC-32s, in order).
pub(crate) fn blocks_match(data: &[u8], crcs: &[u8]) -> bool {
    let blocks = data.chunks(CRC_BLOCK_BYTES as usize);
    blocks.len() * CHUNK_CRC_LEN as usize == crcs.len()
        && blocks
            .zip(crcs.chunks_exact(CHUNK_CRC_LEN as usize))
            .all(|(block, crc)| crc32fast::hash(block).to_le_bytes() == crc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_rejects_a_flipped_bit() {
        let h = ShardHeader {
            shard_index: 3,
            data_shards: 4,
            parity_shards: 2,
            crc_block_log2: CRC_BLOCK_LOG2,
            stripe_size: 1 << 20,
            blob_id: BlobId(99),
            blob_len: 12345,
            blob_checksum: 0xdead_beef,
        };
        let mut b = h.to_bytes();
        assert_eq!(ShardHeader::from_bytes(&b, Path::new("x")).unwrap(), h);
        b[BLOB_LEN_OFFSET] ^= 1;
        assert!(matches!(
            ShardHeader::from_bytes(&b, Path::new("x")),
            Err(Error::Corruption { offset, .. }) if offset == HEADER_CRC_OFFSET as u64
        ));
    }

    #[test]
    fn geometry_places_short_last_stripe_after_full_ones() {
        let g = Geometry {
            data_shards: 4,
            stripe_size: 10,
            blob_len: 23,
        };
        assert_eq!(g.stripes(), 3);
        assert_eq!(g.chunk_len(0), 3);
        assert_eq!(g.chunk_len(2), 1);
        assert_eq!(g.chunk_offset(2), 52 + 2 * 7);
        assert_eq!(g.file_len(), 52 + 14 + 5);
        let big = Geometry {
            data_shards: 2,
            stripe_size: 3 * CRC_BLOCK_BYTES * 2 + 2,
            blob_len: 10 * CRC_BLOCK_BYTES,
        };
        // Full chunks: 3 blocks and 1 byte, 4 CRCs.
        assert_eq!(big.chunk_offset(1), 52 + 3 * CRC_BLOCK_BYTES + 1 + 16);
    }

    #[test]
    fn region_checks_every_block() {
        let chunk: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let mut crcs = Vec::new();
        block_crcs(&chunk, &mut crcs);
        assert_eq!((chunk.len() + crcs.len()) as u64, region_len(10_000));
        let (data, crcs) = (&chunk[..], &crcs[..]);
        assert!(blocks_match(data, crcs));
        assert!(blocks_match(&data[4096..8192], &crcs[4..8]));
        let mut bad = data.to_vec();
        bad[9000] ^= 4;
        assert!(!blocks_match(&bad, crcs));
        assert!(blocks_match(&bad[..8192], &crcs[..8]));
    }
}
