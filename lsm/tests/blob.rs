//! Key-value separation over an erasure-coded blob store: values survive
//! the loss of up to `m` blob directories or rot in up to `m` shards; with
//! `m + 1` lost, the errors name the keys.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use larder_lsm::{BlobCode, Db, Error, Options};
use vfs::{Fs, MemFs, OpenMode};

const K: usize = 2;
const M: usize = 1;

fn dirs() -> Vec<PathBuf> {
    (0..K + M)
        .map(|i| PathBuf::from(format!("/blob{i}")))
        .collect()
}

fn opts() -> Options {
    Options {
        blob_threshold_bytes: Some(1000),
        blob_dirs: dirs(),
        blob_code: BlobCode {
            data_shards: K,
            parity_shards: M,
        },
        ..common::tiny_options()
    }
}

fn value(i: u32) -> Vec<u8> {
    // Alternately large (separated) and small (inline).
    let len = if i.is_multiple_of(2) {
        1000 + (i as usize * 37) % 9000
    } else {
        20
    };
    (0..len).map(|j| (i as usize * 31 + j) as u8).collect()
}

fn key(i: u32) -> Vec<u8> {
    format!("key{i:05}").into_bytes()
}

const N: u32 = 200;

/// Writes `N` keys, half with large values, flushes and compacts.
fn fill(fs: &MemFs) {
    let db = Db::open_with_fs(Arc::new(fs.clone()), "/db", opts()).expect("open");
    for i in 0..N {
        db.put(key(i), value(i)).expect("put");
    }
    db.flush().expect("flush");
    db.compact_range::<&[u8], _>(..).expect("compact");
    db.close().expect("close");
}

fn shard_files(fs: &MemFs, dir: &Path) -> Vec<PathBuf> {
    fs.list_dir(dir)
        .expect("list")
        .into_iter()
        .map(|n| dir.join(n))
        .filter(|p| p.to_string_lossy().ends_with(".shard"))
        .collect()
}

fn lose_dir(fs: &MemFs, dir: &Path) {
    for p in shard_files(fs, dir) {
        fs.remove_file(&p).expect("remove");
    }
}

fn read_all(db: &Db) {
    for i in 0..N {
        assert_eq!(
            db.get(&key(i)).expect("get").as_deref(),
            Some(value(i).as_slice()),
            "key {i}"
        );
    }
    let all = common::collect(db.range::<&[u8], _>(..));
    assert_eq!(all.len(), N as usize);
    for (i, (k, v)) in all.into_iter().enumerate() {
        assert_eq!(k, key(i as u32));
        assert_eq!(v, value(i as u32));
    }
}

#[test]
fn large_values_go_to_blobs_and_read_back() {
    let fs = MemFs::new();
    fill(&fs);
    assert!(!shard_files(&fs, Path::new("/blob0")).is_empty());
    let db = Db::open_with_fs(Arc::new(fs), "/db", opts()).expect("open");
    read_all(&db);
}

#[test]
fn losing_m_blob_dirs_loses_no_value() {
    for lost in 0..K + M {
        let fs = MemFs::new();
        fill(&fs);
        lose_dir(&fs, &dirs()[lost]);
        let db = Db::open_with_fs(Arc::new(fs), "/db", opts()).expect("open");
        read_all(&db);
    }
}

#[test]
fn flipped_bytes_in_m_shards_lose_no_value() {
    for rotten in 0..K + M {
        let fs = MemFs::new();
        fill(&fs);
        for p in shard_files(&fs, &dirs()[rotten]) {
            let f = fs.open(&p, OpenMode::ReadWrite).expect("open shard");
            let len = f.len().expect("len");
            for off in (100..len).step_by(997) {
                f.write_all_at(&[0xa5], off).expect("flip");
            }
        }
        let db = Db::open_with_fs(Arc::new(fs), "/db", opts()).expect("open");
        read_all(&db);
    }
}

#[test]
fn losing_m_plus_one_blob_dirs_names_the_keys() {
    let fs = MemFs::new();
    fill(&fs);
    for d in &dirs()[..M + 1] {
        lose_dir(&fs, d);
    }
    let db = Db::open_with_fs(Arc::new(fs), "/db", opts()).expect("open");
    for i in 0..N {
        let r = db.get(&key(i));
        if i.is_multiple_of(2) {
            assert!(
                matches!(&r, Err(Error::BlobUnavailable { key: k, .. }) if *k == key(i)),
                "key {i}: {r:?}"
            );
        } else {
            assert_eq!(r.expect("inline").as_deref(), Some(value(i).as_slice()));
        }
    }
    let first_err = db.range::<&[u8], _>(..).find_map(Result::err);
    assert!(
        matches!(&first_err, Some(Error::BlobUnavailable { key: k, .. }) if *k == key(0)),
        "{first_err:?}"
    );
}

#[test]
fn separation_off_reads_existing_blob_values() {
    let fs = MemFs::new();
    fill(&fs);
    let off = Options {
        blob_threshold_bytes: None,
        ..opts()
    };
    let db = Db::open_with_fs(Arc::new(fs), "/db", off).expect("open");
    read_all(&db);
}

#[test]
fn verify_is_clean_on_a_healthy_db() {
    let fs = MemFs::new();
    fill(&fs);
    let db = Db::open_with_fs(Arc::new(fs), "/db", opts()).expect("open");
    let r = db.verify().expect("verify");
    assert!(r.is_clean(), "{r:?}");
    assert_eq!(r.blob_refs_checked, u64::from(N / 2));
    assert!(r.tables_checked > 0 && r.entries_checked >= u64::from(N));
}

#[test]
fn verify_reports_degraded_blobs_and_repair_rebuilds_them() {
    let fs = MemFs::new();
    fill(&fs);
    lose_dir(&fs, &dirs()[1]);
    let db = Db::open_with_fs(Arc::new(fs.clone()), "/db", opts()).expect("open");
    let r = db.verify().expect("verify");
    assert!(!r.is_clean() && r.lost_nothing(), "{r:?}");
    assert!(
        r.problems.iter().all(
            |p| matches!(p, larder_lsm::Problem::BlobDegraded { bad_shards, .. } if *bad_shards == [1])
        ),
        "{r:?}"
    );
    let repaired = db.repair_blobs().expect("repair");
    assert!(repaired.shards_rebuilt > 0, "{repaired:?}");
    assert!(repaired.after.is_clean(), "{repaired:?}");
    assert!(!shard_files(&fs, &dirs()[1]).is_empty());
    read_all(&db);
}

#[test]
fn verify_names_every_key_of_a_lost_blob() {
    let fs = MemFs::new();
    fill(&fs);
    for d in &dirs()[..M + 1] {
        lose_dir(&fs, d);
    }
    let db = Db::open_with_fs(Arc::new(fs), "/db", opts()).expect("open");
    let r = db.verify().expect("verify");
    let mut named: Vec<Vec<u8>> = r
        .problems
        .iter()
        .flat_map(|p| match p {
            larder_lsm::Problem::BlobLost { keys, .. } => keys.clone(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    named.sort();
    let want: Vec<Vec<u8>> = (0..N).filter(|i| i % 2 == 0).map(key).collect();
    assert_eq!(named, want);
    // Repair cannot bring them back, and says so with the same keys.
    let repaired = db.repair_blobs().expect("repair");
    assert_eq!(repaired.after.problems, r.problems);
}

#[test]
fn verify_names_the_keys_in_a_rotten_stripe_only() {
    let fs = MemFs::new();
    fill(&fs);
    // Rot one byte in the same place of M + 1 shards: one stripe of one
    // blob is beyond repair, the rest reads.
    let blob0 = shard_files(&fs, &dirs()[0]);
    let victim = blob0.iter().max_by_key(|p| {
        fs.open(p, OpenMode::Read)
            .and_then(|f| f.len())
            .unwrap_or(0)
    });
    let name = victim
        .expect("a shard")
        .file_name()
        .expect("name")
        .to_owned();
    for d in &dirs()[..M + 1] {
        let f = fs
            .open(&d.join(&name), OpenMode::ReadWrite)
            .expect("open shard");
        f.write_all_at(&[0x5a], 200).expect("rot");
    }
    let db = Db::open_with_fs(Arc::new(fs), "/db", opts()).expect("open");
    let r = db.verify().expect("verify");
    let lost: Vec<&Vec<Vec<u8>>> = r
        .problems
        .iter()
        .filter_map(|p| match p {
            larder_lsm::Problem::BlobLost { keys, .. } => Some(keys),
            _ => None,
        })
        .collect();
    assert_eq!(lost.len(), 1, "{r:?}");
    let keys = lost[0];
    assert!(!keys.is_empty() && keys.len() < (N / 2) as usize, "{r:?}");
    for k in keys {
        assert!(matches!(db.get(k), Err(Error::BlobUnavailable { .. })));
    }
    // Every key not named reads back.
    for i in 0..N {
        if !keys.contains(&key(i)) {
            assert_eq!(
                db.get(&key(i)).expect("get").as_deref(),
                Some(value(i).as_slice())
            );
        }
    }
}
