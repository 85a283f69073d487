//! Power loss with several memtables waiting for their flush and writes
//! that are not synced (`Durability::None`): each memtable has its own log,
//! none of them synced, and a crash may keep more of a newer log than of
//! an older one. What an open recovers must still be the state after some
//! prefix of the acknowledged writes, never a later write without an
//! earlier one.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use larder_lsm::{Db, Durability, Options};
use vfs::crash_test::{ExploreOptions, explore};
use vfs::{CrashOptions, Fs};

use common::GateFs;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;
/// Puts in the order they were made.
type Writes = Vec<(Vec<u8>, Vec<u8>)>;

fn key(i: usize) -> Vec<u8> {
    format!("key{i:03}").into_bytes()
}

/// The state after each prefix of `writes` (from none to all).
fn prefixes(writes: &[(Vec<u8>, Vec<u8>)]) -> Vec<Model> {
    let mut m = Model::new();
    let mut out = vec![m.clone()];
    for (k, v) in writes {
        m.insert(k.clone(), v.clone());
        out.push(m.clone());
    }
    out
}

fn contents(db: &Db) -> Model {
    db.range::<&[u8], _>(..)
        .map(|kv| {
            let (k, v) = kv.expect("scan");
            (k.to_vec(), v.to_vec())
        })
        .collect()
}

/// Which prefix of `writes` the recovered `got` is, if any; a readable
/// panic otherwise.
fn assert_prefix(got: &Model, writes: &[(Vec<u8>, Vec<u8>)], what: &str) -> usize {
    let all = prefixes(writes);
    match all.iter().position(|m| m == got) {
        Some(n) => n,
        None => {
            let keys: Vec<String> = got
                .keys()
                .map(|k| String::from_utf8_lossy(k).into_owned())
                .collect();
            panic!("{what}: recovered {keys:?}, which no prefix of the writes holds");
        }
    }
}

/// Fills `full` memtables (each with a small then a large value) and puts
/// a small and a large value into one more, with the first flush held at
/// the gate, so every memtable waits with its own unsynced log; then a
/// torn power loss, a reopen, a write and a second reopen. Returns how
/// many of the writes the first reopen recovered.
fn held_flush_then_torn_crash(opts: &Options, full: usize, value_bytes: usize, seed: u64) -> usize {
    let (gate, entered) = GateFs::new();
    let fs: Arc<dyn vfs::Fs> = Arc::clone(&gate) as Arc<dyn vfs::Fs>;
    let db = Db::open_with_fs(fs, "/db", opts.clone()).expect("open");
    let mut writes: Writes = Vec::new();
    for m in 0..full {
        let small = (key(2 * m), format!("small{m}").into_bytes());
        let large = (key(2 * m + 1), vec![b'a' + m as u8; value_bytes]);
        for (k, v) in [small, large] {
            db.put(k.clone(), v.clone()).expect("put");
            writes.push((k, v));
        }
    }
    // The live memtable takes a small write, then a large one: past 64 KiB
    // its log reaches the file too.
    let last = (key(2 * full), b"last".to_vec());
    let tail = (key(2 * full + 1), vec![b'z'; value_bytes]);
    for (k, v) in [last, tail] {
        db.put(k.clone(), v.clone()).expect("put");
        writes.push((k, v));
    }
    entered.recv().expect("the first flush reached the gate");
    assert_eq!(contents(&db), prefixes(&writes)[writes.len()]);
    let image = gate.inner.crash(CrashOptions { seed, tear: true });
    gate.open_gate();
    db.close().expect("close");

    let what = format!("{} memtables, seed {seed}", opts.max_write_buffer_number);
    let fs: Arc<dyn vfs::Fs> = Arc::new(image);
    let db = Db::open_with_fs(Arc::clone(&fs), "/db", opts.clone()).expect("reopen");
    let n = assert_prefix(&contents(&db), &writes, &what);
    // What was recovered stays recovered, and a new write follows it, also
    // after the next reopen (which finds the same damaged logs, if kept).
    let mut want = prefixes(&writes)[n].clone();
    db.put(b"after".to_vec(), b"crash".to_vec()).expect("put");
    want.insert(b"after".to_vec(), b"crash".to_vec());
    db.close().expect("close");
    let db = Db::open_with_fs(fs, "/db", opts.clone()).expect("reopen again");
    assert_eq!(contents(&db), want, "{what}: the second reopen");
    db.close().expect("close");
    n
}

/// Options with 4 KiB memtables that hold up to `memtables` of them.
fn opts(memtables: usize) -> Options {
    Options {
        durability: Durability::None,
        write_buffer_size_bytes: 4096,
        max_write_buffer_number: memtables,
        ..common::tiny_options()
    }
}

/// Regression (fuzz corpus `lsm_ops` with three memtables): the older log
/// lost the tail of its last write while the newer one kept its first
/// records, and recovery replayed both, so a later write survived an
/// earlier lost one.
#[test]
fn a_torn_older_log_drops_the_newer_logs_behind_it() {
    for memtables in [3, 5] {
        let recovered: Vec<usize> = (1..=16)
            .map(|seed| held_flush_then_torn_crash(&opts(memtables), memtables - 1, 4096, seed))
            .collect();
        // Some crash kept the first memtable's small write (and, through
        // the torn large one, dropped every later log): the check above
        // ran on a store with something in it.
        assert!(recovered.iter().any(|&n| n > 0), "{recovered:?}");
    }
}

/// The same with two memtables: a log hands records to the file 64 KiB at
/// a time, so with larger memtables the live log reaches the file while
/// the older one, waiting for its flush, is not durable either.
#[test]
fn a_torn_older_log_drops_the_live_log_with_two_memtables() {
    let opts = Options {
        write_buffer_size_bytes: 256 << 10,
        ..opts(2)
    };
    let recovered: Vec<usize> = (1..=8)
        .map(|seed| held_flush_then_torn_crash(&opts, 1, 300 << 10, seed))
        .collect();
    assert!(recovered.iter().any(|&n| n > 0), "{recovered:?}");
}

/// Writes under `Durability::None` with 1 KiB memtables (so several wait
/// for the flush thread, which runs freely), values of every size (those
/// of 64 bytes and more to blob files at their flush) and a `sync` every
/// 16 writes. Returns the writes acknowledged (a failed one counted: it
/// may have reached the log) and how many of them the last `sync` covered.
fn workload(fs: Arc<dyn vfs::Fs>, memtables: usize) -> (Writes, usize) {
    let opts = never_opts(memtables);
    let mut writes = Vec::new();
    let mut synced = 0;
    let Ok(db) = Db::open_with_fs(fs, "/db", opts) else {
        return (writes, synced);
    };
    for i in 0..96usize {
        let k = key(i % 24);
        let v = format!("{i}-{}", "v".repeat(i * 37 % 200)).into_bytes();
        let r = db.put(k.clone(), v.clone());
        writes.push((k, v));
        if r.is_err() {
            return (writes, synced);
        }
        if i % 16 == 15 {
            if db.sync().is_err() {
                return (writes, synced);
            }
            synced = writes.len();
        }
    }
    if db.close().is_ok() {
        synced = writes.len();
    }
    (writes, synced)
}

fn never_opts(memtables: usize) -> Options {
    Options {
        write_buffer_size_bytes: 1024,
        blob_threshold_bytes: Some(64),
        ..opts(memtables)
    }
}

/// A power cut at every sync point (each way unsynced names and writes can
/// go, torn or not): the store reopens to the state after some prefix of
/// the writes, at least as long as the last `sync` covered.
#[test]
fn power_loss_with_several_memtables_keeps_a_prefix_of_the_writes() {
    for memtables in [3, 5] {
        let report = explore(
            &ExploreOptions::default(),
            |fs| workload(fs, memtables),
            |point, disk, (writes, synced)| {
                let what = format!("{memtables} memtables, {point:?}");
                let db = match Db::open_with_fs(Arc::new(disk), "/db", never_opts(memtables)) {
                    Ok(db) => db,
                    Err(e) => panic!("{what}: recovery failed: {e}"),
                };
                let n = assert_prefix(&contents(&db), &writes, &what);
                assert!(n >= synced, "{what}: {n} writes recovered, {synced} synced");
                db.close().expect("close");
            },
        );
        assert!(report.syncs > 10, "{report:?}");
    }
}

/// Damage, not a crash: once a `sync` sealed the older log and the newer
/// one took a record after it (a durable marker), the older log cut short
/// is corruption naming it, not a silent drop of the newer log's synced
/// writes.
#[test]
fn an_older_log_cut_short_behind_a_synced_newer_one_is_corruption() {
    let (gate, entered) = GateFs::new();
    let fs: Arc<dyn vfs::Fs> = Arc::clone(&gate) as Arc<dyn vfs::Fs>;
    let opts = opts(3);
    let db = Db::open_with_fs(fs, "/db", opts.clone()).expect("open");
    db.put(key(0), b"small".to_vec()).expect("put");
    db.put(key(1), vec![b'a'; 4096]).expect("put");
    // Switches: the first memtable's flush waits at the gate, its log too.
    db.put(key(2), b"small".to_vec()).expect("put");
    entered.recv().expect("the first flush reached the gate");
    db.sync().expect("sync");
    db.put(key(3), b"small".to_vec()).expect("put");
    db.sync().expect("sync");
    let image = gate.inner.crash(CrashOptions::default());
    gate.open_gate();
    db.close().expect("close");

    let mut logs: Vec<String> = image
        .list_dir(std::path::Path::new("/db"))
        .expect("list")
        .into_iter()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".log"))
        .collect();
    logs.sort();
    assert_eq!(logs.len(), 2, "{logs:?}");
    let older = std::path::Path::new("/db").join(&logs[0]);
    let f = image
        .open(&older, vfs::OpenMode::ReadWrite)
        .expect("open the older log");
    let len = f.len().expect("len");
    f.set_len(len / 2).expect("cut");
    f.sync_data().expect("sync");
    drop(f);
    let r = Db::open_with_fs(Arc::new(image), "/db", opts);
    assert!(
        matches!(&r, Err(larder_lsm::Error::Corruption { file, expected, found, .. })
            if *file == older && *found < *expected),
        "{:?}",
        r.err()
    );
}
