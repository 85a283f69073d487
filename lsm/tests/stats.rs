//! `Db::stats`: the persistent facts (entries per level, the last sequence
//! number, the approximate key count) from metadata alone.

use bytes::Bytes;
use larder_lsm::{Db, Options};

#[test]
fn approximate_keys_and_last_sequence_come_from_tables_and_memtables() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), Options::default()).expect("open");
    for i in 0..100u32 {
        db.put(Bytes::from(format!("k{i:03}")), Bytes::from_static(b"v"))
            .expect("put");
    }
    let s = db.stats();
    assert_eq!(s.memtable_entries, 100);
    assert_eq!(s.approximate_keys(), 100);
    assert_eq!(s.last_sequence, 100);

    db.flush().expect("flush");
    for i in 0..10u32 {
        db.delete(Bytes::from(format!("k{i:03}"))).expect("delete");
    }
    let s = db.stats();
    let table_entries: u64 = s.levels.iter().map(|l| l.entries).sum();
    assert_eq!(table_entries, 100);
    assert_eq!(s.memtable_tombstones, 10);
    assert_eq!(s.approximate_keys(), 90);
    assert_eq!(s.last_sequence, 110);
    db.close().expect("close");

    // Persistent: a reopen (the deletes replayed from the log) sees the same.
    let db = Db::open(dir.path(), Options::default()).expect("reopen");
    let s = db.stats();
    assert_eq!(s.approximate_keys(), 90);
    assert_eq!(s.last_sequence, 110);
    db.close().expect("close");
}
