//! The serialized form shared by every filter kind (see `FORMAT.md`):
//! a 32-byte header, the payload, and a CRC-32 of both.

use crate::error::{Error, Result};

/// The first four bytes of every serialized filter.
pub(crate) const MAGIC: [u8; 4] = *b"BLMF";
/// The format version this code writes and reads.
pub(crate) const VERSION: u8 = 1;

pub(crate) const MAGIC_OFFSET: usize = 0;
pub(crate) const VERSION_OFFSET: usize = MAGIC_OFFSET + 4;
pub(crate) const KIND_OFFSET: usize = VERSION_OFFSET + 1;
pub(crate) const HASH_OFFSET: usize = KIND_OFFSET + 1;
pub(crate) const RESERVED1_OFFSET: usize = HASH_OFFSET + 1;
pub(crate) const SLOTS_OFFSET: usize = RESERVED1_OFFSET + 1;
pub(crate) const PROBES_OFFSET: usize = SLOTS_OFFSET + 8;
pub(crate) const RESERVED2_OFFSET: usize = PROBES_OFFSET + 4;
pub(crate) const PAYLOAD_LEN_OFFSET: usize = RESERVED2_OFFSET + 4;
/// Bytes before the payload.
pub(crate) const HEADER_LEN: usize = PAYLOAD_LEN_OFFSET + 8;
/// Bytes of the CRC-32 trailer.
pub(crate) const CRC_LEN: usize = 4;

const _: () = assert!(HEADER_LEN == 32);
// The payload starts 8-byte aligned relative to the header.
const _: () = assert!(HEADER_LEN.is_multiple_of(8));

/// The kind of a serialized filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// [`BloomFilter`](crate::BloomFilter).
    Classic,
    /// [`BlockedBloomFilter`](crate::BlockedBloomFilter).
    Blocked,
    /// [`SplitBlockBloomFilter`](crate::SplitBlockBloomFilter).
    SplitBlock,
    /// [`CountingBloomFilter`](crate::CountingBloomFilter).
    Counting,
}

impl Kind {
    /// The kind byte of the format.
    pub fn as_byte(self) -> u8 {
        match self {
            Kind::Classic => 1,
            Kind::Blocked => 2,
            Kind::SplitBlock => 3,
            Kind::Counting => 4,
        }
    }

    /// The kind for a kind byte, if any.
    pub fn from_byte(byte: u8) -> Option<Kind> {
        match byte {
            1 => Some(Kind::Classic),
            2 => Some(Kind::Blocked),
            3 => Some(Kind::SplitBlock),
            4 => Some(Kind::Counting),
            _ => None,
        }
    }

    /// The hash-scheme byte: 1 = xxh3-128 with enhanced double hashing,
    /// 2 = xxh64 seed 0 as the Parquet specification prescribes.
    pub(crate) fn hash_byte(self) -> u8 {
        match self {
            Kind::SplitBlock => 2,
            _ => 1,
        }
    }

    /// Payload bytes for `slots` slots, or `None` if it overflows.
    pub(crate) fn payload_len(self, slots: u64) -> Option<u64> {
        match self {
            Kind::Classic => slots.checked_add(63).map(|b| b / 64 * 8),
            Kind::Blocked => slots.checked_mul(64),
            Kind::SplitBlock => slots.checked_mul(32),
            Kind::Counting => slots.checked_add(15).map(|c| c / 16 * 8),
        }
    }
}

/// A decoded header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) kind: Kind,
    /// Bits (classic), 512-bit blocks (blocked), 256-bit blocks (split
    /// block) or counters (counting).
    pub(crate) slots: u64,
    pub(crate) probes: u32,
}

/// Serializes a filter whose payload is `words`, each written little-endian.
pub(crate) fn encode_words(kind: Kind, slots: u64, probes: u32, words: &[u64]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(words.len() * 8);
    for word in words {
        payload.extend_from_slice(&word.to_le_bytes());
    }
    encode(kind, slots, probes, &payload)
}

/// Serializes a filter with the given payload bytes.
pub(crate) fn encode(kind: Kind, slots: u64, probes: u32, payload: &[u8]) -> Vec<u8> {
    debug_assert_eq!(kind.payload_len(slots), Some(payload.len() as u64));
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len() + CRC_LEN);
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.push(kind.as_byte());
    out.push(kind.hash_byte());
    out.push(0);
    out.extend_from_slice(&slots.to_le_bytes());
    out.extend_from_slice(&probes.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    debug_assert_eq!(out.len(), HEADER_LEN);
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

fn le_u32(bytes: &[u8], offset: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&bytes[offset..offset + 4]);
    u32::from_le_bytes(a)
}

fn le_u64(bytes: &[u8], offset: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&bytes[offset..offset + 8]);
    u64::from_le_bytes(a)
}

/// Checks and splits serialized bytes into header and payload. With
/// `expected`, a valid filter of another kind is [`Error::WrongKind`].
pub(crate) fn decode(bytes: &[u8], expected: Option<Kind>) -> Result<(Header, &[u8])> {
    let len_min = HEADER_LEN + CRC_LEN;
    if bytes.len() < len_min {
        return Err(Error::Truncated {
            len: bytes.len(),
            len_min,
        });
    }
    let mut magic = [0u8; 4];
    magic.copy_from_slice(&bytes[MAGIC_OFFSET..MAGIC_OFFSET + 4]);
    if magic != MAGIC {
        return Err(Error::BadMagic { found: magic });
    }
    if bytes[VERSION_OFFSET] != VERSION {
        return Err(Error::UnsupportedVersion {
            found: bytes[VERSION_OFFSET],
            supported: VERSION,
        });
    }
    // The payload length is checked against the bytes present before
    // anything is sized from it.
    let payload_len = le_u64(bytes, PAYLOAD_LEN_OFFSET);
    let available = (bytes.len() - len_min) as u64;
    if payload_len > available {
        return Err(Error::Truncated {
            len: bytes.len(),
            len_min: usize::try_from(payload_len)
                .unwrap_or(usize::MAX)
                .saturating_add(len_min),
        });
    }
    // `payload_len <= available`, which came from a `usize`.
    let end = HEADER_LEN + payload_len as usize;
    if bytes.len() > end + CRC_LEN {
        return Err(Error::TrailingBytes {
            len: bytes.len(),
            len_expected: end + CRC_LEN,
        });
    }
    let expected_crc = le_u32(bytes, end);
    let found_crc = crc32fast::hash(&bytes[..end]);
    if expected_crc != found_crc {
        return Err(Error::Checksum {
            expected: expected_crc,
            found: found_crc,
        });
    }
    let kind = Kind::from_byte(bytes[KIND_OFFSET]).ok_or(Error::UnknownKind {
        found: bytes[KIND_OFFSET],
    })?;
    if let Some(expected) = expected
        && kind != expected
    {
        return Err(Error::WrongKind {
            expected,
            found: kind,
        });
    }
    if bytes[HASH_OFFSET] != kind.hash_byte() {
        return Err(Error::BadHeader {
            reason: "hash scheme does not match the kind",
        });
    }
    let header = Header {
        kind,
        slots: le_u64(bytes, SLOTS_OFFSET),
        probes: le_u32(bytes, PROBES_OFFSET),
    };
    if kind.payload_len(header.slots) != Some(payload_len) {
        return Err(Error::BadHeader {
            reason: "payload length does not match the slot count",
        });
    }
    match kind {
        Kind::Classic => crate::classic::check_header(&header)?,
        Kind::Blocked => crate::blocked::check_header(&header)?,
        Kind::SplitBlock => crate::split_block::check_header(&header)?,
        Kind::Counting => crate::counting::check_header(&header)?,
    }
    Ok((header, &bytes[HEADER_LEN..end]))
}

/// Little-endian `u64` words read from a payload.
pub(crate) fn words_from(payload: &[u8]) -> Vec<u64> {
    payload
        .chunks_exact(8)
        .map(|c| {
            let mut a = [0u8; 8];
            a.copy_from_slice(c);
            u64::from_le_bytes(a)
        })
        .collect()
}

/// Read access to a filter's `u64` words, owned or serialized.
pub(crate) trait Words {
    fn word(&self, index: usize) -> u64;
}

impl Words for [u64] {
    #[inline(always)]
    fn word(&self, index: usize) -> u64 {
        self[index]
    }
}

/// Words read straight from serialized little-endian bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LeWords<'a>(pub(crate) &'a [u8]);

impl Words for LeWords<'_> {
    #[inline(always)]
    fn word(&self, index: usize) -> u64 {
        le_u64(self.0, index * 8)
    }
}
