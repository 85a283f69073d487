//! The manifest each directory holds: which store it belongs to, which shard
//! index it serves, and the layout, so a store opened with other options, or
//! with its directories swapped, is refused instead of misread.

use std::path::{Path, PathBuf};

use vfs::{Fs, OpenMode};

use crate::format::le;
use crate::{Error, Result};

pub(crate) const MANIFEST_NAME: &str = "MANIFEST";
pub(crate) const MANIFEST_TMP_NAME: &str = "MANIFEST.tmp";
pub(crate) const MANIFEST_MAGIC: [u8; 8] = *b"ERAMANI\0";
pub(crate) const MANIFEST_VERSION: u32 = 1;

const MAGIC_OFFSET: usize = 0;
const VERSION_OFFSET: usize = MAGIC_OFFSET + 8;
const SHARD_INDEX_OFFSET: usize = VERSION_OFFSET + 4;
const DATA_SHARDS_OFFSET: usize = SHARD_INDEX_OFFSET + 2;
const PARITY_SHARDS_OFFSET: usize = DATA_SHARDS_OFFSET + 2;
const RESERVED_OFFSET: usize = PARITY_SHARDS_OFFSET + 2;
const STRIPE_SIZE_OFFSET: usize = RESERVED_OFFSET + 2;
const STORE_ID_OFFSET: usize = STRIPE_SIZE_OFFSET + 4;
const CRC_OFFSET: usize = STORE_ID_OFFSET + 8;
/// Bytes of a manifest; the CRC covers `0..CRC_OFFSET`.
pub(crate) const MANIFEST_LEN: usize = CRC_OFFSET + 4;
const _: () = assert!(MANIFEST_LEN == 36);

/// One directory's manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Manifest {
    pub(crate) shard_index: u16,
    pub(crate) data_shards: u16,
    pub(crate) parity_shards: u16,
    pub(crate) stripe_size: u32,
    /// Random at creation; every directory of one store has the same.
    pub(crate) store_id: u64,
}

impl Manifest {
    pub(crate) fn to_bytes(self) -> [u8; MANIFEST_LEN] {
        let mut b = [0u8; MANIFEST_LEN];
        b[MAGIC_OFFSET..VERSION_OFFSET].copy_from_slice(&MANIFEST_MAGIC);
        b[VERSION_OFFSET..SHARD_INDEX_OFFSET].copy_from_slice(&MANIFEST_VERSION.to_le_bytes());
        b[SHARD_INDEX_OFFSET..DATA_SHARDS_OFFSET].copy_from_slice(&self.shard_index.to_le_bytes());
        b[DATA_SHARDS_OFFSET..PARITY_SHARDS_OFFSET]
            .copy_from_slice(&self.data_shards.to_le_bytes());
        b[PARITY_SHARDS_OFFSET..RESERVED_OFFSET].copy_from_slice(&self.parity_shards.to_le_bytes());
        b[STRIPE_SIZE_OFFSET..STORE_ID_OFFSET].copy_from_slice(&self.stripe_size.to_le_bytes());
        b[STORE_ID_OFFSET..CRC_OFFSET].copy_from_slice(&self.store_id.to_le_bytes());
        let crc = crc32fast::hash(&b[..CRC_OFFSET]);
        b[CRC_OFFSET..].copy_from_slice(&crc.to_le_bytes());
        b
    }

    pub(crate) fn from_bytes(b: &[u8], file: &Path) -> Result<Manifest> {
        let corrupt =
            |offset: usize, what: &'static str, expected: u64, found: u64| Error::Corruption {
                file: file.to_path_buf(),
                offset: offset as u64,
                what,
                expected,
                found,
            };
        if b.len() != MANIFEST_LEN {
            return Err(corrupt(
                0,
                "manifest length",
                MANIFEST_LEN as u64,
                b.len() as u64,
            ));
        }
        if b[..VERSION_OFFSET] != MANIFEST_MAGIC {
            return Err(corrupt(
                MAGIC_OFFSET,
                "manifest magic",
                u64::from_le_bytes(MANIFEST_MAGIC),
                u64::from_le_bytes(le(b, MAGIC_OFFSET)),
            ));
        }
        let crc = u32::from_le_bytes(le(b, CRC_OFFSET));
        let computed = crc32fast::hash(&b[..CRC_OFFSET]);
        if crc != computed {
            return Err(corrupt(
                CRC_OFFSET,
                "manifest crc",
                u64::from(crc),
                u64::from(computed),
            ));
        }
        let version = u32::from_le_bytes(le(b, VERSION_OFFSET));
        if version != MANIFEST_VERSION {
            return Err(corrupt(
                VERSION_OFFSET,
                "manifest version",
                u64::from(MANIFEST_VERSION),
                u64::from(version),
            ));
        }
        Ok(Manifest {
            shard_index: u16::from_le_bytes(le(b, SHARD_INDEX_OFFSET)),
            data_shards: u16::from_le_bytes(le(b, DATA_SHARDS_OFFSET)),
            parity_shards: u16::from_le_bytes(le(b, PARITY_SHARDS_OFFSET)),
            stripe_size: u32::from_le_bytes(le(b, STRIPE_SIZE_OFFSET)),
            store_id: u64::from_le_bytes(le(b, STORE_ID_OFFSET)),
        })
    }

    /// Refuses a manifest that differs from `expected` in any field.
    pub(crate) fn check(&self, expected: &Manifest, dir: &Path) -> Result<()> {
        let fields: [(&'static str, u64, u64); 5] = [
            (
                "shard_index",
                u64::from(expected.shard_index),
                u64::from(self.shard_index),
            ),
            (
                "data_shards",
                u64::from(expected.data_shards),
                u64::from(self.data_shards),
            ),
            (
                "parity_shards",
                u64::from(expected.parity_shards),
                u64::from(self.parity_shards),
            ),
            (
                "stripe_size",
                u64::from(expected.stripe_size),
                u64::from(self.stripe_size),
            ),
            ("store_id", expected.store_id, self.store_id),
        ];
        for (field, want, found) in fields {
            if want != found {
                return Err(Error::ManifestMismatch {
                    dir: dir.to_path_buf(),
                    field,
                    expected: want,
                    found,
                });
            }
        }
        Ok(())
    }
}

/// Reads `dir`'s manifest; `None` if it has none.
pub(crate) fn read(fs: &dyn Fs, dir: &Path) -> Result<Option<Manifest>> {
    let path = dir.join(MANIFEST_NAME);
    let file = match fs.open(&path, OpenMode::Read) {
        Ok(f) => f,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let len = file.len()?;
    let mut buf = vec![0u8; usize::try_from(len.min(MANIFEST_LEN as u64 + 1)).unwrap_or(0)];
    file.read_exact_at(&mut buf, 0)?;
    Manifest::from_bytes(&buf, &path).map(Some)
}

/// Writes `dir`'s manifest durably: temporary name, sync, rename, directory
/// sync.
pub(crate) fn write(fs: &dyn Fs, dir: &Path, manifest: &Manifest) -> Result<()> {
    let tmp: PathBuf = dir.join(MANIFEST_TMP_NAME);
    let file = fs.open(&tmp, OpenMode::Truncate)?;
    file.write_all_at(&manifest.to_bytes(), 0)?;
    file.sync_data()?;
    drop(file);
    fs.rename(&tmp, &dir.join(MANIFEST_NAME))?;
    fs.sync_dir(dir)?;
    Ok(())
}
