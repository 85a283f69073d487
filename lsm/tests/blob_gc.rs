//! Blob garbage collection: overwritten and deleted large values give their
//! space back, and nothing a reader can still see is ever deleted.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use larder_lsm::{Db, Options, Stats};
use vfs::{Fs, MemFs};

fn opts(gc_ratio: f64) -> Options {
    Options {
        blob_threshold_bytes: Some(500),
        blob_gc_ratio: gc_ratio,
        ..common::tiny_options()
    }
}

/// No compaction until the test asks for one, so garbage piles up first.
fn manual(gc_ratio: f64) -> Options {
    Options {
        l0_compaction_trigger: 1000,
        l0_slowdown_trigger: 1000,
        l0_stop_trigger: 1000,
        ..opts(gc_ratio)
    }
}

fn key(i: u32) -> Vec<u8> {
    format!("key{i:04}").into_bytes()
}

/// A large value that says which key and which round wrote it.
fn value(i: u32, round: u32) -> Vec<u8> {
    let mut v = format!("{i}-{round}-").into_bytes();
    v.resize(600 + (i as usize * 13) % 400, b'a' + (round % 26) as u8);
    v
}

const N: u32 = 120;

fn check_all(db: &Db, round: &[u32]) {
    for i in 0..N {
        assert_eq!(
            db.get(&key(i)).expect("get").as_deref(),
            Some(value(i, round[i as usize]).as_slice()),
            "key {i}"
        );
    }
}

/// Waits until background work (blob collection included) is idle and
/// the obsolete files readers let go of are deleted, then checks that the
/// blob files on disk are the recorded ones and that `done` holds.
fn settle(db: &Db, fs: &MemFs, done: impl Fn(&Stats) -> bool) -> Stats {
    db.wait_idle().expect("background work idle");
    let s = db.stats();
    assert_eq!(common::blob_files_on_disk(fs), s.blob_files, "{s:?}");
    assert!(done(&s), "{s:?}");
    s
}

#[test]
fn overwritten_large_values_free_their_blob_files() {
    let fs = MemFs::new();
    let db = Db::open_with_fs(Arc::new(fs.clone()), "/db", manual(0.5)).expect("open");
    let mut round = vec![0u32; N as usize];
    for r in 0..4 {
        for i in 0..N {
            db.put(key(i), value(i, r)).expect("put");
            round[i as usize] = r;
        }
        db.flush().expect("flush");
    }
    // Before any compaction every version is still in some table, so
    // every blob byte counts as live (garbage is known only once
    // compaction drops the references, as in RocksDB's BlobDB).
    let before = db.stats();
    let all_rounds: u64 = (0..4)
        .flat_map(|r| (0..N).map(move |i| value(i, r).len() as u64))
        .sum();
    assert_eq!(before.blob_live_bytes, all_rounds, "{before:?}");
    assert_eq!(common::blob_files_on_disk(&fs), before.blob_files);
    // A full compaction drops every old version: their blobs hold only
    // garbage and go; what stays is all live.
    db.compact_range::<&[u8], _>(..).expect("compact");
    let after = settle(&db, &fs, |s| s.blob_garbage_bytes == 0);
    assert_eq!(after.blob_garbage_bytes, 0, "{after:?}");
    assert!(
        (after.blob_space_amplification - 1.0).abs() < 1e-9,
        "{after:?}"
    );
    assert!(
        after.blob_files < before.blob_files,
        "{before:?}\n{after:?}"
    );
    assert_eq!(common::blob_files_on_disk(&fs), after.blob_files);
    let live: u64 = (0..N).map(|i| value(i, 3).len() as u64).sum();
    assert_eq!(after.blob_live_bytes, live);
    check_all(&db, &round);
    db.close().expect("close");

    let db = Db::open_with_fs(Arc::new(fs.clone()), "/db", opts(0.5)).expect("reopen");
    check_all(&db, &round);
    assert_eq!(db.stats().blob_files, after.blob_files);
    assert_eq!(common::blob_files_on_disk(&fs), after.blob_files);
}

#[test]
fn blobs_past_the_gc_ratio_have_their_live_values_copied_out() {
    let fs = MemFs::new();
    let db = Db::open_with_fs(Arc::new(fs.clone()), "/db", opts(0.3)).expect("open");
    let mut round = vec![0u32; N as usize];
    for i in 0..N {
        db.put(key(i), value(i, 0)).expect("put");
    }
    db.compact_range::<&[u8], _>(..).expect("compact");
    // Overwrite two keys in three: the first blobs are now about 2/3
    // garbage but still hold live values, so only collection frees them.
    for i in (0..N).filter(|i| i % 3 != 0) {
        db.put(key(i), value(i, 1)).expect("put");
        round[i as usize] = 1;
    }
    db.compact_range::<&[u8], _>(..).expect("compact");
    let s = settle(&db, &fs, |s| s.blob_space_amplification < 1.0 / (1.0 - 0.3));
    assert!(s.blob_gc_bytes > 0, "{s:?}");
    assert!(
        s.blob_space_amplification < 1.0 / (1.0 - 0.3),
        "collection left too much garbage: {s:?}"
    );
    assert_eq!(common::blob_files_on_disk(&fs), s.blob_files);
    check_all(&db, &round);
    db.close().expect("close");
    let db = Db::open_with_fs(Arc::new(fs), "/db", opts(0.3)).expect("reopen");
    check_all(&db, &round);
}

#[test]
fn snapshots_and_iterators_keep_the_blobs_they_read() {
    let fs = MemFs::new();
    let db = Db::open_with_fs(Arc::new(fs.clone()), "/db", opts(0.2)).expect("open");
    for i in 0..N {
        db.put(key(i), value(i, 0)).expect("put");
    }
    db.flush().expect("flush");
    let snap = db.snapshot();
    let mut iter = db.range::<&[u8], _>(..);
    let first = iter.next().expect("first").expect("read");
    assert_eq!(&first.1[..], value(0, 0).as_slice());
    for i in 0..N {
        if i % 2 == 0 {
            db.delete(key(i)).expect("delete");
        } else {
            db.put(key(i), value(i, 1)).expect("put");
        }
    }
    db.compact_range::<&[u8], _>(..).expect("compact");
    db.compact_range::<&[u8], _>(..).expect("compact again");
    // The snapshot still sees round 0, through relocated copies or the
    // original blobs; the iterator still reads its version's blobs.
    for i in 0..N {
        assert_eq!(
            snap.get(&key(i)).expect("snapshot get").as_deref(),
            Some(value(i, 0).as_slice()),
            "key {i}"
        );
    }
    let rest = common::collect(iter);
    assert_eq!(rest.len(), N as usize - 1);
    for (n, (k, v)) in rest.iter().enumerate() {
        let i = n as u32 + 1;
        assert_eq!((k, v), (&key(i), &value(i, 0)));
    }
    drop(snap);
    // Nothing holds round 0 any more: compaction drops it and its blobs go.
    db.compact_range::<&[u8], _>(..).expect("compact");
    let live: u64 = (0..N)
        .filter(|i| i % 2 == 1)
        .map(|i| value(i, 1).len() as u64)
        .sum();
    let s = settle(&db, &fs, |s| s.blob_garbage_bytes == 0);
    assert_eq!(
        (s.blob_live_bytes, s.blob_garbage_bytes),
        (live, 0),
        "{s:?}"
    );
    assert_eq!(common::blob_files_on_disk(&fs), s.blob_files);
    for i in 0..N {
        let want = (i % 2 == 1).then(|| value(i, 1));
        assert_eq!(db.get(&key(i)).expect("get"), want.map(Into::into));
    }
}

#[test]
fn a_blob_no_manifest_records_is_deleted_at_open() {
    let fs = MemFs::new();
    let db = Db::open_with_fs(Arc::new(fs.clone()), "/db", opts(0.5)).expect("open");
    for i in 0..N {
        db.put(key(i), value(i, 0)).expect("put");
    }
    db.flush().expect("flush");
    let recorded = db.stats().blob_files;
    db.close().expect("close");
    // What a crash between a blob's write and the manifest edit leaves.
    {
        let store = erasure::BlobStore::open_with_fs(
            Arc::new(fs.clone()) as Arc<dyn Fs>,
            &["/db/blobs"],
            erasure::Options {
                data_shards: 1,
                parity_shards: 0,
                ..erasure::Options::default()
            },
        )
        .expect("store");
        store.put(&[7u8; 5000]).expect("orphan");
    }
    assert_eq!(common::blob_files_on_disk(&fs), recorded + 1);
    let db = Db::open_with_fs(Arc::new(fs.clone()), "/db", opts(0.5)).expect("reopen");
    assert_eq!(common::blob_files_on_disk(&fs), recorded);
    check_all(&db, &[0; N as usize]);
}

#[test]
fn blob_gc_ratio_outside_zero_to_one_is_refused() {
    for bad in [0.0, -0.5, 1.5, f64::NAN] {
        let r = Db::open_with_fs(Arc::new(MemFs::new()), "/db", opts(bad));
        assert!(
            matches!(r, Err(larder_lsm::Error::InvalidOption(_))),
            "{bad}: {r:?}"
        );
    }
}

#[test]
fn an_open_iterator_keeps_the_blob_files_of_its_version() {
    let fs = MemFs::new();
    let db = Db::open_with_fs(Arc::new(fs.clone()), "/db", manual(0.2)).expect("open");
    for i in 0..N {
        db.put(key(i), value(i, 0)).expect("put");
    }
    db.compact_range::<&[u8], _>(..).expect("compact");
    // No snapshot: only the iterator's version still points at round 0.
    let mut iter = db.range::<&[u8], _>(..);
    assert_eq!(
        iter.next().expect("first").expect("read").1.as_ref(),
        value(0, 0).as_slice()
    );
    for i in 0..N {
        db.put(key(i), value(i, 1)).expect("put");
    }
    db.compact_range::<&[u8], _>(..).expect("compact");
    let held = db.stats();
    // Round 0's values are garbage to the current tables, but their blob
    // files stay while the iterator's tables do.
    assert!(held.blob_garbage_bytes > 0, "{held:?}");
    let rest = common::collect(iter);
    assert_eq!(rest.len(), N as usize - 1);
    for (n, (k, v)) in rest.iter().enumerate() {
        let i = n as u32 + 1;
        assert_eq!((k, v), (&key(i), &value(i, 0)), "key {i}");
    }
    // The iterator is gone: what it held goes at the next compaction, or
    // within about 100 ms when the idle compaction thread looks.
    db.compact_range::<&[u8], _>(..).expect("compact");
    let freed = settle(&db, &fs, |s| s.blob_garbage_bytes == 0);
    assert_eq!(freed.blob_garbage_bytes, 0, "{freed:?}");
    assert!(freed.blob_files < held.blob_files, "{held:?}\n{freed:?}");
    assert_eq!(common::blob_files_on_disk(&fs), freed.blob_files);
}

/// A file system that stops one chosen thread when it opens a blob shard
/// to read it, until the test lets it go: a get is held between finding a
/// blob reference in a table and reading the blob.
#[derive(Debug)]
struct ShardReadGate {
    inner: MemFs,
    state: parking_lot::Mutex<GateState>,
    cv: parking_lot::Condvar,
}

#[derive(Debug, Default)]
struct GateState {
    held: Option<std::thread::ThreadId>,
    entered: bool,
    open: bool,
}

impl ShardReadGate {
    fn new(inner: MemFs) -> ShardReadGate {
        ShardReadGate {
            inner,
            state: parking_lot::Mutex::new(GateState::default()),
            cv: parking_lot::Condvar::new(),
        }
    }

    /// The calling thread's next shard read waits at the gate.
    fn hold_this_thread(&self) {
        self.state.lock().held = Some(std::thread::current().id());
    }

    /// Waits until the held thread is at the gate.
    fn wait_entered(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut s = self.state.lock();
        while !s.entered {
            assert!(
                !self.cv.wait_until(&mut s, deadline).timed_out(),
                "the held thread never read a blob shard"
            );
        }
    }

    fn open_gate(&self) {
        self.state.lock().open = true;
        self.cv.notify_all();
    }
}

impl Fs for ShardReadGate {
    fn open(&self, path: &std::path::Path, mode: vfs::OpenMode) -> vfs::Result<Box<dyn vfs::File>> {
        if !mode.creates() && path.extension().is_some_and(|e| e == "shard") {
            let mut s = self.state.lock();
            if s.held == Some(std::thread::current().id()) {
                s.entered = true;
                self.cv.notify_all();
                // Bounded: the test opens the gate before it ends (also
                // when it fails, through `OpenOnDrop`).
                while !s.open {
                    self.cv.wait(&mut s);
                }
            }
        }
        self.inner.open(path, mode)
    }
    fn rename(&self, from: &std::path::Path, to: &std::path::Path) -> vfs::Result<()> {
        self.inner.rename(from, to)
    }
    fn remove_file(&self, path: &std::path::Path) -> vfs::Result<()> {
        self.inner.remove_file(path)
    }
    fn create_dir(&self, path: &std::path::Path) -> vfs::Result<()> {
        self.inner.create_dir(path)
    }
    fn create_dir_all(&self, path: &std::path::Path) -> vfs::Result<()> {
        self.inner.create_dir_all(path)
    }
    fn remove_dir(&self, path: &std::path::Path) -> vfs::Result<()> {
        self.inner.remove_dir(path)
    }
    fn list_dir(&self, path: &std::path::Path) -> vfs::Result<Vec<std::ffi::OsString>> {
        self.inner.list_dir(path)
    }
    fn exists(&self, path: &std::path::Path) -> vfs::Result<bool> {
        self.inner.exists(path)
    }
    fn sync_dir(&self, path: &std::path::Path) -> vfs::Result<()> {
        self.inner.sync_dir(path)
    }
    fn lock(&self, path: &std::path::Path) -> vfs::Result<vfs::LockGuard> {
        self.inner.lock(path)
    }
    fn lock_shared(&self, path: &std::path::Path) -> vfs::Result<vfs::LockGuard> {
        self.inner.lock_shared(path)
    }
}

/// Opens the gate when the test ends, passed or failed.
struct OpenOnDrop(Arc<ShardReadGate>);

impl Drop for OpenOnDrop {
    fn drop(&mut self) {
        self.0.open_gate();
    }
}

/// Regression: a get found a blob reference in a table, let go of the
/// tables, then read the blob; a compaction meanwhile collected the blob
/// (copied its live values out), deleted the table nobody held any more,
/// and with it the blob's last reference, so the get failed with
/// `BlobUnavailable` (the model test with blob separation hit it now and
/// then). Here the get is held at its blob read while compactions collect
/// that blob.
#[test]
fn a_get_keeps_the_blob_it_found_while_a_compaction_collects_it() {
    let mem = MemFs::new();
    let gate = Arc::new(ShardReadGate::new(mem.clone()));
    let _open_at_end = OpenOnDrop(Arc::clone(&gate));
    let fs: Arc<dyn Fs> = Arc::clone(&gate) as Arc<dyn Fs>;
    let db = Db::open_with_fs(fs, "/db", manual(0.2)).expect("open");
    // One blob file holds both values; the flushed table points into it.
    db.put(key(0), value(0, 0)).expect("put");
    db.put(key(1), value(1, 0)).expect("put");
    db.flush().expect("flush");
    assert_eq!(common::blob_files_on_disk(&mem), 1);
    // Key 1's value turns to garbage once a compaction drops it.
    db.delete(key(1)).expect("delete");
    let snap = db.snapshot();
    let reader = {
        let gate = Arc::clone(&gate);
        std::thread::spawn(move || {
            gate.hold_this_thread();
            snap.get(&key(0)).map(|v| v.map(|v| v.to_vec()))
        })
    };
    gate.wait_entered();
    // The get has found key 0's reference in the flushed table and waits
    // to read the blob. The first compaction drops key 1 (the blob is now
    // half garbage), the second copies key 0's value into a new blob: no
    // live table points into the old blob file any more.
    db.compact_range::<&[u8], _>(..).expect("compact");
    db.compact_range::<&[u8], _>(..).expect("compact again");
    let collected = db.stats();
    assert!(
        collected.blob_gc_bytes > 0,
        "no blob was collected: {collected:?}"
    );
    // A background thread may still hold the super version it had before
    // the compactions (and with it the flushed table). A flush makes the
    // flush thread finish its last job and start a new one (waking the
    // compaction thread, which checks for work under the lock that wakes
    // it): from then on nothing but the held get can hold the old table,
    // and the compaction after it deletes whatever nobody holds.
    db.put("small", "v").expect("put");
    db.flush().expect("flush");
    db.compact_range::<&[u8], _>(..).expect("compact");
    let during = db.stats();
    assert_eq!(
        common::blob_files_on_disk(&mem),
        2,
        "the blob file a running get read from was deleted: {during:?}"
    );
    gate.open_gate();
    let got = reader.join().expect("reader thread");
    assert_eq!(
        got.expect("snapshot get").as_deref(),
        Some(value(0, 0).as_slice())
    );
    // Once the get is done, nothing holds the old blob file: it goes at the
    // next compaction.
    db.compact_range::<&[u8], _>(..).expect("compact");
    let after = db.stats();
    assert_eq!(
        (after.blob_files, common::blob_files_on_disk(&mem)),
        (1, 1),
        "{after:?}"
    );
    assert!(after.blob_files_deleted >= 1, "{after:?}");
    assert_eq!(
        db.get(&key(0)).expect("get").as_deref(),
        Some(value(0, 0).as_slice())
    );
    assert_eq!(db.get(&key(1)).expect("get"), None);
}
