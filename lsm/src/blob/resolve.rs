//! Reading a separated value: from its reference to its bytes, checked
//! against the reference's checksum.

use bytes::Bytes;
use xxhash_rust::xxh3::xxh3_64;

use crate::blob::{BlobRef, Blobs};
use crate::{Error, Result};

/// The value a reference stored under `key` points to, checked against its
/// checksum. Errors name the key.
pub(crate) fn resolve(store: Option<&Blobs>, key: &[u8], reference: &[u8]) -> Result<Bytes> {
    let Some(r) = BlobRef::decode(reference) else {
        return Err(Error::BadBlobRef {
            key: key.to_vec(),
            len: reference.len(),
        });
    };
    let Some(store) = store else {
        return Err(Error::BlobUnavailable {
            key: key.to_vec(),
            blob: r.blob.0,
            source: erasure::Error::NotFound { blob: r.blob },
        });
    };
    let v = store
        .get_range(r.blob, r.offset, r.len)
        .map_err(|source| Error::BlobUnavailable {
            key: key.to_vec(),
            blob: r.blob.0,
            source,
        })?;
    let found = xxh3_64(&v);
    if found != r.checksum {
        return Err(Error::BlobChecksum {
            key: key.to_vec(),
            blob: r.blob.0,
            offset: r.offset,
            len: r.len,
            expected: r.checksum,
            found,
        });
    }
    Ok(v)
}
