//! One lifecycle for every clone: after `close` on any clone, every call on
//! every clone returns `Error::Closed` at once, and a writer stalled on a
//! full memtable (or a caller of `wait_idle`) wakes with it instead of
//! waiting forever.

mod common;

use std::sync::Arc;

use larder_lsm::{Db, Error, Options, WriteBatch};

use common::GateFs;

fn is_closed<T: std::fmt::Debug>(r: larder_lsm::Result<T>) -> bool {
    matches!(r, Err(Error::Closed { reason: None }))
}

#[test]
fn every_call_on_another_clone_after_close_returns_closed() {
    let fs: Arc<dyn vfs::Fs> = Arc::new(vfs::MemFs::new());
    let db = Db::open_with_fs(Arc::clone(&fs), "db", Options::default()).expect("open");
    db.put("a", "1").expect("put");
    let other = db.clone();
    let snap = other.snapshot();
    db.close().expect("close");

    assert!(is_closed(other.get(b"a")));
    assert!(is_closed(other.put("b", "2")));
    assert!(is_closed(other.delete("a")));
    let mut batch = WriteBatch::new();
    batch.put("c", "3");
    assert!(is_closed(other.write(batch)));
    let mut scan = other.range::<&[u8], _>(..);
    assert!(is_closed(scan.next().expect("an error, not an end")));
    assert!(scan.next().is_none());
    let mut back = other.prefix(b"a").rev();
    assert!(is_closed(back.next().expect("an error, not an end")));
    assert!(is_closed(snap.get(b"a")));
    assert!(is_closed(other.snapshot().get(b"a")));
    assert!(is_closed(other.wait_idle()));
    assert!(is_closed(other.flush()));
    assert!(is_closed(other.sync()));
    assert!(is_closed(other.compact_range::<&[u8], _>(..)));
    assert!(is_closed(other.verify()));
    assert!(is_closed(other.repair_blobs()));
    assert!(is_closed(other.clone().close()));
    drop(snap);
    drop(other);
    // The directory is released once the last clone is gone, and the write
    // acknowledged before the close is there.
    let db = Db::open_with_fs(fs, "db", Options::default()).expect("reopen");
    assert_eq!(db.get(b"a").expect("get").as_deref(), Some(&b"1"[..]));
}

#[test]
fn a_writer_stalled_on_a_clone_wakes_with_closed_when_another_closes() {
    const BUFFER_BYTES: usize = 4096;
    let (gate, entered) = GateFs::new();
    let fs: Arc<dyn vfs::Fs> = Arc::clone(&gate) as Arc<dyn vfs::Fs>;
    let opts = Options {
        write_buffer_size_bytes: BUFFER_BYTES,
        // One memtable waiting for its flush at most: the third put stalls.
        max_write_buffer_number: 2,
        ..Options::default()
    };
    let db = Db::open_with_fs(fs, "db", opts).expect("open");
    let big = vec![b'v'; BUFFER_BYTES];
    // Fills the memtable; the next put switches it out, and its flush
    // stops at the gate; that put fills the new memtable.
    db.put("k1", big.clone()).expect("put 1");
    db.put("k2", big.clone()).expect("put 2");
    entered.recv().expect("the flush reached the gate");
    // Any put now waits for the flush, which cannot finish.
    let writer = {
        let db = db.clone();
        let big = big.clone();
        std::thread::spawn(move || db.put("k3", big))
    };
    // So does a wait for idleness: the flush thread is busy at the gate.
    let idler = {
        let db = db.clone();
        std::thread::spawn(move || db.wait_idle())
    };
    let closer = {
        let db = db.clone();
        std::thread::spawn(move || db.close())
    };
    let stalled = writer.join().expect("writer thread");
    assert!(
        matches!(stalled, Err(Error::Closed { reason: None })),
        "{stalled:?}"
    );
    let idle = idler.join().expect("idler thread");
    assert!(
        matches!(idle, Err(Error::Closed { reason: None })),
        "{idle:?}"
    );
    assert!(is_closed(db.get(b"k1")));
    gate.open_gate();
    closer.join().expect("closer thread").expect("close");
    assert!(is_closed(db.put("k4", "v")));
}

#[test]
fn after_a_failed_log_sync_writes_fail_with_the_reason_and_reads_go_on() {
    let faults = vfs::FaultFs::new(Arc::new(vfs::MemFs::new()));
    let fs: Arc<dyn vfs::Fs> = Arc::new(faults.clone());
    let opts = Options {
        durability: larder_lsm::Durability::Immediate,
        ..Options::default()
    };
    let db = Db::open_with_fs(fs, "db", opts).expect("open");
    db.put("a", "1").expect("put");
    faults.fail_when(
        |op, path| op == vfs::Op::SyncData && path.extension().is_some_and(|e| e == "log"),
        vfs::Fault::Eio,
    );
    assert!(db.put("b", "2").is_err());
    faults.clear_faults();
    let other = db.clone();
    assert!(matches!(
        other.put("c", "3"),
        Err(Error::Closed { reason: Some(_) })
    ));
    assert!(matches!(
        other.flush(),
        Err(Error::Closed { reason: Some(_) })
    ));
    assert_eq!(other.get(b"a").expect("get").as_deref(), Some(&b"1"[..]));
    assert!(other.range::<&[u8], _>(..).all(|r| r.is_ok()));
    assert!(other.verify().expect("verify").is_clean());
    assert!(matches!(db.close(), Err(Error::Closed { reason: Some(_) })));
    assert!(is_closed(other.get(b"a")));
}

/// `wait_idle` returns once no flush or compaction is due: the memtables
/// written are flushed and L0 is below its compaction trigger. A
/// read-only handle has no background work and is idle at once.
#[test]
fn wait_idle_returns_with_no_background_work_due() {
    let fs: Arc<dyn vfs::Fs> = Arc::new(vfs::MemFs::new());
    let opts = common::tiny_options();
    let db = Db::open_with_fs(Arc::clone(&fs), "db", opts.clone()).expect("open");
    for i in 0..2000u32 {
        db.put(format!("key{:05}", i % 700), format!("value{i}"))
            .expect("put");
    }
    db.wait_idle().expect("idle");
    let s = db.stats();
    assert!(s.flushes > 0 && s.compactions > 0, "{s:?}");
    assert!(s.levels[0].files < opts.l0_compaction_trigger, "{s:?}");
    db.close().expect("close");
    let ro = Db::open_read_only_with_fs(fs, "db", opts).expect("read-only open");
    ro.wait_idle().expect("a read-only handle is idle");
}
