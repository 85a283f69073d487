//! The reference a table stores in place of a separated value
//! ([`ValueKind::BlobRef`](crate::key::ValueKind::BlobRef)): 32 bytes,
//! `blob id u64 | offset u64 | length u64 | xxh3-64 of the value u64`,
//! little-endian (`FORMAT.md`, "Blob reference").

use bytes::Bytes;
use erasure::BlobId;

/// Bytes of an encoded [`BlobRef`].
pub(crate) const BLOB_REF_LEN: usize = 32;

/// Where a separated value lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BlobRef {
    pub(crate) blob: BlobId,
    pub(crate) offset: u64,
    pub(crate) len: u64,
    pub(crate) checksum: u64,
}

impl BlobRef {
    pub(crate) fn encode(&self) -> Bytes {
        let mut b = Vec::with_capacity(BLOB_REF_LEN);
        for x in [self.blob.0, self.offset, self.len, self.checksum] {
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
            blob: BlobId(at(0)),
            offset: at(1),
            len: at(2),
            checksum: at(3),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_ref_round_trips() {
        let r = BlobRef {
            blob: BlobId(7),
            offset: 1 << 40,
            len: 65536,
            checksum: 0xdead_beef,
        };
        assert_eq!(BlobRef::decode(&r.encode()), Some(r));
        assert_eq!(BlobRef::decode(&r.encode()[..31]), None);
    }
}
