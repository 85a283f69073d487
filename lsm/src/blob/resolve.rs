//! Reading a separated value: from its reference to its bytes, checked
//! against the reference's checksum.

use bytes::Bytes;
use xxhash_rust::xxh3::xxh3_64;

use crate::blob::{BlobRef, Blobs};
use crate::{Error, Result};

/// Why a handle without a blob store cannot read a separated value.
const NO_BLOB_STORE: &str = "this handle has no blob store: open it with \
     Options::blob_stores (or blob_dirs) naming the writer's blob stores and \
     blob_code";

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
        // A handle opened without the blob store (a `Reader` not given
        // the writer's blob stores, say): name what to configure.
        return Err(Error::BlobUnavailable {
            key: key.to_vec(),
            blob: r.blob.0,
            source: erasure::Error::Object(objstore::Error::Unsupported {
                op: "read",
                name: format!("blob {:016x}", r.blob.0),
                cause: NO_BLOB_STORE.to_string(),
            }),
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
