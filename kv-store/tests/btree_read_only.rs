//! `store::open_engine_read_only` of a btree store, for the reading commands: reads, scans
//! and verify of a `btree` store change no byte and no name; writes fail.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;

use kv_store::store::{open_engine, open_engine_read_only};
use kv_store::{EngineKind, Flow, ScanSpec};
use vfs::{Fs, MemFs, OpenMode};

fn snapshot(fs: &MemFs, dir: &Path) -> BTreeMap<OsString, Vec<u8>> {
    fs.list_dir(dir)
        .unwrap()
        .into_iter()
        .map(|name| {
            let f = fs.open(&dir.join(&name), OpenMode::Read).unwrap();
            let mut bytes = vec![0u8; f.len().unwrap() as usize];
            f.read_exact_at(&mut bytes, 0).unwrap();
            (name, bytes)
        })
        .collect()
}

#[test]
fn a_read_only_btree_engine_reads_and_verifies_without_writing() {
    let fs = Arc::new(MemFs::new());
    let dir = Path::new("/store");
    let engine = open_engine(fs.clone(), dir, EngineKind::Btree).unwrap();
    for i in 0..500u32 {
        engine.put(format!("k{i:04}").as_bytes(), b"v").unwrap();
    }
    engine.close().unwrap();
    let before = snapshot(&fs, dir);

    let a = open_engine_read_only(fs.clone(), dir, EngineKind::Btree).unwrap();
    let b = open_engine_read_only(fs.clone(), dir, EngineKind::Btree).unwrap();
    assert_eq!(a.get(b"k0042").unwrap().as_deref(), Some(&b"v"[..]));
    let mut n = 0;
    b.scan(&ScanSpec::default(), &mut |_, _| {
        n += 1;
        Ok(Flow::Continue)
    })
    .unwrap();
    assert_eq!(n, 500);
    assert_eq!(a.verify().unwrap().pairs_checked, 500);
    a.stats().unwrap();
    assert!(a.put(b"x", b"y").is_err());
    assert!(a.compact().is_err());
    a.close().unwrap();
    b.close().unwrap();
    assert_eq!(snapshot(&fs, dir), before);
}
