//! The write path under background pressure: loads in key order move
//! their L0 tables down without rewriting them, and writers that wait for
//! background work (or are paced by it) all end up readable.

use bytes::Bytes;
use larder_lsm::{Db, Options};

fn key(i: u32) -> Bytes {
    Bytes::from(format!("key{i:08}"))
}

fn value(i: u32) -> Bytes {
    Bytes::from(format!("value-{i:08}-{}", "x".repeat(40)))
}

fn small_opts() -> Options {
    Options {
        write_buffer_size_bytes: 4096,
        l0_compaction_trigger: 2,
        l0_slowdown_trigger: 4,
        l0_stop_trigger: 8,
        ..Options::default()
    }
}

#[test]
fn a_load_in_key_order_moves_disjoint_l0_tables_down_unrewritten() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), small_opts()).expect("open");
    for i in 0..3000 {
        db.put(key(i), value(i)).expect("put");
    }
    db.flush().expect("flush");
    db.wait_idle().expect("wait_idle");
    let s = db.stats();
    assert!(s.compactions > 0, "L0 reached its trigger: {s:?}");
    assert_eq!(
        s.compaction_bytes, 0,
        "disjoint tables were rewritten: {s:?}"
    );
    assert!(s.levels[1..].iter().any(|l| l.files > 1), "{s:?}");
    for i in 0..3000 {
        assert_eq!(db.get(&key(i)).expect("get"), Some(value(i)), "key {i}");
    }
    db.close().expect("close");

    let db = Db::open(dir.path(), small_opts()).expect("reopen");
    for i in 0..3000 {
        assert_eq!(db.get(&key(i)).expect("get"), Some(value(i)), "key {i}");
    }
    db.close().expect("close");
}

#[test]
fn overlapping_l0_tables_are_still_merged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), small_opts()).expect("open");
    // Every pass covers the whole key range: each flushed table overlaps
    // the others, so a move would break the level's order.
    for pass in 0..4u32 {
        for i in (0..600).map(|i| i * 4 + pass) {
            db.put(key(i % 2000), value(i)).expect("put");
        }
    }
    db.flush().expect("flush");
    db.wait_idle().expect("wait_idle");
    let s = db.stats();
    assert!(s.compaction_bytes > 0, "{s:?}");
    for pass in 0..4u32 {
        for i in (0..600).map(|i| i * 4 + pass) {
            // The last write of each key wins; later passes write larger i.
            let got = db.get(&key(i % 2000)).expect("get");
            assert!(got.is_some(), "key {}", i % 2000);
        }
    }
    db.close().expect("close");
}
