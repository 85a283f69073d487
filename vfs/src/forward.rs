//! [`ForwardFs`]: a file system that passes every call on to another,
//! except the few it overrides. Tests wrap [`MemFs`](crate::MemFs) this way
//! to hold a call at a gate, run a hook after one, or count what is read;
//! each writes only the calls it changes.

use std::ffi::OsString;
use std::fmt;
use std::path::Path;

use crate::{File, Fs, LockGuard, OpenMode, Result};

/// An [`Fs`] that forwards every call to [`ForwardFs::inner`] unless it
/// overrides the method: implement `inner` and the methods that differ, and
/// the type is an `Fs` (a blanket impl forwards each [`Fs`] method to the
/// one of the same name here). Call it as an `Arc<dyn Fs>`, or name the
/// trait (`Fs::open(&wrapper, ..)`): on the concrete type with both traits
/// in scope a method call is ambiguous.
///
/// ```
/// use std::path::Path;
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use larder_vfs::{ForwardFs, Fs, MemFs};
///
/// /// Counts directory listings; everything else is `MemFs`'s.
/// #[derive(Debug, Default)]
/// struct CountLists {
///     inner: MemFs,
///     lists: AtomicUsize,
/// }
///
/// impl ForwardFs for CountLists {
///     fn inner(&self) -> &dyn Fs {
///         &self.inner
///     }
///     fn list_dir(&self, path: &Path) -> larder_vfs::Result<Vec<std::ffi::OsString>> {
///         self.lists.fetch_add(1, Ordering::Relaxed);
///         self.inner.list_dir(path)
///     }
/// }
///
/// # fn main() -> larder_vfs::Result<()> {
/// let counted = Arc::new(CountLists::default());
/// let fs: Arc<dyn Fs> = counted.clone();
/// fs.create_dir_all(Path::new("/d"))?;
/// assert!(fs.list_dir(Path::new("/d"))?.is_empty());
/// assert_eq!(counted.lists.load(Ordering::Relaxed), 1);
/// # Ok(())
/// # }
/// ```
///
/// # Concurrency
///
/// As [`Fs`]: every method may be called from any thread at once; an
/// override that keeps state guards it itself.
pub trait ForwardFs: Send + Sync + fmt::Debug {
    /// The file system the calls not overridden go to.
    fn inner(&self) -> &dyn Fs;

    /// [`Fs::open`], forwarded.
    ///
    /// # Errors
    ///
    /// As [`Fs::open`].
    fn open(&self, path: &Path, mode: OpenMode) -> Result<Box<dyn File>> {
        self.inner().open(path, mode)
    }

    /// [`Fs::rename`], forwarded.
    ///
    /// # Errors
    ///
    /// As [`Fs::rename`].
    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        self.inner().rename(from, to)
    }

    /// [`Fs::remove_file`], forwarded.
    ///
    /// # Errors
    ///
    /// As [`Fs::remove_file`].
    fn remove_file(&self, path: &Path) -> Result<()> {
        self.inner().remove_file(path)
    }

    /// [`Fs::create_dir`], forwarded.
    ///
    /// # Errors
    ///
    /// As [`Fs::create_dir`].
    fn create_dir(&self, path: &Path) -> Result<()> {
        self.inner().create_dir(path)
    }

    /// [`Fs::create_dir_all`], forwarded.
    ///
    /// # Errors
    ///
    /// As [`Fs::create_dir_all`].
    fn create_dir_all(&self, path: &Path) -> Result<()> {
        self.inner().create_dir_all(path)
    }

    /// [`Fs::remove_dir`], forwarded.
    ///
    /// # Errors
    ///
    /// As [`Fs::remove_dir`].
    fn remove_dir(&self, path: &Path) -> Result<()> {
        self.inner().remove_dir(path)
    }

    /// [`Fs::list_dir`], forwarded.
    ///
    /// # Errors
    ///
    /// As [`Fs::list_dir`].
    fn list_dir(&self, path: &Path) -> Result<Vec<OsString>> {
        self.inner().list_dir(path)
    }

    /// [`Fs::exists`], forwarded.
    ///
    /// # Errors
    ///
    /// As [`Fs::exists`].
    fn exists(&self, path: &Path) -> Result<bool> {
        self.inner().exists(path)
    }

    /// [`Fs::sync_dir`], forwarded.
    ///
    /// # Errors
    ///
    /// As [`Fs::sync_dir`].
    fn sync_dir(&self, path: &Path) -> Result<()> {
        self.inner().sync_dir(path)
    }

    /// [`Fs::lock`], forwarded.
    ///
    /// # Errors
    ///
    /// As [`Fs::lock`].
    fn lock(&self, path: &Path) -> Result<LockGuard> {
        self.inner().lock(path)
    }

    /// [`Fs::lock_shared`], forwarded.
    ///
    /// # Errors
    ///
    /// As [`Fs::lock_shared`].
    fn lock_shared(&self, path: &Path) -> Result<LockGuard> {
        self.inner().lock_shared(path)
    }

    /// [`Fs::hard_link`], forwarded (the inner file system's links, not the
    /// trait's refusing default).
    ///
    /// # Errors
    ///
    /// As [`Fs::hard_link`].
    fn hard_link(&self, from: &Path, to: &Path) -> Result<()> {
        self.inner().hard_link(from, to)
    }
}

impl<T: ForwardFs> Fs for T {
    fn open(&self, path: &Path, mode: OpenMode) -> Result<Box<dyn File>> {
        ForwardFs::open(self, path, mode)
    }
    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        ForwardFs::rename(self, from, to)
    }
    fn remove_file(&self, path: &Path) -> Result<()> {
        ForwardFs::remove_file(self, path)
    }
    fn create_dir(&self, path: &Path) -> Result<()> {
        ForwardFs::create_dir(self, path)
    }
    fn create_dir_all(&self, path: &Path) -> Result<()> {
        ForwardFs::create_dir_all(self, path)
    }
    fn remove_dir(&self, path: &Path) -> Result<()> {
        ForwardFs::remove_dir(self, path)
    }
    fn list_dir(&self, path: &Path) -> Result<Vec<OsString>> {
        ForwardFs::list_dir(self, path)
    }
    fn exists(&self, path: &Path) -> Result<bool> {
        ForwardFs::exists(self, path)
    }
    fn sync_dir(&self, path: &Path) -> Result<()> {
        ForwardFs::sync_dir(self, path)
    }
    fn lock(&self, path: &Path) -> Result<LockGuard> {
        ForwardFs::lock(self, path)
    }
    fn lock_shared(&self, path: &Path) -> Result<LockGuard> {
        ForwardFs::lock_shared(self, path)
    }
    fn hard_link(&self, from: &Path, to: &Path) -> Result<()> {
        ForwardFs::hard_link(self, from, to)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::MemFs;

    /// Overrides nothing: every call reaches the inner file system.
    #[derive(Debug)]
    struct Plain(MemFs);

    impl ForwardFs for Plain {
        fn inner(&self) -> &dyn Fs {
            &self.0
        }
    }

    #[test]
    fn calls_not_overridden_reach_the_inner_fs() {
        let mem = MemFs::new();
        let fs: Arc<dyn Fs> = Arc::new(Plain(mem.clone()));
        let dir = Path::new("/a/b");
        fs.create_dir_all(dir).unwrap();
        fs.create_dir(&dir.join("c")).unwrap();
        let f = fs.open(&dir.join("f"), OpenMode::CreateNew).unwrap();
        f.append(b"x").unwrap();
        fs.rename(&dir.join("f"), &dir.join("g")).unwrap();
        fs.sync_dir(dir).unwrap();
        assert_eq!(mem.list_dir(dir).unwrap(), vec!["c", "g"]);
        assert!(fs.exists(&dir.join("g")).unwrap());
        fs.remove_file(&dir.join("g")).unwrap();
        fs.remove_dir(&dir.join("c")).unwrap();
        assert!(mem.list_dir(dir).unwrap().is_empty());
        let guard = fs.lock(&dir.join("LOCK")).unwrap();
        assert!(mem.lock(&dir.join("LOCK")).is_err());
        drop(guard);
        let shared = fs.lock_shared(&dir.join("LOCK")).unwrap();
        assert!(mem.lock_shared(&dir.join("LOCK")).is_ok());
        drop(shared);
        // MemFs has no links: the refusal is the inner one's.
        assert_eq!(
            fs.hard_link(&dir.join("LOCK"), &dir.join("L2")).is_err(),
            mem.hard_link(&dir.join("LOCK"), &dir.join("L2")).is_err()
        );
    }
}
