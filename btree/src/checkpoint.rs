//! [`Db::checkpoint`]: the last commit, copied into a new database file
//! that opens on its own.
//!
//! The copy is built the way [`Db::compact`] builds its file (the live
//! entries, bottom-up, densely, with fresh meta pages), but from a
//! registered read snapshot instead of under the writer lock: the writer
//! never reuses a page a registered reader can reach, so the snapshot's
//! pages stay as they were while the copy reads them, and commits go on.
//! So a checkpoint also works from a read-only handle.
//!
//! Crash argument: the new file is written under a temporary name, synced
//! (pages, then both meta pages), renamed to its name, and the directory
//! synced; a crash leaves no file at the destination, or the whole copy.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use vfs::OpenMode;

use crate::compact::write_compacted;
use crate::db::{Db, Inner, Snapshot, parent_dir};
use crate::{Error, Result};

/// What [`Db::checkpoint`] wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckpointInfo {
    /// The transaction id of the commit copied (the copy's meta pages
    /// record it too).
    pub txn: u64,
    /// Entries in the copy.
    pub entries: u64,
    /// Pages of the copy, meta pages included.
    pub pages: u64,
    /// Length of the copy in bytes.
    pub bytes: u64,
}

impl Db {
    /// Writes the last commit into a new database file at `dest` (on this
    /// handle's file system), which then opens on its own with
    /// [`Db::open`] and passes [`Db::check`]. The copy is compacted: only
    /// the live entries, densely packed, with no free pages.
    ///
    /// Reads a registered snapshot, so writers go on meanwhile (their
    /// commits after the call began are not in the copy) and a read-only
    /// handle can make a checkpoint. The copy is durable when the call
    /// returns: written under a temporary name, synced, renamed, and the
    /// directory synced.
    ///
    /// # Errors
    ///
    /// [`Error::CheckpointDestination`] if `dest` exists (nothing is
    /// written); [`Error::Io`] if the copy cannot be written (the temporary
    /// file is removed); a corruption error from a page of this database.
    pub fn checkpoint(&self, dest: &Path) -> Result<CheckpointInfo> {
        let inner = &*self.inner;
        if inner.fs.exists(dest)? {
            return Err(Error::CheckpointDestination {
                file: dest.to_path_buf(),
            });
        }
        let mut tmp = OsString::from(dest.as_os_str());
        tmp.push(".checkpoint-tmp");
        let tmp = PathBuf::from(tmp);
        // A registered reader: the writer reuses no page it can reach.
        let read = self.begin_read()?;
        let r = write_copy(inner, read.snapshot(), &tmp).and_then(|info| {
            inner.fs.rename(&tmp, dest)?;
            inner.fs.sync_dir(&parent_dir(dest))?;
            Ok(info)
        });
        if r.is_err() {
            let _ = inner.fs.remove_file(&tmp);
        }
        r
    }
}

fn write_copy(inner: &Inner, snap: &Snapshot, tmp: &Path) -> Result<CheckpointInfo> {
    let file = inner.fs.open(tmp, OpenMode::Truncate)?;
    let meta = write_compacted(inner, snap, &*file, snap.meta.txn)?;
    Ok(CheckpointInfo {
        txn: meta.txn,
        entries: meta.entry_count,
        pages: meta.page_count,
        bytes: meta.page_count * u64::from(meta.page_size),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use crate::Options;
    use vfs::Fs;

    fn fill(db: &Db, from: u32, to: u32, tag: &str) {
        let mut w = db.begin_write().expect("write");
        for i in from..to {
            w.insert(
                format!("k{i:05}").as_bytes(),
                format!("{tag}{i}").as_bytes(),
            )
            .expect("insert");
        }
        w.commit().expect("commit");
    }

    #[test]
    fn checkpoint_holds_the_last_commit_and_not_later_ones() {
        let fs = Arc::new(vfs::MemFs::new());
        let db = Db::open_with_fs(fs.clone(), "/db", Options::default()).expect("open");
        fill(&db, 0, 3000, "v");
        let mut w = db.begin_write().expect("write");
        w.remove(b"k00010").expect("remove");
        w.commit().expect("commit");
        let info = db.checkpoint(Path::new("/cp")).expect("checkpoint");
        assert_eq!(info.entries, 2999);
        fill(&db, 0, 10, "later");
        let cp =
            Db::open_read_only_with_fs(fs.clone(), "/cp", Options::default()).expect("open copy");
        let r = cp.begin_read().expect("read");
        assert_eq!(r.get(b"k00001").expect("get").as_deref(), Some(&b"v1"[..]));
        assert_eq!(r.get(b"k00010").expect("get"), None);
        assert_eq!(r.iter().count(), 2999);
        cp.check().expect("the copy passes check");
        assert!(!fs.exists(Path::new("/cp.checkpoint-tmp")).expect("exists"));
    }

    #[test]
    fn checkpoint_refuses_an_existing_destination() {
        let fs = Arc::new(vfs::MemFs::new());
        let db = Db::open_with_fs(fs.clone(), "/db", Options::default()).expect("open");
        fill(&db, 0, 10, "v");
        drop(
            fs.open(Path::new("/cp"), OpenMode::CreateNew)
                .expect("create"),
        );
        let err = db.checkpoint(Path::new("/cp")).expect_err("refused");
        assert!(matches!(err, Error::CheckpointDestination { .. }), "{err}");
        assert_eq!(
            fs.open(Path::new("/cp"), OpenMode::Read)
                .expect("open")
                .len()
                .expect("len"),
            0
        );
    }

    #[test]
    fn checkpoint_from_a_read_only_handle() {
        let fs = Arc::new(vfs::MemFs::new());
        let db = Db::open_with_fs(fs.clone(), "/db", Options::default()).expect("open");
        fill(&db, 0, 100, "v");
        drop(db);
        let ro = Db::open_read_only_with_fs(fs.clone(), "/db", Options::default()).expect("open");
        ro.checkpoint(Path::new("/cp")).expect("checkpoint");
        let cp = Db::open_with_fs(fs, "/cp", Options::default()).expect("open copy");
        assert_eq!(cp.begin_read().expect("read").iter().count(), 100);
    }

    #[test]
    fn checkpoint_while_a_writer_commits_holds_one_whole_commit() {
        let fs = Arc::new(vfs::MemFs::new());
        let db = Arc::new(Db::open_with_fs(fs.clone(), "/db", Options::default()).expect("open"));
        fill(&db, 0, 100, "v");
        let writer = {
            let db = Arc::clone(&db);
            // Each commit adds 50 keys: a copy holds a multiple of 50.
            std::thread::spawn(move || {
                for c in 0..40u32 {
                    fill(&db, 100 + c * 50, 150 + c * 50, "w");
                }
            })
        };
        let mut infos = Vec::new();
        for n in 0..5 {
            let dest = PathBuf::from(format!("/cp{n}"));
            infos.push((db.checkpoint(&dest).expect("checkpoint"), dest));
        }
        writer.join().expect("writer");
        for (info, dest) in infos {
            assert_eq!(info.entries % 50, 0, "{info:?}");
            let cp = Db::open_read_only_with_fs(fs.clone(), &dest, Options::default())
                .expect("open copy");
            cp.check().expect("the copy passes check");
            let keys = cp.begin_read().expect("read").iter().count() as u64;
            assert_eq!(keys, info.entries);
        }
    }
}
