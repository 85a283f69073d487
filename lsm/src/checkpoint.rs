//! [`Db::checkpoint`]: a consistent copy of a live store in a new directory,
//! which opens on its own (RocksDB's `Checkpoint::CreateCheckpoint`).
//!
//! Tables and blob shards are never changed once written, so the checkpoint
//! shares them with the source through hard links ([`vfs::Fs::hard_link`]),
//! and copies them where the file system refuses a link (another device, or
//! no links at all). The mutable files are not copied but written afresh: a
//! manifest holding exactly the pinned version in one edit, an empty log,
//! and `CURRENT`.
//!
//! The consistency point: every keyspace's memtables are flushed with
//! writers kept out (`Inner::flush_and_freeze`), so every write is in a
//! table and no memtable holds one; then the live versions are pinned
//! under the manifest lock, and writers go on. The checkpoint holds those
//! versions' tables: every write acknowledged before the call began, and
//! possibly some that raced with it, always one prefix of the write order
//! in every keyspace (with several keyspaces, flushing them while writes
//! land could pin one keyspace past a batch whose other half another
//! keyspace still held in memory).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::blob::{BlobMeta, BlobUse};
use crate::key::SeqNo;
use crate::manifest::{self, FileNumber, LogLength, VersionEdit};
use crate::recovery::BLOB_DIR;
use crate::version::Version;
use crate::wal::writer::LogWriter;
use crate::{Db, Error, Result};

/// Bytes a copy reads and appends at a time.
const COPY_CHUNK_BYTES: usize = 1 << 20;

/// Name of the blob store's own manifest (`erasure/FORMAT.md`).
const BLOB_MANIFEST: &str = "MANIFEST";

/// What [`Db::checkpoint`] wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckpointInfo {
    /// Table files in the checkpoint.
    pub tables: usize,
    /// Blob files (shard files of the default blob directory) in it.
    pub blob_files: usize,
    /// Tables and blob shards shared with the source through a hard link.
    pub files_linked: usize,
    /// Tables and blob shards copied (the file system refused a link).
    pub files_copied: usize,
    /// Bytes of the tables and blob shards, linked or copied.
    pub bytes: u64,
    /// The last sequence number the checkpoint's manifest records.
    pub last_seq: u64,
}

/// The live state a checkpoint copies, pinned by `Db::checkpoint_pin`.
#[derive(Debug)]
pub(crate) struct Pinned {
    pub(crate) fs: Arc<dyn vfs::Fs>,
    pub(crate) dir: PathBuf,
    /// Holding it keeps its tables (and the blobs they reference) on disk.
    pub(crate) version: Arc<Version>,
    /// The other keyspaces, each with its version (pinned likewise).
    pub(crate) keyspaces: Vec<(crate::keyspace::KeyspaceMeta, Arc<Version>)>,
    pub(crate) blobs: Vec<BlobMeta>,
    pub(crate) table_blobs: Vec<(FileNumber, Vec<BlobUse>)>,
    pub(crate) last_seq: SeqNo,
    /// Above every file number in use, the two below included.
    pub(crate) next_file: FileNumber,
    pub(crate) log_number: FileNumber,
    pub(crate) manifest_number: FileNumber,
    /// The merge operator name the copy's manifest records.
    pub(crate) merge_operator: Option<String>,
}

impl Db {
    /// Writes a consistent copy of the store into `dest`, a directory that
    /// must not exist or be empty, and that then opens on its own with
    /// [`Db::open`] (or [`Db::open_read_only`]) and the same options.
    ///
    /// The copy holds every write acknowledged before the call began (the
    /// memtables are flushed first) and possibly writes made during it,
    /// always one prefix of the write order in every keyspace. Writers wait
    /// while the memtables are flushed (one flush per keyspace holding
    /// writes); readers and compactions go on, and writers once the
    /// versions are pinned. Tables and blob shards are hard-linked (copied when the
    /// file system refuses a link, for instance across devices); a fresh
    /// manifest with exactly the pinned version, an empty sealed log and
    /// `CURRENT` are written. Everything is durable when the call returns:
    /// copied files, the new ones and the directories are synced.
    ///
    /// Needs a read-write handle: the flush is a write.
    ///
    /// # Errors
    ///
    /// [`Error::CheckpointDestination`] if `dest` exists and is not an empty
    /// directory (nothing is written then); [`Error::ReadOnly`] on a
    /// read-only handle; [`Error::InvalidOption`] when the store has
    /// `Options::blob_dirs` (only the default blob directory is copied,
    /// and a copy opened with those options would share them); a flush, link, copy or sync failure (the partial `dest` is left for
    /// the caller to remove).
    pub fn checkpoint(&self, dest: &Path) -> Result<CheckpointInfo> {
        if self.is_read_only() {
            return Err(Error::ReadOnly);
        }
        if self.inner().tables.is_remote() {
            // The copy would name objects of the source's store, and its
            // compactions would delete them under the source.
            return Err(Error::InvalidOption(
                "checkpoint needs local tables (no table_store)",
            ));
        }
        let (fs, blob_dirs_default) = self.checkpoint_env();
        if !blob_dirs_default {
            // Opened with the same options, the copy would share the
            // source's blob directories, and its open could delete blobs
            // of the source that its own manifest does not name.
            return Err(Error::InvalidOption(
                "checkpoint needs the default blob directory (no blob_dirs)",
            ));
        }
        check_destination(&*fs, dest)?;
        let pin = self.checkpoint_pin()?;
        write_checkpoint(&pin, dest)
    }
}

/// Refuses a destination that exists and is not an empty directory.
fn check_destination(fs: &dyn vfs::Fs, dest: &Path) -> Result<()> {
    if !fs.exists(dest)? {
        return Ok(());
    }
    match fs.list_dir(dest) {
        Ok(names) if names.is_empty() => Ok(()),
        _ => Err(Error::CheckpointDestination {
            path: dest.to_path_buf(),
        }),
    }
}

fn write_checkpoint(pin: &Pinned, dest: &Path) -> Result<CheckpointInfo> {
    let fs = &*pin.fs;
    fs.create_dir_all(dest)?;
    if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs.sync_dir(parent)?;
    }
    let mut info = CheckpointInfo {
        last_seq: pin.last_seq.0,
        ..CheckpointInfo::default()
    };
    let mut edit = VersionEdit {
        log_number: Some(pin.log_number),
        next_file: Some(pin.next_file),
        last_seq: Some(pin.last_seq),
        blobs_recorded: true,
        numbers_reserved: true,
        blobs_added: pin.blobs.clone(),
        table_blobs: pin.table_blobs.clone(),
        merge_operator: pin.merge_operator.clone(),
        ..VersionEdit::default()
    };
    let mut share_tables = |v: &Version, e: &mut VersionEdit| -> Result<()> {
        for (level, tables) in v.levels.iter().enumerate() {
            for t in tables {
                let name = manifest::table_name(t.number);
                share(fs, t.path(), &dest.join(&name), &mut info)?;
                info.tables += 1;
                // A level is below `NUM_LEVELS` (7), so it fits a byte.
                e.added.push((level as u8, t.number, t.size_bytes()));
            }
        }
        Ok(())
    };
    share_tables(&pin.version, &mut edit)?;
    // Each other keyspace's tables in an edit of their own (tag 14 names
    // the keyspace of a whole edit), after the edit creating them all.
    let mut keyspace_edits = Vec::new();
    for (meta, v) in &pin.keyspaces {
        let mut e = VersionEdit {
            keyspace: meta.id,
            ..VersionEdit::default()
        };
        share_tables(v, &mut e)?;
        keyspace_edits.push(e);
    }
    if !pin.keyspaces.is_empty() {
        edit.keyspaces_created = pin.keyspaces.iter().map(|(m, _)| m.clone()).collect();
        edit.keyspace_logs = std::iter::once(0)
            .chain(pin.keyspaces.iter().map(|(m, _)| m.id))
            .map(|id| (id, pin.log_number))
            .collect();
    }
    if !pin.blobs.is_empty() {
        let from = pin.dir.join(BLOB_DIR);
        let to = dest.join(BLOB_DIR);
        fs.create_dir_all(&to)?;
        copy(fs, &from.join(BLOB_MANIFEST), &to.join(BLOB_MANIFEST))?;
        for b in &pin.blobs {
            let name = format!("{:016x}.shard", b.blob.0);
            share(fs, &from.join(&name), &to.join(&name), &mut info)?;
            info.blob_files += 1;
        }
        fs.sync_dir(&to)?;
    }
    // An empty log at the log number (recovery requires it), sealed and
    // recorded as such, so a truncation of it is found.
    let mut log = LogWriter::create_wal(fs, &dest.join(manifest::log_name(pin.log_number)), None)?;
    log.seal()?;
    edit.logs_sealed = vec![LogLength {
        log: pin.log_number,
        len_bytes: log.len_bytes(),
    }];
    drop(log);
    let mut mlog = LogWriter::create(fs, &dest.join(manifest::manifest_name(pin.manifest_number)))?;
    mlog.add_record(&edit.encode())?;
    for e in &keyspace_edits {
        mlog.add_record(&e.encode())?;
    }
    mlog.seal()?;
    drop(mlog);
    fs.sync_dir(dest)?;
    manifest::set_current(fs, dest, pin.manifest_number)?;
    Ok(info)
}

/// Gives `to` the contents of the immutable file `from`: a hard link, or a
/// synced copy where the file system refuses one.
fn share(fs: &dyn vfs::Fs, from: &Path, to: &Path, info: &mut CheckpointInfo) -> Result<()> {
    if link_or_copy(fs, from, to)? {
        info.files_linked += 1;
    } else {
        info.files_copied += 1;
    }
    info.bytes += fs.open(to, vfs::OpenMode::Read)?.len()?;
    Ok(())
}

/// Gives `to` the contents of the immutable file `from` (a hard link, or
/// a synced copy where the file system refuses one): true if linked. Also
/// used by [`Db::ingest`](crate::Db::ingest).
pub(crate) fn link_or_copy(fs: &dyn vfs::Fs, from: &Path, to: &Path) -> Result<bool> {
    match fs.hard_link(from, to) {
        Ok(()) => Ok(true),
        Err(e) if link_refused(&e) => copy(fs, from, to).map(|_| false),
        Err(e) => Err(e.into()),
    }
}

/// A link the file system cannot make, where a copy does the job.
fn link_refused(e: &vfs::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        e.kind(),
        ErrorKind::Unsupported | ErrorKind::CrossesDevices | ErrorKind::PermissionDenied
    )
}

/// Copies `from` to the new file `to` and syncs it; returns its length.
fn copy(fs: &dyn vfs::Fs, from: &Path, to: &Path) -> Result<u64> {
    let src = fs.open(from, vfs::OpenMode::Read)?;
    let len = src.len()?;
    let dst = fs.open(to, vfs::OpenMode::CreateNew)?;
    let mut buf = vec![0u8; COPY_CHUNK_BYTES];
    let mut offset = 0u64;
    while offset < len {
        // Bounded by the chunk size, so it fits a usize.
        let n = (len - offset).min(COPY_CHUNK_BYTES as u64) as usize;
        src.read_exact_at(&mut buf[..n], offset)?;
        dst.append(&buf[..n])?;
        offset += n as u64;
    }
    dst.sync_data()?;
    Ok(len)
}

impl Db {
    /// For [`Db::checkpoint`] (`checkpoint.rs`): the file system, and
    /// whether blobs live in the store's own `blobs/` (no
    /// `Options::blob_dirs`).
    pub(crate) fn checkpoint_env(&self) -> (Arc<dyn vfs::Fs>, bool) {
        let inner = self.inner();
        (Arc::clone(&inner.fs), inner.opts.blob_dirs.is_empty())
    }

    /// For [`Db::checkpoint`] (`checkpoint.rs`): flushes the memtables,
    /// takes two fresh file numbers (the checkpoint's log and manifest),
    /// and pins every keyspace's live version with the blob files their
    /// tables reference. The versions and the blob records are read under
    /// the write and manifest locks, so they belong to one point of the
    /// write order; holding the versions' tables keeps their files, and
    /// the blobs they reference, on disk.
    pub(crate) fn checkpoint_pin(&self) -> Result<crate::checkpoint::Pinned> {
        self.check_writable()?;
        let inner = self.inner();
        inner.state.check()?;
        let log_number = inner.new_file_number()?;
        let manifest_number = inner.new_file_number()?;
        // Every keyspace flushed with writers kept out until the versions
        // are pinned: with several keyspaces, one could otherwise flush
        // writes made after the flush while another still held older ones
        // in memory, and a batch across them would be cut in two.
        let w = inner.flush_and_freeze()?;
        let pinned = {
            let m = inner.versions.manifest.lock();
            let trees = inner.trees();
            let version = Arc::clone(&trees[0].super_version().version);
            let keyspaces: Vec<_> = trees
                .iter()
                .skip(1)
                .map(|t| (t.meta.clone(), Arc::clone(&t.super_version().version)))
                .collect();
            (m, version, keyspaces)
        };
        let (m, version, keyspaces) = pinned;
        let others: Vec<(u64, Version)> = keyspaces
            .iter()
            .map(|(k, v)| (k.id, (**v).clone()))
            .collect();
        let all = crate::recovery::union(&version, &others);
        let live = m.blobs.live(&all);
        let blobs = live
            .keys()
            .filter_map(|b| m.blobs.files.get(b).copied())
            .collect();
        let mut table_blobs: Vec<_> = all
            .levels
            .iter()
            .flatten()
            .filter_map(|t| m.blobs.tables.get(&t.number).map(|u| (t.number, u.clone())))
            .collect();
        table_blobs.sort_unstable_by_key(|(n, _)| *n);
        let pinned = crate::checkpoint::Pinned {
            fs: Arc::clone(&inner.fs),
            dir: inner.dir.clone(),
            version,
            keyspaces,
            blobs,
            table_blobs,
            last_seq: inner.latest_seq(),
            next_file: FileNumber(inner.versions.reserved.load(Ordering::Acquire)),
            log_number,
            manifest_number,
            merge_operator: crate::merge::name_to_record(&inner.opts, None),
        };
        drop(m);
        inner.unfreeze(w);
        Ok(pinned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Options;
    use vfs::Fs;

    fn mem_db() -> (Arc<vfs::MemFs>, Db) {
        let fs = Arc::new(vfs::MemFs::new());
        let db = Db::open_with_fs(fs.clone(), "/src", Options::default()).expect("open");
        (fs, db)
    }

    #[test]
    fn checkpoint_on_a_file_system_without_links_copies_and_opens() {
        let (fs, db) = mem_db();
        db.put("a", "1").expect("put");
        db.flush().expect("flush");
        db.put("b", "2").expect("put");
        let info = db.checkpoint(Path::new("/cp")).expect("checkpoint");
        assert_eq!(info.files_linked, 0);
        assert_eq!(info.files_copied, info.tables);
        assert!(info.tables >= 1);
        db.put("c", "3").expect("put");
        let cp = Db::open_read_only_with_fs(fs, "/cp", Options::default()).expect("open copy");
        assert_eq!(cp.get(b"a").expect("get").as_deref(), Some(&b"1"[..]));
        assert_eq!(cp.get(b"b").expect("get").as_deref(), Some(&b"2"[..]));
        assert_eq!(cp.get(b"c").expect("get"), None);
        assert!(cp.verify().expect("verify").problems.is_empty());
    }

    #[test]
    fn checkpoint_refuses_a_destination_with_files() {
        let (fs, db) = mem_db();
        fs.create_dir_all(Path::new("/cp")).expect("mkdir");
        drop(
            fs.open(Path::new("/cp/x"), vfs::OpenMode::CreateNew)
                .expect("create"),
        );
        let err = db.checkpoint(Path::new("/cp")).expect_err("refused");
        assert!(matches!(err, Error::CheckpointDestination { .. }), "{err}");
        assert_eq!(fs.list_dir(Path::new("/cp")).expect("list").len(), 1);
    }

    #[test]
    fn checkpoint_of_a_read_only_handle_is_refused() {
        let (fs, db) = mem_db();
        db.put("a", "1").expect("put");
        db.close().expect("close");
        let ro = Db::open_read_only_with_fs(fs, "/src", Options::default()).expect("open");
        let err = ro.checkpoint(Path::new("/cp")).expect_err("refused");
        assert!(matches!(err, Error::ReadOnly), "{err}");
    }

    #[test]
    fn checkpoint_of_a_store_with_blob_dirs_is_refused() {
        let fs = Arc::new(vfs::MemFs::new());
        let opts = Options {
            blob_dirs: vec!["/blobs0".into()],
            ..Options::default()
        };
        let db = Db::open_with_fs(fs.clone(), "/src", opts).expect("open");
        let err = db.checkpoint(Path::new("/cp")).expect_err("refused");
        assert!(matches!(err, Error::InvalidOption(_)), "{err}");
        assert!(!fs.exists(Path::new("/cp")).expect("exists"));
    }
}
