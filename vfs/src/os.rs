//! `OsFs`: the real file system, over `std::fs`.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use parking_lot::Mutex;

use crate::views::Views;
use crate::{Access, Error, File, Fs, LockGuard, Op, OpenMode, Result, View};

/// A file, as opposed to a name: its device and inode numbers.
type FileId = (u64, u64);

/// The live views of every file mapped through any `OsFs` of this process.
/// A view leases its length here until its last clone is dropped, and every
/// shrink checks the leases holding this lock (see `mmap.rs`).
static VIEWS: Mutex<Views<FileId>> = Mutex::new(Views::new());

/// A view's hold on its file's length, released when the view is dropped
/// (or, if the map failed, when the lease is).
struct Lease {
    file: FileId,
    len_bytes: u64,
    released: bool,
}

impl crate::mmap::Lease for Lease {
    fn unmap_then_release(&mut self, unmap: &mut dyn FnMut()) {
        // The unmap may free a deleted file's inode: the lease goes under
        // the same lock, so no file given that inode meanwhile is refused a
        // truncation by it.
        let mut views = VIEWS.lock();
        unmap();
        views.remove(self.file, self.len_bytes);
        self.released = true;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if !self.released {
            VIEWS.lock().remove(self.file, self.len_bytes);
        }
    }
}

/// The real file system: `std::fs` with positional I/O, `fdatasync`, directory
/// sync by opening and syncing the directory, and `flock` locks.
#[derive(Clone, Copy, Debug, Default)]
pub struct OsFs;

impl OsFs {
    /// A handle on the real file system.
    pub fn new() -> OsFs {
        OsFs
    }
}

impl Fs for OsFs {
    fn open(&self, path: &Path, mode: OpenMode) -> Result<Box<dyn File>> {
        let mut options = fs::OpenOptions::new();
        options.read(true);
        match mode {
            OpenMode::Read => {}
            OpenMode::ReadWrite => {
                options.write(true);
            }
            OpenMode::Append => {
                options.write(true).create(true);
            }
            OpenMode::CreateNew => {
                options.write(true).create_new(true);
            }
            OpenMode::Truncate => {
                // Truncated below, once no live view of the file forbids it.
                options.write(true).create(true);
            }
        }
        let file = options
            .open(path)
            .map_err(|e| Error::io(Op::Open, path, e))?;
        let metadata = file.metadata().map_err(|e| Error::io(Op::Open, path, e))?;
        let id = (metadata.dev(), metadata.ino());
        let mut len = metadata.len();
        if mode == OpenMode::Truncate {
            let views = VIEWS.lock();
            views.check_shrink(id, 0, Op::Open, path)?;
            file.set_len(0).map_err(|e| Error::io(Op::Open, path, e))?;
            len = 0;
        }
        Ok(Box::new(OsFile {
            path: path.to_path_buf(),
            file,
            id,
            end: Mutex::new(len),
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        fs::rename(from, to).map_err(|e| {
            let message = format!("to {}: {e}", to.display());
            Error::io(Op::Rename, from, io::Error::new(e.kind(), message))
        })
    }

    fn remove_file(&self, path: &Path) -> Result<()> {
        fs::remove_file(path).map_err(|e| Error::io(Op::RemoveFile, path, e))
    }

    fn create_dir(&self, path: &Path) -> Result<()> {
        fs::create_dir(path).map_err(|e| Error::io(Op::CreateDir, path, e))
    }

    fn create_dir_all(&self, path: &Path) -> Result<()> {
        fs::create_dir_all(path).map_err(|e| Error::io(Op::CreateDir, path, e))
    }

    fn remove_dir(&self, path: &Path) -> Result<()> {
        fs::remove_dir(path).map_err(|e| Error::io(Op::RemoveDir, path, e))
    }

    fn list_dir(&self, path: &Path) -> Result<Vec<OsString>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(path).map_err(|e| Error::io(Op::ListDir, path, e))? {
            names.push(
                entry
                    .map_err(|e| Error::io(Op::ListDir, path, e))?
                    .file_name(),
            );
        }
        names.sort();
        Ok(names)
    }

    fn exists(&self, path: &Path) -> Result<bool> {
        path.try_exists()
            .map_err(|e| Error::io(Op::Exists, path, e))
    }

    fn sync_dir(&self, path: &Path) -> Result<()> {
        let dir = fs::File::open(path).map_err(|e| Error::io(Op::SyncDir, path, e))?;
        dir.sync_all().map_err(|e| Error::io(Op::SyncDir, path, e))
    }

    fn lock(&self, path: &Path) -> Result<LockGuard> {
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| Error::io(Op::Lock, path, e))?;
        // `flock` locks belong to the open file description, so a second
        // handle in this same process is refused too, not only other processes.
        match file.try_lock() {
            Ok(()) => Ok(LockGuard::new(path, Box::new(file))),
            Err(fs::TryLockError::WouldBlock) => Err(Error::Locked {
                path: path.to_path_buf(),
            }),
            Err(fs::TryLockError::Error(e)) => Err(Error::io(Op::Lock, path, e)),
        }
    }

    fn hard_link(&self, from: &Path, to: &Path) -> Result<()> {
        fs::hard_link(from, to).map_err(|e| {
            let message = format!("to {}: {e}", to.display());
            Error::io(Op::HardLink, from, io::Error::new(e.kind(), message))
        })
    }

    fn lock_shared(&self, path: &Path) -> Result<LockGuard> {
        let file = fs::File::open(path).map_err(|e| Error::io(Op::Lock, path, e))?;
        match file.try_lock_shared() {
            Ok(()) => Ok(LockGuard::new(path, Box::new(file))),
            Err(fs::TryLockError::WouldBlock) => Err(Error::Locked {
                path: path.to_path_buf(),
            }),
            Err(fs::TryLockError::Error(e)) => Err(Error::io(Op::Lock, path, e)),
        }
    }
}

/// A file of [`OsFs`].
#[derive(Debug)]
struct OsFile {
    path: PathBuf,
    file: fs::File,
    /// Which file it is, for its views' leases.
    id: FileId,
    /// The end of the file as this handle knows it, where `append` writes.
    end: Mutex<u64>,
}

impl File for OsFile {
    fn path(&self) -> &Path {
        &self.path
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize> {
        loop {
            match self.file.read_at(buf, offset) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io(Op::Read, &self.path, e)),
            }
        }
    }

    fn write_all_at(&self, buf: &[u8], offset: u64) -> Result<()> {
        let mut end = self.end.lock();
        self.file
            .write_all_at(buf, offset)
            .map_err(|e| Error::io(Op::Write, &self.path, e))?;
        *end = (*end).max(offset + buf.len() as u64);
        Ok(())
    }

    fn append(&self, buf: &[u8]) -> Result<u64> {
        let mut end = self.end.lock();
        let offset = *end;
        self.file
            .write_all_at(buf, offset)
            .map_err(|e| Error::io(Op::Append, &self.path, e))?;
        *end = offset + buf.len() as u64;
        Ok(offset)
    }

    fn sync_data(&self) -> Result<()> {
        self.file
            .sync_data()
            .map_err(|e| Error::io(Op::SyncData, &self.path, e))
    }

    fn set_len(&self, len_bytes: u64) -> Result<()> {
        let mut end = self.end.lock();
        // Held across the truncation, so no view can be leased in between.
        let views = VIEWS.lock();
        views.check_shrink(self.id, len_bytes, Op::SetLen, &self.path)?;
        self.file
            .set_len(len_bytes)
            .map_err(|e| Error::io(Op::SetLen, &self.path, e))?;
        drop(views);
        *end = len_bytes;
        Ok(())
    }

    fn len(&self) -> Result<u64> {
        Ok(self
            .file
            .metadata()
            .map_err(|e| Error::io(Op::Len, &self.path, e))?
            .len())
    }

    fn map(&self) -> Result<Bytes> {
        self.map_for(Access::Default).map(View::into_bytes)
    }

    fn map_for(&self, access: Access) -> Result<View> {
        // Held from reading the length until the lease is taken, so no
        // shrink through this crate can come in between.
        let mut views = VIEWS.lock();
        let len_bytes = self.len()?;
        views.add(self.id, len_bytes);
        drop(views);
        let lease = Lease {
            file: self.id,
            len_bytes,
            released: false,
        };
        let (bytes, advise) = crate::mmap::map(&self.file, len_bytes, lease, access)
            .map_err(|e| Error::io(Op::Map, &self.path, e))?;
        Ok(View::mapped(bytes, advise, &self.path))
    }
}
