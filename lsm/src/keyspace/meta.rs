//! What the manifest records of a keyspace (tag 15): its id, name and
//! options, range-checked when read.

use std::path::Path;

use crate::{Error, Options, Result};

/// Longest keyspace name, in bytes.
pub const KEYSPACE_NAME_LEN_MAX: usize = 255;

/// Smallest write buffer a keyspace may have, in bytes (the database's
/// own smallest, `Options::validate`).
const WRITE_BUFFER_MIN_BYTES: u64 = 1 << 10;

/// Largest write buffer a keyspace may have, in bytes (1 TiB: any larger
/// number read from a manifest is damage).
const WRITE_BUFFER_MAX_BYTES: u64 = 1 << 40;

/// Largest Bloom bits per key a keyspace may have.
const BLOOM_BITS_MAX: u64 = 64;

/// A keyspace's own options: the ones that shape its memtable and tables.
/// Everything else (durability, levels, triggers, the block cache, the
/// blob store and its code, the merge operator, TTL) is the database's
/// [`Options`], shared by every keyspace. Recorded in the manifest when
/// the keyspace is created, so a reopen restores them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyspaceOptions {
    /// Bytes of writes the keyspace's memtable takes before it is switched
    /// out and flushed (as [`Options::write_buffer_size_bytes`]).
    pub write_buffer_size_bytes: usize,
    /// Whether its table blocks are compressed (as [`Options::compression`]).
    pub compression: bool,
    /// Bloom filter bits per key of its tables; 0 for none (as
    /// [`Options::bloom_bits_per_key`]).
    pub bloom_bits_per_key: usize,
    /// Values at least this long go to blob files (as
    /// [`Options::blob_threshold_bytes`]); needs the database's blob store
    /// (open when the database's own threshold is set, or its blob
    /// directory exists).
    pub blob_threshold_bytes: Option<usize>,
}

impl KeyspaceOptions {
    /// The options of the database's own (default) keyspace, which a new
    /// keyspace starts from.
    pub fn from_db(opts: &Options) -> KeyspaceOptions {
        KeyspaceOptions {
            write_buffer_size_bytes: opts.write_buffer_size_bytes,
            compression: opts.compression,
            bloom_bits_per_key: opts.bloom_bits_per_key,
            blob_threshold_bytes: opts.blob_threshold_bytes,
        }
    }

    /// The database's options with this keyspace's in place: what its
    /// memtable, flushes and compactions run with.
    pub(crate) fn apply(&self, db: &Options) -> Options {
        Options {
            write_buffer_size_bytes: self.write_buffer_size_bytes,
            compression: self.compression,
            bloom_bits_per_key: self.bloom_bits_per_key,
            blob_threshold_bytes: self.blob_threshold_bytes,
            ..db.clone()
        }
    }

    /// Checks the numbers; a blob threshold needs the database to have a
    /// blob store open (`has_blob_store`).
    pub(crate) fn validate(&self, has_blob_store: bool) -> Result<()> {
        let wb = self.write_buffer_size_bytes as u64;
        if !(WRITE_BUFFER_MIN_BYTES..=WRITE_BUFFER_MAX_BYTES).contains(&wb) {
            return Err(Error::InvalidKeyspace(format!(
                "keyspace write_buffer_size_bytes {wb} is outside \
                 {WRITE_BUFFER_MIN_BYTES}..={WRITE_BUFFER_MAX_BYTES}"
            )));
        }
        if self.bloom_bits_per_key as u64 > BLOOM_BITS_MAX {
            return Err(Error::InvalidKeyspace(format!(
                "keyspace bloom_bits_per_key {} is above {BLOOM_BITS_MAX}",
                self.bloom_bits_per_key
            )));
        }
        if self.blob_threshold_bytes.is_some() && !has_blob_store {
            return Err(Error::InvalidKeyspace(
                "a keyspace's blob_threshold_bytes needs the database's blob store \
                 (open it with Options::blob_threshold_bytes set)"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// A keyspace as the manifest records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KeyspaceMeta {
    /// A file number, drawn when the keyspace was created: never reused,
    /// so a log record of a dropped keyspace never lands in a new one.
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) opts: KeyspaceOptions,
}

impl KeyspaceMeta {
    /// Appends tag 15's fields (the tag itself is the caller's).
    pub(crate) fn encode(&self, b: &mut Vec<u8>) {
        debug_assert!(!self.name.is_empty() && self.name.len() <= KEYSPACE_NAME_LEN_MAX);
        b.extend_from_slice(&self.id.to_le_bytes());
        b.extend_from_slice(&(self.name.len() as u16).to_le_bytes());
        b.extend_from_slice(self.name.as_bytes());
        b.extend_from_slice(&(self.opts.write_buffer_size_bytes as u64).to_le_bytes());
        b.push(u8::from(self.opts.compression));
        b.extend_from_slice(&(self.opts.bloom_bits_per_key as u32).to_le_bytes());
        let t = self
            .opts
            .blob_threshold_bytes
            .map_or(u64::MAX, |t| t as u64);
        b.extend_from_slice(&t.to_le_bytes());
    }

    /// Decodes tag 15's fields from the start of `b`; returns the meta and
    /// the bytes it took. Every number is range-checked: an error names
    /// the manifest, the edit's offset, the limit and the value found.
    pub(crate) fn decode(b: &[u8], file: &Path, offset: u64) -> Result<(KeyspaceMeta, usize)> {
        let bad = |what: &'static str, expected: u64, found: u64| {
            Error::corruption(file, offset, what, expected, found)
        };
        let mut p = 0usize;
        let mut take = |n: usize| -> Result<&[u8]> {
            let s = b.get(p..p + n).ok_or_else(|| {
                bad(
                    "manifest keyspace record truncated",
                    (p + n) as u64,
                    b.len() as u64,
                )
            })?;
            p += n;
            Ok(s)
        };
        let u64_of = |s: &[u8]| {
            let mut a = [0u8; 8];
            a.copy_from_slice(s);
            u64::from_le_bytes(a)
        };
        let id = u64_of(take(8)?);
        let name_len = u16::from_le_bytes([take(1)?[0], take(1)?[0]]) as usize;
        if name_len == 0 || name_len > KEYSPACE_NAME_LEN_MAX {
            return Err(bad(
                "manifest keyspace name length",
                KEYSPACE_NAME_LEN_MAX as u64,
                name_len as u64,
            ));
        }
        let name = take(name_len)?;
        let name = std::str::from_utf8(name)
            .map_err(|u| {
                bad(
                    "manifest keyspace name UTF-8 (valid prefix length)",
                    name_len as u64,
                    u.valid_up_to() as u64,
                )
            })?
            .to_string();
        let wb = u64_of(take(8)?);
        let compression = take(1)?[0];
        let s = take(4)?;
        let bloom = u64::from(u32::from_le_bytes([s[0], s[1], s[2], s[3]]));
        let threshold = u64_of(take(8)?);
        if id == 0 || id > crate::manifest::FILE_NUMBER_MAX {
            return Err(bad(
                "manifest keyspace id out of range",
                crate::manifest::FILE_NUMBER_MAX,
                id,
            ));
        }
        if !(WRITE_BUFFER_MIN_BYTES..=WRITE_BUFFER_MAX_BYTES).contains(&wb) {
            return Err(bad(
                "manifest keyspace write buffer size out of range",
                WRITE_BUFFER_MAX_BYTES,
                wb,
            ));
        }
        if compression > 1 {
            return Err(bad(
                "manifest keyspace compression flag",
                1,
                u64::from(compression),
            ));
        }
        if bloom > BLOOM_BITS_MAX {
            return Err(bad(
                "manifest keyspace Bloom bits per key out of range",
                BLOOM_BITS_MAX,
                bloom,
            ));
        }
        if threshold != u64::MAX && threshold > crate::VALUE_LEN_MAX as u64 {
            return Err(bad(
                "manifest keyspace blob threshold out of range",
                crate::VALUE_LEN_MAX as u64,
                threshold,
            ));
        }
        let opts = KeyspaceOptions {
            write_buffer_size_bytes: wb as usize,
            compression: compression == 1,
            bloom_bits_per_key: bloom as usize,
            blob_threshold_bytes: (threshold != u64::MAX).then_some(threshold as usize),
        };
        Ok((KeyspaceMeta { id, name, opts }, p))
    }
}

/// [`Error::InvalidKeyspace`] unless `name` is 1 to
/// [`KEYSPACE_NAME_LEN_MAX`] bytes and not `"default"` (the database's own).
pub(crate) fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > KEYSPACE_NAME_LEN_MAX || name == DEFAULT_NAME {
        return Err(Error::InvalidKeyspace(format!(
            "keyspace name {name:?}: 1 to {KEYSPACE_NAME_LEN_MAX} bytes, not {DEFAULT_NAME:?} \
             (the database's own keyspace)"
        )));
    }
    Ok(())
}

/// The name of the database's own keyspace, id 0.
pub const DEFAULT_NAME: &str = "default";

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> KeyspaceMeta {
        KeyspaceMeta {
            id: 77,
            name: "users".into(),
            opts: KeyspaceOptions {
                write_buffer_size_bytes: 1 << 20,
                compression: true,
                bloom_bits_per_key: 10,
                blob_threshold_bytes: None,
            },
        }
    }

    #[test]
    fn a_record_round_trips_and_every_cut_is_refused() {
        let mut b = Vec::new();
        meta().encode(&mut b);
        let (m, used) = KeyspaceMeta::decode(&b, Path::new("m"), 0).expect("decode");
        assert_eq!((m, used), (meta(), b.len()));
        for cut in 0..b.len() {
            assert!(
                KeyspaceMeta::decode(&b[..cut], Path::new("m"), 0).is_err(),
                "{cut}"
            );
        }
    }

    /// Numbers out of range are corruption even in a record whose
    /// checksum matched: each field is overwritten with a bad value.
    #[test]
    fn numbers_out_of_range_are_corruption() {
        let mut good = Vec::new();
        meta().encode(&mut good);
        let name_end = 8 + 2 + 5;
        let cases: Vec<(usize, Vec<u8>, u64)> = vec![
            (0, 0u64.to_le_bytes().to_vec(), 0),
            (0, u64::MAX.to_le_bytes().to_vec(), u64::MAX),
            (8, 0u16.to_le_bytes().to_vec(), 0),
            (name_end, 10u64.to_le_bytes().to_vec(), 10),
            (name_end + 8, vec![2], 2),
            (name_end + 9, 65u32.to_le_bytes().to_vec(), 65),
            (name_end + 13, (1u64 << 40).to_le_bytes().to_vec(), 1 << 40),
        ];
        for (at, bytes, found) in cases {
            let mut b = good.clone();
            b[at..at + bytes.len()].copy_from_slice(&bytes);
            match KeyspaceMeta::decode(&b, Path::new("m"), 9) {
                Err(Error::Corruption {
                    offset: 9,
                    found: f,
                    ..
                }) => assert_eq!(f, found, "field at {at}"),
                other => panic!("field at {at}: {other:?}"),
            }
        }
        // A name that is not UTF-8.
        let mut b = good.clone();
        b[10] = 0xff;
        assert!(matches!(
            KeyspaceMeta::decode(&b, Path::new("m"), 0),
            Err(Error::Corruption { .. })
        ));
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("users").is_ok());
        for bad in ["", DEFAULT_NAME, &"x".repeat(KEYSPACE_NAME_LEN_MAX + 1)] {
            assert!(matches!(check_name(bad), Err(Error::InvalidKeyspace(_))));
        }
    }
}
