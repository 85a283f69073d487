//! What the log writer and reader share: block size, record header layout,
//! fragment types, the durable marker and the file-header record.
//!
//! A record is `crc32: u32 | len: u16 | type: u8 | payload[len]`; the CRC
//! covers the type byte and the payload. Records never straddle a 32 KiB block
//! boundary: a logical record too big for the rest of a block is split into
//! `First`, `Middle`..., `Last` fragments; fewer than 7 bytes left in a block
//! are zero padding.
//!
//! Version 2 adds a second kind of logical record, the *durable marker*
//! ("the first `n` bytes of this file were synced"), written with fragment
//! types 5 to 8 so that it never mixes with the records a caller reads.
//!
//! Version 3, for write-ahead logs only, adds the *predecessor* to the file
//! header: the log written before this one and how long it was when this
//! one took over. Unsynced logs may reach the disk in any order; with the
//! claim, recovery tells a newer log that outlived the end of an older one
//! and replays neither that log nor any later one. Manifests have no
//! predecessor and are still written as version 2.

use crate::manifest::LogLength;

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
/// Format version of a write-ahead log: its header names its predecessor.
pub(crate) const LOG_VERSION: u32 = 3;
/// The version with durable markers and no predecessor: what manifests are
/// written as, and how write-ahead logs were written before version 3.
pub(crate) const LOG_VERSION_MARKERS: u32 = 2;
/// The version before durable markers: still read, with the old rule for
/// telling a torn tail from damage.
pub(crate) const LOG_VERSION_NO_MARKERS: u32 = 1;
/// Offset of the version in the file-header record's payload.
pub(crate) const FILE_HEADER_VERSION_OFFSET: usize = 8;
/// Payload of a version 1 or 2 file-header record: magic then version.
pub(crate) const FILE_HEADER_LEN: usize = FILE_HEADER_VERSION_OFFSET + 4;
/// Offset of the predecessor's file number (version 3; 0 for none).
pub(crate) const FILE_HEADER_PREDECESSOR_OFFSET: usize = FILE_HEADER_LEN;
/// Offset of the predecessor's length in bytes when this log took over.
pub(crate) const FILE_HEADER_PREDECESSOR_LEN_OFFSET: usize = FILE_HEADER_PREDECESSOR_OFFSET + 8;
/// Payload of a version 3 file-header record.
pub(crate) const FILE_HEADER_V3_LEN: usize = FILE_HEADER_PREDECESSOR_LEN_OFFSET + 8;
const _: () = assert!(FILE_HEADER_LEN == 12 && FILE_HEADER_V3_LEN == 28);
/// Payload of a durable marker: the synced length in bytes, a `u64`.
pub(crate) const MARKER_LEN: usize = 8;

/// Fragment type of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FragmentType {
    Full = 1,
    First = 2,
    Middle = 3,
    Last = 4,
}

/// What a logical record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RecordKind {
    /// A record of the log's user (a write batch, a version edit, the
    /// file header): type bytes 1 to 4.
    Data,
    /// A durable marker: type bytes 5 to 8 (version 2 on).
    Durable,
}

/// Type bytes of a durable marker are those of a data record plus this.
const DURABLE_TYPE_BASE: u8 = 4;
/// The largest type byte of any version.
pub(crate) const TYPE_MAX: u8 = DURABLE_TYPE_BASE + FragmentType::Last as u8;

/// The type byte of a fragment of `kind`.
pub(crate) fn type_byte(kind: RecordKind, ty: FragmentType) -> u8 {
    match kind {
        RecordKind::Data => ty as u8,
        RecordKind::Durable => DURABLE_TYPE_BASE + ty as u8,
    }
}

/// The kind and fragment type of a type byte, `None` for an unknown one.
pub(crate) fn split_type(b: u8) -> Option<(RecordKind, FragmentType)> {
    let (kind, t) = if b > DURABLE_TYPE_BASE {
        (RecordKind::Durable, b - DURABLE_TYPE_BASE)
    } else {
        (RecordKind::Data, b)
    };
    let ty = match t {
        1 => FragmentType::Full,
        2 => FragmentType::First,
        3 => FragmentType::Middle,
        4 => FragmentType::Last,
        _ => return None,
    };
    Some((kind, ty))
}

pub(crate) fn crc(fragment_type: u8, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&[fragment_type]);
    h.update(payload);
    h.finalize()
}

/// The file header of a manifest (version 2: no predecessor).
pub(crate) fn file_header() -> [u8; FILE_HEADER_LEN] {
    let mut b = [0u8; FILE_HEADER_LEN];
    b[..FILE_HEADER_VERSION_OFFSET].copy_from_slice(&LOG_MAGIC.to_le_bytes());
    b[FILE_HEADER_VERSION_OFFSET..].copy_from_slice(&LOG_VERSION_MARKERS.to_le_bytes());
    b
}

/// The file header of a write-ahead log (version 3): `predecessor` is the
/// log written before it, with its length when this one took over; `None`
/// (number 0) for the first log of a store or of a checkpoint.
pub(crate) fn wal_file_header(predecessor: Option<LogLength>) -> [u8; FILE_HEADER_V3_LEN] {
    let mut b = [0u8; FILE_HEADER_V3_LEN];
    b[..FILE_HEADER_VERSION_OFFSET].copy_from_slice(&LOG_MAGIC.to_le_bytes());
    b[FILE_HEADER_VERSION_OFFSET..FILE_HEADER_LEN].copy_from_slice(&LOG_VERSION.to_le_bytes());
    let (log, len_bytes) = predecessor.map_or((0, 0), |p| (p.log.0, p.len_bytes));
    b[FILE_HEADER_PREDECESSOR_OFFSET..FILE_HEADER_PREDECESSOR_LEN_OFFSET]
        .copy_from_slice(&log.to_le_bytes());
    b[FILE_HEADER_PREDECESSOR_LEN_OFFSET..].copy_from_slice(&len_bytes.to_le_bytes());
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_bytes_round_trip_and_unknown_ones_are_rejected() {
        for kind in [RecordKind::Data, RecordKind::Durable] {
            for ty in [
                FragmentType::Full,
                FragmentType::First,
                FragmentType::Middle,
                FragmentType::Last,
            ] {
                assert_eq!(split_type(type_byte(kind, ty)), Some((kind, ty)));
            }
        }
        assert_eq!(type_byte(RecordKind::Durable, FragmentType::Full), 5);
        assert_eq!(type_byte(RecordKind::Durable, FragmentType::Last), TYPE_MAX);
        for b in [0, TYPE_MAX + 1, u8::MAX] {
            assert_eq!(split_type(b), None);
        }
    }
}
