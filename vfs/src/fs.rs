//! The `Fs` and `File` traits: what the engines need from a file system and
//! nothing more.

use std::any::Any;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::{Access, Error, Op, Result, View};

/// How [`Fs::open`] opens a file. Every mode opens the file for reading; all
/// but [`OpenMode::Read`] also allow writing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpenMode {
    /// Open an existing file, read only. Fails with `NotFound` if it is missing.
    Read,
    /// Open an existing file for reading and writing, contents kept.
    ReadWrite,
    /// Open for reading and writing, creating the file if missing; contents kept.
    /// New data is usually added with [`File::append`].
    Append,
    /// Create a new, empty file; fails with `AlreadyExists` if the name exists.
    CreateNew,
    /// Create the file, or truncate it to zero bytes if it exists.
    Truncate,
}

impl OpenMode {
    /// Whether this mode may create the file.
    pub fn creates(self) -> bool {
        matches!(
            self,
            OpenMode::Append | OpenMode::CreateNew | OpenMode::Truncate
        )
    }

    /// Whether this mode allows writing.
    pub fn writes(self) -> bool {
        self != OpenMode::Read
    }
}

/// A file system: the real disk ([`OsFs`](crate::OsFs)) or a simulated one.
///
/// Object safe; engines hold an `Arc<dyn Fs>`.
///
/// # Durability
///
/// Writes are *acknowledged* when the call returns `Ok`. File data becomes
/// *durable* once [`File::sync_data`] on that file returned `Ok`; a name
/// (created, renamed or removed) becomes durable once [`Fs::sync_dir`] of the
/// directory holding it returned `Ok`. Nothing else is promised, as POSIX
/// promises nothing else: a crash may lose any acknowledged but not durable
/// change, or keep it.
///
/// # Concurrency
///
/// Every method may be called from any thread at once. Operations on one
/// file from several threads are atomic per call, not across calls.
pub trait Fs: Send + Sync + fmt::Debug {
    /// Opens the file at `path` in the given mode.
    ///
    /// # Errors
    ///
    /// `NotFound` if the file (or, when creating, its directory) is missing;
    /// `AlreadyExists` for [`OpenMode::CreateNew`] on an existing name.
    fn open(&self, path: &Path, mode: OpenMode) -> Result<Box<dyn File>>;

    /// Renames `from` to `to`, atomically replacing `to` if it exists. Durable
    /// once both parent directories have been synced.
    fn rename(&self, from: &Path, to: &Path) -> Result<()>;

    /// Removes a file. Durable once its directory has been synced. Open
    /// handles keep working on the unlinked file.
    fn remove_file(&self, path: &Path) -> Result<()>;

    /// Creates one directory; its parent must exist.
    fn create_dir(&self, path: &Path) -> Result<()>;

    /// Creates a directory and any missing parents; `Ok` if it exists.
    fn create_dir_all(&self, path: &Path) -> Result<()>;

    /// Removes an empty directory.
    fn remove_dir(&self, path: &Path) -> Result<()>;

    /// The names (not paths) of the entries of a directory, sorted.
    fn list_dir(&self, path: &Path) -> Result<Vec<OsString>>;

    /// Whether a file or directory exists at `path`.
    fn exists(&self, path: &Path) -> Result<bool>;

    /// Makes the directory's entries (creations, renames, removals) durable.
    fn sync_dir(&self, path: &Path) -> Result<()>;

    /// Takes an exclusive lock on the lock file at `path`, creating the file if
    /// needed. The lock is held until the returned guard is dropped.
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] if another handle, in this process or another, holds it.
    fn lock(&self, path: &Path) -> Result<LockGuard>;

    /// Takes a shared lock on the existing lock file at `path`: any number of
    /// shared holders may hold it at once, but not beside an exclusive one
    /// ([`Fs::lock`]). Read-only opens use it, so a reader never runs beside
    /// a writer that could delete the files it reads. It never creates the
    /// file: a read-only open writes nothing.
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] if an exclusive holder, in this process or another,
    /// holds it; [`Error::Io`] with `NotFound` if the file does not exist.
    fn lock_shared(&self, path: &Path) -> Result<LockGuard>;

    /// Makes `to` a second name of the existing file `from` (a hard link):
    /// both names then share one file, so a file written once and never
    /// changed (an engine's table) is shared instead of copied. Like a
    /// creation, the new name is durable once its directory is synced.
    ///
    /// The default refuses with [`std::io::ErrorKind::Unsupported`], for file
    /// systems without links (the in-memory one): callers copy instead.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] with `AlreadyExists` if `to` exists, `NotFound` if
    /// `from` does not, `CrossesDevices` across file systems, `Unsupported`
    /// where the file system has no hard links.
    fn hard_link(&self, from: &Path, to: &Path) -> Result<()> {
        let _ = from;
        Err(Error::io(
            Op::HardLink,
            to,
            std::io::Error::from(std::io::ErrorKind::Unsupported),
        ))
    }
}

/// An open file.
///
/// All I/O is positional (`pread`/`pwrite`), so one handle can be shared by
/// threads without a seek position to fight over.
pub trait File: Send + Sync + fmt::Debug {
    /// The path the file was opened at.
    fn path(&self) -> &Path;

    /// Reads up to `buf.len()` bytes at `offset`; returns how many were read,
    /// fewer only at the end of the file.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize>;

    /// Reads exactly `buf.len()` bytes at `offset`.
    ///
    /// # Errors
    ///
    /// `UnexpectedEof` if the file ends first.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        let mut done = 0;
        while done < buf.len() {
            let n = self.read_at(&mut buf[done..], offset + done as u64)?;
            if n == 0 {
                return Err(Error::io(
                    Op::Read,
                    self.path(),
                    std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!(
                            "wanted {} bytes at offset {offset}, file ends after {done}",
                            buf.len()
                        ),
                    ),
                ));
            }
            done += n;
        }
        Ok(())
    }

    /// Writes all of `buf` at `offset`, growing the file if needed (a gap
    /// reads as zeros).
    fn write_all_at(&self, buf: &[u8], offset: u64) -> Result<()>;

    /// Writes all of `buf` at the end of the file and returns the offset it
    /// starts at. The end is the one this handle knows: two handles appending
    /// to one file at once is not supported.
    fn append(&self, buf: &[u8]) -> Result<u64>;

    /// Makes the file's data and length durable (`fdatasync`).
    fn sync_data(&self) -> Result<()>;

    /// Truncates or extends (with zeros) the file to `len_bytes`.
    ///
    /// # Errors
    ///
    /// [`Error::ViewAlive`] if `len_bytes` is below the length of a live
    /// view of the file ([`File::map`], through any handle of this file
    /// system); the file is left as it was.
    fn set_len(&self, len_bytes: u64) -> Result<()>;

    /// The file's length in bytes.
    fn len(&self) -> Result<u64>;

    /// Whether the file is empty.
    fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// A read-only view of the file's bytes, `0..len()` as of this call.
    ///
    /// On [`OsFs`](crate::OsFs) it is a shared memory map: it costs no copy,
    /// and writes made later through [`File::write_all_at`] inside its range
    /// may show through it. Callers must not rely on seeing them (a simulated
    /// file system hands out a copy), and must call `map` again to see bytes
    /// written past its end.
    ///
    /// While the view (or any clone or slice of it) is alive, no call of
    /// this crate shrinks the file below its length: [`File::set_len`] and
    /// [`OpenMode::Truncate`] fail with [`Error::ViewAlive`] instead, on
    /// every file system, since on a real disk the cut would turn a read of
    /// the view into `SIGBUS`.
    ///
    /// Two duties stay with the caller, as with every memory-mapped database
    /// (LMDB, redb): no other process (and no `std::fs` call in this one)
    /// truncates the file while a view is alive, which engines ensure by
    /// holding their lock file; and bytes a reader can reach through a live
    /// view are not rewritten. See the safety argument in `src/mmap.rs`.
    fn map(&self) -> Result<Bytes>;

    /// [`File::map`], told how the view will be read: on
    /// [`OsFs`](crate::OsFs) the map is advised for `access` (a table or a
    /// B+ tree maps [`Access::Random`], so a fault reads its page, not
    /// megabytes of readahead around it), and the [`View`] can ask for a
    /// range ahead of use ([`View::will_need`]).
    ///
    /// The default, for file systems whose views are copies (`MemFs`), is
    /// [`File::map`] in a [`View`] whose advice does nothing; a wrapper
    /// (`FaultFs`) passes the call on. Everything [`File::map`] promises
    /// about leases and shrinks holds the same.
    fn map_for(&self, access: Access) -> Result<View> {
        let _ = access;
        Ok(View::from_bytes(self.map()?))
    }
}

/// A lock on a lock file (exclusive or shared), released on drop.
pub struct LockGuard {
    path: PathBuf,
    // Whatever keeps the lock alive; dropping it releases the lock.
    _held: Box<dyn Any + Send + Sync>,
}

impl LockGuard {
    /// Wraps `held`, whose drop releases the lock at `path`. For
    /// implementations of [`Fs::lock`] and [`Fs::lock_shared`].
    pub fn new(path: impl Into<PathBuf>, held: Box<dyn Any + Send + Sync>) -> LockGuard {
        LockGuard {
            path: path.into(),
            _held: held,
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockGuard")
            .field("path", &self.path)
            .finish()
    }
}
