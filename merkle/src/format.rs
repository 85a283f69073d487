//! Serialized proofs and frontiers (see `FORMAT.md`): an 8-byte header,
//! the fields of the kind, and a CRC-32 of everything before it.

use crate::compact::CompactTree;
use crate::error::{Error, Result};
use crate::hasher::Hasher;
use crate::proof::{ConsistencyProof, InclusionProof, MultiProof};

const MAGIC: [u8; 4] = *b"MRKL";
const VERSION: u8 = 1;
const MAGIC_OFFSET: usize = 0;
const VERSION_OFFSET: usize = MAGIC_OFFSET + 4;
const KIND_OFFSET: usize = VERSION_OFFSET + 1;
const HASHER_OFFSET: usize = KIND_OFFSET + 1;
const DIGEST_LEN_OFFSET: usize = HASHER_OFFSET + 1;
const HEADER_LEN: usize = DIGEST_LEN_OFFSET + 1;
const CRC_LEN: usize = 4;
const _: () = assert!(HEADER_LEN == 8);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Inclusion = 1,
    Consistency = 2,
    Multi = 3,
    Frontier = 4,
}

struct Writer(Vec<u8>);

impl Writer {
    fn new<H: Hasher>(kind: Kind) -> Writer {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&[VERSION, kind as u8, H::ID, H::DIGEST_LEN as u8]);
        Writer(out)
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn digests<H: Hasher>(&mut self, digests: &[H::Digest]) {
        self.0
            .extend_from_slice(&(digests.len() as u32).to_le_bytes());
        for d in digests {
            self.0.extend_from_slice(d.as_ref());
        }
    }
    fn finish(mut self) -> Vec<u8> {
        let crc = crc32fast::hash(&self.0);
        self.0.extend_from_slice(&crc.to_le_bytes());
        self.0
    }
}

/// Reads checked fields from CRC-verified bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    total: usize,
}

impl<'a> Reader<'a> {
    /// Checks header, length and CRC; positions after the header.
    fn open<H: Hasher>(bytes: &'a [u8], kind: Kind) -> Result<Reader<'a>> {
        if bytes.len() < HEADER_LEN + CRC_LEN {
            return Err(Error::Truncated {
                len: bytes.len(),
                len_min: HEADER_LEN + CRC_LEN,
            });
        }
        if bytes[MAGIC_OFFSET..MAGIC_OFFSET + 4] != MAGIC {
            return Err(Error::BadHeader {
                reason: "not a merkle object (magic)",
            });
        }
        if bytes[VERSION_OFFSET] != VERSION {
            return Err(Error::BadHeader {
                reason: "unsupported format version",
            });
        }
        let body = bytes.len() - CRC_LEN;
        let expected = u32::from_le_bytes([
            bytes[body],
            bytes[body + 1],
            bytes[body + 2],
            bytes[body + 3],
        ]);
        let found = crc32fast::hash(&bytes[..body]);
        if expected != found {
            return Err(Error::Checksum { expected, found });
        }
        if bytes[KIND_OFFSET] != kind as u8 {
            return Err(Error::BadHeader {
                reason: "another kind of object",
            });
        }
        if bytes[HASHER_OFFSET] != H::ID || usize::from(bytes[DIGEST_LEN_OFFSET]) != H::DIGEST_LEN {
            return Err(Error::BadHeader {
                reason: "made with another hasher",
            });
        }
        Ok(Reader {
            bytes: &bytes[..body],
            at: HEADER_LEN,
            total: bytes.len(),
        })
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8]> {
        let end = self
            .at
            .checked_add(len)
            .filter(|&e| e <= self.bytes.len())
            .ok_or(Error::Truncated {
                len: self.total,
                len_min: self.at.saturating_add(len).saturating_add(CRC_LEN),
            })?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u64(&mut self) -> Result<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    fn count(&mut self, item_len: usize) -> Result<usize> {
        let b = self.take(4)?;
        let count = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
        // Checked against the bytes present before anything is allocated.
        let needed = count.saturating_mul(item_len);
        if needed > self.bytes.len() - self.at {
            return Err(Error::Truncated {
                len: self.total,
                len_min: self.at.saturating_add(needed).saturating_add(CRC_LEN),
            });
        }
        Ok(count)
    }

    fn digests<H: Hasher>(&mut self) -> Result<Vec<H::Digest>> {
        let count = self.count(H::DIGEST_LEN)?;
        (0..count)
            .map(|_| {
                let b = self.take(H::DIGEST_LEN)?;
                H::digest_from_slice(b).ok_or(Error::BadHeader {
                    reason: "digest length",
                })
            })
            .collect()
    }

    fn finish(self) -> Result<()> {
        if self.at != self.bytes.len() {
            return Err(Error::TrailingBytes {
                len: self.total,
                len_expected: self.at + CRC_LEN,
            });
        }
        Ok(())
    }
}

impl<H: Hasher> InclusionProof<H> {
    /// Serializes the proof (see `FORMAT.md`).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new::<H>(Kind::Inclusion);
        w.u64(self.leaf_index);
        w.u64(self.tree_size);
        w.digests::<H>(&self.path);
        w.finish()
    }

    /// Decodes a proof written by [`to_bytes`](Self::to_bytes).
    ///
    /// # Errors
    ///
    /// Truncated, corrupt, trailing or foreign bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<InclusionProof<H>> {
        let mut r = Reader::open::<H>(bytes, Kind::Inclusion)?;
        let proof = InclusionProof {
            leaf_index: r.u64()?,
            tree_size: r.u64()?,
            path: r.digests::<H>()?,
        };
        r.finish()?;
        Ok(proof)
    }
}

impl<H: Hasher> ConsistencyProof<H> {
    /// Serializes the proof (see `FORMAT.md`).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new::<H>(Kind::Consistency);
        w.u64(self.old_size);
        w.u64(self.new_size);
        w.digests::<H>(&self.path);
        w.finish()
    }

    /// Decodes a proof written by [`to_bytes`](Self::to_bytes).
    ///
    /// # Errors
    ///
    /// Truncated, corrupt, trailing or foreign bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<ConsistencyProof<H>> {
        let mut r = Reader::open::<H>(bytes, Kind::Consistency)?;
        let proof = ConsistencyProof {
            old_size: r.u64()?,
            new_size: r.u64()?,
            path: r.digests::<H>()?,
        };
        r.finish()?;
        Ok(proof)
    }
}

impl<H: Hasher> MultiProof<H> {
    /// Serializes the proof (see `FORMAT.md`).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new::<H>(Kind::Multi);
        w.u64(self.tree_size);
        w.0.extend_from_slice(&(self.leaf_indices.len() as u32).to_le_bytes());
        for &i in &self.leaf_indices {
            w.u64(i);
        }
        w.digests::<H>(&self.hashes);
        w.finish()
    }

    /// Decodes a proof written by [`to_bytes`](Self::to_bytes).
    ///
    /// # Errors
    ///
    /// Truncated, corrupt, trailing or foreign bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<MultiProof<H>> {
        let mut r = Reader::open::<H>(bytes, Kind::Multi)?;
        let tree_size = r.u64()?;
        let count = r.count(8)?;
        let leaf_indices = (0..count).map(|_| r.u64()).collect::<Result<Vec<_>>>()?;
        let hashes = r.digests::<H>()?;
        r.finish()?;
        Ok(MultiProof {
            tree_size,
            leaf_indices,
            hashes,
        })
    }
}

impl<H: Hasher> CompactTree<H> {
    /// Serializes the size and frontier, to resume the log later.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new::<H>(Kind::Frontier);
        w.u64(self.len());
        w.digests::<H>(self.frontier());
        w.finish()
    }

    /// Resumes a log from [`to_bytes`](Self::to_bytes).
    ///
    /// # Errors
    ///
    /// Truncated, corrupt, trailing or foreign bytes, or a frontier that
    /// does not match the size.
    pub fn from_bytes(bytes: &[u8]) -> Result<CompactTree<H>> {
        let mut r = Reader::open::<H>(bytes, Kind::Frontier)?;
        let size = r.u64()?;
        let frontier = r.digests::<H>()?;
        r.finish()?;
        CompactTree::from_frontier(size, frontier)
    }
}
