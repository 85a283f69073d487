//! What the manifest records of blobs, and the live bytes that follow from
//! it: each blob file's values and bytes as written ([`BlobMeta`]), the
//! values each table references ([`BlobUse`], counted by [`RefCounter`] as
//! the table is written), and their sum over a version's tables
//! ([`BlobFiles::live`]).

use std::collections::{BTreeMap, HashMap, HashSet};

use erasure::BlobId;

use crate::blob::BlobRef;
use crate::key::ValueKind;
use crate::manifest::FileNumber;
use crate::version::Version;

/// A blob file as the manifest records it: the values put in it when it
/// was written (all live then).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BlobMeta {
    pub(crate) blob: BlobId,
    pub(crate) values: u64,
    pub(crate) bytes: u64,
}

/// Values of one blob that one table references.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BlobUse {
    pub(crate) blob: BlobId,
    pub(crate) values: u64,
    pub(crate) bytes: u64,
}

/// Counts the blob references written into one table.
#[derive(Debug, Default)]
pub(crate) struct RefCounter(BTreeMap<BlobId, Live>);

impl RefCounter {
    /// Notes an entry written to the table.
    pub(crate) fn note(&mut self, kind: ValueKind, value: &[u8]) {
        // A timed reference (TTL) has its write time first.
        let value = match kind {
            ValueKind::TimedBlobRef => value.get(crate::ttl::TIME_LEN..).unwrap_or_default(),
            _ => value,
        };
        if crate::ttl::untimed(kind) == ValueKind::BlobRef
            && let Some(r) = BlobRef::decode(value)
        {
            let e = self.0.entry(r.blob).or_default();
            e.values += 1;
            e.bytes += r.len;
        }
    }

    pub(crate) fn into_uses(self) -> Vec<BlobUse> {
        self.0
            .into_iter()
            .map(|(blob, Live { values, bytes })| BlobUse {
                blob,
                values,
                bytes,
            })
            .collect()
    }
}

/// The blob files the manifest records, and which existing table files
/// point into them. Guarded by the manifest lock.
#[derive(Debug, Default)]
pub(crate) struct BlobFiles {
    /// Recorded blob files by id.
    pub(crate) files: BTreeMap<BlobId, BlobMeta>,
    /// Per table file still on disk (live, or obsolete but held by a
    /// reader): the blob values it references.
    pub(crate) tables: HashMap<FileNumber, Vec<BlobUse>>,
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
    pub(crate) fn live(&self, v: &Version) -> BTreeMap<BlobId, Live> {
        let mut live: BTreeMap<BlobId, Live> = BTreeMap::new();
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
    pub(crate) fn unreferenced(&self) -> Vec<BlobId> {
        let used: HashSet<BlobId> = self.tables.values().flatten().map(|u| u.blob).collect();
        self.files
            .keys()
            .copied()
            .filter(|b| !used.contains(b))
            .collect()
    }
}
