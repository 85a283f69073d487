//! The fixed-size footer at the end of every table.
//!
//! | offset | width | field |
//! |---|---|---|
//! | 0 | 16 | index block handle |
//! | 16 | 16 | filter block handle (size 0: no filter) |
//! | 32 | 16 | properties block handle |
//! | 48 | 4 | format version |
//! | 52 | 4 | CRC-32 of bytes 0..52 |
//! | 56 | 8 | magic |

use std::path::Path;

use crate::sstable::index::{BlockHandle, HANDLE_SIZE_BYTES};
use crate::{Error, Result};

pub(crate) const INDEX_OFFSET: usize = 0;
pub(crate) const FILTER_OFFSET: usize = INDEX_OFFSET + HANDLE_SIZE_BYTES;
pub(crate) const PROPERTIES_OFFSET: usize = FILTER_OFFSET + HANDLE_SIZE_BYTES;
pub(crate) const VERSION_OFFSET: usize = PROPERTIES_OFFSET + HANDLE_SIZE_BYTES;
pub(crate) const CRC_OFFSET: usize = VERSION_OFFSET + 4;
pub(crate) const MAGIC_OFFSET: usize = CRC_OFFSET + 4;
/// Bytes of the footer.
pub(crate) const FOOTER_SIZE_BYTES: usize = MAGIC_OFFSET + 8;
const _: () = assert!(FOOTER_SIZE_BYTES == 64);

/// Table magic ("lsm-sst\0").
pub(crate) const TABLE_MAGIC: u64 = u64::from_le_bytes(*b"lsm-sst\0");
/// Table format version of a table without range tombstones (and of every
/// table's header).
pub(crate) const TABLE_VERSION: u32 = 1;
/// Table format version of a table whose properties block ends in a
/// range-deletion section (`FORMAT.md`, "Range deletes"): readers that know
/// only version 1 refuse it rather than miss its tombstones.
pub(crate) const TABLE_VERSION_RANGE_DEL: u32 = 2;
/// Bytes of the header at offset 0: the magic, then the version.
pub(crate) const HEADER_SIZE_BYTES: usize = 12;

/// The table header: magic then format version, so a table names its kind
/// from its first bytes as well as its last.
pub(crate) fn header() -> [u8; HEADER_SIZE_BYTES] {
    let mut b = [0u8; HEADER_SIZE_BYTES];
    b[..8].copy_from_slice(&TABLE_MAGIC.to_le_bytes());
    b[8..].copy_from_slice(&TABLE_VERSION.to_le_bytes());
    b
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Footer {
    pub(crate) index: BlockHandle,
    pub(crate) filter: BlockHandle,
    pub(crate) properties: BlockHandle,
    /// [`TABLE_VERSION`] or [`TABLE_VERSION_RANGE_DEL`].
    pub(crate) version: u32,
}

impl Footer {
    pub(crate) fn encode(&self) -> [u8; FOOTER_SIZE_BYTES] {
        let mut b = [0u8; FOOTER_SIZE_BYTES];
        b[INDEX_OFFSET..FILTER_OFFSET].copy_from_slice(&self.index.encode());
        b[FILTER_OFFSET..PROPERTIES_OFFSET].copy_from_slice(&self.filter.encode());
        b[PROPERTIES_OFFSET..VERSION_OFFSET].copy_from_slice(&self.properties.encode());
        b[VERSION_OFFSET..CRC_OFFSET].copy_from_slice(&self.version.to_le_bytes());
        let crc = crc32fast::hash(&b[..CRC_OFFSET]);
        b[CRC_OFFSET..MAGIC_OFFSET].copy_from_slice(&crc.to_le_bytes());
        b[MAGIC_OFFSET..].copy_from_slice(&TABLE_MAGIC.to_le_bytes());
        b
    }

    /// Decodes the footer found at `offset` of `file`.
    pub(crate) fn decode(b: &[u8], file: &Path, offset: u64) -> Result<Footer> {
        if b.len() != FOOTER_SIZE_BYTES {
            return Err(Error::corruption(
                file,
                offset,
                "table too short for footer",
                FOOTER_SIZE_BYTES as u64,
                b.len() as u64,
            ));
        }
        let u32_at = |p: usize| u32::from_le_bytes([b[p], b[p + 1], b[p + 2], b[p + 3]]);
        let mut m = [0u8; 8];
        m.copy_from_slice(&b[MAGIC_OFFSET..]);
        let magic = u64::from_le_bytes(m);
        if magic != TABLE_MAGIC {
            return Err(Error::corruption(
                file,
                offset,
                "table magic",
                TABLE_MAGIC,
                magic,
            ));
        }
        let crc_stored = u32_at(CRC_OFFSET);
        let crc_found = crc32fast::hash(&b[..CRC_OFFSET]);
        if crc_stored != crc_found {
            return Err(Error::corruption(
                file,
                offset,
                "footer checksum",
                u64::from(crc_stored),
                u64::from(crc_found),
            ));
        }
        let version = u32_at(VERSION_OFFSET);
        if version != TABLE_VERSION && version != TABLE_VERSION_RANGE_DEL {
            return Err(Error::corruption(
                file,
                offset,
                "table version",
                u64::from(TABLE_VERSION_RANGE_DEL),
                u64::from(version),
            ));
        }
        // Each slice is exactly HANDLE_SIZE_BYTES by the offset constants.
        let h = |a: usize, z: usize| BlockHandle::decode(&b[a..z]).unwrap_or_default();
        Ok(Footer {
            index: h(INDEX_OFFSET, FILTER_OFFSET),
            filter: h(FILTER_OFFSET, PROPERTIES_OFFSET),
            properties: h(PROPERTIES_OFFSET, VERSION_OFFSET),
            version,
        })
    }
}
