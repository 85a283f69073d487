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

use std::path::Path;

use bytes::Bytes;

use crate::wal::format::{
    BLOCK_SIZE_BYTES, FILE_HEADER_LEN, FragmentType, HEADER_SIZE_BYTES, LEN_OFFSET, LOG_MAGIC,
    LOG_VERSION, LOG_VERSION_NO_MARKERS, MARKER_LEN, RecordKind, TYPE_MAX, TYPE_OFFSET, crc,
    split_type,
};
use crate::{Error, Result};

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
}

/// Why a fragment is bad, in the terms of [`Error::Corruption`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Bad {
    what: &'static str,
    expected: u64,
    found: u64,
    /// Where the next fragment starts, when the bad one's length is sound
    /// (only its type or checksum failed).
    next: Option<usize>,
}

enum Parsed {
    Ok {
        kind: RecordKind,
        ty: FragmentType,
        payload_start: usize,
        payload_len: usize,
    },
    Bad(Bad),
}

/// Parses the fragment at `pos`; `markers` says whether durable-marker
/// types are known (version 2 on).
fn parse(data: &[u8], pos: usize, markers: bool) -> Parsed {
    let block_end = (pos / BLOCK_SIZE_BYTES + 1) * BLOCK_SIZE_BYTES;
    let end = data.len().min(block_end);
    if pos + HEADER_SIZE_BYTES > end {
        return Parsed::Bad(Bad {
            what: "log fragment header past the end of the file",
            expected: HEADER_SIZE_BYTES as u64,
            found: end.saturating_sub(pos) as u64,
            next: None,
        });
    }
    let h = &data[pos..pos + HEADER_SIZE_BYTES];
    let crc_stored = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
    let len = u16::from_le_bytes([h[LEN_OFFSET], h[LEN_OFFSET + 1]]) as usize;
    let ty_byte = h[TYPE_OFFSET];
    let start = pos + HEADER_SIZE_BYTES;
    if start + len > end {
        return Parsed::Bad(Bad {
            what: "log fragment length past its block or the file",
            expected: (end - start) as u64,
            found: len as u64,
            next: None,
        });
    }
    let known = split_type(ty_byte).filter(|(k, _)| markers || *k == RecordKind::Data);
    let Some((kind, ty)) = known else {
        return Parsed::Bad(Bad {
            what: "log fragment type",
            expected: u64::from(if markers {
                TYPE_MAX
            } else {
                FragmentType::Last as u8
            }),
            found: u64::from(ty_byte),
            next: Some(start + len),
        });
    };
    let crc_computed = crc(ty_byte, &data[start..start + len]);
    if crc_computed != crc_stored {
        return Parsed::Bad(Bad {
            what: "log record checksum",
            expected: u64::from(crc_stored),
            found: u64::from(crc_computed),
            next: Some(start + len),
        });
    }
    Parsed::Ok {
        kind,
        ty,
        payload_start: start,
        payload_len: len,
    }
}

/// The durable length a marker's payload claims, if it is well formed.
fn marker_value(payload: &[u8]) -> Option<u64> {
    let b: [u8; MARKER_LEN] = payload.try_into().ok()?;
    Some(u64::from_le_bytes(b))
}

/// What the records after a bad fragment at `bad_pos` say about it.
#[derive(Debug, Default)]
struct Evidence {
    /// The largest durable length a valid marker claims.
    durable_max: Option<u64>,
    /// Whether a valid `Full` or `First` data fragment was found.
    record_start: bool,
}

/// Reads on after the bad fragment at `bad`: first in its own block (right
/// after it when its length is sound, else from the first offset where
/// valid fragments run to the block's end), then from every later block
/// boundary, where `Middle`/`Last` fragments of a record begun earlier are
/// skipped. Each run reads records until the next bad fragment. Bounded:
/// every run moves forward through `data`.
fn evidence_after(data: &[u8], bad_pos: usize, bad: Bad, markers: bool) -> Evidence {
    let mut ev = Evidence::default();
    let block_end = (bad_pos / BLOCK_SIZE_BYTES + 1) * BLOCK_SIZE_BYTES;
    let in_block = bad
        .next
        .filter(|&p| runs_to_block_end(data, p, block_end, markers))
        .or_else(|| chain_start(data, bad_pos + 1, block_end, markers));
    let mut pos = match in_block {
        Some(p) => read_run(data, p, markers, &mut ev),
        None => bad_pos,
    };
    let mut block = (pos / BLOCK_SIZE_BYTES + 1) * BLOCK_SIZE_BYTES;
    while block < data.len() {
        pos = read_run(data, block, markers, &mut ev);
        block = (pos / BLOCK_SIZE_BYTES + 1) * BLOCK_SIZE_BYTES;
    }
    ev
}

/// The first offset in `from..block_end` from which valid fragments run
/// exactly to the end of the block (or of the file): where fragments
/// resume after one whose length field is damaged. A payload byte run that
/// happens to look like such a chain would need valid CRCs all the way.
fn chain_start(data: &[u8], from: usize, block_end: usize, markers: bool) -> Option<usize> {
    let end = data.len().min(block_end);
    (from..end.saturating_sub(HEADER_SIZE_BYTES - 1))
        .find(|&p| runs_to_block_end(data, p, block_end, markers))
}

/// Whether at least one valid fragment starts at `start` and valid
/// fragments run from it exactly to the end of its block (or of the file).
fn runs_to_block_end(data: &[u8], start: usize, block_end: usize, markers: bool) -> bool {
    let end = data.len().min(block_end);
    let mut pos = start;
    // Bounded: each valid fragment moves `pos` forward by at least its header.
    loop {
        if pos >= end || block_end - pos < HEADER_SIZE_BYTES {
            return pos > start;
        }
        match parse(data, pos, markers) {
            Parsed::Ok {
                payload_start,
                payload_len,
                ..
            } => pos = payload_start + payload_len,
            Parsed::Bad(_) => return false,
        }
    }
}

/// Reads fragments from `start` until a bad one or the end of `data`,
/// noting record starts and markers; returns where it stopped.
fn read_run(data: &[u8], start: usize, markers: bool, ev: &mut Evidence) -> usize {
    let mut pos = start;
    // The marker being reassembled, when one spans blocks.
    let mut marker: Option<Vec<u8>> = None;
    while pos < data.len() {
        let left = BLOCK_SIZE_BYTES - pos % BLOCK_SIZE_BYTES;
        if left < HEADER_SIZE_BYTES {
            pos += left;
            continue;
        }
        let Parsed::Ok {
            kind,
            ty,
            payload_start,
            payload_len,
        } = parse(data, pos, markers)
        else {
            break;
        };
        let payload = &data[payload_start..payload_start + payload_len];
        pos = payload_start + payload_len;
        match (kind, ty) {
            (RecordKind::Data, FragmentType::Full | FragmentType::First) => {
                ev.record_start = true;
                marker = None;
            }
            // A continuation: of a record read since the run began, or of
            // one begun before it (skipped).
            (RecordKind::Data, _) => {}
            (RecordKind::Durable, FragmentType::Full) => {
                note_marker(ev, payload);
                marker = None;
            }
            (RecordKind::Durable, FragmentType::First) => marker = Some(payload.to_vec()),
            (RecordKind::Durable, _) => {
                if let Some(m) = &mut marker {
                    m.extend_from_slice(payload);
                    if ty == FragmentType::Last {
                        note_marker(ev, m);
                        marker = None;
                    }
                }
            }
        }
    }
    pos
}

fn note_marker(ev: &mut Evidence, payload: &[u8]) {
    if let Some(v) = marker_value(payload) {
        ev.durable_max = ev.durable_max.max(Some(v));
    }
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
    while pos < data.len() {
        let left = BLOCK_SIZE_BYTES - pos % BLOCK_SIZE_BYTES;
        if left < HEADER_SIZE_BYTES {
            pos += left;
            continue;
        }
        // Before the header the version is unknown: judge by markers, as
        // for the version this code writes.
        let markers = version.is_none_or(|v| v >= LOG_VERSION);
        let (kind, ty, payload_start, payload_len) = match parse(data, pos, markers) {
            Parsed::Bad(bad) => {
                let torn_at = partial.map_or(pos, |(s, _, _)| s);
                return bad_fragment(data, path, pos, bad, markers, torn_at, (records, offsets));
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
            (None, RecordKind::Data) => version = Some(check_header(&rec, path)?),
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
                    Some(v) if v <= start as u64 => {}
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
    })
}

/// Decides what the bad fragment at `bad_pos` is: damage when a later
/// durable marker says it was synced (or, in a version-1 log, when a valid
/// record starts after it), else a torn tail starting at `torn_at`.
fn bad_fragment(
    data: &[u8],
    path: &Path,
    bad_pos: usize,
    bad: Bad,
    markers: bool,
    torn_at: usize,
    (records, offsets): (Vec<Bytes>, Vec<u64>),
) -> Result<LogContents> {
    let ev = evidence_after(data, bad_pos, bad, markers);
    let damaged = if markers {
        ev.durable_max.is_some_and(|d| d > bad_pos as u64)
    } else {
        ev.record_start
    };
    if damaged {
        return Err(Error::corruption(
            path,
            bad_pos as u64,
            bad.what,
            bad.expected,
            bad.found,
        ));
    }
    Ok(LogContents {
        records,
        offsets,
        torn_at: Some(torn_at as u64),
        len_bytes: data.len() as u64,
    })
}

/// Checks the file-header record and returns the log's version.
fn check_header(rec: &[u8], path: &Path) -> Result<u32> {
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
    if !(LOG_VERSION_NO_MARKERS..=LOG_VERSION).contains(&version) {
        return Err(Error::corruption(
            path,
            0,
            "log version",
            u64::from(LOG_VERSION),
            u64::from(version),
        ));
    }
    Ok(version)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::wal::format::{FILE_HEADER_LEN, LOG_VERSION_NO_MARKERS, file_header};
    use crate::wal::writer::LogWriter;

    /// How a test log is written.
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Sync {
        /// One sync at the end: no record is covered by a marker.
        AtEnd,
        /// A sync after each record, as `SyncMode::Always` and the manifest.
        EachRecord,
        /// A sync after each record, then a seal, as at a clean close.
        EachRecordThenSeal,
    }

    fn write_with(
        records: &[Vec<u8>],
        sync: Sync,
    ) -> (Arc<dyn vfs::Fs>, tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let fs: Arc<dyn vfs::Fs> = Arc::new(vfs::OsFs::new());
        let path = dir.path().join("log");
        let mut w = LogWriter::create(&*fs, &path).expect("create");
        for r in records {
            w.add_record(r).expect("add");
            if sync != Sync::AtEnd {
                w.sync().expect("sync");
            }
        }
        w.sync().expect("sync");
        if sync == Sync::EachRecordThenSeal {
            w.seal().expect("seal");
        }
        (fs, dir, path)
    }

    fn write(records: &[Vec<u8>]) -> (Arc<dyn vfs::Fs>, tempfile::TempDir, std::path::PathBuf) {
        write_with(records, Sync::AtEnd)
    }

    fn bytes_of(fs: &dyn vfs::Fs, path: &Path) -> Bytes {
        fs.open(path, vfs::OpenMode::Read)
            .expect("open")
            .map()
            .expect("map")
    }

    fn records() -> Vec<Vec<u8>> {
        (0..200usize)
            .map(|i| vec![(i % 251) as u8; (i * 997) % 70_000])
            .collect()
    }

    /// Ten records of about 100 KB (as `kv-store load` writes 1,000 pairs
    /// per batch): each spans several blocks, so the blocks after a bad
    /// fragment start with `Middle`/`Last` continuations.
    fn big_records() -> Vec<Vec<u8>> {
        (0..10usize)
            .map(|i| (0..100_000).map(|j| (i * 31 + j % 251) as u8).collect())
            .collect()
    }

    /// The start of each logical record and of each of its fragments,
    /// walking the headers (file header and markers included).
    fn fragment_starts(data: &[u8]) -> Vec<usize> {
        let mut out = Vec::new();
        let mut pos = 0;
        while pos + HEADER_SIZE_BYTES <= data.len() {
            if BLOCK_SIZE_BYTES - pos % BLOCK_SIZE_BYTES < HEADER_SIZE_BYTES {
                pos = (pos / BLOCK_SIZE_BYTES + 1) * BLOCK_SIZE_BYTES;
                continue;
            }
            out.push(pos);
            let len = u16::from_le_bytes([data[pos + LEN_OFFSET], data[pos + LEN_OFFSET + 1]]);
            pos += HEADER_SIZE_BYTES + usize::from(len);
        }
        out
    }

    /// The offset of the fragment holding byte `at`.
    fn fragment_of(data: &[u8], at: usize) -> usize {
        fragment_starts(data)
            .into_iter()
            .take_while(|&s| s <= at)
            .last()
            .expect("a fragment")
    }

    /// Offset of the first payload byte of data record `i` (0-based, file
    /// header excluded), found by writing the same records again up to it.
    fn record_payload_offset(records: &[Vec<u8>], i: usize, sync: Sync) -> usize {
        let (fs, _d, path) = write_with(&records[..i], sync);
        let before = bytes_of(&*fs, &path).len();
        // Syncing after each record puts a 15-byte marker before the next.
        let marker = if sync == Sync::AtEnd || i == 0 {
            0
        } else {
            HEADER_SIZE_BYTES + MARKER_LEN
        };
        before + marker + HEADER_SIZE_BYTES
    }

    #[test]
    fn records_round_trip_across_blocks() {
        for sync in [Sync::AtEnd, Sync::EachRecord, Sync::EachRecordThenSeal] {
            let recs = records();
            let (fs, _d, path) = write_with(&recs, sync);
            let got = read_log(&*fs, &path).expect("read");
            assert_eq!(got.torn_at, None);
            assert_eq!(got.records.len(), recs.len());
            for (a, b) in got.records.iter().zip(&recs) {
                assert_eq!(&a[..], &b[..]);
            }
        }
    }

    #[test]
    fn truncated_tail_is_dropped_at_every_length() {
        let recs: Vec<Vec<u8>> = (0..20usize).map(|i| vec![i as u8; i * 3000]).collect();
        for sync in [Sync::AtEnd, Sync::EachRecord, Sync::EachRecordThenSeal] {
            let (fs, _d, path) = write_with(&recs, sync);
            let data = bytes_of(&*fs, &path);
            for cut in (FILE_HEADER_LEN + HEADER_SIZE_BYTES..data.len()).step_by(97) {
                let got = parse_log(&data.slice(..cut), &path).expect("torn tail is not an error");
                assert!(got.torn_at.is_none_or(|t| t <= cut as u64));
                for (a, b) in got.records.iter().zip(&recs) {
                    assert_eq!(&a[..], &b[..]);
                }
            }
        }
    }

    #[test]
    fn flipped_byte_in_a_synced_record_is_corruption_naming_the_fragment() {
        let recs = records();
        let (fs, _d, path) = write_with(&recs, Sync::EachRecord);
        let data = bytes_of(&*fs, &path);
        let at = 100;
        let mut bad = data.to_vec();
        bad[at] ^= 0x40;
        let frag = fragment_of(&bad, at);
        let r = parse_log(&Bytes::from(bad), &path);
        assert!(
            matches!(&r, Err(Error::Corruption { file, offset, what: "log record checksum", expected, found })
                if *file == path && *offset == frag as u64 && expected != found),
            "{r:?}"
        );
    }

    /// Regression: damage in record 1 or 5 of ten ~100 KB records was
    /// dropped as a torn tail with every record after it, because only a
    /// record *starting* at a later block boundary counted as evidence.
    #[test]
    fn damage_in_any_synced_spanning_record_but_the_last_is_corruption() {
        let recs = big_records();
        for sync in [Sync::EachRecord, Sync::EachRecordThenSeal] {
            let (fs, _d, path) = write_with(&recs, sync);
            let data = bytes_of(&*fs, &path);
            for i in 0..recs.len() {
                // A byte deep inside the record, in a `Middle` fragment.
                let at = record_payload_offset(&recs, i, sync) + 50_000;
                let mut bad = data.to_vec();
                bad[at] ^= 0x01;
                let frag = fragment_of(&bad, at);
                let r = parse_log(&Bytes::from(bad), &path);
                let last_unsealed = i == recs.len() - 1 && sync == Sync::EachRecord;
                if last_unsealed {
                    // Nothing after it says it was synced: a torn tail.
                    let got = r.expect("torn tail");
                    assert_eq!(got.records.len(), recs.len() - 1);
                    let start = record_payload_offset(&recs, i, sync) - HEADER_SIZE_BYTES;
                    assert_eq!(got.torn_at, Some(start as u64));
                } else {
                    assert!(
                        matches!(&r, Err(Error::Corruption { file, offset, .. })
                            if *file == path && *offset == frag as u64),
                        "record {i}: {r:?}"
                    );
                }
            }
        }
    }

    /// Unsynced writes may reach the disk in any order: valid records after
    /// a bad one do not make it damage unless a marker says it was synced.
    #[test]
    fn bad_unsynced_record_followed_by_valid_ones_is_a_torn_tail() {
        let recs = big_records();
        let (fs, _d, path) = write_with(&recs, Sync::AtEnd);
        let data = bytes_of(&*fs, &path);
        let at = record_payload_offset(&recs, 4, Sync::AtEnd) + 50_000;
        let mut bad = data.to_vec();
        bad[at] ^= 0x01;
        let got = parse_log(&Bytes::from(bad), &path).expect("torn tail");
        assert_eq!(got.records.len(), 4);
        let start = record_payload_offset(&recs, 4, Sync::AtEnd) - HEADER_SIZE_BYTES;
        assert_eq!(got.torn_at, Some(start as u64));
    }

    /// The manifest syncs every edit: damage to any edit but the last, even
    /// to its length (so nothing is found right after it), is corruption.
    #[test]
    fn damaged_small_synced_record_followed_by_another_is_corruption() {
        let recs: Vec<Vec<u8>> = (0..6u8).map(|i| vec![i; 40 + usize::from(i)]).collect();
        let (fs, _d, path) = write_with(&recs, Sync::EachRecord);
        let data = bytes_of(&*fs, &path);
        for i in 0..recs.len() - 1 {
            let len_at =
                record_payload_offset(&recs, i, Sync::EachRecord) - HEADER_SIZE_BYTES + LEN_OFFSET;
            let mut bad = data.to_vec();
            bad[len_at] ^= 0x10;
            let r = parse_log(&Bytes::from(bad), &path);
            assert!(
                matches!(&r, Err(Error::Corruption { offset, .. })
                    if *offset == (len_at - LEN_OFFSET) as u64),
                "edit {i}: {r:?}"
            );
        }
    }

    /// A version-1 log (no markers) still reads, with the old rule: a bad
    /// record followed by a valid record start is corruption.
    #[test]
    fn version_1_log_reads_with_the_old_rule() {
        let recs = records();
        let (fs, _d, path) = write(&recs);
        let mut v1 = bytes_of(&*fs, &path).to_vec();
        // Rewrite the header record's version and CRC.
        let header = &mut v1[..HEADER_SIZE_BYTES + FILE_HEADER_LEN];
        assert_eq!(&header[HEADER_SIZE_BYTES..], &file_header());
        header[HEADER_SIZE_BYTES + 8..].copy_from_slice(&LOG_VERSION_NO_MARKERS.to_le_bytes());
        let c = crc(1, &header[HEADER_SIZE_BYTES..]);
        header[..4].copy_from_slice(&c.to_le_bytes());
        let got = parse_log(&Bytes::from(v1.clone()), &path).expect("read v1");
        assert_eq!(got.records.len(), recs.len());
        assert_eq!(got.torn_at, None);
        v1[100] ^= 0x40;
        let r = parse_log(&Bytes::from(v1), &path);
        assert!(matches!(r, Err(Error::Corruption { offset, .. }) if offset <= 100));
    }

    #[test]
    fn unknown_version_is_corruption() {
        let recs = records();
        let (fs, _d, path) = write(&recs[..3]);
        let mut d = bytes_of(&*fs, &path).to_vec();
        d[HEADER_SIZE_BYTES + 8..HEADER_SIZE_BYTES + 12].copy_from_slice(&9u32.to_le_bytes());
        let c = crc(
            1,
            &d[HEADER_SIZE_BYTES..HEADER_SIZE_BYTES + FILE_HEADER_LEN],
        );
        d[..4].copy_from_slice(&c.to_le_bytes());
        let r = parse_log(&Bytes::from(d), &path);
        assert!(matches!(
            r,
            Err(Error::Corruption {
                what: "log version",
                found: 9,
                ..
            })
        ));
    }

    /// A marker claiming more than the bytes before it passed its CRC but
    /// cannot be right.
    #[test]
    fn marker_beyond_its_own_offset_is_corruption() {
        let (fs, _d, path) = write_with(&[vec![1; 10], vec![2; 10]], Sync::EachRecord);
        let mut d = bytes_of(&*fs, &path).to_vec();
        let starts = fragment_starts(&d);
        let m = starts
            .into_iter()
            .find(|&s| d[s + TYPE_OFFSET] == 5)
            .expect("a marker");
        let claim = (d.len() as u64).to_le_bytes();
        d[m + HEADER_SIZE_BYTES..m + HEADER_SIZE_BYTES + MARKER_LEN].copy_from_slice(&claim);
        let c = crc(
            5,
            &d[m + HEADER_SIZE_BYTES..m + HEADER_SIZE_BYTES + MARKER_LEN],
        );
        d[m..m + 4].copy_from_slice(&c.to_le_bytes());
        let r = parse_log(&Bytes::from(d), &path);
        assert!(
            matches!(r, Err(Error::Corruption { offset, what: "durable marker beyond its own offset", .. }) if offset == m as u64)
        );
    }
}
