//! Reads a log back, telling a torn tail (dropped) from mid-log corruption
//! (an error).
//!
//! A crash can only damage the end of a log: the bytes of writes that were
//! never synced. So a bad record is a torn tail when no well-formed record
//! starting a new logical record (`Full` or `First`) follows it at a block
//! boundary or right after it; otherwise it is corruption.

use std::path::Path;

use bytes::Bytes;

use crate::wal::format::{
    BLOCK_SIZE_BYTES, FILE_HEADER_LEN, FragmentType, HEADER_SIZE_BYTES, LEN_OFFSET, LOG_MAGIC,
    LOG_VERSION, TYPE_OFFSET, crc,
};
use crate::{Error, Result};

/// Result of reading one log.
#[derive(Debug)]
pub(crate) struct LogContents {
    /// The logical records, file header excluded.
    pub(crate) records: Vec<Bytes>,
    /// Byte offset of each record's first fragment, parallel to `records`
    /// (for errors that name where a bad record starts).
    pub(crate) offsets: Vec<u64>,
    /// Byte offset where a dropped torn tail starts; `None` when the log
    /// ended cleanly.
    pub(crate) torn_at: Option<u64>,
}

enum Parsed {
    Ok {
        ty: FragmentType,
        payload_start: usize,
        payload_len: usize,
    },
    Bad,
}

fn parse(data: &[u8], pos: usize) -> Parsed {
    let block_end = (pos / BLOCK_SIZE_BYTES + 1) * BLOCK_SIZE_BYTES;
    if pos + HEADER_SIZE_BYTES > data.len().min(block_end) {
        return Parsed::Bad;
    }
    let h = &data[pos..pos + HEADER_SIZE_BYTES];
    let crc_stored = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
    let len = u16::from_le_bytes([h[LEN_OFFSET], h[LEN_OFFSET + 1]]) as usize;
    let ty_byte = h[TYPE_OFFSET];
    let start = pos + HEADER_SIZE_BYTES;
    if start + len > data.len().min(block_end) {
        return Parsed::Bad;
    }
    let Some(ty) = FragmentType::from_u8(ty_byte) else {
        return Parsed::Bad;
    };
    if crc(ty_byte, &data[start..start + len]) != crc_stored {
        return Parsed::Bad;
    }
    Parsed::Ok {
        ty,
        payload_start: start,
        payload_len: len,
    }
}

/// Whether a well-formed `Full`/`First` record starts after the bad one at `pos`.
fn valid_record_follows(data: &[u8], pos: usize) -> bool {
    let starts = |p: usize| {
        matches!(
            parse(data, p),
            Parsed::Ok {
                ty: FragmentType::Full | FragmentType::First,
                ..
            }
        )
    };
    // The record right after, if the bad header's length is plausible.
    if pos + HEADER_SIZE_BYTES <= data.len() {
        let len = u16::from_le_bytes([data[pos + LEN_OFFSET], data[pos + LEN_OFFSET + 1]]) as usize;
        let next = pos + HEADER_SIZE_BYTES + len;
        if next / BLOCK_SIZE_BYTES == pos / BLOCK_SIZE_BYTES && next < data.len() && starts(next) {
            return true;
        }
    }
    let mut b = (pos / BLOCK_SIZE_BYTES + 1) * BLOCK_SIZE_BYTES;
    while b < data.len() {
        if starts(b) {
            return true;
        }
        b += BLOCK_SIZE_BYTES;
    }
    false
}

/// Reads every record of the log at `path`.
///
/// # Errors
///
/// [`Error::Corruption`] naming the file and offset when a bad record is
/// followed by good ones, or the file header is wrong.
pub(crate) fn read_log(fs: &dyn vfs::Fs, path: &Path) -> Result<LogContents> {
    let file = fs.open(path, vfs::OpenMode::Read)?;
    let data = file.map()?;
    parse_log(&data, path)
}

pub(crate) fn parse_log(data: &Bytes, path: &Path) -> Result<LogContents> {
    let mut records = Vec::new();
    let mut pos = 0usize;
    let mut partial: Option<(usize, Vec<u8>)> = None;
    let mut offsets = Vec::new();
    let mut torn_at = None;
    let mut header_seen = false;
    while pos < data.len() {
        let left = BLOCK_SIZE_BYTES - pos % BLOCK_SIZE_BYTES;
        if left < HEADER_SIZE_BYTES {
            pos += left;
            continue;
        }
        match parse(data, pos) {
            Parsed::Bad => {
                if valid_record_follows(data, pos) {
                    return Err(Error::corruption(
                        path,
                        pos as u64,
                        "log record checksum",
                        0,
                        0,
                    ));
                }
                torn_at = Some(partial.take().map_or(pos, |(s, _)| s) as u64);
                break;
            }
            Parsed::Ok {
                ty,
                payload_start,
                payload_len,
            } => {
                let payload = data.slice(payload_start..payload_start + payload_len);
                let record_start = pos;
                pos = payload_start + payload_len;
                let whole = match (ty, partial.take()) {
                    (FragmentType::Full, None) => Some((record_start, payload)),
                    (FragmentType::First, None) => {
                        partial = Some((record_start, payload.to_vec()));
                        None
                    }
                    (FragmentType::Middle, Some((s, mut buf))) => {
                        buf.extend_from_slice(&payload);
                        partial = Some((s, buf));
                        None
                    }
                    (FragmentType::Last, Some((s, mut buf))) => {
                        buf.extend_from_slice(&payload);
                        Some((s, Bytes::from(buf)))
                    }
                    (_, Some((s, _))) => {
                        return Err(Error::corruption(
                            path,
                            s as u64,
                            "log record unfinished",
                            0,
                            0,
                        ));
                    }
                    (_, None) => {
                        return Err(Error::corruption(
                            path,
                            record_start as u64,
                            "log fragment without a start",
                            0,
                            0,
                        ));
                    }
                };
                if let Some((start, rec)) = whole {
                    if header_seen {
                        records.push(rec);
                        offsets.push(start as u64);
                    } else {
                        check_header(&rec, path)?;
                        header_seen = true;
                    }
                }
            }
        }
    }
    if let Some((s, _)) = partial {
        torn_at = Some(s as u64);
    }
    Ok(LogContents {
        records,
        offsets,
        torn_at,
    })
}

fn check_header(rec: &[u8], path: &Path) -> Result<()> {
    if rec.len() != FILE_HEADER_LEN {
        return Err(Error::corruption(
            path,
            0,
            "log header length",
            FILE_HEADER_LEN as u64,
            rec.len() as u64,
        ));
    }
    let mut m = [0u8; 8];
    m.copy_from_slice(&rec[..8]);
    let magic = u64::from_le_bytes(m);
    if magic != LOG_MAGIC {
        return Err(Error::corruption(path, 0, "log magic", LOG_MAGIC, magic));
    }
    let mut v = [0u8; 4];
    v.copy_from_slice(&rec[8..12]);
    let version = u32::from_le_bytes(v);
    if version != LOG_VERSION {
        return Err(Error::corruption(
            path,
            0,
            "log version",
            u64::from(LOG_VERSION),
            u64::from(version),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::wal::writer::LogWriter;

    fn write(records: &[Vec<u8>]) -> (Arc<dyn vfs::Fs>, tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let fs: Arc<dyn vfs::Fs> = Arc::new(vfs::OsFs::new());
        let path = dir.path().join("log");
        let mut w = LogWriter::create(&*fs, &path).expect("create");
        for r in records {
            w.add_record(r).expect("add");
        }
        w.sync().expect("sync");
        (fs, dir, path)
    }

    fn records() -> Vec<Vec<u8>> {
        (0..200usize)
            .map(|i| vec![(i % 251) as u8; (i * 997) % 70_000])
            .collect()
    }

    #[test]
    fn records_round_trip_across_blocks() {
        let recs = records();
        let (fs, _d, path) = write(&recs);
        let got = read_log(&*fs, &path).expect("read");
        assert_eq!(got.torn_at, None);
        assert_eq!(got.offsets.len(), got.records.len());
        assert_eq!(got.records.len(), recs.len());
        for (a, b) in got.records.iter().zip(&recs) {
            assert_eq!(&a[..], &b[..]);
        }
    }

    #[test]
    fn truncated_tail_is_dropped_at_every_length() {
        let recs: Vec<Vec<u8>> = (0..20usize).map(|i| vec![i as u8; i * 3000]).collect();
        let (fs, _d, path) = write(&recs);
        let data = fs
            .open(&path, vfs::OpenMode::Read)
            .expect("open")
            .map()
            .expect("map");
        for cut in (FILE_HEADER_LEN + HEADER_SIZE_BYTES..data.len()).step_by(997) {
            let got = parse_log(&data.slice(..cut), &path).expect("torn tail is not an error");
            for (a, b) in got.records.iter().zip(&recs) {
                assert_eq!(&a[..], &b[..]);
            }
        }
    }

    #[test]
    fn flipped_byte_mid_log_is_corruption_with_offset() {
        let recs = records();
        let (fs, _d, path) = write(&recs);
        let data = fs
            .open(&path, vfs::OpenMode::Read)
            .expect("open")
            .map()
            .expect("map");
        let mut bad = data.to_vec();
        bad[100] ^= 0x40;
        let r = parse_log(&Bytes::from(bad), &path);
        assert!(matches!(r, Err(Error::Corruption { offset, .. }) if offset <= 100));
    }
}
