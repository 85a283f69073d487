//! A file that appears under its name only once it is whole: written to a
//! temporary name in the same directory, synced, then renamed over the
//! name. Dropped before [`AtomicFile::commit`], the temporary file is
//! removed, so a failed `dump` leaves nothing (and an older file of that
//! name stays as it was).

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// A file being written under a temporary name.
#[derive(Debug)]
pub(crate) struct AtomicFile {
    file: File,
    tmp: PathBuf,
    dest: PathBuf,
    committed: bool,
}

impl AtomicFile {
    /// Creates the temporary file `.NAME.tmp-PID` beside `dest`.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] naming `dest` if the temporary file cannot be created
    /// (a missing directory, no permission).
    pub(crate) fn create(dest: &Path) -> Result<AtomicFile> {
        let name = dest
            .file_name()
            .ok_or_else(|| Error::BadArgument(format!("{} names no file", dest.display())))?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".tmp-{}", std::process::id()));
        let tmp = dest.with_file_name(tmp_name);
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| Error::io(dest, e))?;
        Ok(AtomicFile {
            file,
            tmp,
            dest: dest.to_path_buf(),
            committed: false,
        })
    }

    /// A second handle on the temporary file, to write through.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the handle cannot be duplicated.
    pub(crate) fn try_clone_file(&self) -> Result<File> {
        self.file.try_clone().map_err(|e| Error::io(&self.dest, e))
    }

    /// Syncs the file, renames it to its name and syncs the directory.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] naming the file; the temporary file is removed then.
    pub(crate) fn commit(mut self) -> Result<()> {
        self.file.sync_all().map_err(|e| Error::io(&self.dest, e))?;
        std::fs::rename(&self.tmp, &self.dest).map_err(|e| Error::io(&self.dest, e))?;
        self.committed = true;
        let dir = match self.dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io(dir, e))
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}
