//! The manifest: a log (in the WAL record format) of version edits, and the
//! `CURRENT` file naming the live manifest.
//!
//! An edit is a sequence of tagged fields:
//!
//! | tag | fields |
//! |---|---|
//! | 1 | log number: u64 |
//! | 2 | next file number: u64 |
//! | 3 | last sequence number: u64 |
//! | 4 | deleted table: level u8, number u64 |
//! | 5 | added table: level u8, number u64, size u64 |
//! | 6 | added blob file: id u64, values u64, bytes u64 |
//! | 7 | deleted blob file: id u64 |
//! | 8 | blob values a table references: table number u64, count u32, then per blob id u64, values u64, bytes u64 |
//! | 9 | blob files are recorded (no fields; in each manifest's first edit) |
//! | 10 | file numbers are reserved (no fields; in each manifest's first edit): every table, log and blob number in use is below a next file number recorded durably before the number was handed out |
//! | 11 | log sealed: log number u64, length u64 (the log takes no more records, and its first `length` bytes are durable and whole) |
//! | 12 | writer epoch: u64 |
//! | 13 | merge operator name: length u16, then that many bytes of UTF-8 (`merge/`) |
//! | 14 | keyspace of this edit: id u64 (its added and deleted tables are that keyspace's; absent: the default keyspace, id 0) |
//! | 15 | keyspace created: id u64, name length u16, name (UTF-8), write buffer bytes u64, compression u8, Bloom bits per key u32, blob threshold u64 (`u64::MAX`: none) |
//! | 16 | keyspace dropped: id u64 |
//! | 17 | keyspace log number: id u64, log u64 (the oldest log that may hold writes of the keyspace not in its tables) |

use std::path::Path;

use erasure::BlobId;

use crate::blob::{BlobMeta, BlobUse};
use crate::key::SeqNo;
use crate::{Error, Result};

const TAG_LOG_NUMBER: u8 = 1;
const TAG_NEXT_FILE: u8 = 2;
const TAG_LAST_SEQ: u8 = 3;
const TAG_DELETED: u8 = 4;
const TAG_ADDED: u8 = 5;
const TAG_BLOB_ADDED: u8 = 6;
const TAG_BLOB_DELETED: u8 = 7;
const TAG_TABLE_BLOBS: u8 = 8;
const TAG_BLOBS_RECORDED: u8 = 9;
const TAG_NUMBERS_RESERVED: u8 = 10;
const TAG_LOG_SEALED: u8 = 11;
const TAG_WRITER_EPOCH: u8 = 12;
const TAG_MERGE_OPERATOR: u8 = 13;
const TAG_KEYSPACE: u8 = 14;
const TAG_KEYSPACE_CREATED: u8 = 15;
const TAG_KEYSPACE_DROPPED: u8 = 16;
const TAG_KEYSPACE_LOG: u8 = 17;
const TAG_MAX: u8 = TAG_KEYSPACE_LOG;

/// Longest merge operator name recorded, in bytes.
pub(crate) const MERGE_OPERATOR_NAME_LEN_MAX: usize = 1024;

/// Largest file number (tables, logs, manifests, blob ids): far below
/// `u64::MAX`, so `number + 1` never wraps. A larger number read from a
/// manifest or a file name is corruption.
pub(crate) const FILE_NUMBER_MAX: u64 = (1 << 62) - 1;

/// The number of a table, log or manifest file (and the counter blob ids
/// are drawn from): one sequence per DB directory, never reused.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct FileNumber(pub(crate) u64);

impl FileNumber {
    /// The number after this one.
    pub(crate) fn next(self) -> FileNumber {
        FileNumber(self.0 + 1)
    }
}

impl std::fmt::Display for FileNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A log and the length in bytes of its whole records (a sealed log's
/// length as the manifest records it, or a replayed log's length up to its
/// torn tail).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct LogLength {
    /// The log's file number.
    pub(crate) log: FileNumber,
    /// The length of its whole records, in bytes.
    pub(crate) len_bytes: u64,
}

/// One change to the set of live tables.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct VersionEdit {
    pub(crate) log_number: Option<FileNumber>,
    pub(crate) next_file: Option<FileNumber>,
    pub(crate) last_seq: Option<SeqNo>,
    pub(crate) deleted: Vec<(u8, FileNumber)>,
    pub(crate) added: Vec<(u8, FileNumber, u64)>,
    /// Blob files written (by a flush or a compaction) for the added tables.
    pub(crate) blobs_added: Vec<BlobMeta>,
    /// Blob files no table references any more.
    pub(crate) blobs_deleted: Vec<BlobId>,
    /// Per new table: the blob values it references (tables without any
    /// are not listed).
    pub(crate) table_blobs: Vec<(FileNumber, Vec<BlobUse>)>,
    /// Set in a manifest's first edit: this manifest records every blob
    /// file (a manifest written before blob files were recorded does not).
    pub(crate) blobs_recorded: bool,
    /// Set in a manifest's first edit: every file number handed out is
    /// below a `next_file` this manifest recorded before handing it out, so
    /// a table or blob numbered at or above the largest one recorded
    /// proves an edit was lost.
    pub(crate) numbers_reserved: bool,
    /// Logs sealed (synced, then closed to records): number and length.
    /// Recovery refuses a live one that is missing or shorter.
    pub(crate) logs_sealed: Vec<LogLength>,
    /// With `publish_manifest`: the epoch this writer claimed on the table
    /// store (tag 12), so a later open can tell whether another writer
    /// claimed it since.
    pub(crate) writer_epoch: Option<u64>,
    /// The name of the merge operator the store's operands are for (tag
    /// 13), in each manifest's first edit once a store was opened with one.
    pub(crate) merge_operator: Option<String>,
    /// The keyspace whose tables `added` and `deleted` name (tag 14; 0,
    /// the default keyspace, is not written).
    pub(crate) keyspace: u64,
    /// Keyspaces created (tag 15).
    pub(crate) keyspaces_created: Vec<crate::keyspace::KeyspaceMeta>,
    /// Keyspaces dropped (tag 16).
    pub(crate) keyspaces_dropped: Vec<u64>,
    /// Per keyspace: the oldest log that may hold its writes not yet in
    /// its tables (tag 17). Written only once a store has keyspaces
    /// besides the default; `log_number` stays the smallest of them.
    pub(crate) keyspace_logs: Vec<(u64, FileNumber)>,
}

impl VersionEdit {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut b = Vec::new();
        for (tag, v) in [
            (TAG_LOG_NUMBER, self.log_number.map(|n| n.0)),
            (TAG_NEXT_FILE, self.next_file.map(|n| n.0)),
            (TAG_LAST_SEQ, self.last_seq.map(|s| s.0)),
            (TAG_WRITER_EPOCH, self.writer_epoch),
        ] {
            if let Some(v) = v {
                b.push(tag);
                b.extend_from_slice(&v.to_le_bytes());
            }
        }
        for &(level, n) in &self.deleted {
            b.push(TAG_DELETED);
            b.push(level);
            b.extend_from_slice(&n.0.to_le_bytes());
        }
        for &(level, n, size) in &self.added {
            b.push(TAG_ADDED);
            b.push(level);
            b.extend_from_slice(&n.0.to_le_bytes());
            b.extend_from_slice(&size.to_le_bytes());
        }
        for m in &self.blobs_added {
            b.push(TAG_BLOB_ADDED);
            for x in [m.blob.0, m.values, m.bytes] {
                b.extend_from_slice(&x.to_le_bytes());
            }
        }
        for &id in &self.blobs_deleted {
            b.push(TAG_BLOB_DELETED);
            b.extend_from_slice(&id.0.to_le_bytes());
        }
        for (table, uses) in &self.table_blobs {
            b.push(TAG_TABLE_BLOBS);
            b.extend_from_slice(&table.0.to_le_bytes());
            b.extend_from_slice(&(uses.len() as u32).to_le_bytes());
            for u in uses {
                for x in [u.blob.0, u.values, u.bytes] {
                    b.extend_from_slice(&x.to_le_bytes());
                }
            }
        }
        for s in &self.logs_sealed {
            b.push(TAG_LOG_SEALED);
            b.extend_from_slice(&s.log.0.to_le_bytes());
            b.extend_from_slice(&s.len_bytes.to_le_bytes());
        }
        if self.blobs_recorded {
            b.push(TAG_BLOBS_RECORDED);
        }
        if self.numbers_reserved {
            b.push(TAG_NUMBERS_RESERVED);
        }
        if let Some(name) = &self.merge_operator {
            // `Options::validate` bounds the name.
            debug_assert!(name.len() <= MERGE_OPERATOR_NAME_LEN_MAX);
            b.push(TAG_MERGE_OPERATOR);
            b.extend_from_slice(&(name.len() as u16).to_le_bytes());
            b.extend_from_slice(name.as_bytes());
        }
        if self.keyspace != 0 {
            b.push(TAG_KEYSPACE);
            b.extend_from_slice(&self.keyspace.to_le_bytes());
        }
        for k in &self.keyspaces_created {
            b.push(TAG_KEYSPACE_CREATED);
            k.encode(&mut b);
        }
        for id in &self.keyspaces_dropped {
            b.push(TAG_KEYSPACE_DROPPED);
            b.extend_from_slice(&id.to_le_bytes());
        }
        for (id, log) in &self.keyspace_logs {
            b.push(TAG_KEYSPACE_LOG);
            b.extend_from_slice(&id.to_le_bytes());
            b.extend_from_slice(&log.0.to_le_bytes());
        }
        b
    }

    /// Decodes an edit read from `file`, whose record starts at byte
    /// `offset`: errors name that offset, the bytes a field needed
    /// (expected) and the bytes the record had (found), or the largest
    /// known tag and the tag found.
    pub(crate) fn decode(b: &[u8], file: &Path, offset: u64) -> Result<VersionEdit> {
        let truncated = |need: usize| {
            Error::corruption(
                file,
                offset,
                "manifest edit truncated",
                need as u64,
                b.len() as u64,
            )
        };
        let mut e = VersionEdit::default();
        let mut p = 0usize;
        let u64_at = |p: &mut usize| -> Result<u64> {
            let s = b.get(*p..*p + 8).ok_or_else(|| truncated(*p + 8))?;
            *p += 8;
            let mut a = [0u8; 8];
            a.copy_from_slice(s);
            Ok(u64::from_le_bytes(a))
        };
        let u32_at = |p: &mut usize| -> Result<u32> {
            let s = b.get(*p..*p + 4).ok_or_else(|| truncated(*p + 4))?;
            *p += 4;
            Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        };
        let u8_at = |p: &mut usize| -> Result<u8> {
            let v = *b.get(*p).ok_or_else(|| truncated(*p + 1))?;
            *p += 1;
            Ok(v)
        };
        while p < b.len() {
            match u8_at(&mut p)? {
                TAG_LOG_NUMBER => e.log_number = Some(FileNumber(u64_at(&mut p)?)),
                TAG_NEXT_FILE => e.next_file = Some(FileNumber(u64_at(&mut p)?)),
                TAG_LAST_SEQ => e.last_seq = Some(SeqNo(u64_at(&mut p)?)),
                TAG_WRITER_EPOCH => e.writer_epoch = Some(u64_at(&mut p)?),
                TAG_DELETED => {
                    let level = u8_at(&mut p)?;
                    e.deleted.push((level, FileNumber(u64_at(&mut p)?)));
                }
                TAG_ADDED => {
                    let level = u8_at(&mut p)?;
                    let n = FileNumber(u64_at(&mut p)?);
                    e.added.push((level, n, u64_at(&mut p)?));
                }
                TAG_BLOB_ADDED => e.blobs_added.push(BlobMeta {
                    blob: BlobId(u64_at(&mut p)?),
                    values: u64_at(&mut p)?,
                    bytes: u64_at(&mut p)?,
                }),
                TAG_BLOB_DELETED => e.blobs_deleted.push(BlobId(u64_at(&mut p)?)),
                TAG_TABLE_BLOBS => {
                    let table = FileNumber(u64_at(&mut p)?);
                    let count = u32_at(&mut p)?;
                    // Bounded by the record: each use takes 24 bytes.
                    let need = u64::from(count) * 24 + p as u64;
                    if need > b.len() as u64 {
                        return Err(Error::corruption(
                            file,
                            offset,
                            "manifest edit truncated",
                            need,
                            b.len() as u64,
                        ));
                    }
                    let mut uses = Vec::with_capacity(count as usize);
                    for _ in 0..count {
                        uses.push(BlobUse {
                            blob: BlobId(u64_at(&mut p)?),
                            values: u64_at(&mut p)?,
                            bytes: u64_at(&mut p)?,
                        });
                    }
                    e.table_blobs.push((table, uses));
                }
                TAG_LOG_SEALED => {
                    let log = FileNumber(u64_at(&mut p)?);
                    e.logs_sealed.push(LogLength {
                        log,
                        len_bytes: u64_at(&mut p)?,
                    });
                }
                TAG_BLOBS_RECORDED => e.blobs_recorded = true,
                TAG_NUMBERS_RESERVED => e.numbers_reserved = true,
                TAG_MERGE_OPERATOR => {
                    let lo = u8_at(&mut p)?;
                    let len = usize::from(u16::from_le_bytes([lo, u8_at(&mut p)?]));
                    if len > MERGE_OPERATOR_NAME_LEN_MAX {
                        return Err(Error::corruption(
                            file,
                            offset,
                            "manifest merge operator name length",
                            MERGE_OPERATOR_NAME_LEN_MAX as u64,
                            len as u64,
                        ));
                    }
                    let name = b.get(p..p + len).ok_or_else(|| truncated(p + len))?;
                    p += len;
                    let name = std::str::from_utf8(name).map_err(|u| {
                        Error::corruption(
                            file,
                            offset,
                            "manifest merge operator name UTF-8 (valid prefix length)",
                            len as u64,
                            u.valid_up_to() as u64,
                        )
                    })?;
                    e.merge_operator = Some(name.to_string());
                }
                TAG_KEYSPACE => e.keyspace = u64_at(&mut p)?,
                TAG_KEYSPACE_CREATED => {
                    let (k, used) = crate::keyspace::KeyspaceMeta::decode(&b[p..], file, offset)?;
                    p += used;
                    e.keyspaces_created.push(k);
                }
                TAG_KEYSPACE_DROPPED => e.keyspaces_dropped.push(u64_at(&mut p)?),
                TAG_KEYSPACE_LOG => {
                    let id = u64_at(&mut p)?;
                    e.keyspace_logs.push((id, FileNumber(u64_at(&mut p)?)));
                }
                tag => {
                    return Err(Error::corruption(
                        file,
                        offset,
                        "manifest edit tag",
                        u64::from(TAG_MAX),
                        u64::from(tag),
                    ));
                }
            }
        }
        Ok(e)
    }
}

/// Name of the file naming the live manifest.
pub(crate) const CURRENT: &str = "CURRENT";

pub(crate) fn manifest_name(number: FileNumber) -> String {
    format!("MANIFEST-{:06}", number.0)
}

pub(crate) fn log_name(number: FileNumber) -> String {
    format!("{:06}.log", number.0)
}

pub(crate) fn table_name(number: FileNumber) -> String {
    format!("{:06}.sst", number.0)
}

/// Kind and number of a file name in the DB directory.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FileKind {
    Log(FileNumber),
    Table(FileNumber),
    Manifest(FileNumber),
    Temp,
    Other,
}

pub(crate) fn parse_name(name: &str) -> FileKind {
    if let Some(n) = name.strip_prefix("MANIFEST-").and_then(|n| n.parse().ok()) {
        return FileKind::Manifest(FileNumber(n));
    }
    if let Some(n) = name.strip_suffix(".log").and_then(|n| n.parse().ok()) {
        return FileKind::Log(FileNumber(n));
    }
    if let Some(n) = name.strip_suffix(".sst").and_then(|n| n.parse().ok()) {
        return FileKind::Table(FileNumber(n));
    }
    if name.ends_with(".tmp") {
        return FileKind::Temp;
    }
    FileKind::Other
}

/// Points `CURRENT` at manifest `number`, durably (temp file, sync, rename,
/// sync directory).
pub(crate) fn set_current(fs: &dyn vfs::Fs, dir: &Path, number: FileNumber) -> Result<()> {
    let tmp = dir.join("CURRENT.tmp");
    let f = fs.open(&tmp, vfs::OpenMode::Truncate)?;
    f.append(format!("{}\n", manifest_name(number)).as_bytes())?;
    f.sync_data()?;
    drop(f);
    fs.rename(&tmp, &dir.join(CURRENT))?;
    fs.sync_dir(dir)?;
    Ok(())
}

/// Reads `CURRENT`; `None` if the DB does not exist yet.
pub(crate) fn read_current(fs: &dyn vfs::Fs, dir: &Path) -> Result<Option<FileNumber>> {
    let path = dir.join(CURRENT);
    if !fs.exists(&path)? {
        return Ok(None);
    }
    let data = fs.open(&path, vfs::OpenMode::Read)?.map()?;
    let text = std::str::from_utf8(&data).unwrap_or("");
    match parse_name(text.trim_end_matches('\n')) {
        FileKind::Manifest(n) if text.ends_with('\n') => Ok(Some(n)),
        _ => Err(Error::corruption(
            path,
            0,
            "CURRENT does not name a manifest",
            0,
            data.len() as u64,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_round_trips() {
        let e = VersionEdit {
            log_number: Some(FileNumber(7)),
            next_file: Some(FileNumber(9)),
            last_seq: Some(SeqNo(1234)),
            deleted: vec![(0, FileNumber(3)), (1, FileNumber(4))],
            added: vec![(1, FileNumber(8), 4096)],
            blobs_added: vec![BlobMeta {
                blob: BlobId(3),
                values: 10,
                bytes: 40960,
            }],
            blobs_deleted: vec![BlobId(2)],
            table_blobs: vec![(
                FileNumber(8),
                vec![BlobUse {
                    blob: BlobId(3),
                    values: 9,
                    bytes: 36000,
                }],
            )],
            blobs_recorded: true,
            numbers_reserved: true,
            logs_sealed: vec![LogLength {
                log: FileNumber(11),
                len_bytes: 4096,
            }],
            writer_epoch: Some(7),
            merge_operator: Some("larder.u64_add".to_string()),
            keyspace: 41,
            keyspaces_created: vec![crate::keyspace::KeyspaceMeta {
                id: 41,
                name: "users".into(),
                opts: crate::KeyspaceOptions {
                    write_buffer_size_bytes: 1 << 20,
                    compression: false,
                    bloom_bits_per_key: 12,
                    blob_threshold_bytes: Some(4096),
                },
            }],
            keyspaces_dropped: vec![40],
            keyspace_logs: vec![(0, FileNumber(7)), (41, FileNumber(9))],
        };
        assert_eq!(
            VersionEdit::decode(&e.encode(), Path::new("m"), 0).expect("decode"),
            e
        );
        // Cut inside the last field (the table's blob uses) is an error.
        let enc = VersionEdit {
            blobs_recorded: false,
            numbers_reserved: false,
            ..e
        }
        .encode();
        assert!(VersionEdit::decode(&enc[..enc.len() - 1], Path::new("m"), 0).is_err());
        // A count larger than the record is refused before allocating.
        let mut huge = vec![TAG_TABLE_BLOBS];
        huge.extend_from_slice(&8u64.to_le_bytes());
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(VersionEdit::decode(&huge, Path::new("m"), 0).is_err());
    }
}
