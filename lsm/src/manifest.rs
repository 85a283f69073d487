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

use std::path::Path;

use crate::{Error, Result};

const TAG_LOG_NUMBER: u8 = 1;
const TAG_NEXT_FILE: u8 = 2;
const TAG_LAST_SEQ: u8 = 3;
const TAG_DELETED: u8 = 4;
const TAG_ADDED: u8 = 5;

/// One change to the set of live tables.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct VersionEdit {
    pub(crate) log_number: Option<u64>,
    pub(crate) next_file: Option<u64>,
    pub(crate) last_seq: Option<u64>,
    pub(crate) deleted: Vec<(u8, u64)>,
    pub(crate) added: Vec<(u8, u64, u64)>,
}

impl VersionEdit {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut b = Vec::new();
        for (tag, v) in [
            (TAG_LOG_NUMBER, self.log_number),
            (TAG_NEXT_FILE, self.next_file),
            (TAG_LAST_SEQ, self.last_seq),
        ] {
            if let Some(v) = v {
                b.push(tag);
                b.extend_from_slice(&v.to_le_bytes());
            }
        }
        for &(level, n) in &self.deleted {
            b.push(TAG_DELETED);
            b.push(level);
            b.extend_from_slice(&n.to_le_bytes());
        }
        for &(level, n, size) in &self.added {
            b.push(TAG_ADDED);
            b.push(level);
            b.extend_from_slice(&n.to_le_bytes());
            b.extend_from_slice(&size.to_le_bytes());
        }
        b
    }

    /// Decodes an edit read from `file`; `offset` names the record.
    pub(crate) fn decode(b: &[u8], file: &Path) -> Result<VersionEdit> {
        let bad = |what| Error::corruption(file, 0, what, 0, 0);
        let mut e = VersionEdit::default();
        let mut p = 0usize;
        let u64_at = |p: &mut usize| -> Result<u64> {
            let s = b
                .get(*p..*p + 8)
                .ok_or_else(|| bad("manifest edit truncated"))?;
            *p += 8;
            let mut a = [0u8; 8];
            a.copy_from_slice(s);
            Ok(u64::from_le_bytes(a))
        };
        let u8_at = |p: &mut usize| -> Result<u8> {
            let v = *b.get(*p).ok_or_else(|| bad("manifest edit truncated"))?;
            *p += 1;
            Ok(v)
        };
        while p < b.len() {
            match u8_at(&mut p)? {
                TAG_LOG_NUMBER => e.log_number = Some(u64_at(&mut p)?),
                TAG_NEXT_FILE => e.next_file = Some(u64_at(&mut p)?),
                TAG_LAST_SEQ => e.last_seq = Some(u64_at(&mut p)?),
                TAG_DELETED => {
                    let level = u8_at(&mut p)?;
                    e.deleted.push((level, u64_at(&mut p)?));
                }
                TAG_ADDED => {
                    let level = u8_at(&mut p)?;
                    let n = u64_at(&mut p)?;
                    e.added.push((level, n, u64_at(&mut p)?));
                }
                _ => return Err(bad("manifest edit tag")),
            }
        }
        Ok(e)
    }
}

/// Name of the file naming the live manifest.
pub(crate) const CURRENT: &str = "CURRENT";

pub(crate) fn manifest_name(number: u64) -> String {
    format!("MANIFEST-{number:06}")
}

pub(crate) fn log_name(number: u64) -> String {
    format!("{number:06}.log")
}

pub(crate) fn table_name(number: u64) -> String {
    format!("{number:06}.sst")
}

/// Kind and number of a file name in the DB directory.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FileKind {
    Log(u64),
    Table(u64),
    Manifest(u64),
    Temp,
    Other,
}

pub(crate) fn parse_name(name: &str) -> FileKind {
    if let Some(n) = name.strip_prefix("MANIFEST-").and_then(|n| n.parse().ok()) {
        return FileKind::Manifest(n);
    }
    if let Some(n) = name.strip_suffix(".log").and_then(|n| n.parse().ok()) {
        return FileKind::Log(n);
    }
    if let Some(n) = name.strip_suffix(".sst").and_then(|n| n.parse().ok()) {
        return FileKind::Table(n);
    }
    if name.ends_with(".tmp") {
        return FileKind::Temp;
    }
    FileKind::Other
}

/// Points `CURRENT` at manifest `number`, durably (temp file, sync, rename,
/// sync directory).
pub(crate) fn set_current(fs: &dyn vfs::Fs, dir: &Path, number: u64) -> Result<()> {
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
pub(crate) fn read_current(fs: &dyn vfs::Fs, dir: &Path) -> Result<Option<u64>> {
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
            0,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_round_trips() {
        let e = VersionEdit {
            log_number: Some(7),
            next_file: Some(9),
            last_seq: Some(1234),
            deleted: vec![(0, 3), (1, 4)],
            added: vec![(1, 8, 4096)],
        };
        assert_eq!(
            VersionEdit::decode(&e.encode(), Path::new("m")).expect("decode"),
            e
        );
        let enc = e.encode();
        assert!(VersionEdit::decode(&enc[..enc.len() - 1], Path::new("m")).is_err());
    }
}
