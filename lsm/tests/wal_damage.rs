//! Damage to the write-ahead log is told from a torn tail by what the log
//! recorded as durable (FORMAT.md, "Durable markers"): a bad fragment in
//! bytes a later marker says were synced is `Error::Corruption` at reopen,
//! naming the log and the fragment's offset; a bad fragment no marker
//! covers is a torn tail, dropped, whatever valid records follow it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use larder_lsm::{Db, Durability, Error, Options, WriteBatch};
use vfs::{Fs, MemFs, OpenMode};

const RECORDS: usize = 10;
const PAIRS_PER_RECORD: usize = 1_000;

/// Fragment header: crc u32, len u16, type u8 (FORMAT.md, "Log files").
const HEADER_SIZE_BYTES: usize = 7;
const BLOCK_SIZE_BYTES: usize = 32 * 1024;

fn opts(sync: Durability) -> Options {
    Options {
        durability: sync,
        // Everything stays in the memtable and the log.
        write_buffer_size_bytes: 64 << 20,
        ..Options::default()
    }
}

fn key(record: usize, i: usize) -> Vec<u8> {
    format!("key{:07}", (i * 7_919 + record * 13) % 6_000).into_bytes()
}

fn value(record: usize, i: usize) -> Vec<u8> {
    format!("value-{record}-{i:04}-{}", "v".repeat(70)).into_bytes()
}

/// The only log file of the store.
fn log_path(fs: &MemFs) -> PathBuf {
    let logs: Vec<PathBuf> = fs
        .list_dir(Path::new("/db"))
        .expect("list")
        .into_iter()
        .filter(|n| n.to_string_lossy().ends_with(".log"))
        .map(|n| Path::new("/db").join(n))
        .collect();
    assert_eq!(logs.len(), 1, "{logs:?}");
    logs.into_iter().next().expect("one log")
}

fn file_len(fs: &MemFs, path: &Path) -> u64 {
    fs.open(path, OpenMode::Read)
        .and_then(|f| f.len())
        .expect("len")
}

/// Writes `RECORDS` batches of `PAIRS_PER_RECORD` pairs (about 100 KB
/// each, as `kv-store load` writes them, so each spans several blocks),
/// then drops the store without closing it. With `Durability::None`, syncs
/// once after `synced_under_never` records. Returns the byte range of each
/// record in the log (a durable marker before it included).
fn load(fs: &MemFs, sync: Durability, synced_under_never: usize) -> Vec<(u64, u64)> {
    let db = Db::open_with_fs(Arc::new(fs.clone()), "/db", opts(sync)).expect("open");
    let log = log_path(fs);
    let mut ranges = Vec::new();
    for r in 0..RECORDS {
        let start = file_len(fs, &log);
        let mut b = WriteBatch::new();
        for i in 0..PAIRS_PER_RECORD {
            b.put(key(r, i), value(r, i));
        }
        db.write(b).expect("write");
        if sync == Durability::None {
            // Buffered records reach the file at a sync.
            if r + 1 == synced_under_never {
                db.sync().expect("sync");
            }
        }
        ranges.push((start, file_len(fs, &log)));
    }
    drop(db);
    ranges
}

fn read(fs: &MemFs, path: &Path) -> Vec<u8> {
    fs.open(path, OpenMode::Read)
        .and_then(|f| f.map())
        .expect("read")
        .to_vec()
}

fn rewrite(fs: &MemFs, path: &Path, data: &[u8]) {
    let f = fs.open(path, OpenMode::Truncate).expect("open");
    f.append(data).expect("write");
    f.sync_data().expect("sync");
}

/// The offset of the fragment holding byte `at`, walking the headers.
fn fragment_of(data: &[u8], at: usize) -> usize {
    let mut pos = 0;
    let mut found = 0;
    while pos + HEADER_SIZE_BYTES <= data.len() && pos <= at {
        if BLOCK_SIZE_BYTES - pos % BLOCK_SIZE_BYTES < HEADER_SIZE_BYTES {
            pos = (pos / BLOCK_SIZE_BYTES + 1) * BLOCK_SIZE_BYTES;
            continue;
        }
        found = pos;
        let len = usize::from(u16::from_le_bytes([data[pos + 4], data[pos + 5]]));
        pos += HEADER_SIZE_BYTES + len;
    }
    found
}

/// Flips a byte in the middle of record `r` (inside a `Middle` fragment)
/// and returns the bad fragment's offset.
fn flip_in_record(fs: &MemFs, ranges: &[(u64, u64)], r: usize) -> (PathBuf, u64) {
    let log = log_path(fs);
    let mut data = read(fs, &log);
    let (start, end) = ranges[r];
    let at = usize::try_from((start + end) / 2).expect("fits");
    data[at] ^= 0x20;
    rewrite(fs, &log, &data);
    (log, fragment_of(&data, at) as u64)
}

fn assert_corruption_at(fs: &MemFs, sync: Durability, file: &Path, offset: u64) {
    let r = Db::open_with_fs(Arc::new(fs.clone()), "/db", opts(sync));
    assert!(
        matches!(&r, Err(Error::Corruption { file: f, offset: o, .. }) if f == file && *o == offset),
        "expected corruption in {} at {offset}, got {:?}",
        file.display(),
        r.as_ref().map(|_| "a store that opened")
    );
}

/// Regression: one flipped byte in record 1 or 5 of ten ~100 KB records
/// was dropped as a torn tail (and every record after it with it), because
/// only a record *starting* at a later block boundary counted as evidence,
/// and records spanning blocks put continuations there.
#[test]
fn flipped_byte_in_a_synced_spanning_record_is_corruption_at_reopen() {
    for sync in [Durability::Immediate, Durability::Group] {
        // Record 1 and record 5 (1-based), as the campaign.
        for r in [0, 4] {
            let fs = MemFs::new();
            let ranges = load(&fs, sync, 0);
            let (log, offset) = flip_in_record(&fs, &ranges, r);
            assert_corruption_at(&fs, sync, &log, offset);
        }
    }
}

/// A clean close seals the log: damage to its last record is corruption too.
#[test]
fn flipped_byte_in_the_last_record_after_close_is_corruption() {
    let fs = MemFs::new();
    let db =
        Db::open_with_fs(Arc::new(fs.clone()), "/db", opts(Durability::Immediate)).expect("open");
    let log = log_path(&fs);
    let start = file_len(&fs, &log);
    let mut b = WriteBatch::new();
    for i in 0..PAIRS_PER_RECORD {
        b.put(key(0, i), value(0, i));
    }
    db.write(b).expect("write");
    let end = file_len(&fs, &log);
    db.close().expect("close");
    let (log, offset) = flip_in_record(&fs, &[(start, end)], 0);
    assert_corruption_at(&fs, Durability::Immediate, &log, offset);
}

/// Under `Durability::None` only what an explicit sync covered is protected:
/// damage before it is corruption, damage after it a torn tail (dropped
/// with everything after it, as a crash could have lost it).
#[test]
fn under_sync_never_only_synced_records_are_protected() {
    let synced = 5;
    let fs = MemFs::new();
    let ranges = load(&fs, Durability::None, synced);
    let (log, offset) = flip_in_record(&fs, &ranges, 2);
    assert_corruption_at(&fs, Durability::None, &log, offset);

    let fs = MemFs::new();
    let ranges = load(&fs, Durability::None, synced);
    flip_in_record(&fs, &ranges, 7);
    let db = Db::open_with_fs(Arc::new(fs.clone()), "/db", opts(Durability::None))
        .expect("a torn tail opens");
    // Records 0..7 survive; record 7 and the ones after it are dropped.
    let mut want = BTreeMap::new();
    for r in 0..7 {
        for i in 0..PAIRS_PER_RECORD {
            want.insert(key(r, i), value(r, i));
        }
    }
    let got: BTreeMap<Vec<u8>, Vec<u8>> = db
        .range::<&[u8], _>(..)
        .map(|p| p.map(|(k, v)| (k.to_vec(), v.to_vec())).expect("scan"))
        .collect();
    assert!(got == want, "{} pairs, want {}", got.len(), want.len());
    db.close().expect("close");
}

/// Records of the crash workload: `CRASH_RECORDS` batches of 300 pairs
/// (about 30 KB, spanning blocks), distinct keys per record.
const CRASH_RECORDS: usize = 6;

fn crash_batch(r: usize) -> WriteBatch {
    let mut b = WriteBatch::new();
    for i in 0..300 {
        b.put(format!("r{r}-{i:03}"), value(r, i));
    }
    b
}

/// Writes the crash workload; under `None`, syncs after every second
/// record. Returns how many records were acknowledged and how many of
/// them a sync covered.
fn crash_workload(fs: Arc<dyn Fs>, sync: Durability) -> (usize, usize) {
    let Ok(db) = Db::open_with_fs(fs, "/db", opts(sync)) else {
        return (0, 0);
    };
    let (mut acked, mut synced) = (0, 0);
    for r in 0..CRASH_RECORDS {
        if db.write(crash_batch(r)).is_err() {
            return (acked, synced);
        }
        acked += 1;
        if sync != Durability::None {
            synced = acked;
        } else if r % 2 == 1 {
            if db.sync().is_err() {
                return (acked, synced);
            }
            synced = acked;
        }
    }
    if db.close().is_ok() {
        synced = acked;
    }
    (acked, synced)
}

/// A plain crash (power loss before any sync, unsynced data dropped or
/// kept in part, the last write of each file torn) never reads as damage:
/// durable markers only ever claim synced bytes. Recovery opens, keeps
/// every record a sync covered, and keeps whole records only, in order.
#[test]
fn power_loss_with_spanning_records_is_never_corruption() {
    for sync in [Durability::Immediate, Durability::Group, Durability::None] {
        let report = vfs::crash_test::explore(
            &vfs::crash_test::ExploreOptions::default(),
            |fs| crash_workload(fs, sync),
            |point, disk, (acked, synced)| {
                let db = match Db::open_with_fs(Arc::new(disk), "/db", opts(sync)) {
                    Ok(db) => db,
                    Err(e) => panic!("{sync:?} {point:?}: recovery failed: {e}"),
                };
                let present: Vec<usize> = (0..CRASH_RECORDS)
                    .filter(|&r| {
                        db.get(format!("r{r}-000").as_bytes())
                            .expect("get")
                            .is_some()
                    })
                    .collect();
                let kept = present.len();
                assert_eq!(present, (0..kept).collect::<Vec<_>>(), "{sync:?} {point:?}");
                assert!(
                    kept >= synced && kept <= acked + 1,
                    "{sync:?} {point:?}: {kept} records, {synced} synced, {acked} acked"
                );
                for r in 0..kept {
                    for i in (0..300).step_by(37) {
                        let got = db.get(format!("r{r}-{i:03}").as_bytes()).expect("get");
                        assert_eq!(got.as_deref(), Some(&value(r, i)[..]));
                    }
                }
                db.close().expect("close");
            },
        );
        assert!(report.crashes > 20, "{report:?}");
    }
}

/// The manifest is written by the same log writer and syncs each edit, so
/// its edits carry markers too: a damaged edit followed by a later one is
/// corruption, even when the damage is to the edit's length field (so no
/// record can be found right after it). It used to be a torn tail, and the
/// store opened without the edits that named its newest tables.
#[test]
fn damaged_manifest_edit_followed_by_another_is_corruption() {
    let fs = MemFs::new();
    let db =
        Db::open_with_fs(Arc::new(fs.clone()), "/db", opts(Durability::Immediate)).expect("open");
    for r in 0..2 {
        db.put(format!("k{r}"), "v").expect("put");
        db.flush().expect("flush");
    }
    // Crash: no close, so the last edit stays unsealed.
    drop(db);
    let manifest = fs
        .list_dir(Path::new("/db"))
        .expect("list")
        .into_iter()
        .map(|n| n.to_string_lossy().into_owned())
        .find(|n| n.starts_with("MANIFEST-"))
        .map(|n| Path::new("/db").join(n))
        .expect("a manifest");
    let mut data = read(&fs, &manifest);
    // Data records are `Full` fragments (type 1): the file header, then
    // the edits of open, and per flush the switch's "log sealed" (tag 11)
    // and the flush's own.
    let mut full = Vec::new();
    let mut pos = 0;
    while pos + HEADER_SIZE_BYTES <= data.len() {
        if data[pos + 6] == 1 {
            full.push(pos);
        }
        pos += HEADER_SIZE_BYTES + usize::from(u16::from_le_bytes([data[pos + 4], data[pos + 5]]));
    }
    assert_eq!(full.len(), 6, "header and five edits");
    let edit = full[2];
    data[edit + 4] ^= 0x08;
    rewrite(&fs, &manifest, &data);
    assert_corruption_at(&fs, Durability::Immediate, &manifest, edit as u64);
}
