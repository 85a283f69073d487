//! The write path under background pressure: loads in key order move
//! their L0 tables down without rewriting them, and writers that wait for
//! background work (or are paced by it) all end up readable.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use larder_lsm::{Db, Durability, Options};

use common::GateFs;

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

#[test]
fn writers_stopped_by_a_held_flush_finish_when_it_does_and_survive_a_crash() {
    const BUFFER_BYTES: usize = 4096;
    let (gate, entered) = GateFs::new();
    let fs: Arc<dyn vfs::Fs> = Arc::clone(&gate) as Arc<dyn vfs::Fs>;
    let opts = Options {
        durability: Durability::Immediate,
        write_buffer_size_bytes: BUFFER_BYTES,
        ..Options::default()
    };
    let db = Db::open_with_fs(fs, "db", opts.clone()).expect("open");
    let big = |i: u32| Bytes::from(format!("{i:04}").repeat(BUFFER_BYTES / 4));
    // Fills the memtable; the next put switches it out, and its flush
    // stops at the gate; that put fills the new memtable.
    db.put(key(0), big(0)).expect("put 0");
    db.put(key(1), big(1)).expect("put 1");
    entered.recv().expect("the flush reached the gate");
    // Every later put needs a switch, which waits for the held flush
    // (or paced, should L0 be deep): the writers
    // can finish only once the gate opens.
    let writers: Vec<_> = (0..2u32)
        .map(|w| {
            let db = db.clone();
            std::thread::spawn(move || {
                for i in 0..4u32 {
                    let n = 2 + w * 4 + i;
                    db.put(key(n), big(n))?;
                }
                Ok::<(), larder_lsm::Error>(())
            })
        })
        .collect();
    gate.open_gate();
    for w in writers {
        w.join()
            .expect("writer thread")
            .expect("puts after the flush");
    }
    db.wait_idle().expect("wait_idle");
    for n in 0..10 {
        assert_eq!(db.get(&key(n)).expect("get"), Some(big(n)), "key {n}");
    }
    // Power loss now: every put was acknowledged after its sync, whichever
    // memtable, log or table it is in.
    let image = gate.inner.crash(vfs::CrashOptions::default());
    drop(db);
    let fs: Arc<dyn vfs::Fs> = Arc::new(image);
    let db = Db::open_with_fs(fs, "db", opts).expect("reopen after the crash");
    for n in 0..10 {
        assert_eq!(db.get(&key(n)).expect("get"), Some(big(n)), "key {n}");
    }
    db.close().expect("close");
}

#[test]
fn several_memtables_waiting_for_a_flush_are_read_newest_first_and_recovered() {
    const BUFFER_BYTES: usize = 4096;
    let (gate, entered) = GateFs::new();
    let fs: Arc<dyn vfs::Fs> = Arc::clone(&gate) as Arc<dyn vfs::Fs>;
    let opts = Options {
        durability: Durability::Immediate,
        write_buffer_size_bytes: BUFFER_BYTES,
        max_write_buffer_number: 5,
        ..Options::default()
    };
    let db = Db::open_with_fs(fs, "db", opts.clone()).expect("open");
    let big = |tag: &str| Bytes::from(tag.repeat(BUFFER_BYTES / tag.len()));
    // Each put fills a memtable; each next one switches it out. The first
    // flush stops at the gate, so after five puts four memtables wait
    // (the most five buffers allow; a sixth put would stop) and the fifth
    // is the live one, each with its own log.
    db.put(key(0), big("a0")).expect("put");
    db.put(key(1), big("b1")).expect("put");
    entered.recv().expect("the flush reached the gate");
    db.put(key(0), big("c0")).expect("put");
    db.put(key(2), big("d2")).expect("put");
    db.put(key(1), big("e1")).expect("put");
    let expect = [(0, "c0"), (1, "e1"), (2, "d2")];
    let check = |db: &Db| {
        for (k, tag) in expect {
            assert_eq!(db.get(&key(k)).expect("get"), Some(big(tag)), "key {k}");
        }
        let scanned: Vec<(Bytes, Bytes)> = db
            .range::<&[u8], _>(..)
            .collect::<Result<_, _>>()
            .expect("scan");
        let want: Vec<(Bytes, Bytes)> = expect.iter().map(|&(k, t)| (key(k), big(t))).collect();
        assert_eq!(scanned, want);
    };
    check(&db);
    assert_eq!(db.stats().memtable_entries, 5);
    // Power loss with the flush still held: every log is replayed.
    let image = gate.inner.crash(vfs::CrashOptions::default());
    gate.open_gate();
    db.wait_idle().expect("wait_idle");
    check(&db);
    db.close().expect("close");
    let recovered: Arc<dyn vfs::Fs> = Arc::new(image);
    let db = Db::open_with_fs(recovered, "db", opts.clone()).expect("reopen after the crash");
    check(&db);
    db.close().expect("close");
    // And after the flushes, a clean reopen reads the tables.
    let fs: Arc<dyn vfs::Fs> = Arc::clone(&gate) as Arc<dyn vfs::Fs>;
    let db = Db::open_with_fs(fs, "db", opts).expect("reopen");
    check(&db);
    db.close().expect("close");
}
