//! The database handle: opening a file, the published snapshot, readers,
//! and the writer's lock.

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};
use vfs::{File, Fs, LockGuard, OpenMode};

use crate::mapping::Mapping;
use crate::meta::{Meta, MetaProblem};
use crate::page::{FIRST_DATA_PAGE, Limits};
use crate::read::ReadTxn;
use crate::write::WriteTxn;
use crate::{Error, Options, Result};

/// One committed state of the tree, with the view its pages are read from.
#[derive(Debug)]
pub(crate) struct Snapshot {
    pub(crate) meta: Meta,
    pub(crate) map: Arc<Mapping>,
}

/// What readers see: the last commit, and the snapshots still open.
pub(crate) struct Published {
    pub(crate) current: Arc<Snapshot>,
    /// Open readers per snapshot transaction id.
    pub(crate) readers: BTreeMap<u64, usize>,
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
    _lock: LockGuard,
}

impl Inner {
    pub(crate) fn release_reader(&self, txn: u64) {
        let mut p = self.published.lock();
        if let Some(n) = p.readers.get_mut(&txn) {
            *n -= 1;
            if *n == 0 {
                p.readers.remove(&txn);
            }
        }
    }

    /// The oldest snapshot anyone may still read: open readers and the last
    /// durable commit (which a crash would return to).
    pub(crate) fn oldest_live(&self, durable_txn: u64) -> u64 {
        let p = self.published.lock();
        p.readers
            .keys()
            .next()
            .map_or(durable_txn, |&r| r.min(durable_txn))
    }

    pub(crate) fn publish(&self, snap: Arc<Snapshot>) {
        self.published.lock().current = snap;
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
/// The file is locked exclusively while a `Db` has it open.
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
    /// Opens the database at `path`, creating it if missing.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file cannot be opened or is locked by another
    /// handle; [`Error::NoValidMeta`], [`Error::Version`] or
    /// [`Error::PageSize`] if it is not a database this build can open.
    pub fn open(fs: Arc<dyn Fs>, path: impl AsRef<Path>, options: Options) -> Result<Db> {
        let path = path.as_ref().to_path_buf();
        let page_size = options.page_size_bytes;
        if !page_size.is_power_of_two() || !(512..=32768).contains(&page_size) {
            return Err(Error::BadPageSize {
                page_size_bytes: page_size,
            });
        }
        let ps = page_size as usize;
        let lock = fs.lock(&lock_path(&path))?;
        let file = fs.open(&path, OpenMode::Append)?;
        if file.len()? == 0 {
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
                page_count: FIRST_DATA_PAGE,
                entry_count: 0,
            };
            write_initial_metas(&*file, &meta, ps)?;
            fs.sync_dir(&parent_dir(&path))?;
        }
        let file_len = file.len()?;
        let (meta, slot) = read_metas(&*file, &path, page_size, file_len)?;
        let map = Mapping::new(file.map()?, ps, &path, None);
        let snap = Arc::new(Snapshot {
            meta,
            map: Arc::new(map),
        });
        let inner = Inner {
            fs,
            path,
            limits: Limits::new(ps),
            options,
            published: Mutex::new(Published {
                current: snap,
                readers: BTreeMap::new(),
            }),
            writer: Mutex::new(Writer {
                file,
                file_pages: file_len / ps as u64,
                durable_txn: meta.txn,
                durable_slot: slot,
                since_durable: HashSet::new(),
                map_live: None,
                poisoned: false,
            }),
            _lock: lock,
        };
        Ok(Db {
            inner: Arc::new(inner),
        })
    }

    /// Starts the write transaction, waiting while another is open.
    ///
    /// # Errors
    ///
    /// [`Error::Poisoned`] after a commit or sync of this handle failed.
    pub fn begin_write(&self) -> Result<WriteTxn<'_>> {
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
        let snap = {
            let mut p = self.inner.published.lock();
            let snap = p.current.clone();
            *p.readers.entry(snap.meta.txn).or_insert(0) += 1;
            snap
        };
        Ok(ReadTxn::new(self.inner.clone(), snap))
    }

    /// Makes every acknowledged commit durable (those made with
    /// [`Durability::None`](crate::Durability::None)): syncs the file, writes
    /// the meta page for the last commit and syncs again.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if a write or sync fails (the last durable commit
    /// stays, and the handle is poisoned: see [`Error::Poisoned`]).
    pub fn sync(&self) -> Result<()> {
        let mut w = self.inner.writer.lock();
        if w.poisoned {
            return Err(Error::Poisoned);
        }
        let current = self.inner.current();
        let r = crate::commit::make_durable(&self.inner, &mut w, &current.meta);
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
}

/// Reads both meta pages and picks the valid one with the higher
/// transaction id, with its slot.
fn read_metas(file: &dyn File, path: &Path, page_size: u32, file_len: u64) -> Result<(Meta, u64)> {
    let ps = page_size as usize;
    let mut best: Option<(Meta, u64)> = None;
    let mut version = None;
    let mut head = vec![0u8; crate::meta::META_END];
    if file_len >= head.len() as u64 {
        file.read_exact_at(&mut head, 0)?;
        // Slot 0 may name another page size: trust it only if its checksum holds.
        if let Some(found) = Meta::peek_page_size(&head)
            && found != page_size
            && found.is_power_of_two()
            && (512..=32768).contains(&found)
            && file_len >= u64::from(found)
        {
            let mut page = vec![0u8; found as usize];
            file.read_exact_at(&mut page, 0)?;
            if Meta::decode(&page, 0).is_ok() {
                return Err(Error::PageSize {
                    file: path.to_path_buf(),
                    expected: page_size,
                    found,
                });
            }
        }
    }
    let mut buf = vec![0u8; ps];
    for slot in 0..2u64 {
        if file_len < (slot + 1) * ps as u64 {
            continue;
        }
        file.read_exact_at(&mut buf, slot * ps as u64)?;
        match Meta::decode(&buf, slot) {
            Ok(m) if m.page_count.saturating_mul(ps as u64) <= file_len => {
                if best.is_none_or(|(b, _)| m.txn > b.txn) {
                    best = Some((m, slot));
                }
            }
            Ok(_) => {}
            Err(MetaProblem::Version(v)) => version = Some(v),
            Err(_) => {}
        }
    }
    match (best, version) {
        (Some(b), _) => Ok(b),
        (None, Some(found)) => Err(Error::Version {
            file: path.to_path_buf(),
            expected: crate::meta::FORMAT_VERSION,
            found,
        }),
        (None, None) => Err(Error::NoValidMeta {
            file: path.to_path_buf(),
        }),
    }
}
