//! Opening a store: [`Db::open_with_fs`] (recovery, then a fresh log and
//! manifest) and [`Db::open_read_only_with_fs`] (recovery only), both
//! ending in one constructor, `Db::start`, which also starts the
//! background threads of a read-write handle.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use parking_lot::{Condvar, Mutex, RwLock};

use crate::background::BgState;
use crate::cache::BlockCache;
use crate::commit::{CommitQueue, WriteState};
use crate::db::{Core, Db, Inner, Shared, SuperVersion};
use crate::key::SeqNo;
use crate::keyspace::{KeyspaceMeta, KeyspaceOptions};
use crate::lifecycle::Lifecycle;
use crate::manifest::{self, FileKind, FileNumber, VersionEdit};
use crate::memtable::Memtable;
use crate::obsolete::Obsolete;
use crate::recovery::{self, Access};
use crate::stats::Counters;
use crate::tables::TableFiles;
use crate::tables::published::{self, Claim, Published, Publisher};
use crate::version::{NUM_LEVELS, Version};
use crate::version_set::{ManifestState, NUMBERS_RESERVED_BATCH, VersionSet};
use crate::wal::writer::LogWriter;
use crate::{Durability, Options, Result};

/// With `publish_manifest`, a writer whose local state `r` is older than
/// the store's: another writer claimed the store after this directory's
/// writer last did (the newest published manifest has a higher epoch than
/// the local manifest recorded) and published a state other than this
/// directory's own. Opening would roll the store back to this state:
/// [`Error::Fenced`] instead. A local manifest without an epoch (from
/// before manifest tag 12, or a writer that did not publish) is taken as
/// the last writer's, as before.
fn check_not_fenced(io: &crate::tables::RemoteIo, r: &recovery::Recovered) -> Result<()> {
    let Some((n, p)) = &r.published else {
        return Ok(());
    };
    if r.writer_epoch == 0 || p.epoch <= r.writer_epoch {
        return Ok(());
    }
    // This directory's writer may have claimed the store and crashed
    // before its local manifest recorded the epoch: the claim published
    // exactly the state recovered here, which is then no rollback.
    if Published::of(&r.version, &r.blob_files, r.last_seq.0, p.epoch).same_state(p) {
        return Ok(());
    }
    Err(crate::tables::published::superseded(
        io,
        r.writer_epoch,
        *n,
        p,
    ))
}

/// Recovers the store in `dir` and, with `publish_manifest`, claims the
/// published manifest for it.
///
/// The published manifest is authoritative: the claim (an epoch above
/// every earlier writer's, fencing out the writer that held it) comes
/// before the local manifest records the epoch, so a crash between the
/// two leaves a claim whose state is this directory's own (accepted again
/// by `check_not_fenced`), never a local epoch the store does not know.
///
/// The claim creates the number after the newest manifest recovery read.
/// If another writer created it first (the writer being fenced out
/// published a flush or compaction meanwhile, or another writer opened),
/// the state recovered is stale: recovery runs again from the newer
/// manifest and claims the number after that, up to
/// [`published::CLAIM_ATTEMPTS_MAX`] times. Recovery writes nothing
/// (`Access::Look`), so a lost attempt leaves nothing behind.
///
/// # Errors
///
/// As `recovery::recover`; [`Error::Fenced`](crate::Error::Fenced) if
/// this directory's writer was superseded, or if every attempt lost its
/// claim (naming the contention).
fn recover_and_claim(
    fs: &Arc<dyn vfs::Fs>,
    dir: &Path,
    opts: &Options,
    tables: &TableFiles,
) -> Result<(recovery::Recovered, Option<Publisher>)> {
    let mut attempts = 0;
    loop {
        let r = recovery::recover(fs, dir, opts, tables, Access::Look)?;
        if opts.publish_manifest && !r.keyspaces.is_empty() {
            // Only the default keyspace is published: readers elsewhere
            // would see a store without the others.
            return Err(crate::Error::InvalidKeyspace(
                "a store with keyspaces besides the default cannot publish its manifest".into(),
            ));
        }
        let io = match (opts.publish_manifest, tables.remote()) {
            (true, Some(io)) => io,
            _ => return Ok((r, None)),
        };
        check_not_fenced(io, &r)?;
        let claim = Publisher::claim(
            io,
            r.published.as_ref(),
            r.writer_epoch,
            &r.version,
            &r.blob_files,
            r.last_seq.0,
        )?;
        match claim {
            Claim::Won(p) => return Ok((r, Some(p))),
            Claim::Lost { number } => {
                attempts += 1;
                if attempts >= published::CLAIM_ATTEMPTS_MAX {
                    return Err(published::contended(io, io.epoch(), number));
                }
            }
        }
    }
}

/// File numbers a writer with `publish_manifest` skips at open (see
/// `Db::open_with_fs`).
const FENCE_NUMBER_JUMP: u64 = 1 << 20;

/// The write side of a read-only handle: never used (every write path
/// returns `Error::ReadOnly` first), but `Inner` holds one, so its log and
/// manifest writers live in the private in-memory file system `scratch`.
fn read_only_sides(
    scratch: &dyn vfs::Fs,
    manifest_log_number: FileNumber,
    blobs: crate::blob::BlobFiles,
) -> Result<(WriteState, ManifestState)> {
    let log = LogWriter::create(scratch, Path::new("/read-only.log"))?;
    let mlog = LogWriter::create(scratch, Path::new("/read-only.manifest"))?;
    let write = WriteState {
        log,
        log_number: FileNumber(0),
        encode_buf: Vec::new(),
        old_logs_unsynced: Vec::new(),
        replayed_logs_unsynced: Vec::new(),
        log_name_durable: true,
        pacer: crate::commit::Pacer::default(),
        recent_logs: Default::default(),
        frozen: 0,
    };
    let manifest = ManifestState {
        log: mlog,
        broken: true,
        log_number: manifest_log_number,
        keyspace_logs: BTreeMap::new(),
        blobs,
        log_lengths: BTreeMap::new(),
        publisher: None,
    };
    Ok((write, manifest))
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
    /// [`Error::Io`](crate::Error::Io) with [`vfs::Error::Locked`] if another handle has it
    /// open; [`Error::Corruption`](crate::Error::Corruption) if the manifest, a table or the middle of
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
        let tables = Arc::new(TableFiles::new(
            &fs,
            &dir,
            &opts,
            &cache,
            Access::ReadWrite,
        )?);
        let (mut r, publisher) = recover_and_claim(&fs, &dir, &opts, &tables)?;
        // Recovery looked at the blob store read-only; now that the open
        // goes ahead, it may write (and finish interrupted blob writes).
        drop(r.blobs.take());
        let blobs = recovery::open_blob_store(&fs, &dir, &opts, Access::ReadWrite)?;

        // 0. Logs recovery did not replay (their writes follow writes a
        // crash lost) go before a new log names the last replayed one as
        // its predecessor: left in place, the next recovery would stop at
        // them again, before the new log.
        for &n in r.logs_dropped.iter().rev() {
            fs.remove_file(&dir.join(manifest::log_name(n)))?;
        }
        if !r.logs_dropped.is_empty() {
            fs.sync_dir(&dir)?;
        }

        // 1. A fresh log for new writes, following the last log replayed.
        // The replayed memtable stays the live one and its logs stay until
        // it is flushed in the ordinary way: an open writes no table.
        let mut next_file = r.next_file;
        if opts.publish_manifest {
            // A writer this open fences out numbers its tables from the
            // same counter until it learns it is fenced (at its next
            // publication, after one flush or compaction at most): this
            // open's numbers start far above anything it can reach, so
            // neither writer's conditional create ever finds the other's
            // table. The skipped numbers are recorded as handed out.
            next_file = FileNumber(next_file.0.saturating_add(FENCE_NUMBER_JUMP));
        }
        let mut new_number = || {
            let n = next_file;
            next_file = next_file.next();
            n
        };
        let new_log_number = new_number();
        let mut log = LogWriter::create_wal(
            &*fs,
            &dir.join(manifest::log_name(new_log_number)),
            r.log_lengths.last().copied(),
        )?;
        log.set_buffered(opts.durability == Durability::None)?;
        // Per keyspace, the oldest log holding its writes not in its
        // tables: the new one when its replayed memtable is empty.
        let log_of = |mem: &Memtable, recovered: FileNumber| {
            if mem.is_empty() {
                new_log_number
            } else {
                recovered
            }
        };
        let mut keyspace_logs = BTreeMap::new();
        keyspace_logs.insert(0, log_of(&r.mem, r.default_log));
        for k in &r.keyspaces {
            keyspace_logs.insert(k.meta.id, log_of(&k.mem, k.log_number));
        }
        let log_number = keyspace_logs
            .values()
            .min()
            .copied()
            .unwrap_or(new_log_number);
        let replayed_any = keyspace_logs.values().any(|&l| l != new_log_number);

        // 2. A fresh manifest holding the whole state, named by CURRENT.
        let manifest_number = new_number();
        let mut mlog =
            LogWriter::create(&*fs, &dir.join(manifest::manifest_name(manifest_number)))?;
        let mut edit = VersionEdit {
            log_number: Some(log_number),
            last_seq: Some(r.last_seq),
            blobs_recorded: true,
            blobs_added: r.blob_files.files.values().copied().collect(),
            writer_epoch: publisher.as_ref().map(Publisher::epoch),
            merge_operator: crate::merge::name_to_record(&opts, r.merge_operator.as_deref()),
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
            .filter(|s| s.log >= log_number)
            .collect();
        let reserved = FileNumber(next_file.0 + NUMBERS_RESERVED_BATCH);
        edit.next_file = Some(reserved);
        edit.numbers_reserved = true;
        if !r.keyspaces.is_empty() {
            edit.keyspaces_created = r.keyspaces.iter().map(|k| k.meta.clone()).collect();
            edit.keyspace_logs = keyspace_logs.iter().map(|(&id, &l)| (id, l)).collect();
        }
        mlog.add_record(&edit.encode())?;
        // Each other keyspace's tables in an edit of their own (tag 14
        // names the keyspace of a whole edit).
        for k in &r.keyspaces {
            let mut e = VersionEdit {
                keyspace: k.meta.id,
                ..VersionEdit::default()
            };
            for (level, files) in k.version.levels.iter().enumerate() {
                for t in files {
                    e.added.push((level as u8, t.number, t.size_bytes()));
                }
            }
            mlog.add_record(&e.encode())?;
        }
        mlog.sync()?;
        fs.sync_dir(&dir)?;
        manifest::set_current(&*fs, &dir, manifest_number)?;

        // 3. What is provably obsolete, and nothing else (FORMAT.md,
        // "Recovery"): older manifests, logs below the log number, tables
        // and blobs the manifest recorded as dropped, temporary files.
        // `start` deletes them by the one policy (`obsolete.rs`).
        let mut obsolete = Obsolete {
            blobs: r.blobs_obsolete.clone(),
            ..Obsolete::default()
        };
        obsolete.logs_below(log_number);
        for (name, kind) in &r.names {
            match *kind {
                FileKind::Manifest(n) if n != manifest_number => {}
                FileKind::Temp => {}
                _ => continue,
            }
            obsolete.files.push((None, dir.join(name)));
        }
        // Tables (files, or objects in the table store) recorded as dropped
        // or never named below the numbers handed out.
        for &n in &r.tables_deleted {
            obsolete.files.push((Some(n), tables.path(n)));
        }
        let mut replayed_logs: Vec<Arc<dyn vfs::File>> = if !replayed_any {
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
        if opts.durability != Durability::None {
            // The new log is synced at its first write, not by a `sync`
            // that would sync these first; and recovery takes the logs a
            // synced log follows to be durable (a process that wrote them
            // without syncing may have left them in the page cache).
            for f in &replayed_logs {
                f.sync_data()?;
            }
            replayed_logs.clear();
        }

        let write = WriteState {
            log,
            log_number: new_log_number,
            encode_buf: Vec::new(),
            old_logs_unsynced: Vec::new(),
            replayed_logs_unsynced: replayed_logs,
            log_name_durable: true,
            pacer: crate::commit::Pacer::default(),
            recent_logs: Default::default(),
            frozen: 0,
        };
        let manifest = ManifestState {
            log: mlog,
            broken: false,
            log_number,
            keyspace_logs: keyspace_logs.clone(),
            blobs: r.blob_files,
            log_lengths: r
                .log_lengths
                .iter()
                .filter(|s| s.log >= log_number)
                .map(|s| (s.log, s.len_bytes))
                .collect(),
            publisher,
        };
        Db::start(Start {
            fs,
            dir,
            opts,
            tables,
            mem: r.mem,
            version: r.version,
            keyspaces: r.keyspaces,
            mem_logs: keyspace_logs,
            last_seq: r.last_seq,
            next_file: next_file.0,
            reserved: reserved.0,
            write,
            manifest,
            blobs,
            access: Access::ReadWrite,
            lock: Some(lock),
            obsolete,
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
    /// [`Error::ReadOnly`](crate::Error::ReadOnly). A directory without a store opens as an empty
    /// store; `options.create_if_missing` is ignored.
    ///
    /// # Errors
    ///
    /// [`Error::Io`](crate::Error::Io) with [`vfs::Error::Locked`] while a read-write handle
    /// has it open, or `NotFound` if `dir` does not exist;
    /// [`Error::Corruption`](crate::Error::Corruption) as for [`Db::open_with_fs`].
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
        let tables = Arc::new(TableFiles::new(&fs, &dir, &opts, &cache, Access::ReadOnly)?);
        let r = recovery::recover(&fs, &dir, &opts, &tables, Access::ReadOnly)?;
        let scratch = vfs::MemFs::new();
        let (write, manifest) = read_only_sides(&scratch, r.log_number, r.blob_files)?;
        Db::start(Start {
            fs,
            dir,
            opts,
            tables,
            mem: r.mem,
            version: r.version,
            keyspaces: r.keyspaces,
            mem_logs: BTreeMap::new(),
            last_seq: r.last_seq,
            next_file: r.next_file.0,
            reserved: 0,
            write,
            manifest,
            blobs: r.blobs,
            access: Access::ReadOnly,
            lock,
            obsolete: Obsolete::default(),
        })
    }

    /// A read-only handle on the state a writer published on `store`
    /// ([`Reader`](crate::Reader)): the tables `published` names, values
    /// separated into blob files read through `blobs`, no memtable,
    /// nothing local (its log and manifest writers live in a
    /// private in-memory file system and are never used).
    ///
    /// # Errors
    ///
    /// [`Error::Corruption`](crate::Error::Corruption) naming a table
    /// object that is missing or fails its checks, or tables of a level
    /// that overlap; a failed request.
    pub(crate) fn open_published(
        store: Arc<dyn objstore::Store>,
        opts: &Options,
        published: &Published,
        manifest_path: &Path,
        blobs: Option<Arc<crate::blob::Blobs>>,
    ) -> Result<Db> {
        let opts = Options {
            table_store: Some(store),
            blob_threshold_bytes: None,
            ..opts.clone()
        };
        opts.validate()?;
        let scratch: Arc<dyn vfs::Fs> = Arc::new(vfs::MemFs::new());
        let dir = PathBuf::from("/reader");
        let cache = Arc::new(BlockCache::new(opts.block_cache_bytes));
        let tables = Arc::new(TableFiles::new(
            &scratch,
            &dir,
            &opts,
            &cache,
            Access::ReadOnly,
        )?);
        let mut version = Version::default();
        for &(level, n, size) in &published.tables {
            let t = tables.open(n, Some(size))?;
            version.levels[usize::from(level)].push(Arc::new(t));
        }
        crate::version_set::sort_version(&mut version);
        crate::version_set::check_levels(&version, manifest_path, |_| 0)?;
        let (write, manifest) =
            read_only_sides(&*scratch, FileNumber(0), published.blob_accounting())?;
        Db::start(Start {
            fs: scratch,
            dir,
            opts,
            tables,
            mem: Memtable::new(),
            version,
            keyspaces: Vec::new(),
            mem_logs: BTreeMap::new(),
            last_seq: SeqNo(published.last_seq),
            next_file: 0,
            reserved: 0,
            write,
            manifest,
            blobs,
            access: Access::ReadOnly,
            lock: None,
            obsolete: Obsolete::default(),
        })
    }

    /// The one constructor both opens end in: builds the engine from what
    /// recovery found and starts its background threads (none for a
    /// read-only handle).
    fn start(s: Start) -> Result<Db> {
        let core = Arc::new(Core {
            fs: s.fs,
            dir: s.dir,
            opts: s.opts,
            tables: s.tables,
            last_seq: AtomicU64::new(s.last_seq.0),
            write: Mutex::new(s.write),
            write_cv: Condvar::new(),
            queue: Mutex::new(CommitQueue::default()),
            queue_cv: Condvar::new(),
            versions: VersionSet {
                manifest: Mutex::new(s.manifest),
                next_file: AtomicU64::new(s.next_file),
                reserved: AtomicU64::new(s.reserved),
            },
            compaction_lock: Mutex::new(()),
            bg: Mutex::new(BgState::default()),
            bg_cv: Condvar::new(),
            idle_cv: Condvar::new(),
            snapshots: Mutex::new(BTreeMap::new()),
            obsolete: Mutex::new(s.obsolete),
            state: Lifecycle::default(),
            counters: Counters::default(),
            blobs: s.blobs,
            access: s.access,
            keyspaces: RwLock::new(BTreeMap::new()),
            _lock: s.lock,
        });
        let default = KeyspaceMeta {
            id: 0,
            name: crate::keyspace::DEFAULT_NAME.into(),
            opts: KeyspaceOptions::from_db(&core.opts),
        };
        let mem_log = |id: u64| s.mem_logs.get(&id).copied().unwrap_or_default();
        let inner = Inner::new_tree(&core, default, s.mem, s.version, mem_log(0));
        {
            let mut ks = core.keyspaces.write();
            ks.insert(0, Arc::clone(&inner));
            for k in s.keyspaces {
                let id = k.meta.id;
                ks.insert(
                    id,
                    Inner::new_tree(&core, k.meta, k.mem, k.version, mem_log(id)),
                );
            }
        }
        let handles = if inner.access == Access::ReadOnly {
            Vec::new()
        } else {
            // What recovery found obsolete goes before any new work.
            if inner.delete_obsolete()? > 0 {
                inner.fs.sync_dir(&inner.dir)?;
            }
            crate::background::spawn(&inner)?
        };
        Ok(Db {
            shared: Arc::new(Shared {
                inner,
                bg_threads: Mutex::new(handles),
            }),
        })
    }
}

impl Inner {
    /// A keyspace's tree over `core`, its memtable `mem` (taking writes
    /// from log `mem_log` on) and its tables `version`.
    pub(crate) fn new_tree(
        core: &Arc<Core>,
        meta: KeyspaceMeta,
        mem: Memtable,
        version: Version,
        mem_log: FileNumber,
    ) -> Arc<Inner> {
        Arc::new(Inner {
            core: Arc::clone(core),
            id: meta.id,
            opts: meta.opts.apply(&core.opts),
            meta,
            sv: RwLock::new(Arc::new(SuperVersion {
                mem: Arc::new(mem),
                imm: Vec::new(),
                version: Arc::new(version),
                mem_log,
            })),
            cursor: Mutex::new(vec![Vec::new(); NUM_LEVELS]),
            dropped: std::sync::atomic::AtomicBool::new(false),
        })
    }
}

/// What an open recovered and prepared: the parts in which a read-write
/// and a read-only handle differ.
struct Start {
    fs: Arc<dyn vfs::Fs>,
    dir: PathBuf,
    opts: Options,
    tables: Arc<TableFiles>,
    mem: Memtable,
    version: Version,
    /// The keyspaces besides the default.
    keyspaces: Vec<recovery::RecoveredKeyspace>,
    /// Per keyspace, the oldest log its memtable holds writes of (none
    /// for a read-only handle, which never switches memtables).
    mem_logs: BTreeMap<u64, FileNumber>,
    last_seq: SeqNo,
    next_file: u64,
    reserved: u64,
    write: WriteState,
    manifest: ManifestState,
    blobs: Option<Arc<crate::blob::Blobs>>,
    access: Access,
    lock: Option<vfs::LockGuard>,
    /// Files recovery proved obsolete, deleted before the threads start.
    obsolete: Obsolete,
}
