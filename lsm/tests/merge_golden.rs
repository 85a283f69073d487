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

use std::path::{Path, PathBuf};
use std::sync::Arc;

use larder_lsm::{AppendOperator, Db, Error, Options};
use vfs::{Fs, MemFs, OpenMode};

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

/// Every file under `/db` but the lock, sorted by name.
fn files(fs: &MemFs) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for n in fs.list_dir(Path::new("/db")).expect("list") {
        let n = n.to_string_lossy().into_owned();
        let path = Path::new("/db").join(&n);
        if n == "LOCK" || fs.list_dir(&path).is_ok() {
            continue;
        }
        let data = fs
            .open(&path, OpenMode::Read)
            .and_then(|f| f.map())
            .expect("read");
        out.push((n, data.to_vec()));
    }
    out.sort();
    out
}

fn golden_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("golden dir")
        .map(|e| e.expect("entry"))
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn merge_format_matches_golden_files_byte_for_byte() {
    let fs = MemFs::new();
    workload(&fs);
    let got = files(&fs);
    let dir = data_dir("golden_merge");
    if std::env::var_os("LSM_BLESS").is_some() {
        std::fs::create_dir_all(&dir).expect("mkdir");
        for (name, data) in &got {
            std::fs::write(dir.join(name), data).expect("write golden");
        }
    }
    let names: Vec<String> = got.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(names, golden_names(&dir), "file set changed");
    for (name, data) in &got {
        let golden = std::fs::read(dir.join(name)).expect("read golden");
        assert!(
            *data == golden,
            "{name} differs from tests/data/golden_merge/{name}: the on-disk format changed"
        );
    }
}

/// A copy of the golden directory `name` on a fresh in-memory disk.
fn load(name: &str) -> Arc<MemFs> {
    let dir = data_dir(name);
    let fs = MemFs::new();
    fs.create_dir_all(Path::new("/db")).expect("mkdir");
    for n in golden_names(&dir) {
        let f = fs
            .open(&Path::new("/db").join(&n), OpenMode::CreateNew)
            .expect("create");
        f.append(&std::fs::read(dir.join(&n)).expect("read"))
            .expect("write");
    }
    Arc::new(fs)
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
