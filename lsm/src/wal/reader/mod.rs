//! Reads a log back, telling a torn tail (dropped) from damage (an error)
//! by what the log recorded as durable.
//!
//! A crash can only damage bytes that were never synced, and unsynced
//! writes may reach the disk in any order, so valid records after a bad
//! one prove nothing. What proves damage is a durable marker (written by
//! the writer after a sync returned) claiming the bad bytes were synced.
//! On a bad fragment at offset `X` the reader resyncs at each later block
//! boundary (skipping the `Middle`/`Last` fragments a spanning record puts
//! there), reads every valid record it can, and calls the log corrupt when
//! a marker says more than `X` bytes were durable; otherwise `X` starts a
//! torn tail, dropped. Version-1 logs carry no markers: for them a valid
//! record start found after the bad fragment is taken as evidence of
//! damage, as before markers existed (a guess a crash can fool).
//!
//! `mod.rs` reads a log front to back; `fragment.rs` parses one fragment;
//! `resync.rs` reads on after a bad fragment and decides what it is.

mod fragment;
mod resync;
#[cfg(test)]
mod tests;

use std::path::Path;

use bytes::Bytes;

use crate::manifest::{FileNumber, LogLength};
use crate::wal::format::{
    BLOCK_SIZE_BYTES, FILE_HEADER_LEN, FILE_HEADER_PREDECESSOR_LEN_OFFSET,
    FILE_HEADER_PREDECESSOR_OFFSET, FILE_HEADER_V3_LEN, FILE_HEADER_VERSION_OFFSET, FragmentType,
    HEADER_SIZE_BYTES, LOG_MAGIC, LOG_VERSION, LOG_VERSION_MARKERS, LOG_VERSION_NO_MARKERS,
    MARKER_LEN, RecordKind, TYPE_OFFSET,
};
use crate::{Error, Result};

use crate::wal::reader::fragment::{Parsed, marker_value, parse};
use crate::wal::reader::resync::bad_fragment;

/// Result of reading one log.
#[derive(Debug)]
pub(crate) struct LogContents {
    /// The logical records, file header and durable markers excluded.
    pub(crate) records: Vec<Bytes>,
    /// Byte offset of each record's first fragment, parallel to `records`
    /// (for errors that name where a bad record starts).
    pub(crate) offsets: Vec<u64>,
    /// Where a dropped torn tail starts (the first byte of the first
    /// logical record not returned); `None` when the log ended cleanly.
    pub(crate) torn_at: Option<u64>,
    /// The file's length.
    pub(crate) len_bytes: u64,
    /// What the file header says of the log written before this one.
    pub(crate) predecessor: Predecessor,
    /// The largest length a valid durable marker claims (0 when none): the
    /// log was synced at least that far.
    pub(crate) durable_bytes: u64,
}

/// The log a write-ahead log's header names as written before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Predecessor {
    /// A version 1 or 2 log (or a manifest): its header does not say.
    Unrecorded,
    /// None: the first log of a store or of a checkpoint.
    First,
    /// This log, which held `len_bytes` when this one took over.
    Log(LogLength),
}

/// Reads every record of the log at `path`.
///
/// # Errors
///
/// [`Error::Corruption`] naming the file and offset when a bad fragment
/// lies in bytes the log recorded as durable, when valid fragments do not
/// form records, or when the file header is wrong.
pub(crate) fn read_log(fs: &dyn vfs::Fs, path: &Path) -> Result<LogContents> {
    let file = fs.open(path, vfs::OpenMode::Read)?;
    let data = file.map()?;
    parse_log(&data, path)
}

pub(crate) fn parse_log(data: &Bytes, path: &Path) -> Result<LogContents> {
    let mut records = Vec::new();
    let mut offsets = Vec::new();
    let mut pos = 0usize;
    // The record being reassembled: where it starts, what kind, its bytes.
    let mut partial: Option<(usize, RecordKind, Vec<u8>)> = None;
    // Known once the file header is read.
    let mut version: Option<u32> = None;
    let mut predecessor = Predecessor::Unrecorded;
    let mut durable_bytes = 0;
    while pos < data.len() {
        let left = BLOCK_SIZE_BYTES - pos % BLOCK_SIZE_BYTES;
        if left < HEADER_SIZE_BYTES {
            pos += left;
            continue;
        }
        // Before the header the version is unknown: judge by markers, as
        // for the version this code writes.
        let markers = version.is_none_or(|v| v >= LOG_VERSION_MARKERS);
        let (kind, ty, payload_start, payload_len) = match parse(data, pos, markers) {
            Parsed::Bad(bad) => {
                let torn_at = partial.map_or(pos, |(s, _, _)| s);
                return bad_fragment(
                    data,
                    path,
                    pos,
                    bad,
                    markers,
                    torn_at,
                    (records, offsets, predecessor, durable_bytes),
                );
            }
            Parsed::Ok {
                kind,
                ty,
                payload_start,
                payload_len,
            } => (kind, ty, payload_start, payload_len),
        };
        let payload = data.slice(payload_start..payload_start + payload_len);
        let record_start = pos;
        pos = payload_start + payload_len;
        let whole = match (ty, partial.take()) {
            (FragmentType::Full, None) => Some((record_start, kind, payload)),
            (FragmentType::First, None) => {
                partial = Some((record_start, kind, payload.to_vec()));
                None
            }
            (FragmentType::Middle, Some((s, k, mut buf))) if k == kind => {
                buf.extend_from_slice(&payload);
                partial = Some((s, k, buf));
                None
            }
            (FragmentType::Last, Some((s, k, mut buf))) if k == kind => {
                buf.extend_from_slice(&payload);
                Some((s, k, Bytes::from(buf)))
            }
            (_, Some((s, _, _))) => {
                return Err(Error::corruption(
                    path,
                    s as u64,
                    "log record unfinished: fragment type after its first fragment",
                    u64::from(FragmentType::Middle as u8),
                    u64::from(data[record_start + TYPE_OFFSET]),
                ));
            }
            (_, None) => {
                return Err(Error::corruption(
                    path,
                    record_start as u64,
                    "log fragment without a start: fragment type",
                    u64::from(FragmentType::First as u8),
                    u64::from(data[record_start + TYPE_OFFSET]),
                ));
            }
        };
        let Some((start, kind, rec)) = whole else {
            continue;
        };
        match (version, kind) {
            (None, RecordKind::Data) => {
                let (v, p) = check_header(&rec, path)?;
                version = Some(v);
                predecessor = p;
            }
            (None, RecordKind::Durable) => {
                return Err(Error::corruption(
                    path,
                    start as u64,
                    "log header missing: first record is a durable marker of length",
                    FILE_HEADER_LEN as u64,
                    rec.len() as u64,
                ));
            }
            (Some(_), RecordKind::Data) => {
                records.push(rec);
                offsets.push(start as u64);
            }
            (Some(_), RecordKind::Durable) => {
                // A marker never claims more than the bytes before it.
                match marker_value(&rec) {
                    Some(v) if v <= start as u64 => durable_bytes = durable_bytes.max(v),
                    Some(v) => {
                        return Err(Error::corruption(
                            path,
                            start as u64,
                            "durable marker beyond its own offset",
                            start as u64,
                            v,
                        ));
                    }
                    None => {
                        return Err(Error::corruption(
                            path,
                            start as u64,
                            "durable marker length",
                            MARKER_LEN as u64,
                            rec.len() as u64,
                        ));
                    }
                }
            }
        }
    }
    let torn_at = partial.map(|(s, _, _)| s as u64);
    Ok(LogContents {
        records,
        offsets,
        torn_at,
        len_bytes: data.len() as u64,
        predecessor,
        durable_bytes,
    })
}

/// Checks the file-header record; returns the log's version and what it
/// says of its predecessor. The predecessor's number is range-checked by
/// recovery, which knows this log's own.
fn check_header(rec: &[u8], path: &Path) -> Result<(u32, Predecessor)> {
    if rec.len() < FILE_HEADER_LEN {
        return Err(Error::corruption(
            path,
            0,
            "log header length",
            FILE_HEADER_LEN as u64,
            rec.len() as u64,
        ));
    }
    let magic = u64_at(rec, 0);
    if magic != LOG_MAGIC {
        return Err(Error::corruption(path, 0, "log magic", LOG_MAGIC, magic));
    }
    let mut v = [0u8; 4];
    v.copy_from_slice(&rec[FILE_HEADER_VERSION_OFFSET..FILE_HEADER_LEN]);
    let version = u32::from_le_bytes(v);
    if !(LOG_VERSION_NO_MARKERS..=LOG_VERSION).contains(&version) {
        return Err(Error::corruption(
            path,
            0,
            "log version",
            u64::from(LOG_VERSION),
            u64::from(version),
        ));
    }
    let len_want = if version == LOG_VERSION {
        FILE_HEADER_V3_LEN
    } else {
        FILE_HEADER_LEN
    };
    if rec.len() != len_want {
        return Err(Error::corruption(
            path,
            0,
            "log header length",
            len_want as u64,
            rec.len() as u64,
        ));
    }
    if version < LOG_VERSION {
        return Ok((version, Predecessor::Unrecorded));
    }
    let log = u64_at(rec, FILE_HEADER_PREDECESSOR_OFFSET);
    let len_bytes = u64_at(rec, FILE_HEADER_PREDECESSOR_LEN_OFFSET);
    let predecessor = if log == 0 {
        Predecessor::First
    } else {
        Predecessor::Log(LogLength {
            log: FileNumber(log),
            len_bytes,
        })
    };
    Ok((version, predecessor))
}

/// The `u64` at `at`; the caller checked `rec` holds it.
fn u64_at(rec: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&rec[at..at + 8]);
    u64::from_le_bytes(b)
}
