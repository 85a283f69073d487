//! Key-value separation: values of at least `Options::blob_threshold` bytes
//! leave the tree at flush time. All the large values of one flush go to one
//! blob (a "blob file") in the erasure-coded [`erasure::BlobStore`]; the
//! table stores a [`BlobRef`] under [`ValueKind::BlobRef`] instead.
//!
//! A reference is 32 bytes: `blob id u64 | offset u64 | length u64 |
//! xxh3-64 of the value u64`, little-endian. Reading a value reads only its
//! byte range from the data shards (`BlobStore::get_range`).

use bytes::Bytes;
use erasure::{BlobId, BlobStore};
use xxhash_rust::xxh3::xxh3_64;

use crate::key::{InternalKey, ValueKind};
use crate::{Error, Result};

/// Bytes of an encoded [`BlobRef`].
pub(crate) const BLOB_REF_LEN: usize = 32;

/// Where a separated value lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BlobRef {
    pub(crate) blob: u64,
    pub(crate) offset: u64,
    pub(crate) len: u64,
    pub(crate) checksum: u64,
}

impl BlobRef {
    pub(crate) fn encode(&self) -> Bytes {
        let mut b = Vec::with_capacity(BLOB_REF_LEN);
        for x in [self.blob, self.offset, self.len, self.checksum] {
            b.extend_from_slice(&x.to_le_bytes());
        }
        Bytes::from(b)
    }

    pub(crate) fn decode(b: &[u8]) -> Option<BlobRef> {
        if b.len() != BLOB_REF_LEN {
            return None;
        }
        let at = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[i * 8..i * 8 + 8]);
            u64::from_le_bytes(a)
        };
        Some(BlobRef {
            blob: at(0),
            offset: at(1),
            len: at(2),
            checksum: at(3),
        })
    }
}

/// Moves the inline values of at least `threshold` bytes among `entries`
/// into one new blob, replacing them by references. The blob is durable
/// when this returns (`BlobStore::put` syncs), before any table names it.
/// Also returns the bytes put in the blob.
pub(crate) fn separate(
    store: &BlobStore,
    threshold: usize,
    entries: impl Iterator<Item = (InternalKey, Bytes)>,
) -> Result<(Vec<(InternalKey, Bytes)>, u64)> {
    let mut out: Vec<(InternalKey, Bytes)> = entries.collect();
    let mut buf = Vec::new();
    let mut refs = Vec::new();
    for (i, (k, v)) in out.iter().enumerate() {
        if k.kind == ValueKind::Inline && v.len() >= threshold {
            refs.push((i, buf.len() as u64, v.len() as u64, xxh3_64(v)));
            buf.extend_from_slice(v);
        }
    }
    if refs.is_empty() {
        return Ok((out, 0));
    }
    let id = store.put(&buf).map_err(Error::BlobStore)?;
    for (i, offset, len, checksum) in refs {
        let (k, v) = &mut out[i];
        k.kind = ValueKind::BlobRef;
        *v = BlobRef {
            blob: id.0,
            offset,
            len,
            checksum,
        }
        .encode();
    }
    Ok((out, buf.len() as u64))
}

/// The value a reference stored under `key` points to, checked against its
/// checksum. Errors name the key.
pub(crate) fn resolve(store: Option<&BlobStore>, key: &[u8], reference: &[u8]) -> Result<Bytes> {
    let Some(r) = BlobRef::decode(reference) else {
        return Err(Error::BadBlobRef { key: key.to_vec() });
    };
    let Some(store) = store else {
        return Err(Error::BlobUnavailable {
            key: key.to_vec(),
            blob: r.blob,
            source: erasure::Error::NotFound {
                blob: BlobId(r.blob),
            },
        });
    };
    let v = store
        .get_range(BlobId(r.blob), r.offset, r.len)
        .map_err(|source| Error::BlobUnavailable {
            key: key.to_vec(),
            blob: r.blob,
            source,
        })?;
    let found = xxh3_64(&v);
    if found != r.checksum {
        return Err(Error::BlobChecksum {
            key: key.to_vec(),
            blob: r.blob,
            expected: r.checksum,
            found,
        });
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_ref_round_trips() {
        let r = BlobRef {
            blob: 7,
            offset: 1 << 40,
            len: 65536,
            checksum: 0xdead_beef,
        };
        assert_eq!(BlobRef::decode(&r.encode()), Some(r));
        assert_eq!(BlobRef::decode(&r.encode()[..31]), None);
    }
}
