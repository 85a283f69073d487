//! The header in front of every object an [`FsStore`](super::FsStore)
//! writes: see `FORMAT.md`.
//!
//! ```text
//! offset  width  field
//!      0      4  magic "LOBJ"
//!      4      2  format version (1), u16 LE
//!      6      2  reserved, zero
//!      8      8  generation, u64 LE, >= 1
//!     16      8  content length in bytes, u64 LE
//!     24      8  xxh3-64 of the content, u64 LE
//!     32      4  crc32 of bytes 0..32, u32 LE
//!     36      4  reserved, zero
//! ```

use crate::{Error, Result};

/// The header's first bytes.
pub(crate) const MAGIC: [u8; 4] = *b"LOBJ";
/// The one format version this code reads and writes.
pub(crate) const FORMAT_VERSION: u16 = 1;

const MAGIC_OFFSET: usize = 0;
const VERSION_OFFSET: usize = MAGIC_OFFSET + 4;
const RESERVED_OFFSET: usize = VERSION_OFFSET + 2;
const GENERATION_OFFSET: usize = RESERVED_OFFSET + 2;
const LEN_OFFSET: usize = GENERATION_OFFSET + 8;
const HASH_OFFSET: usize = LEN_OFFSET + 8;
const CRC_OFFSET: usize = HASH_OFFSET + 8;
const PAD_OFFSET: usize = CRC_OFFSET + 4;
/// The header's size; the content starts here.
pub(crate) const HEADER_BYTES: usize = PAD_OFFSET + 4;
const _: () = assert!(HEADER_BYTES == 40);

/// What the header says of its object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    /// One more than the generation of the object this put replaced (1 for
    /// a new name).
    pub(crate) generation: u64,
    /// The content's length in bytes.
    pub(crate) len: u64,
    /// xxh3-64 of the content.
    pub(crate) hash: u64,
}

impl Header {
    /// The header of `content`, at `generation`.
    pub(crate) fn of(content: &[u8], generation: u64) -> Header {
        Header {
            generation,
            len: content.len() as u64,
            hash: xxhash_rust::xxh3::xxh3_64(content),
        }
    }

    /// The object's version as [`ObjectMeta::version`](crate::ObjectMeta)
    /// shows it: the generation and the content hash, so two puts of
    /// different content never share a version even when two processes
    /// raced to the same generation.
    pub(crate) fn version(&self) -> String {
        format!("{}-{:016x}", self.generation, self.hash)
    }

    /// The header's bytes.
    pub(crate) fn encode(&self) -> [u8; HEADER_BYTES] {
        let mut buf = [0u8; HEADER_BYTES];
        buf[MAGIC_OFFSET..VERSION_OFFSET].copy_from_slice(&MAGIC);
        buf[VERSION_OFFSET..RESERVED_OFFSET].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        buf[GENERATION_OFFSET..LEN_OFFSET].copy_from_slice(&self.generation.to_le_bytes());
        buf[LEN_OFFSET..HASH_OFFSET].copy_from_slice(&self.len.to_le_bytes());
        buf[HASH_OFFSET..CRC_OFFSET].copy_from_slice(&self.hash.to_le_bytes());
        let crc = crc32fast::hash(&buf[..CRC_OFFSET]);
        buf[CRC_OFFSET..PAD_OFFSET].copy_from_slice(&crc.to_le_bytes());
        buf
    }

    /// Reads a header; `file_len` is the stored file's length, which must
    /// be the header's plus the content's.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] naming `name`, the offset and what was expected
    /// and found, for a short file, a bad magic, version, CRC or length.
    pub(crate) fn decode(name: &str, buf: &[u8], file_len: u64) -> Result<Header> {
        let corrupt = |offset: usize, expected: String, found: String| Error::Corrupt {
            name: name.to_owned(),
            offset: offset as u64,
            expected,
            found,
        };
        if buf.len() < HEADER_BYTES {
            return Err(corrupt(
                0,
                format!("a {HEADER_BYTES}-byte header"),
                format!("{} bytes", buf.len()),
            ));
        }
        let u64_at = |offset: usize| {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&buf[offset..offset + 8]);
            u64::from_le_bytes(bytes)
        };
        if buf[MAGIC_OFFSET..VERSION_OFFSET] != MAGIC {
            return Err(corrupt(
                MAGIC_OFFSET,
                format!("magic {MAGIC:?}"),
                format!("{:?}", &buf[MAGIC_OFFSET..VERSION_OFFSET]),
            ));
        }
        let mut crc_bytes = [0u8; 4];
        crc_bytes.copy_from_slice(&buf[CRC_OFFSET..PAD_OFFSET]);
        let crc_stored = u32::from_le_bytes(crc_bytes);
        let crc = crc32fast::hash(&buf[..CRC_OFFSET]);
        if crc != crc_stored {
            return Err(corrupt(
                CRC_OFFSET,
                format!("header crc32 {crc:#010x}"),
                format!("{crc_stored:#010x}"),
            ));
        }
        let version = u16::from_le_bytes([buf[VERSION_OFFSET], buf[VERSION_OFFSET + 1]]);
        if version != FORMAT_VERSION {
            return Err(corrupt(
                VERSION_OFFSET,
                format!("format version {FORMAT_VERSION}"),
                format!("version {version}"),
            ));
        }
        let header = Header {
            generation: u64_at(GENERATION_OFFSET),
            len: u64_at(LEN_OFFSET),
            hash: u64_at(HASH_OFFSET),
        };
        // The CRC proves these are the bytes written, not that they are sane.
        if header.generation == 0 {
            return Err(corrupt(
                GENERATION_OFFSET,
                "a generation >= 1".to_owned(),
                "0".to_owned(),
            ));
        }
        let content_len = file_len.checked_sub(HEADER_BYTES as u64);
        if content_len != Some(header.len) {
            return Err(corrupt(
                LEN_OFFSET,
                format!("a content length of {file_len} - {HEADER_BYTES} bytes"),
                format!("{}", header.len),
            ));
        }
        Ok(header)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_pins_its_bytes() {
        let header = Header::of(b"hello", 7);
        let bytes = header.encode();
        assert_eq!(&bytes[..8], b"LOBJ\x01\x00\x00\x00");
        assert_eq!(&bytes[8..16], &7u64.to_le_bytes());
        assert_eq!(&bytes[16..24], &5u64.to_le_bytes());
        assert_eq!(
            Header::decode("o", &bytes, HEADER_BYTES as u64 + 5).unwrap(),
            header
        );
    }

    #[test]
    fn decode_rejects_damage_naming_where() {
        let bytes = Header::of(b"hello", 1).encode();
        let mut flipped = bytes;
        flipped[20] ^= 1;
        let err = Header::decode("o", &flipped, HEADER_BYTES as u64 + 5).unwrap_err();
        assert!(matches!(err, Error::Corrupt { offset: 32, .. }), "{err}");
        let err = Header::decode("o", &bytes, HEADER_BYTES as u64 + 4).unwrap_err();
        assert!(matches!(err, Error::Corrupt { offset: 16, .. }), "{err}");
        let err = Header::decode("o", &bytes[..10], 10).unwrap_err();
        assert!(matches!(err, Error::Corrupt { offset: 0, .. }), "{err}");
    }
}
