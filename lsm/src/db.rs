//! The engine: open (recovery is in `recovery/`), the write path, reads, and the background
//! thread that flushes memtables and runs compactions.
//!
//! # Concurrency
//!
//! `Db` is `Send + Sync`; clones share one engine. Writers serialise on the
//! write lock and commit in LevelDB's order: WAL append, sync (as the
//! [`SyncMode`] asks), memtable insert, sequence publication, so no write
//! is visible before the sync covering it returned. With
//! [`SyncMode::GroupCommit`] writers queue; the first in line leads, takes
//! every batch queued behind it, and commits them with one sync while new
//! writers queue for the next group. Readers take the published
//! sequence number, then an `Arc` of the current [`SuperVersion`] (memtable,
//! immutable memtable, version) under a short read lock, and never wait on
//! I/O of others. Version changes (flush, compaction) append to the manifest
//! under the version lock and then swap the super version.

use std::collections::{BTreeMap, HashSet};
use std::ops::{Bound, RangeBounds};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::{Condvar, Mutex, RwLock};

use crate::batch::WriteBatch;
use crate::blob::{self, BlobFiles, BlobUse, RefCounter, Separator};
use crate::cache::BlockCache;
use crate::compaction::{job, picker};
use crate::filter;
use crate::iter::{BoxIter, Concat, DbIter};
use crate::key::{SeqNo, ValueKind};
use crate::lifecycle::{CloseFrom, Lifecycle};
use crate::manifest::{self, FileKind, VersionEdit};
use crate::memtable::Memtable;
use crate::recovery::{self, Access};
use crate::sstable::reader::Table;
use crate::sstable::writer::{TableOptions, TableWriter};
use crate::verify::{BlobRepairReport, TableReport, VerifyReport};
use crate::version::{GetStats, NUM_LEVELS, Version};
use crate::wal::writer::LogWriter;
use crate::{Error, KEY_LEN_MAX, Options, Result, Stats, SyncMode, VALUE_LEN_MAX};

/// File numbers one manifest edit reserves (see `Inner::new_file_number`).
const NUMBERS_RESERVED_BATCH: u64 = 64;

/// What readers need, swapped as one.
#[derive(Debug)]
pub(crate) struct SuperVersion {
    mem: Arc<Memtable>,
    /// The memtable being flushed, and the log number that follows it.
    imm: Option<(Arc<Memtable>, u64)>,
    version: Arc<Version>,
}

#[derive(Debug)]
struct WriteState {
    log: LogWriter,
    log_number: u64,
    encode_buf: Vec<u8>,
    /// Under `SyncMode::Never` a switch neither syncs the old log nor the
    /// new log's directory entry: `sync_all` does, when asked. Only the
    /// last switched-away log can hold writes not yet in a table (a switch
    /// waits for the previous flush).
    old_log_unsynced: Option<LogWriter>,
    /// The logs an open replayed into the live memtable: the process that
    /// wrote them may have left them unsynced, so a `sync` syncs them too.
    replayed_logs_unsynced: Vec<Arc<dyn vfs::File>>,
    log_name_durable: bool,
}

impl WriteState {
    /// Makes every acknowledged write durable: the old log left unsynced
    /// by a switch (sealed: it takes no more records), the current log's
    /// name, then the current log.
    fn sync_all(&mut self, fs: &dyn vfs::Fs, dir: &Path) -> Result<()> {
        if let Some(old) = &mut self.old_log_unsynced {
            old.seal()?;
        }
        self.old_log_unsynced = None;
        for f in &self.replayed_logs_unsynced {
            f.sync_data()?;
        }
        self.replayed_logs_unsynced.clear();
        if !self.log_name_durable {
            fs.sync_dir(dir)?;
            self.log_name_durable = true;
        }
        self.log.sync()
    }

    /// As [`WriteState::sync_all`], then records in the log that all of it
    /// is durable, so damage to its last records is told from a torn tail.
    fn seal_all(&mut self, fs: &dyn vfs::Fs, dir: &Path) -> Result<()> {
        self.sync_all(fs, dir)?;
        self.log.seal()
    }
}

/// The writers waiting under [`SyncMode::GroupCommit`], in ticket order.
///
/// # Concurrency
///
/// Guarded by `Inner::queue`. A writer takes a ticket and queues its batch;
/// when no leader is active it becomes the leader: it takes the write lock,
/// makes room, then takes the front of the queue (up to `GROUP_BYTES_MAX`,
/// and at least up to its own batch) and commits it as one group while
/// later writers queue. Tickets are handed out in order and a group takes a
/// prefix of the queue, so the tickets of a group are contiguous and every
/// earlier ticket is in an earlier group (or was a leader's own, failed in
/// `make_room`): `done_below` says who is finished. The queue lock is never
/// held while taking the write lock. At most one leader at a time.
#[derive(Debug, Default)]
struct CommitQueue {
    queued: Vec<(u64, WriteBatch)>,
    next_ticket: u64,
    /// Every ticket below this has been committed or failed.
    done_below: u64,
    /// The first ticket of a group whose append or sync failed: it and
    /// every later ticket failed (the engine is stopped).
    failed_from: Option<u64>,
    leader_active: bool,
}

#[derive(Debug)]
struct ManifestState {
    log: LogWriter,
    /// Set when an append or sync of the manifest failed: the log's tail is
    /// then unknown, and a later record after it would turn a torn tail
    /// into corruption in the middle, so nothing more is written to it.
    broken: bool,
    log_number: u64,
    cursor: Vec<Vec<u8>>,
    /// Recorded blob files and the table files pointing into them.
    blobs: BlobFiles,
    /// Logs whose whole records end before their file does (replayed
    /// logs with a torn tail) or that were recorded as sealed: the length
    /// a close records for them. Any other live log was written whole by
    /// this handle, and its file's length is recorded.
    log_lengths: BTreeMap<u64, u64>,
}

#[derive(Debug, Default)]
struct Counters {
    user_bytes: AtomicU64,
    flush_bytes: AtomicU64,
    compaction_bytes: AtomicU64,
    gets: AtomicU64,
    filter_negatives: AtomicU64,
    filter_positives: AtomicU64,
    compactions: AtomicU64,
    flushes: AtomicU64,
    write_stalls: AtomicU64,
    blob_bytes: AtomicU64,
    blob_gc_bytes: AtomicU64,
    blob_files_deleted: AtomicU64,
}

#[derive(Debug)]
pub(crate) struct Inner {
    fs: Arc<dyn vfs::Fs>,
    dir: PathBuf,
    opts: Options,
    cache: Arc<BlockCache>,
    sv: RwLock<Arc<SuperVersion>>,
    last_seq: AtomicU64,
    next_file: AtomicU64,
    /// Numbers below this are recorded in the manifest as handed out
    /// (raised under the manifest lock, after the edit is durable).
    reserved: AtomicU64,
    write: Mutex<WriteState>,
    /// Signalled when a flush or compaction finished (writers wait on it).
    write_cv: Condvar,
    /// Group commit: the writers waiting for a leader.
    queue: Mutex<CommitQueue>,
    /// Signalled when a group finished or a leader stepped down.
    queue_cv: Condvar,
    manifest: Mutex<ManifestState>,
    compaction_lock: Mutex<()>,
    bg: Mutex<BgState>,
    bg_cv: Condvar,
    snapshots: Mutex<BTreeMap<SeqNo, usize>>,
    obsolete: Mutex<Vec<Arc<Table>>>,
    /// Open, closing, closed or failed: one state for every clone.
    state: Lifecycle,
    counters: Counters,
    /// The blob store of key-value separation, if open.
    blobs: Option<Arc<erasure::BlobStore>>,
    access: Access,
    /// Exclusive for a read-write handle; shared (or none, when the store
    /// has no `LOCK` file) for a read-only one.
    _lock: Option<vfs::LockGuard>,
}

#[derive(Debug, Default)]
struct BgState {
    shutdown: bool,
}

#[derive(Debug)]
struct Shared {
    inner: Arc<Inner>,
    bg_threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.inner.stop_background();
        for h in self.bg_threads.lock().drain(..) {
            let _ = h.join();
        }
        // Dropped without close: hand buffered log records to the file, so
        // a clean process exit keeps them (a sync is what makes them durable).
        let _ = self.inner.write.lock().log.write_out();
    }
}

/// An open database. Cheap to clone; clones share one engine.
///
/// # Concurrency
///
/// `Db` is `Send + Sync`: clone it into as many threads as you like, or
/// share one `&Db`. Any thread may call any method at any time. Writes
/// (`put`, `delete`, `write`) are applied in one order, one writer at a
/// time; reads (`get`, `range`, `prefix`, a [`Snapshot`]) never wait for
/// a writer's I/O and see every write acknowledged before they began.
/// `flush`, `compact_range` and `verify` run beside reads and writes;
/// `verify` reads the tables live when it began, which compaction keeps on
/// disk until it is done.
///
/// All clones share one lifecycle: open, closing, closed, or failed.
/// [`Db::close`] on any clone closes them all: from then on every call on
/// every clone returns [`Error::Closed`] at once, a writer waiting for room
/// in the memtable wakes with it, and the background threads stop. A
/// background or log failure moves the database to failed: every call that
/// writes then returns [`Error::Closed`] with the reason, while reads go
/// on. Dropping the last clone
/// without `close` stops the background threads too, but reports nothing.
#[derive(Clone, Debug)]
pub struct Db {
    shared: Arc<Shared>,
}

/// A consistent point-in-time view. Compaction keeps every version it can
/// see until it is dropped.
#[derive(Debug)]
pub struct Snapshot {
    inner: Arc<Inner>,
    seq: SeqNo,
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        let mut s = self.inner.snapshots.lock();
        if let Some(c) = s.get_mut(&self.seq) {
            *c -= 1;
            if *c == 0 {
                s.remove(&self.seq);
            }
        }
    }
}

impl Snapshot {
    /// The value of `key` as of the snapshot.
    ///
    /// # Errors
    ///
    /// [`Error::Corruption`] or [`Error::Fs`] from a table read.
    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        self.inner.state.check_readable()?;
        self.inner.get_at(key, Some(self.seq))
    }

    /// The live pairs in `range` as of the snapshot, both directions.
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> DbIter {
        self.inner.range_at(bounds(&range), Some(self.seq))
    }

    /// The live pairs whose key starts with `prefix`, as of the snapshot.
    pub fn prefix(&self, prefix: &[u8]) -> DbIter {
        self.inner.range_at(prefix_bounds(prefix), Some(self.seq))
    }
}

fn bound_bytes<K: AsRef<[u8]>>(b: Bound<&K>) -> Bound<Bytes> {
    match b {
        Bound::Included(k) => Bound::Included(Bytes::copy_from_slice(k.as_ref())),
        Bound::Excluded(k) => Bound::Excluded(Bytes::copy_from_slice(k.as_ref())),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn bounds<K: AsRef<[u8]>, R: RangeBounds<K>>(r: &R) -> (Bound<Bytes>, Bound<Bytes>) {
    (bound_bytes(r.start_bound()), bound_bytes(r.end_bound()))
}

fn prefix_bounds(prefix: &[u8]) -> (Bound<Bytes>, Bound<Bytes>) {
    let lo = Bound::Included(Bytes::copy_from_slice(prefix));
    // The end is the prefix with its last non-0xff byte incremented.
    let mut end = prefix.to_vec();
    while let Some(&last) = end.last() {
        if last == 0xff {
            end.pop();
        } else {
            let n = end.len() - 1;
            end[n] += 1;
            return (lo, Bound::Excluded(Bytes::from(end)));
        }
    }
    (lo, Bound::Unbounded)
}

fn as_slice(b: &Bound<Bytes>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k.as_ref()),
        Bound::Excluded(k) => Bound::Excluded(k.as_ref()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn bound_key(b: &Bound<Bytes>) -> Option<&[u8]> {
    match b {
        Bound::Included(k) | Bound::Excluded(k) => Some(k.as_ref()),
        Bound::Unbounded => None,
    }
}

impl Db {
    /// Opens (or creates) the database in `dir` on the real disk.
    ///
    /// # Errors
    ///
    /// See [`Db::open_with_fs`].
    pub fn open(dir: impl AsRef<Path>, opts: Options) -> Result<Db> {
        Db::open_with_fs(Arc::new(vfs::OsFs::new()), dir, opts)
    }

    /// Opens (or creates) the database in `dir` on the file system `fs`,
    /// replaying its logs.
    ///
    /// # Errors
    ///
    /// [`Error::Fs`] with [`vfs::Error::Locked`] if another handle has it
    /// open; [`Error::Corruption`] if the manifest, a table or the middle of
    /// a log fails its checks (a torn log tail is dropped).
    pub fn open_with_fs(fs: Arc<dyn vfs::Fs>, dir: impl AsRef<Path>, opts: Options) -> Result<Db> {
        opts.validate()?;
        let dir = dir.as_ref().to_path_buf();
        if opts.create_if_missing && !fs.exists(&dir)? {
            fs.create_dir_all(&dir)?;
            // The directory's own name must be durable before anything in
            // it can be: sync every parent up to the root.
            let mut d = dir.as_path();
            while let Some(parent) = d.parent() {
                let parent = if parent.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    parent
                };
                fs.sync_dir(parent)?;
                if parent == Path::new(".") || parent.parent().is_none() {
                    break;
                }
                d = parent;
            }
        }
        let lock = fs.lock(&dir.join("LOCK"))?;
        let cache = Arc::new(BlockCache::new(opts.block_cache_bytes));
        let mut r = recovery::recover(&fs, &dir, &opts, &cache, Access::Look)?;
        // Recovery looked at the blob store read-only; now that the open
        // goes ahead, it may write (and finish interrupted blob writes).
        drop(r.blobs.take());
        let blobs = recovery::open_blob_store(&fs, &dir, &opts, Access::ReadWrite)?;

        // 1. A fresh log for new writes. The replayed memtable stays the
        // live one and its logs stay until it is flushed in the ordinary
        // way: an open writes no table.
        let mut next_file = r.next_file;
        let mut new_number = || {
            let n = next_file;
            next_file += 1;
            n
        };
        let new_log_number = new_number();
        let mut log = LogWriter::create(&*fs, &dir.join(manifest::log_name(new_log_number)))?;
        log.set_buffered(opts.sync == SyncMode::Never)?;
        let log_number = if r.mem.is_empty() {
            new_log_number
        } else {
            r.log_number
        };

        // 2. A fresh manifest holding the whole state, named by CURRENT.
        let manifest_number = new_number();
        let mut mlog =
            LogWriter::create(&*fs, &dir.join(manifest::manifest_name(manifest_number)))?;
        let mut edit = VersionEdit {
            log_number: Some(log_number),
            last_seq: Some(r.last_seq),
            blobs_recorded: true,
            blobs_added: r.blob_files.files.values().copied().collect(),
            ..VersionEdit::default()
        };
        for (level, files) in r.version.levels.iter().enumerate() {
            for t in files {
                edit.added.push((level as u8, t.number, t.size_bytes()));
            }
        }
        edit.table_blobs = r
            .blob_files
            .tables
            .iter()
            .map(|(n, uses)| (*n, uses.clone()))
            .collect();
        edit.table_blobs.sort_unstable_by_key(|(n, _)| *n);
        // Obsolete files not deleted yet stay recorded as such, so a crash
        // before their deletion leaves them provably obsolete.
        edit.deleted = r.tables_deleted.iter().map(|&n| (0, n)).collect();
        edit.blobs_deleted.clone_from(&r.blobs_obsolete);
        // Sealed logs still live stay recorded as sealed.
        edit.logs_sealed = r
            .logs_sealed
            .iter()
            .copied()
            .filter(|&(n, _)| n >= log_number)
            .collect();
        let reserved = next_file + NUMBERS_RESERVED_BATCH;
        edit.next_file = Some(reserved);
        edit.numbers_reserved = true;
        mlog.add_record(&edit.encode())?;
        mlog.sync()?;
        fs.sync_dir(&dir)?;
        manifest::set_current(&*fs, &dir, manifest_number)?;

        // 3. Delete what is provably obsolete, and nothing else (FORMAT.md,
        // "Recovery"): older manifests, logs below the log number, tables
        // and blobs the manifest recorded as dropped, temporary files.
        // Logs go oldest first, so a crash midway leaves a suffix.
        let mut doomed: Vec<(u64, String)> = Vec::new();
        for (name, kind) in &r.names {
            match *kind {
                FileKind::Manifest(n) if n != manifest_number => doomed.push((n, name.clone())),
                FileKind::Log(n) if n < log_number => doomed.push((n, name.clone())),
                FileKind::Table(n) if r.tables_deleted.contains(&n) => {
                    doomed.push((n, name.clone()));
                }
                FileKind::Temp => doomed.push((0, name.clone())),
                _ => {}
            }
        }
        doomed.sort_unstable();
        for (_, name) in &doomed {
            match fs.remove_file(&dir.join(name)) {
                // `CURRENT.tmp` was just renamed to `CURRENT`.
                Err(e) if e.is_not_found() => {}
                r => r?,
            }
        }
        if !doomed.is_empty() {
            fs.sync_dir(&dir)?;
        }
        if let Some(store) = &blobs {
            for &b in &r.blobs_obsolete {
                match store.delete(b) {
                    Ok(()) | Err(erasure::Error::NotFound { .. }) => {}
                    Err(e) => return Err(Error::BlobStore(e)),
                }
            }
        }
        let replayed_logs: Vec<Arc<dyn vfs::File>> = if r.mem.is_empty() {
            Vec::new()
        } else {
            // A later `sync` makes the replayed writes durable too.
            r.logs
                .iter()
                .map(|&n| {
                    fs.open(&dir.join(manifest::log_name(n)), vfs::OpenMode::Read)
                        .map(Arc::from)
                })
                .collect::<std::result::Result<_, _>>()?
        };

        let inner = Arc::new(Inner {
            fs,
            dir,
            opts,
            cache,
            sv: RwLock::new(Arc::new(SuperVersion {
                mem: Arc::new(r.mem),
                imm: None,
                version: Arc::new(r.version),
            })),
            last_seq: AtomicU64::new(r.last_seq),
            next_file: AtomicU64::new(next_file),
            reserved: AtomicU64::new(reserved),
            write: Mutex::new(WriteState {
                log,
                log_number: new_log_number,
                encode_buf: Vec::new(),
                old_log_unsynced: None,
                replayed_logs_unsynced: replayed_logs,
                log_name_durable: true,
            }),
            write_cv: Condvar::new(),
            queue: Mutex::new(CommitQueue::default()),
            queue_cv: Condvar::new(),
            manifest: Mutex::new(ManifestState {
                log: mlog,
                broken: false,
                log_number,
                cursor: vec![Vec::new(); NUM_LEVELS],
                blobs: r.blob_files,
                log_lengths: r
                    .log_lengths
                    .iter()
                    .copied()
                    .filter(|&(n, _)| n >= log_number)
                    .collect(),
            }),
            compaction_lock: Mutex::new(()),
            bg: Mutex::new(BgState::default()),
            bg_cv: Condvar::new(),
            snapshots: Mutex::new(BTreeMap::new()),
            obsolete: Mutex::new(Vec::new()),
            state: Lifecycle::default(),
            counters: Counters::default(),
            blobs,
            access: Access::ReadWrite,
            _lock: Some(lock),
        });
        let mut handles = Vec::new();
        for (name, role) in [("lsm-flush", Role::Flush), ("lsm-compact", Role::Compact)] {
            let bg_inner = Arc::clone(&inner);
            let spawned = std::thread::Builder::new()
                .name(name.into())
                .spawn(move || bg_inner.background_loop(role));
            match spawned {
                Ok(h) => handles.push(h),
                Err(e) => {
                    inner.stop_background();
                    for h in handles {
                        let _ = h.join();
                    }
                    return Err(Error::Fs(vfs::Error::io(vfs::Op::Open, "thread", e)));
                }
            }
        }
        Ok(Db {
            shared: Arc::new(Shared {
                inner,
                bg_threads: Mutex::new(handles),
            }),
        })
    }

    /// Opens the database in `dir` on the real disk for reading only.
    ///
    /// # Errors
    ///
    /// See [`Db::open_read_only_with_fs`].
    pub fn open_read_only(dir: impl AsRef<Path>, opts: Options) -> Result<Db> {
        Db::open_read_only_with_fs(Arc::new(vfs::OsFs::new()), dir, opts)
    }

    /// Opens the database in `dir` on `fs` for reading only, as RocksDB's
    /// `OpenForReadOnly`: replays the logs into memory and writes nothing
    /// (no table, manifest, log, lock file or deletion; the blob store is
    /// opened read-only too) and starts no background thread. It holds a
    /// shared lock on `LOCK` (when the file exists: creating it would be a
    /// write), so several read-only handles open at once while a
    /// read-write open is refused, and the other way round. Writes,
    /// `flush`, `sync`, `compact_range` and `repair_blobs` return
    /// [`Error::ReadOnly`]. A directory without a store opens as an empty
    /// store; `options.create_if_missing` is ignored.
    ///
    /// # Errors
    ///
    /// [`Error::Fs`] with [`vfs::Error::Locked`] while a read-write handle
    /// has it open, or `NotFound` if `dir` does not exist;
    /// [`Error::Corruption`] as for [`Db::open_with_fs`].
    pub fn open_read_only_with_fs(
        fs: Arc<dyn vfs::Fs>,
        dir: impl AsRef<Path>,
        opts: Options,
    ) -> Result<Db> {
        opts.validate()?;
        let dir = dir.as_ref().to_path_buf();
        let lock_path = dir.join("LOCK");
        let lock = if fs.exists(&lock_path)? {
            Some(fs.lock_shared(&lock_path)?)
        } else {
            None
        };
        let cache = Arc::new(BlockCache::new(opts.block_cache_bytes));
        let r = recovery::recover(&fs, &dir, &opts, &cache, Access::ReadOnly)?;
        // The write side is never used (every write path returns
        // `Error::ReadOnly` first), but `Inner` holds one: its log and
        // manifest writers live in a private in-memory file system.
        let scratch = vfs::MemFs::new();
        let log = LogWriter::create(&scratch, Path::new("/read-only.log"))?;
        let mlog = LogWriter::create(&scratch, Path::new("/read-only.manifest"))?;
        let inner = Arc::new(Inner {
            fs,
            dir,
            opts,
            cache,
            sv: RwLock::new(Arc::new(SuperVersion {
                mem: Arc::new(r.mem),
                imm: None,
                version: Arc::new(r.version),
            })),
            last_seq: AtomicU64::new(r.last_seq),
            next_file: AtomicU64::new(r.next_file),
            reserved: AtomicU64::new(0),
            write: Mutex::new(WriteState {
                log,
                log_number: 0,
                encode_buf: Vec::new(),
                old_log_unsynced: None,
                replayed_logs_unsynced: Vec::new(),
                log_name_durable: true,
            }),
            write_cv: Condvar::new(),
            queue: Mutex::new(CommitQueue::default()),
            queue_cv: Condvar::new(),
            manifest: Mutex::new(ManifestState {
                log: mlog,
                broken: true,
                log_number: r.log_number,
                cursor: vec![Vec::new(); NUM_LEVELS],
                blobs: r.blob_files,
                log_lengths: BTreeMap::new(),
            }),
            compaction_lock: Mutex::new(()),
            bg: Mutex::new(BgState::default()),
            bg_cv: Condvar::new(),
            snapshots: Mutex::new(BTreeMap::new()),
            obsolete: Mutex::new(Vec::new()),
            state: Lifecycle::default(),
            counters: Counters::default(),
            blobs: r.blobs,
            access: Access::ReadOnly,
            _lock: lock,
        });
        Ok(Db {
            shared: Arc::new(Shared {
                inner,
                bg_threads: Mutex::new(Vec::new()),
            }),
        })
    }

    /// Whether this handle was opened with [`Db::open_read_only`].
    pub fn is_read_only(&self) -> bool {
        self.inner().access == Access::ReadOnly
    }

    fn check_writable(&self) -> Result<()> {
        if self.is_read_only() {
            return Err(Error::ReadOnly);
        }
        Ok(())
    }

    fn inner(&self) -> &Inner {
        &self.shared.inner
    }

    /// Sets `key` to `value`.
    ///
    /// # Errors
    ///
    /// [`Error::KeyTooLarge`], [`Error::ValueTooLarge`], a log write or sync
    /// failure, or [`Error::Closed`] after a background failure. Under
    /// [`SyncMode::GroupCommit`] the writers that shared a failed sync get
    /// [`Error::Closed`] naming it. A write that failed is never visible.
    pub fn put(&self, key: impl Into<Bytes>, value: impl Into<Bytes>) -> Result<()> {
        let mut b = WriteBatch::new();
        b.put(key, value);
        self.write(b)
    }

    /// Deletes `key` (a no-op if absent).
    ///
    /// # Errors
    ///
    /// As [`Db::put`].
    pub fn delete(&self, key: impl Into<Bytes>) -> Result<()> {
        let mut b = WriteBatch::new();
        b.delete(key);
        self.write(b)
    }

    /// Applies every operation of `batch` atomically: a reader or a crash
    /// sees all of them or none.
    ///
    /// # Errors
    ///
    /// As [`Db::put`].
    pub fn write(&self, batch: WriteBatch) -> Result<()> {
        self.inner().state.check()?;
        self.check_writable()?;
        self.inner().write(batch)
    }

    /// The current value of `key`.
    ///
    /// # Errors
    ///
    /// [`Error::Corruption`] or [`Error::Fs`] from a table read.
    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        self.inner().state.check_readable()?;
        self.inner().get_at(key, None)
    }

    /// The live pairs in `range`, in key order; `.rev()` for descending.
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> DbIter {
        self.inner().range_at(bounds(&range), None)
    }

    /// The live pairs whose key starts with `prefix`, both directions.
    pub fn prefix(&self, prefix: &[u8]) -> DbIter {
        self.inner().range_at(prefix_bounds(prefix), None)
    }

    /// A consistent view of the current state.
    pub fn snapshot(&self) -> Snapshot {
        let inner = Arc::clone(&self.shared.inner);
        let mut s = inner.snapshots.lock();
        let seq = inner.last_seq.load(Ordering::Acquire);
        *s.entry(seq).or_insert(0) += 1;
        drop(s);
        Snapshot { inner, seq }
    }

    /// Writes the memtable to a table and waits until it is durable in the
    /// manifest. Every acknowledged write is durable afterwards.
    ///
    /// # Errors
    ///
    /// A write failure, or [`Error::Closed`] after a background failure.
    pub fn flush(&self) -> Result<()> {
        self.check_writable()?;
        self.inner().flush()
    }

    /// Makes every acknowledged write durable (syncs the log).
    ///
    /// # Errors
    ///
    /// A sync failure.
    pub fn sync(&self) -> Result<()> {
        self.check_writable()?;
        let inner = self.inner();
        inner.state.check()?;
        let mut w = inner.write.lock();
        w.sync_all(&*inner.fs, &inner.dir)
            .map_err(|e| inner.stop(e))
    }

    /// Flushes, then compacts every table overlapping `range` down the
    /// levels, dropping overwritten versions and tombstones no snapshot needs.
    ///
    /// # Errors
    ///
    /// A read, write or corruption error from the tables.
    pub fn compact_range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Result<()> {
        self.check_writable()?;
        self.flush()?;
        let (lo, hi) = bounds(&range);
        self.inner().compact_range(bound_key(&lo), bound_key(&hi))
    }

    /// Reads every entry of every live table (checking every block) and
    /// every blob value a table entry points to (checking every stripe it
    /// lies in and the value's checksum), and reports what is wrong: a bad
    /// table block with its file and offset, a blob file with bad shards
    /// that can still be rebuilt, or values lost with the keys that point
    /// to them. Runs beside reads, writes and compactions, on the tables
    /// live when it starts, which stay on disk (with the blob files they
    /// reference) until it returns.
    ///
    /// The report lists every table read (file, level, blocks, entries) and
    /// every problem with its file and byte offset; a bad data block costs
    /// only its own entries, the table's other blocks are still read.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] once the database is closed; damage is never an
    /// error here, it is in the report.
    pub fn verify(&self) -> Result<VerifyReport> {
        self.verify_with(|_| {})
    }

    /// [`Db::verify`], calling `on_table` after each table is read (to show
    /// progress). `on_table` may use the database, and may compact it: the
    /// tables being verified stay on disk until this call returns.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] once the database is closed.
    pub fn verify_with(&self, mut on_table: impl FnMut(&TableReport)) -> Result<VerifyReport> {
        let inner = self.inner();
        inner.state.check_readable()?;
        // Holding the tables pins their files: obsolete tables are deleted
        // only once nothing else holds them (`delete_obsolete`), and a blob
        // file only once no table file on disk references it.
        let tables: Vec<(usize, Arc<Table>)> = {
            let sv = inner.super_version();
            sv.version
                .levels
                .iter()
                .enumerate()
                .flat_map(|(level, ts)| ts.iter().map(move |t| (level, Arc::clone(t))))
                .collect()
        };
        crate::verify::verify(&tables, inner.blobs.as_deref(), &mut on_table)
    }

    /// Rebuilds every missing or rotten blob shard from the surviving
    /// shards of its stripe (recreating a lost blob directory), then
    /// verifies; the report's `after` names the keys whose values could not
    /// be saved.
    ///
    /// # Errors
    ///
    /// [`Error::BlobStore`] if a rebuilt shard cannot be written.
    pub fn repair_blobs(&self) -> Result<BlobRepairReport> {
        self.check_writable()?;
        let inner = self.inner();
        inner.state.check()?;
        let shards_rebuilt = match &inner.blobs {
            Some(store) => store.scrub().map_err(Error::BlobStore)?.shards_repaired,
            None => 0,
        };
        Ok(BlobRepairReport {
            shards_rebuilt,
            after: self.verify()?,
        })
    }

    /// For [`Db::checkpoint`] (`checkpoint.rs`): the file system, and
    /// whether blobs live in the store's own `blobs/` (no
    /// `Options::blob_dirs`).
    pub(crate) fn checkpoint_env(&self) -> (Arc<dyn vfs::Fs>, bool) {
        let inner = self.inner();
        (Arc::clone(&inner.fs), inner.opts.blob_dirs.is_empty())
    }

    /// For [`Db::checkpoint`] (`checkpoint.rs`): flushes the memtable, takes
    /// two fresh file numbers (the checkpoint's log and manifest), and pins
    /// the live version with the blob files its tables reference. The
    /// version and the blob records are read under the manifest lock, so
    /// they belong to one edit; holding the version's tables keeps their
    /// files, and the blobs they reference, on disk.
    pub(crate) fn checkpoint_pin(&self) -> Result<crate::checkpoint::Pinned> {
        self.check_writable()?;
        let inner = self.inner();
        inner.state.check()?;
        inner.flush()?;
        let log_number = inner.new_file_number()?;
        let manifest_number = inner.new_file_number()?;
        let m = inner.manifest.lock();
        let version = Arc::clone(&inner.super_version().version);
        let live = m.blobs.live(&version);
        let blobs = live
            .keys()
            .filter_map(|b| m.blobs.files.get(b).copied())
            .collect();
        let mut table_blobs: Vec<_> = version
            .levels
            .iter()
            .flatten()
            .filter_map(|t| m.blobs.tables.get(&t.number).map(|u| (t.number, u.clone())))
            .collect();
        table_blobs.sort_unstable_by_key(|(n, _)| *n);
        Ok(crate::checkpoint::Pinned {
            fs: Arc::clone(&inner.fs),
            dir: inner.dir.clone(),
            version,
            blobs,
            table_blobs,
            last_seq: inner.last_seq.load(Ordering::Acquire),
            next_file: inner.reserved.load(Ordering::Acquire),
            log_number,
            manifest_number,
        })
    }

    /// Counters and shape of the tree.
    pub fn stats(&self) -> Stats {
        self.inner().stats()
    }

    /// Stops background work, syncs and seals the log and the manifest
    /// (each ends with a synced durable marker, so damage to their last
    /// records is found at the next open), and releases the directory.
    ///
    /// Every clone is closed with it: afterwards (and once this call has
    /// begun) every call on any clone returns [`Error::Closed`], and writers
    /// waiting for a flush wake with it. Reads already running, and
    /// iterators already made, finish on the tables they hold.
    ///
    /// # Errors
    ///
    /// The sync failure; the background error that stopped the engine; or
    /// [`Error::Closed`] if another clone closed it already.
    pub fn close(self) -> Result<()> {
        let inner = Arc::clone(&self.shared.inner);
        let from = inner.state.begin_close()?;
        // From here every call on every clone returns `Closed`; writers
        // waiting for a flush wake, see it, and return.
        inner.wake_writers();
        inner.stop_background();
        for h in self.shared.bg_threads.lock().drain(..) {
            let _ = h.join();
        }
        let synced = if inner.access == Access::ReadOnly {
            // A read-only handle has nothing to sync.
            Ok(())
        } else if matches!(from, CloseFrom::Failed(_)) {
            // After a failure too: a failed flush leaves acknowledged writes
            // in the log, and this sync is what makes them durable. No seal:
            // after a failed append the log's tail is unknown, and a marker
            // past it would turn a torn tail into damage at the next open.
            inner.write.lock().sync_all(&*inner.fs, &inner.dir)
        } else {
            inner
                .write
                .lock()
                .seal_all(&*inner.fs, &inner.dir)
                .and_then(|()| {
                    // Every live log is sealed and durable now: record its
                    // length, so a later truncation or deletion (which
                    // removes the log's own seal marker) is found. The last
                    // edit is protected too; a broken manifest takes
                    // nothing more.
                    let mut m = inner.manifest.lock();
                    if m.broken {
                        return Ok(());
                    }
                    let edit = VersionEdit {
                        logs_sealed: inner.live_log_lengths(&m)?,
                        ..VersionEdit::default()
                    };
                    Inner::log_edit(&mut m, &edit)?;
                    m.log.seal()
                })
        };
        inner.state.finish_close();
        if let CloseFrom::Failed(reason) = from {
            return Err(Error::Closed {
                reason: Some(reason),
            });
        }
        synced?;
        if let Some(reason) = inner.state.reason() {
            return Err(Error::Closed {
                reason: Some(reason),
            });
        }
        Ok(())
    }
}

/// What a background thread does: flushes never wait behind a long
/// compaction, so writers stall only when L0 is too deep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Flush,
    Compact,
}

/// Bytes of batches a group-commit leader takes at most, unless its own
/// batch lies further back: bounds the latency of the writers first in
/// line and how far a group overshoots the memtable's size (LevelDB: 1 MiB).
const GROUP_BYTES_MAX: usize = 1 << 20;

/// Takes the group a leader with ticket `leader` commits: the queue's
/// front, in ticket order, up to [`GROUP_BYTES_MAX`] bytes and at least up
/// to the leader's own batch, so a group's tickets stay contiguous.
fn take_group(queued: &mut Vec<(u64, WriteBatch)>, leader: u64) -> Vec<(u64, WriteBatch)> {
    let mut bytes = 0usize;
    let n = queued
        .iter()
        .take_while(|(t, b)| {
            bytes = bytes.saturating_add(b.size_bytes);
            *t <= leader || bytes <= GROUP_BYTES_MAX
        })
        .count();
    queued.drain(..n).collect()
}

/// Whether a commit syncs the log before its writes become visible.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Durability {
    Sync,
    NoSync,
}

/// Whether a compaction may move a lone table down instead of rewriting it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Move {
    Allowed,
    Forbidden,
}

/// Options of a table written to `level`.
fn table_options(opts: &Options, level: usize) -> TableOptions {
    TableOptions {
        block_size_bytes: opts.block_size_bytes,
        restart_interval: opts.block_restart_interval,
        bloom_bits_per_key: opts.bloom_bits_per_key,
        compression: opts.compression && level >= opts.compression_min_level,
    }
}

/// Tables of one level of L1.. must not overlap; a manifest that says they
/// do is corrupt (reads would return stale versions).
/// `added_at` gives the manifest offset of the edit that added a table.
pub(crate) fn check_levels(
    v: &Version,
    manifest_path: &Path,
    added_at: impl Fn(u64) -> u64,
) -> Result<()> {
    for (level, tables) in v.levels.iter().enumerate().skip(1) {
        if let Some(w) = tables
            .windows(2)
            .find(|w| crate::version::user_range(&w[0]).1 >= crate::version::user_range(&w[1]).0)
        {
            return Err(Error::corruption(
                manifest_path,
                added_at(w[1].number),
                "manifest puts overlapping tables in one level (expected: the level; found:                  the table)",
                level as u64,
                w[1].number,
            ));
        }
    }
    Ok(())
}

pub(crate) fn sort_version(v: &mut Version) {
    v.levels[0].sort_by_key(|t| std::cmp::Reverse(t.number));
    for level in &mut v.levels[1..] {
        level.sort_by(|a, b| crate::key::cmp_encoded(&a.props.smallest, &b.props.smallest));
    }
}

impl Inner {
    /// The sequence number a read without a snapshot sees. Read it *after*
    /// taking the super version: the tables of a newer super version may
    /// have dropped versions visible at an older sequence number that no
    /// registered snapshot protects, whereas everything this super version
    /// dropped is shadowed by a version it holds, and every write it lacks
    /// overlaps the read in time.
    fn latest_seq(&self) -> SeqNo {
        self.last_seq.load(Ordering::Acquire)
    }

    fn super_version(&self) -> Arc<SuperVersion> {
        Arc::clone(&self.sv.read())
    }

    /// Stops the engine after a failed log write or sync: the log's tail is
    /// unknown (a later record after a partial one would be corruption in
    /// the middle at recovery), and a failed sync may have dropped data the
    /// kernel held, so every later write fails too, as in LevelDB and
    /// RocksDB. Returns `e` for the caller.
    fn stop(&self, e: Error) -> Error {
        self.state
            .fail(format!("write-ahead log write failed: {e}"));
        e
    }

    /// `Ok` while the database is open; [`Error::Closed`] once a `close`
    /// began on any clone, or a failure stopped it.
    fn check_failed(&self) -> Result<()> {
        self.state.check()
    }

    fn write(&self, batch: WriteBatch) -> Result<()> {
        for (_, k, v) in &batch.ops {
            if k.len() > KEY_LEN_MAX {
                return Err(Error::KeyTooLarge {
                    len: k.len(),
                    len_max: KEY_LEN_MAX,
                });
            }
            if v.len() > VALUE_LEN_MAX {
                return Err(Error::ValueTooLarge {
                    len: v.len(),
                    len_max: VALUE_LEN_MAX,
                });
            }
        }
        if batch.is_empty() {
            return Ok(());
        }
        if self.opts.sync == SyncMode::GroupCommit {
            return self.write_grouped(batch);
        }
        let mut w = self.write.lock();
        self.make_room(&mut w, false)?;
        let sync = if self.opts.sync == SyncMode::Always {
            Durability::Sync
        } else {
            Durability::NoSync
        };
        let mut batch = batch;
        self.commit(&mut w, std::slice::from_mut(&mut batch), sync)
    }

    /// Group commit: queues `batch`, then either finds it committed by a
    /// leader or leads a group itself (see [`CommitQueue`]). A writer whose
    /// group's append or sync failed gets the cause as the leader's error,
    /// or as [`Error::Closed`] with it as the reason.
    fn write_grouped(&self, batch: WriteBatch) -> Result<()> {
        let mut q = self.queue.lock();
        let ticket = q.next_ticket;
        q.next_ticket += 1;
        q.queued.push((ticket, batch));
        // Bounded: each wait ends when a group finishes or a leader steps
        // down, and the first queued writer leads the next group.
        while q.done_below <= ticket && q.leader_active {
            self.queue_cv.wait(&mut q);
        }
        if q.done_below > ticket {
            return match q.failed_from {
                Some(f) if ticket >= f => Err(Error::Closed {
                    reason: self.state.reason(),
                }),
                _ => Ok(()),
            };
        }
        q.leader_active = true;
        drop(q);
        let mut w = self.write.lock();
        if let Err(e) = self.make_room(&mut w, false) {
            // Only the leader's own write fails; the next in line leads.
            drop(w);
            let mut q = self.queue.lock();
            q.queued.retain(|(t, _)| *t != ticket);
            q.leader_active = false;
            self.queue_cv.notify_all();
            return Err(e);
        }
        let group = take_group(&mut self.queue.lock().queued, ticket);
        let (first, last) = match (group.first(), group.last()) {
            (Some(f), Some(l)) => (f.0, l.0),
            // Cannot happen: a writer leads only once no leader is active
            // and its ticket is not done, and a group's leader marks it
            // done before stepping down, so no group has taken its batch.
            _ => unreachable!("a leader's own batch is in its group"),
        };
        debug_assert!(first <= ticket && ticket <= last);
        let mut batches: Vec<WriteBatch> = group.into_iter().map(|(_, b)| b).collect();
        let r = self.commit(&mut w, &mut batches, Durability::Sync);
        drop(w);
        let mut q = self.queue.lock();
        // Below `first` every ticket is done, or was its leader's own and
        // failed in `make_room` (that writer returned its error).
        debug_assert!(q.done_below <= first);
        q.done_below = last + 1;
        if r.is_err() && q.failed_from.is_none() {
            q.failed_from = Some(first);
        }
        q.leader_active = false;
        self.queue_cv.notify_all();
        r
    }

    /// Commits `batches` in LevelDB's order: append each to the log, sync
    /// (when asked), insert into the memtable, publish the last sequence
    /// number. A reader sees none of them before the sync returned, and a
    /// failed append or sync stops the engine with nothing inserted.
    fn commit(
        &self,
        w: &mut WriteState,
        batches: &mut [WriteBatch],
        sync: Durability,
    ) -> Result<()> {
        let seq_first = self.last_seq.load(Ordering::Relaxed) + 1;
        let mut seq = seq_first;
        let mut buf = std::mem::take(&mut w.encode_buf);
        for b in batches.iter() {
            buf.clear();
            b.encode(seq, &mut buf);
            if let Err(e) = w.log.add_record(&buf) {
                w.encode_buf = buf;
                return Err(self.stop(e));
            }
            seq += b.ops.len() as u64;
        }
        w.encode_buf = buf;
        if sync == Durability::Sync {
            w.log.sync().map_err(|e| self.stop(e))?;
        }
        // The memtable of the log just written: it changes only under the
        // write lock, which the caller holds.
        let mem = Arc::clone(&self.sv.read().mem);
        let mut seq = seq_first;
        let mut user_bytes = 0u64;
        for b in batches.iter_mut() {
            user_bytes += b.size_bytes as u64;
            for (kind, k, v) in std::mem::take(&mut b.ops) {
                mem.insert(k, seq, kind, v);
                seq += 1;
            }
        }
        self.last_seq.store(seq - 1, Ordering::Release);
        self.counters
            .user_bytes
            .fetch_add(user_bytes, Ordering::Relaxed);
        Ok(())
    }

    /// Makes sure the memtable has room, switching it (and the log) when
    /// full; slows or stalls the writer when L0 is too deep.
    fn make_room(
        &self,
        w: &mut parking_lot::MutexGuard<'_, WriteState>,
        force: bool,
    ) -> Result<()> {
        let mut slowed = false;
        // Bounded: each wait ends when background work finishes or fails.
        loop {
            self.check_failed()?;
            let sv = self.super_version();
            let l0 = sv.version.levels[0].len();
            if l0 >= self.opts.l0_slowdown_trigger && !slowed && !force {
                slowed = true;
                self.counters.write_stalls.fetch_add(1, Ordering::Relaxed);
                parking_lot::MutexGuard::unlocked(w, || {
                    std::thread::sleep(Duration::from_millis(1))
                });
                continue;
            }
            if !force && sv.mem.size_bytes() < self.opts.write_buffer_size_bytes {
                return Ok(());
            }
            if force && sv.mem.is_empty() {
                return Ok(());
            }
            if sv.imm.is_some() || l0 >= self.opts.l0_stop_trigger {
                self.counters.write_stalls.fetch_add(1, Ordering::Relaxed);
                self.wake_background();
                self.write_cv.wait_for(w, Duration::from_millis(50));
                continue;
            }
            // Switch: a new log takes the writes.
            let n = self.new_file_number()?;
            let mut log = LogWriter::create(&*self.fs, &self.dir.join(manifest::log_name(n)))?;
            if self.opts.sync == SyncMode::Never {
                // Nothing waits for durability now: leave the syncs to the
                // next `sync`/`flush`/`close` (or to the flush of this
                // memtable, which makes the old log unnecessary).
                log.set_buffered(true)?;
                w.log.write_out()?;
                let old = std::mem::replace(&mut w.log, log);
                // Any earlier unsynced log belonged to a memtable flushed
                // since (a switch waits for the previous flush): only this
                // one can hold writes not yet in a table.
                w.old_log_unsynced = Some(old);
                w.log_name_durable = false;
            } else {
                // Every write in the old log was synced before it was
                // acknowledged; sealing it records that in the log, so
                // damage to its last records is not taken for a torn tail.
                self.fs.sync_dir(&self.dir)?;
                w.log.seal()?;
                // Record its length (a cheap edit beside the flush's), so
                // a truncation of it is found until it is flushed.
                let sealed = (w.log_number, w.log.len_bytes());
                {
                    let mut m = self.manifest.lock();
                    Self::log_edit(
                        &mut m,
                        &VersionEdit {
                            logs_sealed: vec![sealed],
                            ..VersionEdit::default()
                        },
                    )?;
                    m.log_lengths.insert(sealed.0, sealed.1);
                }
                w.log = log;
            }
            w.log_number = n;
            // Build from the super version current now, not the one read at
            // the top of the loop: a compaction may have installed a new
            // version while the log was being created, and reinstalling the
            // old one would resurrect its input tables.
            let mut sv_lock = self.sv.write();
            let cur = Arc::clone(&sv_lock);
            *sv_lock = Arc::new(SuperVersion {
                mem: Arc::new(Memtable::new()),
                imm: Some((Arc::clone(&cur.mem), n)),
                version: Arc::clone(&cur.version),
            });
            drop(sv_lock);
            self.wake_background();
            return Ok(());
        }
    }

    fn get_at(&self, key: &[u8], seq: Option<SeqNo>) -> Result<Option<Bytes>> {
        let (found, _pinned) = {
            // The super version is read under its lock instead of cloned
            // out: two atomic operations per get instead of four. A memtable
            // switch waits at most for one lookup, which does no I/O beyond
            // the table maps (a blob is resolved after the lock is dropped).
            let sv = self.sv.read();
            let seq = seq.unwrap_or_else(|| self.latest_seq());
            let found = match sv.mem.get(key, seq) {
                Some(x) => Some(x),
                None => match sv.imm.as_ref().and_then(|(m, _)| m.get(key, seq)) {
                    Some(x) => Some(x),
                    None => {
                        let mut st = GetStats::default();
                        let hash = filter::key_hash(key);
                        let r = if crate::probe::all_filters_negative(
                            &sv.version,
                            key,
                            hash,
                            &mut st,
                        ) {
                            Ok(None)
                        } else {
                            sv.version.get(key, hash, seq, &mut st)
                        };
                        // Shared counters: touch only those that changed.
                        // Every table probed without error is a filter
                        // negative or a positive: `stats()` reports
                        // `tables_probed` as their sum, one counter fewer
                        // per get.
                        debug_assert!(
                            r.is_err()
                                || st.tables_probed == st.filter_negatives + st.filter_positives
                        );
                        for (counter, n) in [
                            (&self.counters.filter_negatives, st.filter_negatives),
                            (&self.counters.filter_positives, st.filter_positives),
                        ] {
                            if n > 0 {
                                counter.fetch_add(n, Ordering::Relaxed);
                            }
                        }
                        r?
                    }
                },
            };
            // A reference found in a table is resolved after the lock is
            // dropped: the version is held until then, so the table stays
            // on disk and its blob file with it (a blob file goes only when
            // no table on disk points into it). Without the pin, a
            // compaction collecting that blob could replace the table,
            // delete it (no reader holding it) and then the blob file
            // before the read below. Inline values need no pin.
            let pinned =
                matches!(found, Some((ValueKind::BlobRef, _))).then(|| Arc::clone(&sv.version));
            (found, pinned)
        };
        self.counters.gets.fetch_add(1, Ordering::Relaxed);
        Ok(match found {
            Some((ValueKind::Inline, v)) => Some(v),
            Some((ValueKind::BlobRef, r)) => Some(blob::resolve(self.blobs.as_deref(), key, &r)?),
            _ => None,
        })
    }

    fn range_at(&self, (lo, hi): (Bound<Bytes>, Bound<Bytes>), seq: Option<SeqNo>) -> DbIter {
        let sv = self.super_version();
        let seq = seq.unwrap_or_else(|| self.latest_seq());
        let mut sources: Vec<BoxIter> = Vec::new();
        if let Err(e) = self.state.check_readable() {
            // A closed database yields its error first, then nothing.
            sources.push(Box::new(std::iter::once(Err(e))));
            return DbIter::new(sources, seq, lo, hi, Arc::clone(&sv.version), None);
        }
        sources.push(Box::new(sv.mem.range(as_slice(&lo), as_slice(&hi)).map(Ok)));
        if let Some((imm, _)) = &sv.imm {
            sources.push(Box::new(imm.range(as_slice(&lo), as_slice(&hi)).map(Ok)));
        }
        let (lk, hk) = (bound_key(&lo), bound_key(&hi));
        for t in sv.version.overlapping(0, lk, hk) {
            sources.push(t.iter(lk, hk));
        }
        for level in 1..NUM_LEVELS {
            let tables = sv.version.overlapping(level, lk, hk);
            if tables.is_empty() {
                continue;
            }
            let (lo2, hi2) = (lk.map(<[u8]>::to_vec), hk.map(<[u8]>::to_vec));
            let n = tables.len();
            sources.push(Box::new(Concat::new(0, n, move |i| {
                Ok(tables[i].iter(lo2.as_deref(), hi2.as_deref()))
            })));
        }
        DbIter::new(
            sources,
            seq,
            lo,
            hi,
            Arc::clone(&sv.version),
            self.blobs.clone(),
        )
    }

    fn flush(&self) -> Result<()> {
        let mut w = self.write.lock();
        self.make_room(&mut w, true)?;
        // Bounded: the background thread flushes `imm` or fails.
        loop {
            self.check_failed()?;
            if self.super_version().imm.is_none() {
                break;
            }
            self.wake_background();
            self.write_cv.wait_for(&mut w, Duration::from_millis(20));
        }
        w.sync_all(&*self.fs, &self.dir).map_err(|e| self.stop(e))
    }

    fn smallest_snapshot(&self) -> SeqNo {
        let s = self.snapshots.lock();
        s.keys()
            .next()
            .copied()
            .unwrap_or_else(|| self.last_seq.load(Ordering::Acquire))
    }

    /// A fresh number for a table, log or blob. Numbers are reserved in
    /// the manifest before they are handed out ([`NUMBERS_RESERVED_BATCH`]
    /// at a time, one synced edit per batch), so every file the engine
    /// writes has a number below a durably recorded `next_file`: recovery
    /// reads a table or blob numbered beyond it as proof of a lost edit.
    fn new_file_number(&self) -> Result<u64> {
        let n = self.next_file.fetch_add(1, Ordering::Relaxed);
        if n < self.reserved.load(Ordering::Acquire) {
            return Ok(n);
        }
        let mut m = self.manifest.lock();
        let reserved = self.reserved.load(Ordering::Acquire);
        if n >= reserved {
            let upto = n.max(self.next_file.load(Ordering::Relaxed)) + NUMBERS_RESERVED_BATCH;
            if upto > manifest::FILE_NUMBER_MAX {
                return Err(Error::corruption(
                    self.dir.join(manifest::CURRENT),
                    0,
                    "file numbers exhausted",
                    manifest::FILE_NUMBER_MAX,
                    upto,
                ));
            }
            let edit = VersionEdit {
                next_file: Some(upto),
                ..VersionEdit::default()
            };
            Self::log_edit(&mut m, &edit)?;
            self.reserved.store(upto, Ordering::Release);
        }
        Ok(n)
    }

    /// Logs `edit` durably and installs the version it makes.
    fn install(
        &self,
        edit: VersionEdit,
        opened: Vec<(usize, Arc<Table>)>,
        flushed_log: Option<u64>,
    ) -> Result<()> {
        let mut m = self.manifest.lock();
        let mut edit = edit;
        // The log number moves on only once the edit saying so is durable:
        // an edit logged by another thread meanwhile must not claim the
        // flushed log's writes are in a table.
        edit.log_number = Some(flushed_log.unwrap_or(m.log_number));
        edit.next_file = Some(self.next_file.load(Ordering::Relaxed));
        edit.last_seq = Some(self.last_seq.load(Ordering::Acquire));
        Self::log_edit(&mut m, &edit)?;
        if let Some(n) = flushed_log {
            m.log_number = n;
        }
        for b in &edit.blobs_added {
            m.blobs.files.insert(b.blob, *b);
        }
        for (n, uses) in &edit.table_blobs {
            m.blobs.tables.insert(*n, uses.clone());
        }
        let mut sv_lock = self.sv.write();
        let old = Arc::clone(&sv_lock);
        let mut v = (*old.version).clone();
        let mut removed = Vec::new();
        for &(level, n) in &edit.deleted {
            let l = &mut v.levels[level as usize];
            if let Some(i) = l.iter().position(|t| t.number == n) {
                removed.push(l.remove(i));
            }
        }
        for (level, t) in opened {
            v.levels[level].push(t);
        }
        sort_version(&mut v);
        debug_assert!(
            check_levels(&v, Path::new("(in memory)"), |_| 0).is_ok(),
            "edit {edit:?} made overlapping tables in a level"
        );
        let imm = if flushed_log.is_some() {
            None
        } else {
            old.imm.clone()
        };
        *sv_lock = Arc::new(SuperVersion {
            mem: Arc::clone(&old.mem),
            imm,
            version: Arc::new(v),
        });
        drop(sv_lock);
        drop(m);
        // Moved tables stay live at their new level.
        let live: Vec<u64> = edit.added.iter().map(|a| a.1).collect();
        self.obsolete
            .lock()
            .extend(removed.into_iter().filter(|t| !live.contains(&t.number)));
        if let Some(n) = flushed_log {
            // Oldest first: a crash midway leaves the logs from some number
            // on, never a gap (recovery relies on it).
            let mut old: Vec<u64> = self
                .fs
                .list_dir(&self.dir)?
                .iter()
                .filter_map(|name| match manifest::parse_name(&name.to_string_lossy()) {
                    FileKind::Log(x) if x < n => Some(x),
                    _ => None,
                })
                .collect();
            old.sort_unstable();
            for x in old {
                self.fs.remove_file(&self.dir.join(manifest::log_name(x)))?;
            }
        }
        self.delete_obsolete()?;
        self.wake_writers();
        // A flush may give the compaction thread work.
        self.wake_background();
        Ok(())
    }

    /// The live logs (numbered from the manifest's log number on) and the
    /// length of each one's whole records, for a close to record them as
    /// sealed: called once every one of them is synced.
    fn live_log_lengths(&self, m: &ManifestState) -> Result<Vec<(u64, u64)>> {
        let mut out = Vec::new();
        for name in self.fs.list_dir(&self.dir)? {
            let FileKind::Log(n) = manifest::parse_name(&name.to_string_lossy()) else {
                continue;
            };
            if n < m.log_number {
                continue;
            }
            let len = match m.log_lengths.get(&n) {
                Some(&len) => len,
                None => self
                    .fs
                    .open(&self.dir.join(manifest::log_name(n)), vfs::OpenMode::Read)?
                    .len()?,
            };
            out.push((n, len));
        }
        out.sort_unstable();
        Ok(out)
    }

    /// Appends `edit` to the manifest and syncs it. After a failure the
    /// manifest takes no more edits.
    fn log_edit(m: &mut ManifestState, edit: &VersionEdit) -> Result<()> {
        if m.broken {
            return Err(Error::Closed {
                reason: Some("an earlier manifest write failed".into()),
            });
        }
        let r = m.log.add_record(&edit.encode()).and_then(|_| m.log.sync());
        if r.is_err() {
            m.broken = true;
        }
        r.map(|_| ())
    }

    /// Deletes tables no version or iterator uses any more.
    fn delete_obsolete(&self) -> Result<()> {
        let mut dead = Vec::new();
        self.obsolete.lock().retain(|t| {
            if Arc::strong_count(t) == 1 {
                dead.push((t.number, t.path().to_path_buf()));
                false
            } else {
                true
            }
        });
        if dead.is_empty() {
            return Ok(());
        }
        for (n, path) in &dead {
            self.cache.evict_table(*n);
            self.fs.remove_file(path)?;
        }
        {
            let mut m = self.manifest.lock();
            for (n, _) in &dead {
                m.blobs.tables.remove(n);
            }
        }
        self.delete_unreferenced_blobs()
    }

    /// Deletes the blob files no table file on disk points into: first
    /// from the manifest (durably), then from the store. A crash between
    /// the two leaves a blob the manifest does not record, which the next
    /// open deletes; no blob a live table references is ever deleted.
    fn delete_unreferenced_blobs(&self) -> Result<()> {
        let Some(store) = &self.blobs else {
            return Ok(());
        };
        let gone = {
            let mut m = self.manifest.lock();
            let gone = m.blobs.unreferenced();
            if gone.is_empty() {
                return Ok(());
            }
            let edit = VersionEdit {
                blobs_deleted: gone.clone(),
                ..VersionEdit::default()
            };
            Self::log_edit(&mut m, &edit)?;
            for b in &gone {
                m.blobs.files.remove(b);
            }
            gone
        };
        for b in gone {
            // Best effort: the manifest no longer records the blob, so a
            // failed delete only leaves space that the next open reclaims;
            // it must not stop the engine.
            if store.delete(b).is_ok() {
                self.counters
                    .blob_files_deleted
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    /// Writes `entries` to a new table (synced), moving large values into
    /// blobs through `separator`; returns it with the blob values it
    /// references.
    fn write_table(
        &self,
        entries: impl Iterator<Item = crate::memtable::Entry>,
        mut separator: Option<&mut Separator<'_>>,
    ) -> Result<Option<(Arc<Table>, Vec<BlobUse>)>> {
        let n = self.new_file_number()?;
        let path = self.dir.join(manifest::table_name(n));
        let mut w = TableWriter::create(&*self.fs, &path, table_options(&self.opts, 0))?;
        let mut refs = RefCounter::default();
        for (mut k, mut v) in entries {
            if let Some(s) = separator.as_deref_mut() {
                s.apply(&mut k, &mut v)?;
            }
            refs.note(k.kind, &v);
            w.add(&k.encoded(), &v)?;
        }
        if w.entries() == 0 {
            drop(w);
            self.fs.remove_file(&path)?;
            return Ok(None);
        }
        let (size, _) = w.finish()?;
        self.counters.flush_bytes.fetch_add(size, Ordering::Relaxed);
        let t = Table::open(&*self.fs, &path, n, Arc::clone(&self.cache))?;
        Ok(Some((Arc::new(t), refs.into_uses())))
    }

    fn flush_imm(&self) -> Result<()> {
        let sv = self.super_version();
        let Some((imm, next_log)) = &sv.imm else {
            return Ok(());
        };
        let no_collection = HashSet::new();
        let new_id = || self.new_file_number();
        let mut sep = match (&self.blobs, self.opts.blob_threshold_bytes) {
            (Some(store), Some(t)) => Some(Separator::new(store, Some(t), &no_collection, &new_id)),
            _ => None,
        };
        let entries = job::drop_shadowed(imm.iter(), self.smallest_snapshot());
        let table = self.write_table(entries, sep.as_mut())?;
        let mut edit = VersionEdit::default();
        if let Some(sep) = sep {
            self.counters
                .blob_bytes
                .fetch_add(sep.separated_bytes, Ordering::Relaxed);
            edit.blobs_added = sep.finish()?;
        }
        self.fs.sync_dir(&self.dir)?;
        let mut opened = Vec::new();
        if let Some((t, uses)) = table {
            edit.added.push((0, t.number, t.size_bytes()));
            if !uses.is_empty() {
                edit.table_blobs.push((t.number, uses));
            }
            opened.push((0, t));
        }
        self.install(edit, opened, Some(*next_log))?;
        self.counters.flushes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn run_compaction(&self, c: &picker::Compaction, moves: Move) -> Result<()> {
        let sv = self.super_version();
        let mut edit = VersionEdit::default();
        let mut opened = Vec::new();
        for (level, t) in job::input_tables(c) {
            edit.deleted.push((level as u8, t.number));
        }
        if moves == Move::Allowed && job::is_trivial_move(c) {
            let t = &c.inputs[0];
            edit.added
                .push((c.out_level as u8, t.number, t.size_bytes()));
            opened.push((c.out_level, Arc::clone(t)));
        } else {
            let collect = self.blobs_to_collect(&sv.version);
            let next = || self.new_file_number();
            let mut sep = self
                .blobs
                .as_deref()
                .filter(|_| !collect.is_empty())
                .map(|store| Separator::new(store, None, &collect, &next));
            let env = job::JobEnv {
                fs: &*self.fs,
                dir: &self.dir,
                table_opts: table_options(&self.opts, c.out_level),
                table_size_target_bytes: self.opts.table_size_target_bytes,
                smallest_snapshot: self.smallest_snapshot(),
                new_file_number: &next,
            };
            let outputs = job::run(c, &sv.version, &env, sep.as_mut())?;
            if let Some(sep) = sep {
                self.counters
                    .blob_gc_bytes
                    .fetch_add(sep.relocated_bytes, Ordering::Relaxed);
                edit.blobs_added = sep.finish()?;
            }
            self.fs.sync_dir(&self.dir)?;
            for job::Output {
                number: n,
                size_bytes: size,
                blob_uses: uses,
            } in outputs
            {
                self.counters
                    .compaction_bytes
                    .fetch_add(size, Ordering::Relaxed);
                let t = Table::open(
                    &*self.fs,
                    &self.dir.join(manifest::table_name(n)),
                    n,
                    Arc::clone(&self.cache),
                )?;
                edit.added.push((c.out_level as u8, n, size));
                if !uses.is_empty() {
                    edit.table_blobs.push((n, uses));
                }
                opened.push((c.out_level, Arc::new(t)));
            }
        }
        if let Some(last) = c
            .inputs
            .iter()
            .map(|t| crate::version::user_range(t).1.to_vec())
            .max()
        {
            self.manifest.lock().cursor[c.level] = last;
        }
        self.install(edit, opened, None)?;
        self.counters.compactions.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn compact_range(&self, lo: Option<&[u8]>, hi: Option<&[u8]>) -> Result<()> {
        let _g = self.compaction_lock.lock();
        // File numbers only grow: tables numbered from here on are this
        // call's outputs.
        let first_new = self.next_file.load(Ordering::Relaxed);
        for level in 0..NUM_LEVELS - 1 {
            self.check_failed()?;
            let v = Arc::clone(&self.super_version().version);
            let inputs = v.overlapping(level, lo, hi);
            if inputs.is_empty() {
                continue;
            }
            // L0 tables overlap each other: compacting some of them past an
            // older one would let the older one shadow their keys.
            let inputs = if level == 0 {
                v.levels[0].clone()
            } else {
                inputs
            };
            // A manual compaction rewrites even lone tables, to drop garbage.
            self.run_compaction(&picker::with_overlaps(&v, level, inputs), Move::Forbidden)?;
        }
        // The deepest level's tables that this call did not just write may
        // still hold versions and tombstones that only an older snapshot
        // needed: rewrite them in place (as RocksDB's bottommost-level
        // compaction does).
        // Each run of neighbouring old tables is rewritten on its own: its
        // outputs then stay between the run's neighbours, which this call
        // wrote and which must not be overlapped.
        let v = Arc::clone(&self.super_version().version);
        if let Some(bottom) = (1..NUM_LEVELS).rev().find(|&l| !v.levels[l].is_empty()) {
            let mut runs: Vec<Vec<Arc<Table>>> = vec![Vec::new()];
            for t in v.overlapping(bottom, lo, hi) {
                if t.number < first_new {
                    if let Some(r) = runs.last_mut() {
                        r.push(t);
                    }
                } else if runs.last().is_some_and(|r| !r.is_empty()) {
                    runs.push(Vec::new());
                }
            }
            for inputs in runs.into_iter().filter(|r| !r.is_empty()) {
                let c = picker::Compaction {
                    level: bottom,
                    out_level: bottom,
                    inputs,
                    overlaps: Vec::new(),
                };
                self.run_compaction(&c, Move::Forbidden)?;
            }
        }
        drop(v);
        self.delete_obsolete()
    }

    fn stop_background(&self) {
        let mut bg = self.bg.lock();
        bg.shutdown = true;
        self.bg_cv.notify_all();
    }

    /// Wakes the background thread. Notifying under its lock means a thread
    /// between its "any work?" check and its wait cannot miss the signal.
    fn wake_background(&self) {
        let _g = self.bg.lock();
        self.bg_cv.notify_all();
    }

    /// Wakes writers waiting for a flush or compaction. Taking the write
    /// lock first means no writer is between its check and its wait.
    /// Never called with the write lock held (only the background thread
    /// and `compact_range` install versions).
    fn wake_writers(&self) {
        drop(self.write.lock());
        self.write_cv.notify_all();
    }

    fn background_loop(&self, role: Role) {
        // Bounded by shutdown: each pass does one flush or one compaction, or
        // waits up to 100 ms.
        loop {
            {
                let mut bg = self.bg.lock();
                if bg.shutdown {
                    return;
                }
                // The super version is let go before the wait: holding it
                // would keep tables (and their blob files) that a compaction
                // just replaced from being deleted.
                let has_work = {
                    let sv = self.super_version();
                    match role {
                        Role::Flush => sv.imm.is_some(),
                        Role::Compact => {
                            picker::scores(&sv.version, &self.opts)
                                .iter()
                                .any(|&s| s >= 1.0)
                                || !self.blobs_to_collect(&sv.version).is_empty()
                        }
                    }
                };
                if !has_work {
                    self.bg_cv.wait_for(&mut bg, Duration::from_millis(100));
                    if bg.shutdown {
                        return;
                    }
                }
            }
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match role {
                Role::Flush => self.flush_imm(),
                Role::Compact => self.compaction_step(),
            }))
            .unwrap_or_else(|p| {
                let what = p
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                Err(Error::Closed {
                    reason: Some(format!("background thread panicked: {what}")),
                })
            });
            if let Err(e) = r {
                // A job cut short by a close is no failure: `close` waits
                // for this thread and reports its own outcome.
                if !(self.state.is_closing_or_closed() && matches!(e, Error::Closed { .. })) {
                    self.state.fail(e.to_string());
                }
                self.wake_writers();
                return;
            }
        }
    }

    /// Blob files of `v` past `blob_gc_ratio` garbage, whose live values
    /// compactions copy out.
    fn blobs_to_collect(&self, v: &Version) -> HashSet<erasure::BlobId> {
        if self.blobs.is_none() {
            return HashSet::new();
        }
        self.manifest
            .lock()
            .blobs
            .to_collect(v, self.opts.blob_gc_ratio)
    }

    /// A compaction that collects blob garbage, when no level needs one.
    fn pick_blob_collection(&self, v: &Version) -> Option<picker::Compaction> {
        let collect = self.blobs_to_collect(v);
        if collect.is_empty() {
            return None;
        }
        picker::pick_blob_collection(v, &self.manifest.lock().blobs, &collect)
    }

    fn compaction_step(&self) -> Result<()> {
        let _g = self.compaction_lock.lock();
        let v = Arc::clone(&self.super_version().version);
        let cursor = self.manifest.lock().cursor.clone();
        if let Some(c) = picker::pick(&v, &self.opts, &cursor) {
            self.run_compaction(&c, Move::Allowed)?;
        } else if let Some(c) = self.pick_blob_collection(&v) {
            // Moving a table down unchanged would copy no value out.
            self.run_compaction(&c, Move::Forbidden)?;
        }
        // The inputs just replaced can go unless a reader holds them.
        drop(v);
        self.delete_obsolete()
    }

    fn stats(&self) -> Stats {
        let sv = self.super_version();
        let c = &self.counters;
        let levels = (0..NUM_LEVELS)
            .map(|l| crate::LevelStats {
                files: sv.version.levels[l].len(),
                bytes: sv.version.level_bytes(l),
                entries: sv.version.levels[l].iter().map(|t| t.props.entries).sum(),
                tombstones: sv.version.levels[l]
                    .iter()
                    .map(|t| t.props.tombstones)
                    .sum(),
            })
            .collect();
        let user = c.user_bytes.load(Ordering::Relaxed);
        let blob_bytes = c.blob_bytes.load(Ordering::Relaxed);
        let blob_gc_bytes = c.blob_gc_bytes.load(Ordering::Relaxed);
        let written = c.flush_bytes.load(Ordering::Relaxed)
            + c.compaction_bytes.load(Ordering::Relaxed)
            + blob_bytes
            + blob_gc_bytes;
        let mems = std::iter::once(&sv.mem).chain(sv.imm.as_ref().map(|(m, _)| m));
        let (blob_files, blob_total, blob_live) = {
            let m = self.manifest.lock();
            let live: u64 = m.blobs.live(&sv.version).values().map(|l| l.bytes).sum();
            let total: u64 = m.blobs.files.values().map(|b| b.bytes).sum();
            (m.blobs.files.len(), total, live)
        };
        Stats {
            levels,
            user_bytes: user,
            flush_bytes: c.flush_bytes.load(Ordering::Relaxed),
            compaction_bytes: c.compaction_bytes.load(Ordering::Relaxed),
            blob_bytes,
            blob_gc_bytes,
            blob_files,
            blob_files_deleted: c.blob_files_deleted.load(Ordering::Relaxed),
            blob_live_bytes: blob_live,
            blob_garbage_bytes: blob_total.saturating_sub(blob_live),
            blob_space_amplification: if blob_live == 0 {
                if blob_total == 0 { 1.0 } else { f64::INFINITY }
            } else {
                blob_total as f64 / blob_live as f64
            },
            write_amplification: if user == 0 {
                0.0
            } else {
                written as f64 / user as f64
            },
            gets: c.gets.load(Ordering::Relaxed),
            tables_probed: c.filter_negatives.load(Ordering::Relaxed)
                + c.filter_positives.load(Ordering::Relaxed),
            filter_negatives: c.filter_negatives.load(Ordering::Relaxed),
            filter_positives: c.filter_positives.load(Ordering::Relaxed),
            flushes: c.flushes.load(Ordering::Relaxed),
            compactions: c.compactions.load(Ordering::Relaxed),
            write_stalls: c.write_stalls.load(Ordering::Relaxed),
            memtable_entries: mems.clone().map(|m| m.len() as u64).sum(),
            memtable_tombstones: mems.map(|m| m.tombstones() as u64).sum(),
            last_sequence: self.latest_seq(),
        }
    }
}

impl Db {
    /// The state [`Db::describe`](crate::Db::describe) reads, taken at
    /// once: the current version (its tables stay open while held), the
    /// memtables, the counters the manifest records, and the blob files.
    pub(crate) fn inspect_state(&self) -> Result<crate::inspect::State> {
        let inner = self.inner();
        inner.state.check_readable()?;
        let sv = inner.super_version();
        let (log_number, blob_files, blob_live) = {
            let m = inner.manifest.lock();
            (
                m.log_number,
                m.blobs.files.values().copied().collect(),
                m.blobs.live(&sv.version),
            )
        };
        let memtable_entries = sv.mem.iter().count() as u64
            + sv.imm.as_ref().map_or(0, |(m, _)| m.iter().count() as u64);
        Ok(crate::inspect::State {
            fs: Arc::clone(&inner.fs),
            dir: inner.dir.clone(),
            version: Arc::clone(&sv.version),
            memtable_entries,
            last_seq: inner.last_seq.load(Ordering::Acquire),
            next_file: inner.next_file.load(Ordering::Acquire),
            log_number,
            blob_files,
            blob_live,
            blobs: inner.blobs.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(sizes: &[usize]) -> Vec<(u64, WriteBatch)> {
        sizes
            .iter()
            .enumerate()
            .map(|(t, &n)| {
                let mut b = WriteBatch::new();
                b.put(vec![b'k'], vec![0u8; n - 1]);
                (t as u64, b)
            })
            .collect()
    }

    fn tickets(group: &[(u64, WriteBatch)]) -> Vec<u64> {
        group.iter().map(|(t, _)| *t).collect()
    }

    #[test]
    fn group_is_a_prefix_bounded_in_bytes_but_always_holds_the_leader() {
        let mb = GROUP_BYTES_MAX;
        let mut q = queue(&[100, 200, 300]);
        assert_eq!(tickets(&take_group(&mut q, 0)), [0, 1, 2]);
        assert!(q.is_empty());

        let mut q = queue(&[mb / 2, mb / 2, 10, 10]);
        assert_eq!(tickets(&take_group(&mut q, 0)), [0, 1]);
        assert_eq!(tickets(&q), [2, 3]);

        // The leader's own batch is taken even past the bound.
        let mut q = queue(&[mb, mb, mb]);
        assert_eq!(tickets(&take_group(&mut q, 1)), [0, 1]);
        assert_eq!(tickets(&q), [2]);
    }
}
