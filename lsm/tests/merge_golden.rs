//! Golden files of the merge operator's format (`FORMAT.md`, "Merge
//! operands", manifest tag 13): a fixed workload with `AppendOperator`
//! must write exactly the bytes in `tests/data/golden_merge/` (a table
//! holding a merged value and a partially merged operand, a log holding
//! two operands, a manifest naming the operator), and a store made of
//! those files must read back. A store written before merge operators
//! (`tests/data/golden/`) opens with an operator and takes merges.
//!
//! After a deliberate format change, regenerate with
//! `LSM_BLESS=1 cargo test -p larder-lsm --test merge_golden`.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::golden::{assert_golden, golden_disk, store_files};
use larder_lsm::{AppendOperator, Db, Error, Options};
use vfs::MemFs;

fn data_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn opts() -> Options {
    Options {
        compression: false,
        blob_threshold_bytes: None,
        merge_operator: Some(Arc::new(AppendOperator::new(","))),
        ..Options::default()
    }
}

/// The flush merges `apple`'s operand into its put (one value of kind 1)
/// and `fig`'s two operands into one (kind 3, no base in reach); two more
/// operands stay in the log.
fn workload(fs: &MemFs) {
    let db = Db::open_with_fs(Arc::new(fs.clone()), "/db", opts()).expect("open");
    db.put("apple", "red").expect("put");
    db.merge("apple", "ripe").expect("merge");
    db.merge("fig", "a").expect("merge");
    db.merge("fig", "b").expect("merge");
    db.flush().expect("flush");
    db.merge("fig", "c").expect("merge");
    db.merge("grape", "x").expect("merge");
    db.close().expect("close");
}

#[test]
fn merge_format_matches_golden_files_byte_for_byte() {
    let fs = MemFs::new();
    workload(&fs);
    assert_golden(&store_files(&fs), &data_dir("golden_merge"));
}

/// A copy of the golden directory `name` on a fresh in-memory disk.
fn load(name: &str) -> Arc<MemFs> {
    Arc::new(golden_disk(&data_dir(name)))
}

fn scan(db: &Db) -> Vec<(Vec<u8>, Vec<u8>)> {
    db.iter()
        .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).expect("scan"))
        .collect()
}

#[test]
fn merge_golden_files_open_and_read_back() {
    let want = vec![
        (b"apple".to_vec(), b"red,ripe".to_vec()),
        (b"fig".to_vec(), b"a,b,c".to_vec()),
        (b"grape".to_vec(), b"x".to_vec()),
    ];
    let fs = load("golden_merge");
    let db = Db::open_read_only_with_fs(fs.clone(), "/db", opts()).expect("open read-only");
    assert_eq!(scan(&db), want);
    let mut rev = want.clone();
    rev.reverse();
    let back: Vec<_> = db
        .iter()
        .rev()
        .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).expect("scan"))
        .collect();
    assert_eq!(back, rev);
    drop(db);
    // The manifest names the operator: another name is refused.
    let other = Options {
        merge_operator: Some(Arc::new(larder_lsm::U64AddOperator)),
        ..opts()
    };
    assert!(matches!(
        Db::open_with_fs(fs.clone(), "/db", other),
        Err(Error::MergeOperatorMismatch { .. })
    ));
    let db = Db::open_with_fs(fs, "/db", opts()).expect("open golden DB");
    assert_eq!(scan(&db), want);
    assert_eq!(db.get(b"fig").expect("get").as_deref(), Some(&b"a,b,c"[..]));
}

/// A store written before merge operators opens with one, reads as it
/// did, and takes merges.
#[test]
fn a_store_from_before_merge_operators_opens_with_one() {
    let fs = load("golden");
    let db = Db::open_with_fs(fs, "/db", opts()).expect("open");
    assert_eq!(
        scan(&db),
        vec![
            (b"cherry".to_vec(), b"dark red".to_vec()),
            (b"date".to_vec(), b"brown".to_vec()),
        ]
    );
    db.merge("date", "dry").expect("merge");
    db.flush().expect("flush");
    assert_eq!(
        db.get(b"date").expect("get").as_deref(),
        Some(&b"brown,dry"[..])
    );
}
