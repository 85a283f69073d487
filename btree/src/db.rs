//! The database handle: opening a file, the published snapshot, readers,
//! and the writer's lock.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Weak};

use parking_lot::{Mutex, MutexGuard};
use vfs::{File, Fs, LockGuard, OpenMode};

use crate::mapping::Mapping;
use crate::meta::Meta;
use crate::page::{FIRST_DATA_PAGE, Limits};
use crate::read::ReadTxn;
use crate::recovery::{Recovery, read_metas};
use crate::write::WriteTxn;
use crate::{Error, Options, Result};

/// One committed state of the tree, with the view its pages are read from.
#[derive(Debug)]
pub(crate) struct Snapshot {
    pub(crate) meta: Meta,
    pub(crate) map: Arc<Mapping>,
    /// The database's file lock, held while the snapshot is: no other
    /// process may write the mapped file while it is read, even after the
    /// `Db` is dropped. Held here, once per snapshot, rather than by each
    /// reader, so that `begin_read` touches one shared count, not two.
    pub(crate) _lock: FileLock,
}

/// The lock on a database's lock file, shared by the handle and every
/// snapshot; `None` for a read-only open of a file whose lock file is missing.
pub(crate) type FileLock = Arc<Option<LockGuard>>;

/// What readers see: the last commit, and the older snapshots still open.
///
/// A reader holds its snapshot's `Arc`; nothing registers or unregisters
/// per read, so `begin_read` is one lock and two reference-count
/// increments and dropping a reader takes no lock. A snapshot is only ever
/// handed out as `current`, under this lock, so one that nobody else holds
/// when it stops being current can never be read again; one that somebody
/// does hold is remembered in `older` (weakly) until its last holder drops
/// it. Counting every holder, not only readers, errs on the safe side.
pub(crate) struct Published {
    pub(crate) current: Arc<Snapshot>,
    /// Replaced snapshots that were still held when replaced, with their
    /// transaction ids, oldest first; pruned by [`Inner::oldest_live`].
    pub(crate) older: Vec<(u64, Weak<Snapshot>)>,
}

/// State only the writer touches, behind the writer lock.
pub(crate) struct Writer {
    pub(crate) file: Box<dyn File>,
    /// Length of the file in pages.
    pub(crate) file_pages: u64,
    /// The last commit whose meta page is durable, and its slot.
    pub(crate) durable_txn: u64,
    pub(crate) durable_slot: u64,
    /// Pages allocated by commits after the last durable one: no durable
    /// commit references them, so once freed they go to the free tree's
    /// recent region (see `freelist.rs`).
    pub(crate) since_durable: HashSet<u64>,
    /// Pages written since the last durable commit (not yet synced): decides
    /// whether the next durable commit may take one sync
    /// (`commit::SINGLE_SYNC_PAGES_MAX`).
    pub(crate) unsynced_pages: u64,
    /// The file grew since the last durable commit: the next one syncs
    /// before its meta page (see `commit::SINGLE_SYNC_PAGES_MAX`).
    pub(crate) grown_since_sync: bool,
    /// Whether writes show through the current view (a shared memory map)
    /// or it must be taken again after each commit (a copy); unknown until
    /// a commit writes inside the view.
    pub(crate) map_live: Option<bool>,
    /// Set when a commit or sync failed after writing began.
    pub(crate) poisoned: bool,
}

pub(crate) struct Inner {
    pub(crate) fs: Arc<dyn Fs>,
    pub(crate) path: PathBuf,
    pub(crate) options: Options,
    pub(crate) limits: Limits,
    pub(crate) published: Mutex<Published>,
    pub(crate) writer: Mutex<Writer>,
    /// Opened with [`Db::open_read_only`]: nothing is ever written.
    pub(crate) read_only: bool,
    /// What open found in the meta pages.
    pub(crate) recovery: Recovery,
    /// Odd while a meta page is being written (a sequence lock): lets
    /// [`Db::check`] read the meta pages without the writer lock, which a
    /// write transaction on the checking thread may hold.
    pub(crate) meta_writes: AtomicU64,
    /// Shared with every snapshot (see `Snapshot::_lock`).
    pub(crate) lock: FileLock,
}

impl Inner {
    /// The oldest snapshot anyone may still read: open readers and the last
    /// durable commit (which a crash would return to).
    pub(crate) fn oldest_live(&self, durable_txn: u64) -> u64 {
        let mut p = self.published.lock();
        p.older.retain(|(_, s)| s.strong_count() > 0);
        // The current snapshot is at least `durable_txn`, which is never
        // above the last commit, so it cannot lower the minimum.
        p.older
            .iter()
            .map(|&(txn, _)| txn)
            .fold(durable_txn, u64::min)
    }

    pub(crate) fn publish(&self, snap: Arc<Snapshot>) {
        let old = {
            let mut p = self.published.lock();
            let old = std::mem::replace(&mut p.current, snap);
            // `p.current` was the only way to obtain `old`: if `old` is our
            // only handle now, nobody holds it and nobody can take it again.
            if Arc::strong_count(&old) > 1 {
                p.older.push((old.meta.txn, Arc::downgrade(&old)));
            }
            old
        };
        // A snapshot nobody holds (and its view) is freed outside the lock.
        drop(old);
    }

    pub(crate) fn current(&self) -> Arc<Snapshot> {
        self.published.lock().current.clone()
    }
}

/// A database: one file of pages holding one ordered map from byte strings
/// to byte strings.
///
/// # Concurrency
///
/// `Send + Sync`. One [`WriteTxn`] at a time (a second `begin_write` waits);
/// any number of [`ReadTxn`]s at once, never blocked by the writer's I/O.
/// The file is locked exclusively while a `Db` has it open for writing, and
/// shared while opened with [`Db::open_read_only`].
pub struct Db {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("path", &self.inner.path)
            .finish()
    }
}

fn lock_path(path: &Path) -> PathBuf {
    let mut s = OsString::from(path.as_os_str());
    s.push(".lock");
    PathBuf::from(s)
}

pub(crate) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Writes both meta pages for `meta` and syncs: a new file's first state.
pub(crate) fn write_initial_metas(file: &dyn File, meta: &Meta, page_size: usize) -> Result<()> {
    let mut buf = vec![0u8; page_size];
    for slot in 0..2u64 {
        meta.encode(&mut buf, slot);
        file.write_all_at(&buf, slot * page_size as u64)?;
    }
    file.sync_data()?;
    Ok(())
}

impl Db {
    /// Opens the database at `path` for reading and writing, creating it if
    /// the file is missing or empty (a creation cut short before its first
    /// sync), as redb's `Database::create` and LMDB with `MDB_CREATE` do.
    /// A caller that knows a database exists uses [`Db::open_existing`].
    ///
    /// Open reads both meta pages and takes the valid one with the higher
    /// transaction id; [`Db::recovery`] says which and what the other held.
    /// A damaged meta page is never passed over silently: open refuses
    /// ([`Error::MetaDamaged`]) unless no page of the file was written after
    /// the commit the valid meta page records (so the damaged one cannot
    /// have recorded a newer durable commit), and [`Db::check`] reports it.
    /// A newest commit made with one sync is checked first (the pages it
    /// wrote against the checksums recorded for them); if a crash tore it,
    /// open takes the commit before it and [`Db::recovery`] says so
    /// ([`OtherMeta::Torn`](crate::OtherMeta::Torn)). A writable open syncs
    /// the file first.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file cannot be opened or is locked by another
    /// handle; [`Error::MetaDamaged`], [`Error::Truncated`] or
    /// [`Error::NoValidMeta`] if the file is damaged; [`Error::Version`] or
    /// [`Error::PageSize`] if it is not a database this build can open.
    pub fn open_with_fs(fs: Arc<dyn Fs>, path: impl AsRef<Path>, options: Options) -> Result<Db> {
        Db::open_writable(fs, path.as_ref(), options, Create::IfMissing)
    }

    /// Opens the existing database at `path` for reading and writing, as
    /// redb's `Database::open` does: never creates one. For a caller that
    /// knows a database exists (a tool with its own marker file), so a
    /// deleted or emptied file is reported, not replaced by an empty
    /// database.
    ///
    /// # Errors
    ///
    /// [`Error::Missing`] if the file does not exist, [`Error::Empty`] if it
    /// has no bytes; otherwise as [`Db::open`].
    pub fn open_existing_with_fs(
        fs: Arc<dyn Fs>,
        path: impl AsRef<Path>,
        options: Options,
    ) -> Result<Db> {
        Db::open_writable(fs, path.as_ref(), options, Create::Never)
    }

    fn open_writable(fs: Arc<dyn Fs>, path: &Path, options: Options, create: Create) -> Result<Db> {
        let path = path.to_path_buf();
        let page_size = checked_page_size(&options)?;
        let ps = page_size as usize;
        let lock = fs.lock(&lock_path(&path))?;
        let mode = match create {
            Create::IfMissing => OpenMode::Append,
            Create::Never => OpenMode::ReadWrite,
        };
        let file = fs.open(&path, mode).map_err(|e| match mode {
            OpenMode::ReadWrite => missing(e, &path),
            _ => e.into(),
        })?;
        if file.len()? == 0 {
            if create == Create::Never {
                return Err(Error::Empty { file: path });
            }
            let pages = options
                .initial_size_bytes
                .div_ceil(ps as u64)
                .max(FIRST_DATA_PAGE);
            file.set_len(pages * ps as u64)?;
            let meta = Meta {
                txn: 0,
                page_size,
                root: None,
                free_root: None,
                root_crc: None,
                free_root_crc: None,
                catalog_root: None,
                catalog_root_crc: None,
                page_count: FIRST_DATA_PAGE,
                entry_count: 0,
                synced_txn: 0,
            };
            write_initial_metas(&*file, &meta, ps)?;
            fs.sync_dir(&parent_dir(&path))?;
        } else {
            // What a crashed process wrote but did not sync becomes durable
            // now, so the check of a commit made with one sync
            // (`recovery::verify_commit`) reads what the disk holds.
            file.sync_data()?;
        }
        Db::finish_open(fs, path, options, file, Some(lock), false)
    }

    /// Opens the database at `path` for reading only, as LMDB's
    /// `MDB_RDONLY` and RocksDB's `OpenForReadOnly` do: it writes nothing
    /// (no file, lock file, meta page, length change or sync), so reading a
    /// damaged or full disk leaves it exactly as it was.
    ///
    /// It holds a shared lock on `<path>.lock`: any number of read-only
    /// handles (in this process or others) may be open at once, and a
    /// writer ([`Db::open`]) is refused while they are, and they while it
    /// is. If the lock file is missing it opens without a lock (creating
    /// it would be a write). The handle reads the commit that was last
    /// durable when it opened; [`Db::begin_write`] and [`Db::compact`]
    /// return [`Error::ReadOnly`], and [`Db::sync`] has nothing to do.
    /// `Options::durability` and `initial_size_bytes` are ignored.
    ///
    /// # Errors
    ///
    /// [`Error::Missing`] or [`Error::Empty`] if there is no database;
    /// [`Error::Io`] with [`vfs::Error::Locked`] while a writer has it open;
    /// otherwise as [`Db::open`].
    pub fn open_read_only_with_fs(
        fs: Arc<dyn Fs>,
        path: impl AsRef<Path>,
        options: Options,
    ) -> Result<Db> {
        let path = path.as_ref().to_path_buf();
        checked_page_size(&options)?;
        let lock = match fs.lock_shared(&lock_path(&path)) {
            Ok(lock) => Some(lock),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e.into()),
        };
        let file = fs
            .open(&path, OpenMode::Read)
            .map_err(|e| missing(e, &path))?;
        if file.len()? == 0 {
            return Err(Error::Empty { file: path });
        }
        Db::finish_open(fs, path, options, file, lock, true)
    }

    fn finish_open(
        fs: Arc<dyn Fs>,
        path: PathBuf,
        options: Options,
        file: Box<dyn File>,
        lock: Option<LockGuard>,
        read_only: bool,
    ) -> Result<Db> {
        let page_size = options.page_size_bytes;
        let ps = page_size as usize;
        let file_len = file.len()?;
        let (meta, recovery) = read_metas(&*file, &path, page_size, file_len)?;
        // Advised random: a fault reads its page, not megabytes of readahead
        // around it (a B+ tree's page reads are random by nature).
        let map = Mapping::new(
            file.map_for(vfs::Access::Random)?.into_bytes(),
            ps,
            &path,
            None,
        );
        let lock: FileLock = Arc::new(lock);
        let snap = Arc::new(Snapshot {
            meta,
            map: Arc::new(map),
            _lock: lock.clone(),
        });
        let inner = Inner {
            fs,
            path,
            limits: Limits::new(ps),
            options,
            published: Mutex::new(Published {
                current: snap,
                older: Vec::new(),
            }),
            writer: Mutex::new(Writer {
                file,
                file_pages: file_len / ps as u64,
                durable_txn: meta.txn,
                durable_slot: recovery.slot,
                since_durable: HashSet::new(),
                unsynced_pages: 0,
                grown_since_sync: false,
                map_live: None,
                poisoned: false,
            }),
            read_only,
            recovery,
            meta_writes: AtomicU64::new(0),
            lock,
        };
        Ok(Db {
            inner: Arc::new(inner),
        })
    }

    /// What open found in the two meta pages: the commit it opened, from
    /// which page, and what the other page holds (an older commit, or
    /// damage that open could prove lost nothing). A tool prints it when
    /// [`Recovery::is_clean`] is false.
    pub fn recovery(&self) -> &Recovery {
        &self.inner.recovery
    }

    /// Starts the write transaction, waiting while another is open.
    ///
    /// # Errors
    ///
    /// [`Error::Poisoned`] after a commit or sync of this handle failed;
    /// [`Error::ReadOnly`] on a handle from [`Db::open_read_only`].
    pub fn begin_write(&self) -> Result<WriteTxn<'_>> {
        self.refuse_read_only()?;
        let guard: MutexGuard<'_, Writer> = self.inner.writer.lock();
        if guard.poisoned {
            return Err(Error::Poisoned);
        }
        Ok(WriteTxn::new(&self.inner, guard))
    }

    /// Starts a read transaction on the last commit.
    ///
    /// # Errors
    ///
    /// None today; kept for I/O a future version may do here.
    pub fn begin_read(&self) -> Result<ReadTxn> {
        let snap = self.inner.current();
        Ok(ReadTxn::new(snap))
    }

    /// Makes every acknowledged commit durable (those made with
    /// [`Durability::None`](crate::Durability::None)): syncs the file, writes
    /// the meta page for the last commit and syncs again.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if a write or sync fails (the last durable commit
    /// stays, and the handle is poisoned: see [`Error::Poisoned`]).
    /// On a read-only handle there is nothing to sync: `Ok` at once.
    pub fn sync(&self) -> Result<()> {
        if self.inner.read_only {
            return Ok(());
        }
        let mut w = self.inner.writer.lock();
        if w.poisoned {
            return Err(Error::Poisoned);
        }
        let current = self.inner.current();
        let r = crate::commit::flush_overlay(&self.inner, &mut w, &current)
            .and_then(|()| crate::commit::make_durable(&self.inner, &mut w, &current.meta, false));
        w.poisoned = r.is_err();
        r
    }

    pub(crate) fn file_len(&self) -> Result<u64> {
        // Not through the writer's handle: its lock may be held by a write
        // transaction on this very thread.
        let file = self.inner.fs.open(&self.inner.path, OpenMode::Read)?;
        Ok(file.len()?)
    }

    /// The path of the database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    pub(crate) fn refuse_read_only(&self) -> Result<()> {
        if self.inner.read_only {
            return Err(Error::ReadOnly {
                file: self.inner.path.clone(),
            });
        }
        Ok(())
    }
}

/// Whether an open may create the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Create {
    IfMissing,
    Never,
}

fn checked_page_size(options: &Options) -> Result<u32> {
    let page_size = options.page_size_bytes;
    if !page_size.is_power_of_two() || !(512..=32768).contains(&page_size) {
        return Err(Error::BadPageSize {
            page_size_bytes: page_size,
        });
    }
    Ok(page_size)
}

/// A missing database file becomes [`Error::Missing`].
fn missing(e: vfs::Error, path: &Path) -> Error {
    if e.is_not_found() {
        Error::Missing {
            file: path.to_path_buf(),
        }
    } else {
        e.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit_one(db: &Db, key: &[u8]) {
        let mut w = db.begin_write().expect("write");
        w.insert(key, b"v").expect("insert");
        w.commit().expect("commit");
    }

    #[test]
    fn a_held_snapshot_stays_the_oldest_live_until_its_last_holder_drops_it() {
        let db =
            Db::open_with_fs(Arc::new(vfs::MemFs::new()), "/db", Options::default()).expect("open");
        commit_one(&db, b"a");
        let first = db.begin_read().expect("read");
        let second = db.begin_read().expect("read");
        let held = first.txn_id();
        for key in [b"b", b"c", b"d"] {
            commit_one(&db, key);
        }
        let newer = db.begin_read().expect("read");
        commit_one(&db, b"e");
        assert!(newer.txn_id() > held);
        assert_eq!(db.inner.oldest_live(u64::MAX), held);
        drop(first);
        assert_eq!(
            db.inner.oldest_live(u64::MAX),
            held,
            "second still holds it"
        );
        drop(second);
        assert_eq!(db.inner.oldest_live(u64::MAX), newer.txn_id());
        assert_eq!(db.inner.oldest_live(0), 0, "the durable commit counts too");
        drop(newer);
        assert_eq!(db.inner.oldest_live(u64::MAX), u64::MAX);
        assert!(db.inner.published.lock().older.is_empty(), "pruned");
    }

    #[test]
    fn a_reader_that_outlives_its_db_keeps_the_file_locked_and_readable() {
        let fs = Arc::new(vfs::MemFs::new());
        let db = Db::open_with_fs(fs.clone(), "/db", Options::default()).expect("open");
        commit_one(&db, b"a");
        let read = db.begin_read().expect("read");
        drop(db);
        assert!(
            Db::open_with_fs(fs.clone(), "/db", Options::default()).is_err(),
            "the reader's snapshot still holds the lock"
        );
        assert_eq!(read.get(b"a").expect("get").as_deref(), Some(&b"v"[..]));
        drop(read);
        Db::open_with_fs(fs, "/db", Options::default()).expect("open once the reader is gone");
    }
}
