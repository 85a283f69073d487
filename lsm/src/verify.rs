//! `verify` and `repair_blobs`: read every entry of every live table and
//! every blob value a table points to, and say what is wrong and which keys
//! it costs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use erasure::BlobId;
use xxhash_rust::xxh3::xxh3_64;

use crate::blob::{BLOB_REF_LEN, BlobRef, Blobs};
use crate::key::ValueKind;
use crate::sstable::reader::Table;
use crate::{Error, Result};

/// Keys named per lost blob at most; `keys_total` counts them all.
const KEYS_NAMED_MAX: usize = 1000;

/// One thing [`Db::verify`](crate::Db::verify) found wrong. Each names
/// where (a file and byte offset, or a blob and the byte range of a value)
/// and what was expected and found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// A table block failed a check (checksum, decoding, key order), or a
    /// table's blocks hold a different number of entries than its
    /// properties say. Its entries are not read; the table's other blocks
    /// are.
    Table {
        /// Number of the table (`NNNNNN.sst`).
        table: u64,
        /// The file.
        file: PathBuf,
        /// Byte offset in `file` of the bad block (or footer, or header).
        offset: u64,
        /// What failed ("block checksum", "footer checksum", ...).
        what: &'static str,
        /// The value expected (a checksum, a length, a count).
        expected: u64,
        /// The value found.
        found: u64,
    },
    /// A blob file has missing or rotten shards, but every stripe still has
    /// enough good ones: no value is lost, and
    /// [`Db::repair_blobs`](crate::Db::repair_blobs) rewrites them.
    BlobDegraded {
        /// The blob file.
        blob: u64,
        /// Indexes (directories, or stores) of the bad shards.
        bad_shards: Vec<usize>,
        /// Per bad shard: its directory or store, file or object, the
        /// offset of the first bad stripe, and what is wrong
        /// (`shard 2 in s3://bucket/blobs: blobs/00000000000000a1.shard at
        /// offset 4148: stripe 1 short or failing its CRC`).
        damage: Vec<String>,
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
    /// The bytes a reference points to read back but do not match its
    /// checksum, or the reference points outside its blob.
    BadValue {
        /// The user key.
        key: Vec<u8>,
        /// The blob file.
        blob: u64,
        /// Byte offset of the value in the blob.
        offset: u64,
        /// Length of the value in bytes.
        len: u64,
        /// xxh3-64 recorded in the reference.
        expected: u64,
        /// xxh3-64 of the bytes read; `None` when the range lies outside
        /// the blob.
        found: Option<u64>,
    },
    /// A table entry of kind blob reference whose value is not a
    /// reference (of the wrong length).
    BadBlobRef {
        /// The user key.
        key: Vec<u8>,
        /// Number of the table holding the entry.
        table: u64,
        /// The table file.
        file: PathBuf,
        /// Byte offset in `file` of the data block holding the entry.
        offset: u64,
        /// Bytes a reference has.
        expected_len: u64,
        /// Bytes the entry's value has.
        found_len: u64,
    },
}

/// One live table [`Db::verify`](crate::Db::verify) read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableReport {
    /// Number of the table (`NNNNNN.sst`).
    pub table: u64,
    /// The file.
    pub file: PathBuf,
    /// The level the table lives in.
    pub level: usize,
    /// Bytes of the file.
    pub size_bytes: u64,
    /// Blocks read: footer, index, filter, properties and data blocks.
    pub blocks_checked: u64,
    /// Entries read from its good data blocks (every version, tombstones
    /// included).
    pub entries_checked: u64,
    /// [`Problem::Table`] entries the report holds for it.
    pub problems: u64,
}

/// What [`Db::verify`](crate::Db::verify) read and found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Every live table read, in level order (newest level-0 table first).
    pub tables: Vec<TableReport>,
    /// Live tables read.
    pub tables_checked: u64,
    /// Table blocks read (footer, meta and data blocks).
    pub blocks_checked: u64,
    /// Table entries read (every version, tombstones included).
    pub entries_checked: u64,
    /// Blob files read.
    pub blob_files_checked: u64,
    /// Blob references resolved and checked against their checksum.
    pub blob_refs_checked: u64,
    /// Entries written under a TTL ([`Options::ttl`](crate::Options::ttl))
    /// still in tables, every version counted.
    pub timed_entries: u64,
    /// Of those, the ones expired under the handle's TTL now: invisible to
    /// reads, awaiting the compaction that drops them.
    pub expired_entries: u64,
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

/// Reads `tables` (each with its level) and the blobs they reference,
/// calling `on_table` after each table. The caller holds the tables (a
/// pinned version) for the whole call, so compaction keeps their files,
/// and the blob files they reference, until it returns.
///
/// # Errors
///
/// A table read that fails other than with corruption (none today: tables
/// are read from their maps).
pub(crate) fn verify(
    tables: &[(usize, Arc<Table>)],
    store: Option<&Blobs>,
    expiry: Option<crate::ttl::Expiry>,
    on_table: &mut dyn FnMut(&TableReport),
) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    let (mut timed, mut expired) = (0u64, 0u64);
    // Per blob: (user key, reference) of every entry pointing into it.
    let mut refs: BTreeMap<BlobId, Vec<(Bytes, BlobRef)>> = BTreeMap::new();
    for (level, t) in tables {
        let mut bad_refs = Vec::new();
        let check = t.check(&mut |block_offset, k, v| {
            if crate::ttl::is_timed(k.kind) {
                timed += 1;
                if let (Some(e), Ok((written, _))) = (expiry, crate::ttl::split(&k.user, &v))
                    && e.expired(written)
                {
                    expired += 1;
                }
            }
            if crate::ttl::untimed(k.kind) != ValueKind::BlobRef {
                return;
            }
            // A timed reference (TTL) has its write time first.
            let v = if k.kind == ValueKind::TimedBlobRef {
                v.slice(v.len().min(crate::ttl::TIME_LEN)..)
            } else {
                v
            };
            match BlobRef::decode(&v) {
                Some(r) => refs.entry(r.blob).or_default().push((k.user, r)),
                None => bad_refs.push(Problem::BadBlobRef {
                    key: k.user.to_vec(),
                    table: t.number.0,
                    file: t.path().to_path_buf(),
                    offset: block_offset,
                    expected_len: BLOB_REF_LEN as u64,
                    found_len: v.len() as u64,
                }),
            }
        });
        let mut table_problems = 0;
        for e in check.problems {
            let Error::Corruption {
                file,
                offset,
                what,
                expected,
                found,
            } = e
            else {
                return Err(e);
            };
            table_problems += 1;
            report.problems.push(Problem::Table {
                table: t.number.0,
                file,
                offset,
                what,
                expected,
                found,
            });
        }
        report.problems.append(&mut bad_refs);
        report.tables_checked += 1;
        report.blocks_checked += check.blocks_checked;
        report.entries_checked += check.entries_checked;
        let r = TableReport {
            table: t.number.0,
            file: t.path().to_path_buf(),
            level: *level,
            size_bytes: t.size_bytes(),
            blocks_checked: check.blocks_checked,
            entries_checked: check.entries_checked,
            problems: table_problems,
        };
        on_table(&r);
        report.tables.push(r);
    }
    for (blob, list) in refs {
        report.blob_files_checked += 1;
        verify_blob(store, blob, &list, &mut report);
    }
    report.timed_entries = timed;
    report.expired_entries = expired;
    Ok(report)
}

/// Checks every reference into `blob`: one whole read when the blob is
/// healthy, else value by value, so a partly lost blob names only the keys
/// whose stripes are gone.
fn verify_blob(
    store: Option<&Blobs>,
    id: BlobId,
    list: &[(Bytes, BlobRef)],
    report: &mut VerifyReport,
) {
    // The report names a blob by its number.
    let blob = id.0;
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
    // `value` is `None` when the reference's range lies outside the blob.
    let check = |key: &Bytes, r: &BlobRef, value: Option<&[u8]>, report: &mut VerifyReport| {
        report.blob_refs_checked += 1;
        let found = value.map(xxh3_64);
        let len_ok = value.is_some_and(|v| v.len() as u64 == r.len);
        if !len_ok || found != Some(r.checksum) {
            report.problems.push(Problem::BadValue {
                key: key.to_vec(),
                blob,
                offset: r.offset,
                len: r.len,
                expected: r.checksum,
                found,
            });
        }
    };
    if bad_shards.is_empty()
        && let Ok(all) = store.get(id)
    {
        for (key, r) in list {
            let slice = usize::try_from(r.offset)
                .ok()
                .zip(
                    r.offset
                        .checked_add(r.len)
                        .and_then(|e| usize::try_from(e).ok()),
                )
                .and_then(|(a, b)| all.get(a..b));
            check(key, r, slice, report);
        }
        return;
    }
    if !bad_shards.is_empty() {
        report.problems.push(Problem::BlobDegraded {
            blob,
            bad_shards: bad_shards.clone(),
            damage: stat.damage.iter().map(ToString::to_string).collect(),
        });
    }
    let mut unreadable: Vec<&Bytes> = Vec::new();
    let mut reason = String::new();
    for (key, r) in list {
        match store.get_range(id, r.offset, r.len) {
            Ok(v) => check(key, r, Some(&v), report),
            Err(erasure::Error::RangeOutOfBounds { .. }) => check(key, r, None, report),
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::cache::BlockCache;
    use crate::key::{InternalKey, SeqNo};
    use crate::sstable::writer::{TableOptions, TableWriter};

    /// A table holding `entries` (user key, kind, value), opened.
    fn table(fs: &dyn vfs::Fs, entries: &[(&str, ValueKind, Bytes)]) -> Arc<Table> {
        let path = Path::new("000007.sst");
        let opts = TableOptions {
            block_size_bytes: 4096,
            restart_interval: 16,
            bloom_bits_per_key: 10,
            compression: false,
        };
        let mut w = TableWriter::create(fs, path, opts).expect("create");
        for (i, (k, kind, v)) in entries.iter().enumerate() {
            let key = InternalKey::new(
                Bytes::copy_from_slice(k.as_bytes()),
                SeqNo(i as u64 + 1),
                *kind,
            );
            w.add(&key.encoded(), v).expect("add");
        }
        w.finish().expect("finish");
        Arc::new(
            Table::open(
                fs,
                path,
                crate::manifest::FileNumber(7),
                Arc::new(BlockCache::new(1 << 16)),
            )
            .expect("open"),
        )
    }

    #[test]
    fn bad_references_and_values_say_where_and_what() {
        let mem = vfs::MemFs::new();
        let fs: Arc<dyn vfs::Fs> = Arc::new(mem);
        let opts = erasure::Options {
            data_shards: 2,
            parity_shards: 1,
            ..erasure::Options::default()
        };
        let dirs = erasure::BlobStore::open_with_fs(Arc::clone(&fs), &["b0", "b1", "b2"], opts);
        let dirs = dirs.expect("store");
        let value = b"the separated value".to_vec();
        let blob = dirs.put(&value).expect("put");
        let store = Blobs::Dirs(dirs);
        let reference = |offset: u64, len: u64, checksum: u64| {
            BlobRef {
                blob,
                offset,
                len,
                checksum,
            }
            .encode()
        };
        let good = xxh3_64(&value);
        let t = table(
            &*fs,
            &[
                (
                    "a",
                    ValueKind::BlobRef,
                    reference(0, value.len() as u64, good),
                ),
                ("b", ValueKind::BlobRef, Bytes::from_static(&[0u8; 31])),
                ("c", ValueKind::BlobRef, reference(0, value.len() as u64, 7)),
                ("d", ValueKind::BlobRef, reference(1 << 20, 4, good)),
                ("e", ValueKind::Inline, Bytes::from_static(b"inline")),
            ],
        );
        let mut seen = Vec::new();
        let report = verify(&[(0, Arc::clone(&t))], Some(&store), None, &mut |r| {
            seen.push(r.clone())
        })
        .expect("verify");
        assert_eq!(seen, report.tables);
        assert_eq!(report.tables.len(), 1);
        assert_eq!(report.tables[0].entries_checked, 5);
        assert_eq!(report.tables[0].problems, 0);
        assert_eq!(report.blob_refs_checked, 3);
        let header = crate::sstable::footer::HEADER_SIZE_BYTES as u64;
        assert_eq!(
            report.problems,
            vec![
                Problem::BadBlobRef {
                    key: b"b".to_vec(),
                    table: 7,
                    file: t.path().to_path_buf(),
                    offset: header,
                    expected_len: BLOB_REF_LEN as u64,
                    found_len: 31,
                },
                Problem::BadValue {
                    key: b"c".to_vec(),
                    blob: blob.0,
                    offset: 0,
                    len: value.len() as u64,
                    expected: 7,
                    found: Some(good),
                },
                Problem::BadValue {
                    key: b"d".to_vec(),
                    blob: blob.0,
                    offset: 1 << 20,
                    len: 4,
                    expected: good,
                    found: None,
                },
            ]
        );
    }
}
