//! Crash tests: power loss at every sync point of a workload with flushes
//! and compactions (vfs::MemFs + crash_test::explore), with tables in the
//! directory and on an object store (and there also a crash at every
//! upload), and SIGKILL of a child process writing with `Durability::Immediate`.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use larder_lsm::{Db, Durability, Options, WriteBatch};
use vfs::crash_test::{ExploreOptions, explore};

/// What a write did: `Some(value)` for a put, `None` for a delete.
type Op = (Vec<u8>, Option<Vec<u8>>);

/// What the workload knows: the writes acknowledged (durable, since every
/// write syncs), and the batch in flight when it stopped, which a crash may
/// keep or drop, but only whole.
#[derive(Debug, Default)]
struct Outcome {
    acked: Vec<Vec<Op>>,
    in_flight: Option<Vec<Op>>,
    /// Stats at the end, if the workload got there.
    stats: Option<larder_lsm::Stats>,
}

/// Two values in five are 40 bytes or more and go to blobs.
fn crash_options() -> Options {
    common::blob_churn_options()
}

fn key(i: u32) -> Vec<u8> {
    format!("key{:03}", i % 40).into_bytes()
}

/// Deterministic writes with deletes and batches; flushes and a compaction
/// along the way, plus whatever the background thread starts. The last
/// write is followed by a flush, which deletes the tables the compaction
/// replaced and then the blob files only they pointed into; the background
/// work is waited for at the end so every run ends in the same state.
fn workload(fs: Arc<dyn vfs::Fs>) -> Outcome {
    workload_with(fs, crash_options())
}

/// [`workload`] with options `opts`.
fn workload_with(fs: Arc<dyn vfs::Fs>, opts: Options) -> Outcome {
    let mut out = Outcome::default();
    let Ok(db) = Db::open_with_fs(fs, "/db", opts) else {
        return out;
    };
    for i in 0..90u32 {
        let mut ops: Vec<Op> = Vec::new();
        if i % 7 == 3 {
            ops.push((key(i * 3), None));
        } else {
            ops.push((
                key(i),
                Some(format!("v{i}-{}", "x".repeat((i % 5) as usize * 20)).into_bytes()),
            ));
        }
        if i % 11 == 5 {
            ops.push((key(i + 17), Some(format!("batch{i}").into_bytes())));
            ops.push((key(i + 1), None));
        }
        let mut b = WriteBatch::new();
        for (k, v) in &ops {
            match v {
                Some(v) => b.put(k.clone(), v.clone()),
                None => b.delete(k.clone()),
            }
        }
        out.in_flight = Some(ops.clone());
        if db.write(b).is_err() {
            return out;
        }
        out.acked.push(ops);
        out.in_flight = None;
        let r = match i {
            30 | 60 => db.flush(),
            75 => db.compact_range::<&[u8], _>(..),
            // The compaction at 75 may finish while the flush thread still
            // holds the version before it (it lets go after waking the
            // waiting writer), so the tables it replaced may outlive it.
            // This flush runs on that thread after its earlier job, and the
            // compaction thread takes a fresh version for each job: when the
            // flush installs its table, only a check for work in progress
            // could still hold those tables, and it holds a version for a
            // few instructions.
            89 => db.flush(),
            _ => Ok(()),
        };
        if r.is_err() {
            return out;
        }
    }
    if db.wait_idle().is_err() {
        return out;
    }
    out.stats = Some(db.stats());
    let _ = db.close();
    out
}

/// The crash workload really collects blob garbage and deletes blob files,
/// so the crash test below cuts the power in the middle of both. One run,
/// not the best of several: the workload ends with a flush that deletes
/// what its compaction replaced (see `workload`).
#[test]
fn crash_workload_collects_and_deletes_blobs() {
    let out = workload(Arc::new(vfs::MemFs::new()));
    let stats = out.stats.expect("workload finished");
    assert!(stats.blob_bytes > 0, "{stats:?}");
    assert!(
        stats.blob_gc_bytes > 0,
        "no blob garbage collected: {stats:?}"
    );
    assert!(
        stats.blob_files_deleted > 0,
        "no blob file deleted: {stats:?}"
    );
}

fn apply(model: &mut BTreeMap<Vec<u8>, Vec<u8>>, ops: &[Op]) {
    for (k, v) in ops {
        match v {
            Some(v) => model.insert(k.clone(), v.clone()),
            None => model.remove(k),
        };
    }
}

fn contents(db: &Db) -> BTreeMap<Vec<u8>, Vec<u8>> {
    db.range::<&[u8], _>(..)
        .map(|r| {
            let (k, v) = r.expect("no checksum failure after a crash");
            (k.to_vec(), v.to_vec())
        })
        .collect()
}

#[test]
fn power_loss_at_every_sync_point_keeps_every_synced_write() {
    let opts = ExploreOptions::default();
    let mut checked_in_flight = 0;
    let report = explore(&opts, workload, |point, disk, outcome| {
        if check_recovery(
            &format!("{point:?}"),
            Arc::new(disk),
            &outcome,
            &crash_options(),
        ) {
            checked_in_flight += 1;
        }
    });
    assert!(report.syncs > 90, "{report:?}");
    assert!(report.crashes >= report.syncs * 6, "{report:?}");
    eprintln!("{report:?}, {checked_in_flight} kept the write in flight");
}

/// Recovers the store on `fs` after a crash at `point` and checks it: the
/// acknowledged writes are there, the write in flight whole or not at all,
/// recovery is repeatable, and the blob files (and, with a table store,
/// the table objects) are exactly the manifest's. Returns whether the
/// write in flight was kept.
fn check_recovery(point: &str, fs: Arc<dyn vfs::Fs>, outcome: &Outcome, opts: &Options) -> bool {
    let db = match Db::open_with_fs(Arc::clone(&fs), "/db", opts.clone()) {
        Ok(db) => db,
        Err(e) => panic!("{point}: recovery failed: {e}"),
    };
    let mut before = BTreeMap::new();
    for ops in &outcome.acked {
        apply(&mut before, ops);
    }
    let mut after = before.clone();
    if let Some(ops) = &outcome.in_flight {
        apply(&mut after, ops);
    }
    let got = contents(&db);
    assert!(
        got == before || got == after,
        "{point}: recovered state is neither the acknowledged writes nor them plus the one in flight\n got {got:?}\nwant {before:?}"
    );
    for (k, v) in &got {
        assert_eq!(db.get(k).expect("get").as_deref(), Some(v.as_slice()));
    }
    // Recovery is repeatable: write once more, reopen, same state.
    db.put("after-crash", "yes").expect("write after recovery");
    db.close().expect("close");
    // Reopened with no background work due, so the blob files on disk
    // are exactly the manifest's: open removed those a crash left
    // unrecorded, and every recorded one is there.
    let quiet = Options {
        l0_compaction_trigger: 1000,
        l0_slowdown_trigger: 1000,
        l0_stop_trigger: 1000,
        blob_gc_ratio: 1.0,
        ..opts.clone()
    };
    let db = Db::open_with_fs(Arc::clone(&fs), "/db", quiet).expect("second reopen");
    assert_eq!(
        common::blob_files_on_disk(&*fs),
        db.stats().blob_files,
        "{point}: blob files on disk differ from the manifest's"
    );
    let mut again = contents(&db);
    assert_eq!(
        again.remove(&b"after-crash"[..]).as_deref(),
        Some(&b"yes"[..])
    );
    assert_eq!(again, got, "{point}: second recovery differs");
    if let Some(store) = &opts.table_store {
        db.wait_idle().expect("idle");
        let tables: usize = db.stats().levels.iter().map(|l| l.files).sum();
        assert_eq!(
            store.list("tables/").expect("list").len(),
            tables,
            "{point}: table objects differ from the manifest's tables"
        );
    }
    got == after && got != before
}

/// The crash workload's options with tables on `store`.
fn on_store(store: &Arc<objstore::MemStore>) -> Options {
    Options {
        table_store: Some(Arc::clone(store) as Arc<dyn objstore::Store>),
        ..crash_options()
    }
}

#[test]
fn power_loss_at_every_sync_point_keeps_every_synced_write_with_tables_on_a_store() {
    // No torn writes: the sync points are the same as above, and the store
    // is not torn by a power cut (an upload that returned is durable).
    let opts = ExploreOptions {
        tear: false,
        ..ExploreOptions::default()
    };
    let report = explore(
        &opts,
        |fs| {
            let store = Arc::new(objstore::MemStore::new());
            (workload_with(fs, on_store(&store)), store)
        },
        |point, disk, (outcome, store)| {
            check_recovery(
                &format!("{point:?}"),
                Arc::new(disk),
                &outcome,
                &on_store(&store),
            );
        },
    );
    assert!(report.syncs > 40, "{report:?}");
}

/// A table store that cuts the power at its `cut_at`-th upload: that
/// upload lands (`landed`) or not and fails, every later request fails,
/// and the local disk fails from its next sync on (its image then is the
/// crash's).
#[derive(Debug)]
struct CutStore {
    inner: Arc<objstore::MemStore>,
    disk: vfs::MemFs,
    cut_at: u64,
    landed: bool,
    puts: std::sync::atomic::AtomicU64,
}

impl CutStore {
    fn dead(&self, name: &str) -> objstore::Error {
        objstore::Error::Precondition {
            name: name.to_owned(),
            reason: "the power is cut".to_owned(),
        }
    }

    fn is_dead(&self) -> bool {
        self.puts.load(std::sync::atomic::Ordering::SeqCst) >= self.cut_at
    }
}

impl objstore::Store for CutStore {
    fn put(
        &self,
        name: &str,
        data: bytes::Bytes,
        mode: objstore::PutMode,
    ) -> objstore::Result<objstore::ObjectMeta> {
        let n = self.puts.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        if n < self.cut_at {
            return self.inner.put(name, data, mode);
        }
        if n == self.cut_at {
            if self.landed {
                self.inner.put(name, data, mode)?;
            }
            self.disk.crash_before_sync(
                self.disk.sync_count() + 1,
                vfs::CrashOptions {
                    seed: 0,
                    tear: false,
                },
            );
        }
        Err(self.dead(name))
    }

    fn get(&self, name: &str) -> objstore::Result<(bytes::Bytes, objstore::ObjectMeta)> {
        if self.is_dead() {
            return Err(self.dead(name));
        }
        self.inner.get(name)
    }

    fn get_range(&self, name: &str, range: std::ops::Range<u64>) -> objstore::Result<bytes::Bytes> {
        if self.is_dead() {
            return Err(self.dead(name));
        }
        self.inner.get_range(name, range)
    }

    fn head(&self, name: &str) -> objstore::Result<objstore::ObjectMeta> {
        if self.is_dead() {
            return Err(self.dead(name));
        }
        self.inner.head(name)
    }

    fn list(&self, prefix: &str) -> objstore::Result<Vec<objstore::ObjectMeta>> {
        if self.is_dead() {
            return Err(self.dead(prefix));
        }
        self.inner.list(prefix)
    }

    fn delete(&self, name: &str) -> objstore::Result<()> {
        if self.is_dead() {
            return Err(self.dead(name));
        }
        self.inner.delete(name)
    }

    fn location(&self) -> String {
        "cut://".to_owned()
    }
}

#[test]
fn a_crash_at_every_table_upload_keeps_every_synced_write() {
    let count = Arc::new(objstore::MemStore::new());
    let done = workload_with(Arc::new(vfs::MemFs::new()), on_store(&count));
    assert!(done.stats.is_some(), "the workload finished");
    let uploads = done.stats.as_ref().map_or(0, |s| s.table_store.puts);
    assert!(uploads > 5, "{:?}", done.stats);
    for cut_at in 1..=uploads {
        for landed in [false, true] {
            let disk = vfs::MemFs::new();
            let inner = Arc::new(objstore::MemStore::new());
            let store = Arc::new(CutStore {
                inner: Arc::clone(&inner),
                disk: disk.clone(),
                cut_at,
                landed,
                puts: std::sync::atomic::AtomicU64::new(0),
            });
            let opts = Options {
                table_store: Some(store as Arc<dyn objstore::Store>),
                ..crash_options()
            };
            let outcome = workload_with(Arc::new(disk.clone()), opts);
            let image = disk.crashed_image().unwrap_or_else(|| {
                disk.crash(vfs::CrashOptions {
                    seed: 0,
                    tear: false,
                })
            });
            check_recovery(
                &format!("upload {cut_at} (landed: {landed})"),
                Arc::new(image),
                &outcome,
                &on_store(&inner),
            );
        }
    }
}

/// Under `Durability::None` the workload calls `sync` every 8 writes; it
/// returns the writes acknowledged and how many of them the last successful
/// sync covered.
fn workload_never(fs: Arc<dyn vfs::Fs>) -> (Vec<Op>, usize) {
    let mut acked: Vec<Op> = Vec::new();
    let mut synced = 0;
    let opts = Options {
        durability: Durability::None,
        ..common::tiny_options()
    };
    let Ok(db) = Db::open_with_fs(fs, "/db", opts) else {
        return (acked, synced);
    };
    for i in 0..160u32 {
        let op: Op = if i % 5 == 2 {
            (key(i * 7), None)
        } else {
            (
                key(i),
                Some(format!("n{i}-{}", "z".repeat((i % 4) as usize * 30)).into_bytes()),
            )
        };
        let r = match &op.1 {
            Some(v) => db.put(op.0.clone(), v.clone()),
            None => db.delete(op.0.clone()),
        };
        // A failed write may still reach the log: count it as written.
        acked.push(op);
        if r.is_err() {
            return (acked, synced);
        }
        if i % 8 == 7 {
            if db.sync().is_err() {
                return (acked, synced);
            }
            synced = acked.len();
        }
        if i == 100 && db.flush().is_err() {
            return (acked, synced);
        }
    }
    if db.close().is_ok() {
        synced = acked.len();
    }
    (acked, synced)
}

#[test]
fn power_loss_without_per_write_sync_keeps_every_write_a_sync_covered() {
    let report = explore(
        &ExploreOptions::default(),
        workload_never,
        |point, disk, (acked, synced)| {
            let opts = Options {
                durability: Durability::None,
                ..common::tiny_options()
            };
            let db = match Db::open_with_fs(Arc::new(disk), "/db", opts) {
                Ok(db) => db,
                Err(e) => panic!("{point:?}: recovery failed: {e}"),
            };
            let got = contents(&db);
            let mut at_sync = BTreeMap::new();
            for op in &acked[..synced] {
                apply(&mut at_sync, std::slice::from_ref(op));
            }
            // Each key holds its value as of the last sync, or a value written
            // to it after that sync (writes past a sync may be lost).
            let mut keys: Vec<&Vec<u8>> = got.keys().chain(at_sync.keys()).collect();
            keys.extend(acked.iter().map(|(k, _)| k));
            keys.sort();
            keys.dedup();
            for k in keys {
                let now = got.get(k);
                let ok = now == at_sync.get(k)
                    || acked[synced..]
                        .iter()
                        .any(|(k2, v)| k2 == k && v.as_ref() == now);
                assert!(
                    ok,
                    "{point:?}: key {k:?} holds {now:?}, never written after the last sync"
                );
            }
        },
    );
    assert!(report.syncs > 20, "{report:?}");
}

/// Env var that makes `sigkill_child_writer` the child writer: its value is
/// the database directory.
const CHILD_DIR_ENV: &str = "LSM_SIGKILL_CHILD_DIR";

fn child_key(i: u64) -> String {
    format!("k{i:08}")
}

/// The child role of `sigkill_leaves_every_acknowledged_write`: writes
/// forever with `Durability::Immediate`, printing each index once its write (a
/// put of `i` and a delete of `i - 3`) is acknowledged. Does nothing when
/// run as an ordinary test.
#[test]
fn sigkill_child_writer() {
    let Ok(dir) = std::env::var(CHILD_DIR_ENV) else {
        return;
    };
    let opts = Options {
        durability: Durability::Immediate,
        write_buffer_size_bytes: 16 * 1024,
        ..common::tiny_options()
    };
    let db = Db::open(&dir, opts).expect("child open");
    let start: u64 = std::env::var("LSM_SIGKILL_START")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut out = std::io::stdout();
    for i in start.. {
        let mut b = WriteBatch::new();
        b.put(
            child_key(i),
            format!("value-{i}-{}", "y".repeat((i % 50) as usize)),
        );
        if i >= 3 {
            b.delete(child_key(i - 3));
        }
        db.write(b).expect("child write");
        use std::io::Write;
        writeln!(out, "{i}").expect("stdout");
        out.flush().expect("flush stdout");
    }
}

#[test]
fn sigkill_leaves_every_acknowledged_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("current exe");
    let mut next = 0u64;
    for round in 0..5u64 {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "sigkill_child_writer",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DIR_ENV, dir.path())
            .env("LSM_SIGKILL_START", next.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("child stdout");
        // Killed once it acknowledged a number of writes that grows each
        // round (not after a wall-clock delay); the lines it prints
        // between that one and its death are read to the end.
        let kill_at = next + 200 + 150 * round;
        let mut last: Option<u64> = None;
        let mut killed = false;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Ok(i) = line.trim().parse::<u64>() {
                last = Some(i);
                if i >= kill_at && !killed {
                    child.kill().expect("SIGKILL the child");
                    killed = true;
                }
            }
        }
        // The child ended on its own only if it failed: kill is a no-op.
        let _ = child.kill();
        let _ = child.wait();
        let Some(last) = last else {
            continue; // killed before its first write: nothing to check
        };
        assert!(last + 1 > next, "round {round}: child wrote nothing new");
        let db = Db::open(dir.path(), Options::default()).expect("reopen after SIGKILL");
        // Every acknowledged put whose delete was not acknowledged is there.
        // The write in flight (last + 1) may or may not be there; nothing
        // deleted comes back and nothing past it exists.
        let live: Vec<u64> = db
            .range::<&[u8], _>(..)
            .map(|r| {
                let (k, _) = r.expect("no checksum failure");
                std::str::from_utf8(&k[1..])
                    .expect("utf8")
                    .parse()
                    .expect("index")
            })
            .collect();
        // The last two acknowledged puts are there whatever the write in
        // flight did (it deletes `last - 2`).
        for i in last.saturating_sub(1)..=last {
            let v = db.get(child_key(i).as_bytes()).expect("get");
            assert!(
                v.is_some(),
                "round {round}: acknowledged write {i} lost; live {live:?}"
            );
        }
        let in_flight_applied = live.contains(&(last + 1));
        let want: Vec<u64> = if in_flight_applied {
            (last.saturating_sub(1)..=last + 1).collect()
        } else {
            (last.saturating_sub(2)..=last).collect()
        };
        assert_eq!(live, want, "round {round}: last acknowledged {last}");
        db.close().expect("close");
        next = if in_flight_applied {
            last + 2
        } else {
            last + 1
        };
    }
    assert!(next > 0, "the child never acknowledged a write");
}

#[test]
fn reopen_after_clean_close_on_disk_is_exact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), common::tiny_options()).expect("open");
    for i in 0..300u32 {
        db.put(key(i), format!("{i}")).expect("put");
    }
    db.close().expect("close");
    let db = Db::open(dir.path(), common::tiny_options()).expect("reopen");
    assert_eq!(contents(&db).len(), 40);
    assert!(Path::new(&dir.path().join("LOCK")).exists());
}
