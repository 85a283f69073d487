//! Keys out of order in a data block whose CRC was recomputed: the
//! checksum holds, the order does not. Every reader of table entries (a
//! point lookup, a scan, a compaction, `verify`) reports
//! `Error::Corruption` naming the table and the block's offset, and a
//! compaction fails without writing the damage into a new table.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use larder_lsm::{Db, Durability, Error, Options};
use vfs::{Fs, MemFs, OpenMode};

/// Bytes of a table's header (magic, version) before its first block.
const TABLE_HEADER_BYTES: usize = 12;
/// Bytes of a block trailer: compression type, CRC-32.
const TRAILER_BYTES: usize = 5;

fn opts() -> Options {
    Options {
        durability: Durability::Immediate,
        compression: false,
        ..Options::default()
    }
}

fn open(fs: &MemFs, opts: Options) -> larder_lsm::Result<Db> {
    Db::open_with_fs(Arc::new(fs.clone()), "/db", opts)
}

fn key(i: u32) -> String {
    format!("key{i:05}")
}

fn value(i: u32) -> String {
    format!("value-{i}-{}", "v".repeat(40))
}

fn read(fs: &MemFs, path: &Path) -> Vec<u8> {
    let f = fs.open(path, OpenMode::Read).expect("open");
    let mut buf = vec![0u8; usize::try_from(f.len().expect("len")).expect("len")];
    f.read_exact_at(&mut buf, 0).expect("read");
    buf
}

fn write(fs: &MemFs, path: &Path, bytes: &[u8]) {
    let f = fs.open(path, OpenMode::Truncate).expect("open");
    f.append(bytes).expect("write");
    f.sync_data().expect("sync");
}

/// Every table file of the database with its bytes, by name.
fn tables(fs: &MemFs) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = fs
        .list_dir(Path::new("/db"))
        .expect("list")
        .into_iter()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sst"))
        .map(|name| {
            let bytes = read(fs, &Path::new("/db").join(&name));
            (name, bytes)
        })
        .collect();
    out.sort();
    out
}

/// A database of `n` keys in one table, closed.
fn db_with_table(n: u32) -> (MemFs, PathBuf) {
    let fs = MemFs::new();
    let db = open(&fs, opts()).expect("open");
    for i in 0..n {
        db.put(key(i), value(i)).expect("put");
    }
    db.flush().expect("flush");
    db.close().expect("close");
    let t = tables(&fs);
    assert_eq!(t.len(), 1);
    let table = Path::new("/db").join(&t[0].0);
    (fs, table)
}

/// Where the first `count` data blocks of an uncompressed table start and
/// how long their contents are, found as the fuzz targets find them: from
/// the end of the header, the first trailer whose CRC holds.
fn data_blocks(bytes: &[u8], count: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = TABLE_HEADER_BYTES;
    while out.len() < count {
        let len = (0..bytes.len() - start - TRAILER_BYTES)
            .find(|&len| {
                let end = start + len;
                let stored = u32::from_le_bytes(bytes[end + 1..end + 5].try_into().expect("4"));
                bytes[end] == 0 && crc32fast::hash(&bytes[start..=end]) == stored
            })
            .expect("a data block");
        out.push((start, len));
        start += len + TRAILER_BYTES;
    }
    out
}

/// Replaces the bytes at `at` of the block at `block` (contents of `len`
/// bytes) of `table` and recomputes the block's CRC, as a writer with a
/// bug would have written it.
fn damage_and_reseal(
    fs: &MemFs,
    table: &Path,
    (block, len): (usize, usize),
    at: usize,
    new: &[u8],
) {
    let mut bytes = read(fs, table);
    bytes[block + at..block + at + new.len()].copy_from_slice(new);
    let crc = crc32fast::hash(&bytes[block..=block + len]);
    bytes[block + len + 1..block + len + TRAILER_BYTES].copy_from_slice(&crc.to_le_bytes());
    write(fs, table, &bytes);
}

/// The first entry of a block starts with three one-byte varints (shared
/// 0, key length, value length), then its whole key: the user key is
/// `key` + 5 digits.
const FIRST_USER_KEY_AT: usize = 3;

/// The user key of the first entry of `block`.
fn first_user_key(fs: &MemFs, table: &Path, (block, _): (usize, usize)) -> String {
    let bytes = read(fs, table);
    let at = block + FIRST_USER_KEY_AT;
    String::from_utf8(bytes[at..at + 8].to_vec()).expect("utf-8")
}

fn is_corruption_at(e: &Error, table: &Path, block: usize) -> bool {
    matches!(e, Error::Corruption { file, offset, .. }
        if file == table && *offset == block as u64)
}

/// The third data block's first key made larger than its second (the last
/// digit of its user key becomes 0xff; the second entry shares the digits
/// before it): the block's keys no longer increase. Returns the block and
/// the user key of its second entry.
fn unordered_inside_a_block() -> (MemFs, PathBuf, (usize, usize), String) {
    let (fs, table) = db_with_table(500);
    let blocks = data_blocks(&read(&fs, &table), 3);
    let b = blocks[2];
    let first = first_user_key(&fs, &table, b);
    let second = format!("key{:05}", first[3..].parse::<u32>().expect("digits") + 1);
    damage_and_reseal(&fs, &table, b, FIRST_USER_KEY_AT + 7, &[0xff]);
    (fs, table, b, second)
}

#[test]
fn a_get_in_a_resealed_unordered_block_is_corruption() {
    let (fs, table, (block, _), second) = unordered_inside_a_block();
    let db = open(&fs, opts()).expect("open reads no data block");
    // The search for the second key stops at the first entry (already
    // above it), so only a check of the whole block sees the damage.
    let r = db.get(second.as_bytes());
    assert!(
        matches!(&r, Err(e) if is_corruption_at(e, &table, block)),
        "{r:?}"
    );
    // Other blocks still serve.
    assert_eq!(
        db.get(key(0).as_bytes()).expect("get").as_deref(),
        Some(value(0).as_bytes())
    );
    // Nothing cached the bad block: a second read fails the same way.
    let r = db.get(second.as_bytes());
    assert!(
        matches!(&r, Err(e) if is_corruption_at(e, &table, block)),
        "{r:?}"
    );
}

#[test]
fn a_scan_over_a_resealed_unordered_block_is_corruption() {
    let (fs, table, (block, _), _) = unordered_inside_a_block();
    let db = open(&fs, opts()).expect("open");
    let r: larder_lsm::Result<Vec<_>> = db.range::<&[u8], _>(..).collect();
    assert!(
        matches!(&r, Err(e) if is_corruption_at(e, &table, block)),
        "forward: {r:?}"
    );
    let r: larder_lsm::Result<Vec<_>> = db.range::<&[u8], _>(..).rev().collect();
    assert!(
        matches!(&r, Err(e) if is_corruption_at(e, &table, block)),
        "backward: {r:?}"
    );
}

#[test]
fn a_compaction_of_a_resealed_unordered_block_fails_and_changes_no_table() {
    let (fs, table, (block, _), _) = unordered_inside_a_block();
    let db = open(&fs, opts()).expect("open");
    let before = tables(&fs);
    // A manual compaction rewrites even a lone table: the damage is in
    // its third block, after the output table was created.
    let r = db.compact_range::<&[u8], _>(..);
    assert!(
        matches!(&r, Err(e) if is_corruption_at(e, &table, block)),
        "{r:?}"
    );
    assert_eq!(
        tables(&fs),
        before,
        "a failed compaction changed the tables"
    );
    let report = db.verify().expect("verify");
    assert!(!report.is_clean());
    drop(db);
    // And across a reopen: the damaged table is still the one the manifest
    // names, still reported.
    let db = open(&fs, opts()).expect("reopen");
    assert_eq!(tables(&fs), before);
    let r = db.compact_range::<&[u8], _>(..);
    assert!(
        matches!(&r, Err(e) if is_corruption_at(e, &table, block)),
        "{r:?}"
    );
}

#[test]
fn a_background_compaction_of_a_resealed_unordered_block_stops_the_database() {
    let (fs, table, _, _) = unordered_inside_a_block();
    let opts = Options {
        l0_compaction_trigger: 2,
        ..opts()
    };
    let db = open(&fs, opts.clone()).expect("open");
    let before: Vec<_> = tables(&fs).into_iter().map(|(n, _)| n).collect();
    // A second L0 table overlapping the first: the background thread
    // merges both, reading the damaged block.
    for i in 0..10 {
        db.put(key(i), "new").expect("put");
    }
    // The compaction may fail before the flush returns, or after: waiting
    // for the background work to end reports it.
    let stopped = match db.flush() {
        Err(e) => e,
        Ok(()) => db
            .wait_idle()
            .expect_err("the compaction reading the damaged block fails"),
    };
    assert!(
        matches!(stopped, Error::Closed { reason: Some(_) }),
        "{stopped:?}"
    );
    drop(db);
    let after: Vec<_> = tables(&fs).into_iter().map(|(n, _)| n).collect();
    // Both inputs stay; no output of the failed compaction is left.
    assert_eq!(after.len(), 2, "{after:?}");
    assert!(after.contains(&before[0]));
    // The damaged table is still there and still reported.
    let db = open(&fs, opts).expect("reopen");
    let r: larder_lsm::Result<Vec<_>> = db.range::<&[u8], _>(..).collect();
    assert!(
        matches!(&r, Err(e) if is_corruption_at(e, &table, data_blocks(&read(&fs, &table), 3)[2].0)),
        "{r:?}"
    );
}

#[test]
fn a_block_whose_first_key_is_not_above_the_previous_block_is_corruption() {
    let (fs, table) = db_with_table(500);
    let blocks = data_blocks(&read(&fs, &table), 2);
    let (block, _) = blocks[1];
    let first = first_user_key(&fs, &table, blocks[1]);
    // The second block's first key becomes `key00000`, below every key of
    // the first block; inside its block it still sorts first.
    damage_and_reseal(&fs, &table, blocks[1], FIRST_USER_KEY_AT + 3, b"00000");
    let db = open(&fs, opts()).expect("open");
    let r = db.get(first.as_bytes());
    assert!(
        matches!(&r, Err(e) if is_corruption_at(e, &table, block)),
        "get: {r:?}"
    );
    let r: larder_lsm::Result<Vec<_>> = db.range::<&[u8], _>(..).collect();
    assert!(
        matches!(&r, Err(e) if is_corruption_at(e, &table, block)),
        "scan: {r:?}"
    );
    let before = tables(&fs);
    let r = db.compact_range::<&[u8], _>(..);
    assert!(
        matches!(&r, Err(e) if is_corruption_at(e, &table, block)),
        "compaction: {r:?}"
    );
    assert_eq!(tables(&fs), before);
}

#[test]
fn an_undamaged_table_passes_the_order_checks() {
    let (fs, _) = db_with_table(500);
    let db = open(&fs, opts()).expect("open");
    for i in 0..500 {
        assert_eq!(
            db.get(key(i).as_bytes()).expect("get").as_deref(),
            Some(value(i).as_bytes())
        );
    }
    assert_eq!(db.range::<&[u8], _>(..).count(), 500);
    db.compact_range::<&[u8], _>(..).expect("compact");
    assert_eq!(db.range::<&[u8], _>(..).count(), 500);
    assert!(db.verify().expect("verify").is_clean());
}
