//! Key-value separation: values of at least `Options::blob_threshold` bytes
//! leave the tree at flush time. All the large values of one flush go to one
//! blob (a "blob file") in the erasure-coded [`erasure::BlobStore`]; the
//! table stores a [`BlobRef`] under [`ValueKind::BlobRef`] instead.
//!
//! Garbage collection: the manifest records every blob file (values and
//! bytes written) and, per table, the blob bytes it references, so the live
//! bytes of a blob are a sum over the live tables ([`BlobFiles`]). A
//! compaction copies the live values of blobs past `Options::blob_gc_ratio`
//! garbage into new blobs ([`Separator`]); a blob file that no table file on
//! disk references is dropped from the manifest, then deleted.
//!
//! A reference is 32 bytes: `blob id u64 | offset u64 | length u64 |
//! xxh3-64 of the value u64`, little-endian. Reading a value reads only its
//! byte range from the data shards (`BlobStore::get_range`).

use std::collections::{BTreeMap, HashMap, HashSet};

use bytes::Bytes;
use erasure::{BlobId, BlobStore, BlobWriter};
use xxhash_rust::xxh3::xxh3_64;

use crate::key::{InternalKey, ValueKind};
use crate::version::Version;
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

/// Largest blob a [`Separator`] writes before it starts another, so one
/// big compaction does not make one blob that garbage collection must
/// later rewrite whole.
const BLOB_FILE_BYTES_MAX: u64 = 64 << 20;

/// A blob file as the manifest records it: the values put in it when it
/// was written (all live then).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BlobMeta {
    pub(crate) blob: u64,
    pub(crate) values: u64,
    pub(crate) bytes: u64,
}

/// Values of one blob that one table references.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BlobUse {
    pub(crate) blob: u64,
    pub(crate) values: u64,
    pub(crate) bytes: u64,
}

/// Counts the blob references written into one table.
#[derive(Debug, Default)]
pub(crate) struct RefCounter(BTreeMap<u64, (u64, u64)>);

impl RefCounter {
    /// Notes an entry written to the table.
    pub(crate) fn note(&mut self, kind: ValueKind, value: &[u8]) {
        if kind == ValueKind::BlobRef
            && let Some(r) = BlobRef::decode(value)
        {
            let e = self.0.entry(r.blob).or_default();
            e.0 += 1;
            e.1 += r.len;
        }
    }

    pub(crate) fn into_uses(self) -> Vec<BlobUse> {
        self.0
            .into_iter()
            .map(|(blob, (values, bytes))| BlobUse {
                blob,
                values,
                bytes,
            })
            .collect()
    }
}

/// Rewrites entries on their way into a table: an inline value of at least
/// `threshold` bytes (flush) or a reference into a blob being collected
/// (compaction) has its value appended to a new blob, and the entry becomes
/// a reference to it. The new blobs are durable once [`Separator::finish`]
/// returns, before any manifest edit names the tables that point into them.
pub(crate) struct Separator<'a> {
    store: &'a BlobStore,
    threshold: Option<usize>,
    collect: &'a HashSet<u64>,
    /// Hands out blob ids: the engine's file numbers, which the manifest
    /// records, never the highest id on disk plus one (a lost newest blob
    /// would make its id look free while tables still point into it).
    new_id: &'a dyn Fn() -> Result<u64>,
    writer: Option<BlobWriter<'a>>,
    values: u64,
    done: Vec<BlobMeta>,
    /// Value bytes moved out of the tree (flush).
    pub(crate) separated_bytes: u64,
    /// Value bytes copied out of collected blobs (compaction).
    pub(crate) relocated_bytes: u64,
}

impl<'a> Separator<'a> {
    pub(crate) fn new(
        store: &'a BlobStore,
        threshold: Option<usize>,
        collect: &'a HashSet<u64>,
        new_id: &'a dyn Fn() -> Result<u64>,
    ) -> Separator<'a> {
        Separator {
            store,
            threshold,
            collect,
            new_id,
            writer: None,
            values: 0,
            done: Vec::new(),
            separated_bytes: 0,
            relocated_bytes: 0,
        }
    }

    /// Rewrites one entry in place if it must move.
    pub(crate) fn apply(&mut self, key: &mut InternalKey, value: &mut Bytes) -> Result<()> {
        let moved = match key.kind {
            ValueKind::Inline if self.threshold.is_some_and(|t| value.len() >= t) => {
                self.separated_bytes += value.len() as u64;
                value.clone()
            }
            ValueKind::BlobRef => match BlobRef::decode(value) {
                Some(r) if self.collect.contains(&r.blob) => {
                    let v = resolve(Some(self.store), &key.user, value)?;
                    self.relocated_bytes += v.len() as u64;
                    v
                }
                _ => return Ok(()),
            },
            _ => return Ok(()),
        };
        if self
            .writer
            .as_ref()
            .is_some_and(|w| w.len() >= BLOB_FILE_BYTES_MAX)
        {
            self.finish_one()?;
        }
        let mut w = match self.writer.take() {
            Some(w) => w,
            None => self
                .store
                .writer_with_id(BlobId((self.new_id)()?))
                .map_err(Error::BlobStore)?,
        };
        let r = BlobRef {
            blob: w.id().0,
            offset: w.len(),
            len: moved.len() as u64,
            checksum: xxh3_64(&moved),
        };
        w.write_all_bytes(&moved).map_err(Error::BlobStore)?;
        self.writer = Some(w);
        self.values += 1;
        key.kind = ValueKind::BlobRef;
        *value = r.encode();
        Ok(())
    }

    fn finish_one(&mut self) -> Result<()> {
        if let Some(w) = self.writer.take() {
            let bytes = w.len();
            let id = w.finish().map_err(Error::BlobStore)?;
            self.done.push(BlobMeta {
                blob: id.0,
                values: std::mem::take(&mut self.values),
                bytes,
            });
        }
        Ok(())
    }

    /// Finishes the blob being written; returns every blob written.
    pub(crate) fn finish(mut self) -> Result<Vec<BlobMeta>> {
        self.finish_one()?;
        Ok(std::mem::take(&mut self.done))
    }
}

impl std::fmt::Debug for Separator<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Separator")
            .field("threshold", &self.threshold)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// The blob files the manifest records, and which existing table files
/// point into them. Guarded by the manifest lock.
#[derive(Debug, Default)]
pub(crate) struct BlobFiles {
    /// Recorded blob files by id.
    pub(crate) files: BTreeMap<u64, BlobMeta>,
    /// Per table file still on disk (live, or obsolete but held by a
    /// reader): the blob values it references.
    pub(crate) tables: HashMap<u64, Vec<BlobUse>>,
}

/// Live values of one blob file in a version.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Live {
    pub(crate) values: u64,
    pub(crate) bytes: u64,
}

impl BlobFiles {
    /// Live values per recorded blob file: those referenced by the tables
    /// of `v` (a blob no table of `v` references is absent).
    pub(crate) fn live(&self, v: &Version) -> BTreeMap<u64, Live> {
        let mut live: BTreeMap<u64, Live> = BTreeMap::new();
        for t in v.levels.iter().flatten() {
            for u in self.tables.get(&t.number).into_iter().flatten() {
                let l = live.entry(u.blob).or_default();
                l.values += u.values;
                l.bytes += u.bytes;
            }
        }
        live
    }

    /// Recorded blob files that no table file on disk references: nothing
    /// can read them any more.
    pub(crate) fn unreferenced(&self) -> Vec<u64> {
        let used: HashSet<u64> = self.tables.values().flatten().map(|u| u.blob).collect();
        self.files
            .keys()
            .copied()
            .filter(|b| !used.contains(b))
            .collect()
    }

    /// Blob files of `v` whose garbage (bytes no table of `v` references)
    /// is at least `ratio` of their size, but that still hold live values:
    /// compaction copies those values out so the file can go.
    pub(crate) fn to_collect(&self, v: &Version, ratio: f64) -> HashSet<u64> {
        let live = self.live(v);
        self.files
            .values()
            .filter(|m| {
                live.get(&m.blob).is_some_and(|l| {
                    m.bytes > 0 && (m.bytes - l.bytes.min(m.bytes)) as f64 >= ratio * m.bytes as f64
                })
            })
            .map(|m| m.blob)
            .collect()
    }
}

/// The value a reference stored under `key` points to, checked against its
/// checksum. Errors name the key.
pub(crate) fn resolve(store: Option<&BlobStore>, key: &[u8], reference: &[u8]) -> Result<Bytes> {
    let Some(r) = BlobRef::decode(reference) else {
        return Err(Error::BadBlobRef {
            key: key.to_vec(),
            len: reference.len(),
        });
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
            offset: r.offset,
            len: r.len,
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
