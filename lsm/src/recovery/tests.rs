//! Recovery's range checks, through a real open.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::key::{SEQNO_MAX, SeqNo};
use crate::manifest::{self, FILE_NUMBER_MAX, FileNumber, VersionEdit};
use crate::version::NUM_LEVELS;
use crate::wal::writer::LogWriter;
use crate::{Db, WriteBatch};
use crate::{Error, Options, Result};

fn store() -> (vfs::MemFs, Arc<dyn vfs::Fs>) {
    let fs = vfs::MemFs::new();
    let shared: Arc<dyn vfs::Fs> = Arc::new(fs.clone());
    let db = Db::open_with_fs(Arc::clone(&shared), "/db", Options::default()).expect("open");
    db.put("a", "1").expect("put");
    db.close().expect("close");
    (fs, shared)
}

fn open(fs: &Arc<dyn vfs::Fs>) -> Result<Db> {
    Db::open_with_fs(Arc::clone(fs), "/db", Options::default())
}

fn batch_record(seq: SeqNo, ops: usize) -> Vec<u8> {
    let mut b = WriteBatch::new();
    for i in 0..ops {
        b.put(format!("k{i}"), "v");
    }
    let mut out = Vec::new();
    b.encode(seq, &mut out);
    out
}

/// A log record whose CRC is good but whose sequence numbers do not fit
/// the 56 bits of a key trailer (or wrap `u64`) is corruption naming the
/// log, the record's offset, the limit and the number found.
#[test]
fn log_sequence_number_out_of_range_is_corruption_at_its_record() {
    for (seq, ops, found) in [
        (SEQNO_MAX + 1, 1, SEQNO_MAX + 1),
        (SEQNO_MAX, 2, SEQNO_MAX + 1),
        (u64::MAX - 1, 3, u64::MAX),
    ] {
        let (_mem, fs) = store();
        let path = Path::new("/db/000900.log");
        let mut w = LogWriter::create(&*fs, path).expect("log");
        w.add_record(&batch_record(SeqNo(5), 1))
            .expect("good record");
        let start = w.len_bytes();
        w.add_record(&batch_record(SeqNo(seq), ops))
            .expect("bad record");
        w.sync().expect("sync");
        drop(w);
        match open(&fs) {
            Err(Error::Corruption {
                file,
                offset,
                expected,
                found: f,
                ..
            }) => {
                assert_eq!(file, path);
                assert_eq!(offset, start);
                assert_eq!((expected, f), (SEQNO_MAX, found));
            }
            other => panic!("seq {seq}: {other:?}"),
        }
    }
}

#[test]
fn file_number_in_a_name_out_of_range_is_corruption() {
    let (_mem, fs) = store();
    let path = Path::new("/db/18446744073709551615.sst");
    drop(fs.open(path, vfs::OpenMode::Truncate).expect("create"));
    match open(&fs) {
        Err(Error::Corruption {
            file,
            expected,
            found,
            ..
        }) => {
            assert_eq!(file, path);
            assert_eq!((expected, found), (FILE_NUMBER_MAX, u64::MAX));
        }
        other => panic!("{other:?}"),
    }
}

/// Writes a manifest of `edits` and points `CURRENT` at it; returns its
/// path and the offset of each edit.
fn manifest_of(fs: &Arc<dyn vfs::Fs>, edits: &[VersionEdit]) -> (PathBuf, Vec<u64>) {
    let path = Path::new("/db").join(manifest::manifest_name(FileNumber(500)));
    let mut w = LogWriter::create(&**fs, &path).expect("manifest");
    let mut offsets = Vec::new();
    for e in edits {
        offsets.push(w.len_bytes());
        w.add_record(&e.encode()).expect("edit");
    }
    w.sync().expect("sync");
    manifest::set_current(&**fs, Path::new("/db"), FileNumber(500)).expect("current");
    (path, offsets)
}

fn base_edit() -> VersionEdit {
    VersionEdit {
        log_number: Some(FileNumber(1)),
        next_file: Some(FileNumber(600)),
        last_seq: Some(SeqNo(0)),
        blobs_recorded: true,
        ..VersionEdit::default()
    }
}

/// Manifest numbers out of range name the manifest, the offset of the
/// edit holding them, the limit and the value found.
#[test]
fn manifest_numbers_out_of_range_name_their_edit() {
    let cases: Vec<(VersionEdit, u64, u64)> = vec![
        (
            VersionEdit {
                added: vec![(200, FileNumber(7), 0)],
                ..VersionEdit::default()
            },
            NUM_LEVELS as u64 - 1,
            200,
        ),
        (
            VersionEdit {
                last_seq: Some(SeqNo(u64::MAX)),
                ..VersionEdit::default()
            },
            SEQNO_MAX,
            u64::MAX,
        ),
        (
            VersionEdit {
                next_file: Some(FileNumber(u64::MAX)),
                ..VersionEdit::default()
            },
            FILE_NUMBER_MAX,
            u64::MAX,
        ),
        (
            VersionEdit {
                added: vec![(1, FileNumber(u64::MAX), 0)],
                ..VersionEdit::default()
            },
            FILE_NUMBER_MAX,
            u64::MAX,
        ),
    ];
    for (bad, expected, found) in cases {
        let (_mem, fs) = store();
        let (path, offsets) = manifest_of(&fs, &[base_edit(), bad.clone()]);
        match open(&fs) {
            Err(Error::Corruption {
                file,
                offset,
                expected: e,
                found: f,
                ..
            }) => {
                assert_eq!(file, path, "{bad:?}");
                assert_eq!(offset, offsets[1], "{bad:?}");
                assert_eq!((e, f), (expected, found), "{bad:?}");
            }
            other => panic!("{bad:?}: {other:?}"),
        }
    }
}

/// An edit that does not decode names its offset and, for an unknown
/// tag, the largest known tag and the tag found.
#[test]
fn undecodable_manifest_edit_names_its_offset() {
    let (_mem, fs) = store();
    let path = Path::new("/db").join(manifest::manifest_name(FileNumber(500)));
    let mut w = LogWriter::create(&*fs, &path).expect("manifest");
    w.add_record(&base_edit().encode()).expect("edit");
    let start = w.len_bytes();
    w.add_record(&[99]).expect("bad tag");
    w.sync().expect("sync");
    manifest::set_current(&*fs, Path::new("/db"), FileNumber(500)).expect("current");
    match open(&fs) {
        Err(Error::Corruption {
            file,
            offset,
            expected,
            found,
            ..
        }) => {
            assert_eq!(file, path);
            assert_eq!(offset, start);
            assert_eq!((expected, found), (17, 99));
        }
        other => panic!("{other:?}"),
    }
}
