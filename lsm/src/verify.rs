//! `verify` and `repair_blobs`: read every entry of every live table and
//! every blob value a table points to, and say what is wrong and which keys
//! it costs.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use erasure::{BlobId, BlobStore};
use xxhash_rust::xxh3::xxh3_64;

use crate::Error;
use crate::blob::BlobRef;
use crate::key::ValueKind;
use crate::sstable::reader::Table;

/// Keys named per lost blob at most; `keys_total` counts them all.
const KEYS_NAMED_MAX: usize = 1000;

/// One thing [`Db::verify`](crate::Db::verify) found wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// A table failed a check (block CRC, decoding): what the read said.
    /// Entries after the failure in that table were not checked.
    Table {
        /// Number of the table (`NNNNNN.sst`).
        table: u64,
        /// The file.
        file: std::path::PathBuf,
        /// Byte offset of the bad block, when the error gives one.
        offset: Option<u64>,
        /// The error, as text.
        error: String,
    },
    /// A blob file has missing or rotten shards, but every stripe still has
    /// enough good ones: no value is lost, and
    /// [`Db::repair_blobs`](crate::Db::repair_blobs) rewrites them.
    BlobDegraded {
        /// The blob file.
        blob: u64,
        /// Indexes (directories) of the bad shards.
        bad_shards: Vec<usize>,
    },
    /// Values in a blob file cannot be read back: the file is gone, or a
    /// stripe lost more shards than the code's parity survives. Names the
    /// user keys whose values are lost.
    BlobLost {
        /// The blob file.
        blob: u64,
        /// Why (the blob store's error).
        reason: String,
        /// Up to 1000 of the affected user keys, sorted, without repeats.
        keys: Vec<Vec<u8>>,
        /// Number of affected references (a key may have several versions).
        refs_total: u64,
    },
    /// A reference whose bytes read back but do not match its checksum, or
    /// that points outside its blob.
    BadValue {
        /// The user key.
        key: Vec<u8>,
        /// The blob file; `u64::MAX` when the reference itself does not
        /// decode (not 32 bytes).
        blob: u64,
    },
}

/// What [`Db::verify`](crate::Db::verify) read and found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Live tables read.
    pub tables_checked: u64,
    /// Table entries read (every version, tombstones included).
    pub entries_checked: u64,
    /// Blob files read.
    pub blob_files_checked: u64,
    /// Blob references resolved and checked against their checksum.
    pub blob_refs_checked: u64,
    /// Everything wrong, tables first, then blobs in id order.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// Whether nothing is wrong.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }

    /// Whether every value can still be read (degraded blobs are fine).
    pub fn lost_nothing(&self) -> bool {
        self.problems
            .iter()
            .all(|p| matches!(p, Problem::BlobDegraded { .. }))
    }
}

/// What [`Db::repair_blobs`](crate::Db::repair_blobs) did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlobRepairReport {
    /// Shard files rebuilt from the surviving shards.
    pub shards_rebuilt: u64,
    /// A full verify after the repair: what is still wrong (lost values,
    /// with their keys).
    pub after: VerifyReport,
}

/// Reads `tables` and the blobs they reference.
pub(crate) fn verify(tables: &[Arc<Table>], store: Option<&BlobStore>) -> VerifyReport {
    let mut report = VerifyReport::default();
    // Per blob: (user key, reference) of every entry pointing into it.
    let mut refs: BTreeMap<u64, Vec<(Bytes, BlobRef)>> = BTreeMap::new();
    for t in tables {
        report.tables_checked += 1;
        for entry in t.iter_uncached() {
            let (k, v) = match entry {
                Ok(e) => e,
                Err(e) => {
                    let offset = match &e {
                        Error::Corruption { offset, .. } => Some(*offset),
                        _ => None,
                    };
                    report.problems.push(Problem::Table {
                        table: t.number,
                        file: t.path().to_path_buf(),
                        offset,
                        error: e.to_string(),
                    });
                    break;
                }
            };
            report.entries_checked += 1;
            if k.kind == ValueKind::BlobRef {
                match BlobRef::decode(&v) {
                    Some(r) => refs.entry(r.blob).or_default().push((k.user, r)),
                    None => report.problems.push(Problem::BadValue {
                        key: k.user.to_vec(),
                        blob: u64::MAX,
                    }),
                }
            }
        }
    }
    for (blob, list) in refs {
        report.blob_files_checked += 1;
        verify_blob(store, blob, &list, &mut report);
    }
    report
}

/// Checks every reference into `blob`: one whole read when the blob is
/// healthy, else value by value, so a partly lost blob names only the keys
/// whose stripes are gone.
fn verify_blob(
    store: Option<&BlobStore>,
    blob: u64,
    list: &[(Bytes, BlobRef)],
    report: &mut VerifyReport,
) {
    let lost = |reason: String, keys: Vec<&Bytes>| {
        let refs_total = keys.len() as u64;
        let mut keys: Vec<Vec<u8>> = keys.into_iter().map(|k| k.to_vec()).collect();
        keys.sort_unstable();
        keys.dedup();
        keys.truncate(KEYS_NAMED_MAX);
        Problem::BlobLost {
            blob,
            reason,
            keys,
            refs_total,
        }
    };
    let Some(store) = store else {
        report.problems.push(lost(
            "no blob store is open".into(),
            list.iter().map(|(k, _)| k).collect(),
        ));
        return;
    };
    let id = BlobId(blob);
    let stat = match store.stat(id) {
        Ok(s) => s,
        Err(e) => {
            report
                .problems
                .push(lost(e.to_string(), list.iter().map(|(k, _)| k).collect()));
            return;
        }
    };
    let bad_shards: Vec<usize> = (0..stat.healthy.len())
        .filter(|&i| !stat.healthy[i])
        .collect();
    let check = |key: &Bytes, r: &BlobRef, value: &[u8], report: &mut VerifyReport| {
        report.blob_refs_checked += 1;
        if value.len() as u64 != r.len || xxh3_64(value) != r.checksum {
            report.problems.push(Problem::BadValue {
                key: key.to_vec(),
                blob,
            });
        }
    };
    if bad_shards.is_empty()
        && let Ok(all) = store.get(id)
    {
        for (key, r) in list {
            let slice = usize::try_from(r.offset)
                .ok()
                .zip(usize::try_from(r.offset.saturating_add(r.len)).ok())
                .and_then(|(a, b)| all.get(a..b));
            check(key, r, slice.unwrap_or(&[]), report);
        }
        return;
    }
    if !bad_shards.is_empty() {
        report.problems.push(Problem::BlobDegraded {
            blob,
            bad_shards: bad_shards.clone(),
        });
    }
    let mut unreadable: Vec<&Bytes> = Vec::new();
    let mut reason = String::new();
    for (key, r) in list {
        match store.get_range(id, r.offset, r.len) {
            Ok(v) => check(key, r, &v, report),
            Err(erasure::Error::RangeOutOfBounds { .. }) => {
                report.blob_refs_checked += 1;
                report.problems.push(Problem::BadValue {
                    key: key.to_vec(),
                    blob,
                });
            }
            Err(e) => {
                if reason.is_empty() {
                    reason = e.to_string();
                }
                unreadable.push(key);
            }
        }
    }
    if !unreadable.is_empty() {
        // Readable values only: the degraded entry would mislead.
        report
            .problems
            .retain(|p| !matches!(p, Problem::BlobDegraded { blob: b, .. } if *b == blob));
        report.problems.push(lost(reason, unreadable));
    }
}
