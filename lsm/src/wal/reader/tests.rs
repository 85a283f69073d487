//! Unit tests of the log reader: round trips, torn tails, damage.

use std::sync::Arc;

use super::*;
use crate::wal::format::{
    FILE_HEADER_LEN, FILE_HEADER_V3_LEN, HEADER_SIZE_BYTES, LEN_OFFSET, LOG_VERSION_NO_MARKERS,
    crc, file_header,
};
use crate::wal::writer::LogWriter;

/// How a test log is written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sync {
    /// One sync at the end: no record is covered by a marker.
    AtEnd,
    /// A sync after each record, as `Durability::Immediate` and the manifest.
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

/// A write-ahead log's header names its predecessor (version 3); a
/// manifest's (version 2) does not say.
#[test]
fn wal_header_names_its_predecessor() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fs = vfs::OsFs::new();
    let cases = [
        (
            Some(LogLength {
                log: FileNumber(7),
                len_bytes: 1234,
            }),
            Predecessor::Log(LogLength {
                log: FileNumber(7),
                len_bytes: 1234,
            }),
        ),
        (None, Predecessor::First),
    ];
    for (i, (claim, want)) in cases.into_iter().enumerate() {
        let path = dir.path().join(format!("{i}.log"));
        let mut w = LogWriter::create_wal(&fs, &path, claim).expect("create");
        w.add_record(b"batch").expect("add");
        w.sync().expect("sync");
        let got = read_log(&fs, &path).expect("read");
        assert_eq!(got.predecessor, want);
        assert_eq!(got.records.len(), 1);
        assert_eq!(
            got.offsets[0],
            (HEADER_SIZE_BYTES + FILE_HEADER_V3_LEN) as u64
        );
    }
    let (fs, _d, path) = write(&records()[..1]);
    let got = read_log(&*fs, &path).expect("read");
    assert_eq!(got.predecessor, Predecessor::Unrecorded);
}

/// A header whose length does not match its version (a version 3 header
/// cut to version 2's length, passing its CRC) is corruption.
#[test]
fn header_length_must_match_its_version() {
    let (fs, _d, path) = write(&records()[..1]);
    let d = bytes_of(&*fs, &path).to_vec();
    // Rewrite the version-2 header as version 3, keeping its length.
    let mut v3 = d.clone();
    v3[HEADER_SIZE_BYTES + 8..HEADER_SIZE_BYTES + 12].copy_from_slice(&3u32.to_le_bytes());
    let c = crc(
        1,
        &v3[HEADER_SIZE_BYTES..HEADER_SIZE_BYTES + FILE_HEADER_LEN],
    );
    v3[..4].copy_from_slice(&c.to_le_bytes());
    let r = parse_log(&Bytes::from(v3), &path);
    assert!(
        matches!(
            r,
            Err(Error::Corruption {
                what: "log header length",
                offset: 0,
                expected,
                found,
                ..
            }) if expected == FILE_HEADER_V3_LEN as u64 && found == FILE_HEADER_LEN as u64
        ),
        "{r:?}"
    );
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
