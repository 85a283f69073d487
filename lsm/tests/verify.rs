//! `Db::verify` reads a pinned set of tables: a compaction that replaces
//! them meanwhile leaves their files (and the blob files they reference)
//! on disk until verify is done; and it reports each bad block of a table
//! with its file and offset, reading the table's other blocks.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use larder_lsm::{Db, Options, Problem};

fn key(i: u32) -> Vec<u8> {
    format!("key{i:05}").into_bytes()
}

fn value(round: u32, i: u32, len_bytes: usize) -> Vec<u8> {
    let mut v = format!("r{round}-v{i}-").into_bytes();
    v.resize(len_bytes, b'x');
    v
}

#[test]
fn verify_keeps_the_tables_it_reads_while_a_compaction_replaces_them() {
    const N: u32 = 300;
    let mem = vfs::MemFs::new();
    let fs: Arc<dyn vfs::Fs> = Arc::new(mem.clone());
    let opts = Options {
        blob_threshold_bytes: Some(64),
        ..common::tiny_options()
    };
    let db = Db::open_with_fs(Arc::clone(&fs), "db", opts).expect("open");
    // Two rounds of overwrites, each value separated into a blob: the
    // compaction below drops round 0, and with it the only references
    // into its blob files.
    for round in 0..2 {
        for i in 0..N {
            db.put(key(i), value(round, i, 100)).expect("put");
        }
        db.flush().expect("flush");
    }
    let mut seen: Vec<PathBuf> = Vec::new();
    let mut compacted = false;
    let report = db
        .verify_with(|t| {
            seen.push(t.file.clone());
            if !compacted {
                compacted = true;
                db.compact_range::<&[u8], _>(..).expect("compact");
            }
            // Every table verify has read or will read is still on disk,
            // though the compaction replaced them all.
            for f in &seen {
                assert!(fs.exists(f).expect("exists"), "{} deleted", f.display());
            }
        })
        .expect("verify");
    assert!(report.is_clean(), "{:?}", report.problems);
    assert!(compacted);
    assert!(report.tables_checked >= 2, "{report:?}");
    assert_eq!(report.tables.len() as u64, report.tables_checked);
    assert!(report.entries_checked >= u64::from(N));
    assert!(report.blob_refs_checked >= u64::from(N));
    assert!(report.tables.iter().all(|t| t.blocks_checked > 0));
    // The compaction did replace every table verify read: none is live
    // now. (They are deleted once no reader holds them; when exactly also
    // depends on the background threads, so it is not asserted here.)
    let after = db.verify().expect("verify");
    assert!(after.is_clean(), "{:?}", after.problems);
    for t in &after.tables {
        assert!(!seen.contains(&t.file), "{} still live", t.file.display());
    }
    for i in (0..N).step_by(17) {
        assert_eq!(
            db.get(&key(i)).expect("get").as_deref(),
            Some(&value(1, i, 100)[..])
        );
    }
}

/// The one table file in `dir`.
fn only_table(fs: &dyn vfs::Fs, dir: &Path) -> PathBuf {
    let tables: Vec<_> = fs
        .list_dir(dir)
        .expect("list")
        .into_iter()
        .filter(|n| n.to_string_lossy().ends_with(".sst"))
        .collect();
    assert_eq!(tables.len(), 1, "{tables:?}");
    dir.join(&tables[0])
}

#[test]
fn verify_reports_each_bad_block_with_its_offset_and_reads_the_rest() {
    const N: u32 = 400;
    let mem = vfs::MemFs::new();
    let fs: Arc<dyn vfs::Fs> = Arc::new(mem.clone());
    let opts = Options {
        compression: false,
        block_size_bytes: 256,
        ..Options::default()
    };
    let db = Db::open_with_fs(Arc::clone(&fs), "db", opts.clone()).expect("open");
    for i in 0..N {
        db.put(key(i), value(0, i, 20)).expect("put");
    }
    db.flush().expect("flush");
    let clean = db.verify().expect("verify");
    assert!(clean.is_clean(), "{:?}", clean.problems);
    assert_eq!(clean.entries_checked, u64::from(N));
    db.close().expect("close");

    let table = only_table(&*fs, Path::new("db"));
    // The first data block starts after the 12-byte header; a byte 2000
    // bytes in lies in a later one (blocks are about 256 bytes).
    const FIRST_BLOCK_OFFSET: u64 = 12;
    mem.flip_bit(&table, FIRST_BLOCK_OFFSET + 3, 0)
        .expect("flip");
    mem.flip_bit(&table, 2000, 0).expect("flip");

    let db = Db::open_with_fs(Arc::clone(&fs), "db", opts).expect("reopen");
    let report = db.verify().expect("verify");
    let bad: Vec<(u64, &'static str, u64, u64)> = report
        .problems
        .iter()
        .map(|p| match p {
            Problem::Table {
                file,
                offset,
                what,
                expected,
                found,
                ..
            } => {
                assert_eq!(file, &table);
                (*offset, *what, *expected, *found)
            }
            other => panic!("unexpected problem {other:?}"),
        })
        .collect();
    assert_eq!(bad.len(), 2, "{bad:?}");
    assert_eq!(bad[0].0, FIRST_BLOCK_OFFSET);
    assert!(bad[1].0 > FIRST_BLOCK_OFFSET && bad[1].0 <= 2000, "{bad:?}");
    for (_, what, expected, found) in &bad {
        assert_eq!(*what, "block checksum");
        assert_ne!(expected, found);
    }
    // Both bad blocks cost their own entries only.
    assert_eq!(report.tables.len(), 1);
    let t = &report.tables[0];
    assert_eq!(t.problems, 2);
    assert!(
        t.entries_checked > 0 && t.entries_checked < u64::from(N),
        "{t:?}"
    );
    assert_eq!(report.entries_checked, t.entries_checked);

    // A read of a key in the first block names the same file and offset.
    match db.get(&key(0)) {
        Err(larder_lsm::Error::Corruption {
            file,
            offset,
            expected,
            found,
            ..
        }) => {
            assert_eq!(file, table);
            assert_eq!(offset, FIRST_BLOCK_OFFSET);
            assert_ne!(expected, found);
        }
        other => panic!("expected corruption, got {other:?}"),
    }
}
