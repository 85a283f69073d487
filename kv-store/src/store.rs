//! Opening a store directory: the lock, the engine marker, the adapter.
//!
//! A store is a directory holding `KV-ENGINE` (one line naming the engine),
//! `KV-LOCK` (held with `flock` while a command runs: exclusively by a
//! writer, which writes its pid into it, shared by readers; a process it
//! refuses gets [`Error::Busy`] naming the holder, or waits with `--wait`)
//! and the engine's files.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use vfs::Fs;

use crate::engine::{Engine, EngineKind};
use crate::{Error, Result};

/// The file naming the store's engine.
pub const MARKER_FILE: &str = "KV-ENGINE";
/// The file locked while a command has the store open.
pub const LOCK_FILE: &str = "KV-LOCK";
/// The file of a store whose tables live on an object store
/// (`--db s3://... --wal-dir DIR`): one line, the tables' URL.
pub const TABLES_FILE: &str = "KV-TABLES";
/// The file of a btree store's database, beside [`MARKER_FILE`].
pub const BTREE_FILE: &str = crate::btree_engine::FILE_NAME;

/// Whether opening may create a store that does not exist yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Create {
    /// Create the directory and marker if missing (writing commands).
    IfMissing,
    /// Refuse a missing store (reading commands).
    Never,
}

/// An open store: the engine and the lock that keeps others out.
pub struct Store {
    engine: Box<dyn Engine>,
    dir: PathBuf,
    /// `None` only for a read-only open of a store whose lock file is gone.
    _lock: Option<vfs::LockGuard>,
    /// `Some` if this open created the store: `Some(true)` if it created
    /// the directory too. For [`Store::discard_if_empty`].
    created: Option<bool>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.dir)
            .field("engine", &self.engine.kind())
            .finish()
    }
}

impl Store {
    /// Opens the store in `dir`. `requested` is `--engine`: it must match the
    /// marker of an existing store, and picks the engine of a new one (`lsm`
    /// when `None`).
    ///
    /// # Errors
    ///
    /// [`Error::NoStore`], [`Error::NotADirectory`], [`Error::NotAStore`], [`Error::WrongEngine`],
    /// [`Error::Locked`], [`Error::BadMarker`], or the engine's open error.
    pub fn open(dir: &Path, requested: Option<EngineKind>, create: Create) -> Result<Store> {
        Store::open_with_wait(dir, requested, create, Duration::ZERO)
    }

    /// [`Store::open`], waiting up to `wait` (`--wait`) for another process
    /// to release the store. A writer writes its process id into the lock
    /// file, so whoever is refused can name it.
    ///
    /// # Errors
    ///
    /// As [`Store::open`]; [`Error::Busy`] if the store is still held after
    /// `wait`.
    pub fn open_with_wait(
        dir: &Path,
        requested: Option<EngineKind>,
        create: Create,
        wait: Duration,
    ) -> Result<Store> {
        Store::open_locked(dir, requested, create, wait, None)
    }

    /// Opens the lsm store whose write-ahead log and manifest are in the
    /// local directory `wal_dir` (`--wal-dir`) and whose tables are the
    /// objects of `tables` (named `url`), publishing its manifest there for
    /// readers. The directory holds the marker, the lock and
    /// [`TABLES_FILE`] naming `url`: a directory made for other tables (or
    /// for local ones) is refused.
    ///
    /// # Errors
    ///
    /// As [`Store::open_with_wait`]; [`Error::Remote`] for a btree store or
    /// a directory whose tables are elsewhere.
    pub fn open_remote_writer(
        wal_dir: &Path,
        url: &str,
        tables: Arc<dyn objstore::Store>,
        create: Create,
        wait: Duration,
    ) -> Result<Store> {
        Store::open_locked(
            wal_dir,
            Some(EngineKind::Lsm),
            create,
            wait,
            Some((url, tables)),
        )
    }

    /// Opens a read-only view of the lsm store published in `tables`
    /// (named `url`): nothing local is needed and nothing is written,
    /// there or locally. It sees what the store's writer has flushed.
    ///
    /// # Errors
    ///
    /// [`Error::Corruption`] if no store is published there or what is
    /// published fails its checks; a failed request.
    pub fn open_remote_reader(url: &str, tables: Arc<dyn objstore::Store>) -> Result<Store> {
        let engine = crate::lsm_engine::LsmEngine::open_reader(tables, url)?;
        Ok(Store {
            engine: Box::new(engine),
            dir: PathBuf::from(url),
            _lock: None,
            created: None,
        })
    }

    fn open_locked(
        dir: &Path,
        requested: Option<EngineKind>,
        create: Create,
        wait: Duration,
        remote: Option<(&str, Arc<dyn objstore::Store>)>,
    ) -> Result<Store> {
        let marker = dir.join(MARKER_FILE);
        if dir.exists() && !dir.is_dir() {
            return Err(Error::NotADirectory {
                path: dir.to_path_buf(),
            });
        }
        let dir_created = !dir.is_dir();
        if dir_created {
            if create == Create::Never {
                return Err(Error::NoStore {
                    path: dir.to_path_buf(),
                });
            }
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        } else if create == Create::Never && read_marker(dir, requested)?.is_none() {
            // Checked before taking the lock, whose file would be left behind.
            return Err(Error::NoStore {
                path: dir.to_path_buf(),
            });
        }
        let lock_path = dir.join(LOCK_FILE);
        let lock = acquire(dir, &lock_path, Mode::Exclusive, wait)?
            .ok_or_else(|| Error::io(&lock_path, std::io::ErrorKind::NotFound.into()))?;
        // Who holds the store, for the message of whoever is refused. Not
        // synced: it is a hint, and a crash releases the lock anyway.
        std::fs::write(&lock_path, format!("{}\n", std::process::id()))
            .map_err(|e| Error::io(&lock_path, e))?;
        let (kind, existed) = match read_marker(dir, requested)? {
            Some(found) => (found, true),
            None => {
                if create == Create::Never {
                    return Err(Error::NoStore {
                        path: dir.to_path_buf(),
                    });
                }
                let kind = requested.unwrap_or(EngineKind::Lsm);
                // Before the marker: a store never exists without it.
                if let Some((url, _)) = &remote {
                    write_durably(&dir.join(TABLES_FILE), &format!("{url}\n"))?;
                }
                write_marker(&marker, kind)?;
                (kind, false)
            }
        };
        if existed {
            check_tables_file(dir, remote.as_ref().map(|(url, _)| *url))?;
        }
        let fs = Arc::new(vfs::OsFs::new());
        // The marker says the store exists: its engine files must too.
        let engine = match (kind, existed, remote) {
            (EngineKind::Btree, _, Some((url, _))) => {
                return Err(Error::Remote(format!(
                    "{}: a btree store cannot keep its tables at {url} (only lsm stores can)",
                    dir.display()
                )));
            }
            (EngineKind::Lsm, _, Some((_, tables))) => {
                Box::new(crate::lsm_engine::LsmEngine::open_remote(fs, dir, tables)?)
            }
            (EngineKind::Btree, true, None) => crate::btree_engine::open_existing(fs, dir)?,
            _ => open_engine(fs, dir, kind)?,
        };
        Ok(Store {
            engine,
            dir: dir.to_path_buf(),
            _lock: Some(lock),
            created: (!existed).then_some(dir_created),
        })
    }

    /// Opens the existing store in `dir` for reading only: it writes
    /// nothing (no marker, no lock file, no engine file; the engines replay
    /// their logs in memory) and holds the store's lock shared, so several
    /// readers run side by side while a writer is refused, and they beside
    /// it. The engine's writes fail. For `get`, `scan`, `dump`, `stats` and
    /// `verify`.
    ///
    /// # Errors
    ///
    /// As [`Store::open`] with [`Create::Never`]; [`Error::Locked`] while a
    /// writer has the store.
    pub fn open_read_only(dir: &Path, requested: Option<EngineKind>) -> Result<Store> {
        Store::open_read_only_with_wait(dir, requested, Duration::ZERO)
    }

    /// [`Store::open_read_only`], waiting up to `wait` (`--wait`) for a
    /// writer to release the store.
    ///
    /// # Errors
    ///
    /// As [`Store::open_read_only`]; [`Error::Busy`] if a writer still holds
    /// the store after `wait`.
    pub fn open_read_only_with_wait(
        dir: &Path,
        requested: Option<EngineKind>,
        wait: Duration,
    ) -> Result<Store> {
        if dir.exists() && !dir.is_dir() {
            return Err(Error::NotADirectory {
                path: dir.to_path_buf(),
            });
        }
        if !dir.is_dir() {
            return Err(Error::NoStore {
                path: dir.to_path_buf(),
            });
        }
        let lock_path = dir.join(LOCK_FILE);
        // A store whose lock file is gone has no writer holding it (a writer
        // holds the file it created); creating it would be a write.
        let lock = acquire(dir, &lock_path, Mode::Shared, wait)?;
        let kind = read_marker(dir, requested)?.ok_or_else(|| Error::NoStore {
            path: dir.to_path_buf(),
        })?;
        check_tables_file(dir, None)?;
        let engine = open_engine_read_only(Arc::new(vfs::OsFs::new()), dir, kind)?;
        Ok(Store {
            engine,
            dir: dir.to_path_buf(),
            _lock: lock,
            created: None,
        })
    }

    /// The engine.
    pub fn engine(&self) -> &dyn Engine {
        &*self.engine
    }

    /// [`Engine::use_keyspace`] on the open engine (`--keyspace`).
    ///
    /// # Errors
    ///
    /// As [`Engine::use_keyspace`].
    pub fn use_keyspace(&mut self, name: &str, create: bool) -> Result<()> {
        self.engine.use_keyspace(name, create)
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Closes the store; if this open created it and it holds no key (the
    /// command that created it failed before writing anything), removes
    /// what the open made: the engine's files and the marker, and the
    /// directory if it made that too (a directory that was there before
    /// keeps its `KV-LOCK`: removing the file of a held lock could let
    /// two later writers lock two different files). Returns whether it
    /// removed the store.
    ///
    /// # Errors
    ///
    /// The engine's close error, or [`Error::Io`] for a file that cannot be
    /// removed.
    pub fn discard_if_empty(self) -> Result<bool> {
        let empty = self.created.is_some() && {
            let mut any = false;
            let spec = crate::engine::ScanSpec {
                limit: Some(1),
                ..crate::engine::ScanSpec::default()
            };
            // A scan that fails (an engine refusing all after a failed
            // write) proves nothing: the store is kept.
            let scanned = self.engine.scan(&spec, &mut |_, _| {
                any = true;
                Ok(crate::engine::Flow::Stop)
            });
            scanned.is_ok() && !any
        };
        let Store {
            engine,
            dir,
            _lock,
            created,
        } = self;
        engine.close()?;
        let dir_created = match created {
            Some(dir_created) if empty => dir_created,
            _ => return Ok(false),
        };
        // Still holding the lock: nobody else opens the store meanwhile.
        for entry in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
            let path = entry.map_err(|e| Error::io(&dir, e))?.path();
            if path.file_name() == Some(std::ffi::OsStr::new(LOCK_FILE)) {
                continue;
            }
            let removed = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            removed.map_err(|e| Error::io(&path, e))?;
        }
        if dir_created {
            let lock_path = dir.join(LOCK_FILE);
            std::fs::remove_file(&lock_path).map_err(|e| Error::io(&lock_path, e))?;
            drop(_lock);
            std::fs::remove_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        Ok(true)
    }

    /// Closes the engine (syncing it), then releases the lock.
    ///
    /// # Errors
    ///
    /// The engine's close error.
    pub fn close(self) -> Result<()> {
        let Store { engine, _lock, .. } = self;
        engine.close()
    }
}

/// Writes the marker durably: a temporary file, synced, renamed into place.
fn write_marker(marker: &Path, kind: EngineKind) -> Result<()> {
    write_durably(marker, &format!("{kind}\n"))
}

/// Checks that the store in `dir` keeps its tables where this command
/// looks for them: at `url` (`--db URL --wal-dir DIR`), or, with `None`,
/// in the directory itself (`--db DIR`). [`TABLES_FILE`] says which.
///
/// # Errors
///
/// [`Error::Remote`] naming both places when they differ; [`Error::Io`]
/// if the file cannot be read.
fn check_tables_file(dir: &Path, url: Option<&str>) -> Result<()> {
    let path = dir.join(TABLES_FILE);
    let found = match std::fs::read_to_string(&path) {
        Ok(text) => Some(text.trim().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::io(&path, e)),
    };
    match (found.as_deref(), url) {
        (Some(found), Some(url)) if found == url => Ok(()),
        (None, None) => Ok(()),
        (Some(found), Some(url)) => Err(Error::Remote(format!(
            "{} is the write-ahead-log directory of {found}, not of {url}",
            dir.display()
        ))),
        (Some(found), None) => Err(Error::Remote(format!(
            "{} keeps only the write-ahead log of a store whose tables are at {found}: \
             use --db {found} --wal-dir {} (readers: --db {found} alone)",
            dir.display(),
            dir.display()
        ))),
        (None, Some(url)) => Err(Error::Remote(format!(
            "{} holds a store with local tables; it cannot be the --wal-dir of {url}",
            dir.display()
        ))),
    }
}

/// Writes `text` to `path` durably: a temporary file, synced, renamed
/// into place, the directory synced.
fn write_durably(marker: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let tmp = marker.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, marker).map_err(|e| Error::io(marker, e))?;
    let dir = marker.parent().unwrap_or(Path::new("."));
    vfs::OsFs::new()
        .sync_dir(dir)
        .map_err(|e| Error::io(dir, std::io::Error::other(e.to_string())))
}

/// Opens the engine `kind` on its files in `dir` of `fs`, without the marker
/// and lock of a store directory: for tests on a simulated disk, and for
/// [`Store::open`] on the real one.
///
/// # Errors
///
/// The engine's open error.
pub fn open_engine(fs: Arc<dyn vfs::Fs>, dir: &Path, kind: EngineKind) -> Result<Box<dyn Engine>> {
    create_dir_durably(&*fs, dir)?;
    Ok(match kind {
        EngineKind::Lsm => Box::new(crate::lsm_engine::LsmEngine::open(fs, dir)?),
        EngineKind::Btree => crate::btree_engine::open(fs, dir)?,
    })
}

/// The engine a store's marker names: `None` when `dir` holds no marker and
/// nothing else (but its lock file), so a store may be made there.
///
/// # Errors
///
/// [`Error::BadMarker`], [`Error::WrongEngine`] if `requested` differs,
/// [`Error::NotAStore`] if other files sit there without a marker.
fn read_marker(dir: &Path, requested: Option<EngineKind>) -> Result<Option<EngineKind>> {
    let marker = dir.join(MARKER_FILE);
    match std::fs::read_to_string(&marker) {
        Ok(text) => {
            let name = text.trim();
            let found = EngineKind::from_name(name).ok_or_else(|| Error::BadMarker {
                path: marker.clone(),
                found: name.to_string(),
            })?;
            if let Some(r) = requested.filter(|&r| r != found) {
                return Err(Error::WrongEngine {
                    path: dir.to_path_buf(),
                    found,
                    requested: r,
                });
            }
            Ok(Some(found))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let others = std::fs::read_dir(dir)
                .map_err(|e| Error::io(dir, e))?
                .filter_map(|e| e.ok())
                // A lock, and the tables' place written just before the
                // marker by an open that stopped there, make no store.
                .filter(|e| e.file_name() != LOCK_FILE && e.file_name() != TABLES_FILE)
                .count();
            if others > 0 {
                return Err(Error::NotAStore {
                    path: dir.to_path_buf(),
                });
            }
            Ok(None)
        }
        Err(e) => Err(Error::io(&marker, e)),
    }
}

/// How a command holds the store's lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// A writer: alone.
    Exclusive,
    /// A reader: beside other readers.
    Shared,
}

/// The longest pause between two tries while waiting for the lock: short
/// enough that a waiter starts soon after the holder leaves.
const WAIT_PAUSE_MAX: Duration = Duration::from_millis(100);

/// Takes the lock at `lock_path` in `mode`, trying again with a growing
/// pause until `wait` has passed. `None`: a shared lock on a lock file that
/// does not exist (no writer can hold it; creating it would be a write).
/// Says once on stderr that it waits, and for whom.
fn acquire(
    dir: &Path,
    lock_path: &Path,
    mode: Mode,
    wait: Duration,
) -> Result<Option<vfs::LockGuard>> {
    let fs = vfs::OsFs::new();
    let start = Instant::now();
    let mut pause = Duration::from_millis(5);
    let mut announced = false;
    loop {
        let tried = match mode {
            Mode::Exclusive => fs.lock(lock_path),
            Mode::Shared => fs.lock_shared(lock_path),
        };
        match tried {
            Ok(lock) => return Ok(Some(lock)),
            Err(e) if mode == Mode::Shared && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(None);
            }
            Err(vfs::Error::Locked { .. }) => {
                let waited = start.elapsed();
                if waited >= wait {
                    return Err(Error::Busy {
                        path: dir.to_path_buf(),
                        holder: holder(lock_path, mode),
                        waited: (!wait.is_zero()).then_some(waited),
                    });
                }
                if !announced {
                    eprintln!(
                        "kv-store: store {} is busy: {} has it open; waiting up to {:.1} s",
                        dir.display(),
                        holder(lock_path, mode),
                        wait.as_secs_f64()
                    );
                    announced = true;
                }
                std::thread::sleep(pause.min(wait - waited));
                pause = (pause * 2).min(WAIT_PAUSE_MAX);
            }
            Err(e) => return Err(lock_error(dir, lock_path, e)),
        }
    }
}

/// Who holds the lock that refused us. A shared lock is refused only by a
/// writer; an exclusive one by a writer or by readers, told apart by
/// trying a shared lock (released at once). A writer wrote its pid into the
/// file; readers write nothing.
fn holder(lock_path: &Path, refused: Mode) -> String {
    let writer = refused == Mode::Shared
        || matches!(
            vfs::OsFs::new().lock_shared(lock_path),
            Err(vfs::Error::Locked { .. })
        );
    if !writer {
        return "a reading command (get, scan, dump, stats, verify, count)".to_string();
    }
    let pid = std::fs::read_to_string(lock_path)
        .ok()
        .and_then(|t| t.trim().parse::<u32>().ok());
    match pid {
        Some(pid) => format!("a writer (pid {pid})"),
        None => "a writer".to_string(),
    }
}

fn lock_error(dir: &Path, lock_path: &Path, e: vfs::Error) -> Error {
    match e {
        vfs::Error::Locked { .. } => Error::Locked {
            path: dir.to_path_buf(),
            lock: lock_path.to_path_buf(),
        },
        vfs::Error::Io { source, .. } => Error::io(lock_path, source),
        other => Error::io(lock_path, std::io::Error::other(other.to_string())),
    }
}

/// Opens the engine `kind` on its existing files in `dir` of `fs` for
/// reading only: nothing is created, written or deleted.
///
/// # Errors
///
/// The engine's open error.
pub fn open_engine_read_only(
    fs: Arc<dyn vfs::Fs>,
    dir: &Path,
    kind: EngineKind,
) -> Result<Box<dyn Engine>> {
    Ok(match kind {
        EngineKind::Lsm => Box::new(crate::lsm_engine::LsmEngine::open_read_only(fs, dir)?),
        EngineKind::Btree => crate::btree_engine::open_read_only(fs, dir)?,
    })
}

/// Creates `dir` if missing and syncs its parent, so a power loss cannot
/// take the store's directory (and every synced file in it) away.
fn create_dir_durably(fs: &dyn vfs::Fs, dir: &Path) -> Result<()> {
    let fs_err = |e: vfs::Error| match e {
        vfs::Error::Io { path, source, .. } => Error::io(path, source),
        other => Error::io(dir, std::io::Error::other(other.to_string())),
    };
    fs.create_dir_all(dir).map_err(fs_err)?;
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    fs.sync_dir(parent).map_err(fs_err)
}
