//! What the log writer and reader share: block size, record header layout,
//! fragment types and the file-header record.
//!
//! A record is `crc32: u32 | len: u16 | type: u8 | payload[len]`; the CRC
//! covers the type byte and the payload. Records never straddle a 32 KiB block
//! boundary: a logical record too big for the rest of a block is split into
//! `First`, `Middle`..., `Last` fragments; fewer than 7 bytes left in a block
//! are zero padding.

/// Bytes per block.
pub(crate) const BLOCK_SIZE_BYTES: usize = 32 * 1024;
/// Offset of the CRC-32 within a record header.
pub(crate) const CRC_OFFSET: usize = 0;
/// Offset of the payload length.
pub(crate) const LEN_OFFSET: usize = CRC_OFFSET + 4;
/// Offset of the fragment type.
pub(crate) const TYPE_OFFSET: usize = LEN_OFFSET + 2;
/// Bytes of a record header.
pub(crate) const HEADER_SIZE_BYTES: usize = TYPE_OFFSET + 1;
const _: () = assert!(HEADER_SIZE_BYTES == 7);
const _: () = assert!(BLOCK_SIZE_BYTES - HEADER_SIZE_BYTES <= u16::MAX as usize);

/// Magic in the first record of every log file ("lsm-log\0").
pub(crate) const LOG_MAGIC: u64 = u64::from_le_bytes(*b"lsm-log\0");
/// Format version in the first record.
pub(crate) const LOG_VERSION: u32 = 1;
/// Payload of the file-header record: magic then version.
pub(crate) const FILE_HEADER_LEN: usize = 12;

/// Fragment type of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FragmentType {
    Full = 1,
    First = 2,
    Middle = 3,
    Last = 4,
}

impl FragmentType {
    pub(crate) fn from_u8(b: u8) -> Option<FragmentType> {
        match b {
            1 => Some(FragmentType::Full),
            2 => Some(FragmentType::First),
            3 => Some(FragmentType::Middle),
            4 => Some(FragmentType::Last),
            _ => None,
        }
    }
}

pub(crate) fn crc(fragment_type: u8, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&[fragment_type]);
    h.update(payload);
    h.finalize()
}

pub(crate) fn file_header() -> [u8; FILE_HEADER_LEN] {
    let mut b = [0u8; FILE_HEADER_LEN];
    b[..8].copy_from_slice(&LOG_MAGIC.to_le_bytes());
    b[8..].copy_from_slice(&LOG_VERSION.to_le_bytes());
    b
}
