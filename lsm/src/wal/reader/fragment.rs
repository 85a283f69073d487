//! One fragment of a log: its header (checksum, length, type) checked
//! against the bytes, and the durable length a marker fragment claims.

use crate::wal::format::{
    BLOCK_SIZE_BYTES, FragmentType, HEADER_SIZE_BYTES, LEN_OFFSET, MARKER_LEN, RecordKind,
    TYPE_MAX, TYPE_OFFSET, crc, split_type,
};

/// Why a fragment is bad, in the terms of [`Error::Corruption`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Bad {
    pub(super) what: &'static str,
    pub(super) expected: u64,
    pub(super) found: u64,
    /// Where the next fragment starts, when the bad one's length is sound
    /// (only its type or checksum failed).
    pub(super) next: Option<usize>,
}

pub(super) enum Parsed {
    Ok {
        kind: RecordKind,
        ty: FragmentType,
        payload_start: usize,
        payload_len: usize,
    },
    Bad(Bad),
}

/// Parses the fragment at `pos`; `markers` says whether durable-marker
/// types are known (version 2 on).
pub(super) fn parse(data: &[u8], pos: usize, markers: bool) -> Parsed {
    let block_end = (pos / BLOCK_SIZE_BYTES + 1) * BLOCK_SIZE_BYTES;
    let end = data.len().min(block_end);
    if pos + HEADER_SIZE_BYTES > end {
        return Parsed::Bad(Bad {
            what: "log fragment header past the end of the file",
            expected: HEADER_SIZE_BYTES as u64,
            found: end.saturating_sub(pos) as u64,
            next: None,
        });
    }
    let h = &data[pos..pos + HEADER_SIZE_BYTES];
    let crc_stored = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
    let len = u16::from_le_bytes([h[LEN_OFFSET], h[LEN_OFFSET + 1]]) as usize;
    let ty_byte = h[TYPE_OFFSET];
    let start = pos + HEADER_SIZE_BYTES;
    if start + len > end {
        return Parsed::Bad(Bad {
            what: "log fragment length past its block or the file",
            expected: (end - start) as u64,
            found: len as u64,
            next: None,
        });
    }
    let known = split_type(ty_byte).filter(|(k, _)| markers || *k == RecordKind::Data);
    let Some((kind, ty)) = known else {
        return Parsed::Bad(Bad {
            what: "log fragment type",
            expected: u64::from(if markers {
                TYPE_MAX
            } else {
                FragmentType::Last as u8
            }),
            found: u64::from(ty_byte),
            next: Some(start + len),
        });
    };
    let crc_computed = crc(ty_byte, &data[start..start + len]);
    if crc_computed != crc_stored {
        return Parsed::Bad(Bad {
            what: "log record checksum",
            expected: u64::from(crc_stored),
            found: u64::from(crc_computed),
            next: Some(start + len),
        });
    }
    Parsed::Ok {
        kind,
        ty,
        payload_start: start,
        payload_len: len,
    }
}

/// The durable length a marker's payload claims, if it is well formed.
pub(super) fn marker_value(payload: &[u8]) -> Option<u64> {
    let b: [u8; MARKER_LEN] = payload.try_into().ok()?;
    Some(u64::from_le_bytes(b))
}
