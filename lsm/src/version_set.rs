//! The version set: the manifest, the live version, file numbers and blob
//! accounting ([`ManifestState`], under `VersionSet::manifest`). Logging an
//! edit and applying it, [`Inner::install`] (LevelDB's `LogAndApply`), is
//! the only way a new version is published ([`VersionSet`]); file numbers are reserved in
//! the manifest before they are handed out ([`Inner::new_file_number`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::blob::BlobFiles;
use crate::db::{Inner, SuperVersion};
use crate::manifest::{self, FileKind, FileNumber, LogLength, VersionEdit};
use crate::sstable::reader::Table;
use crate::version::Version;
use crate::wal::writer::LogWriter;
use crate::{Error, Result};

/// File numbers one manifest edit reserves (see `Inner::new_file_number`).
pub(crate) const NUMBERS_RESERVED_BATCH: u64 = 64;

/// The version set: the manifest and what it records, and the file
/// numbers. The live version itself is published in `Inner::sv` (with the
/// memtables), and only by [`Inner::install`], after the edit that makes
/// it is durable; a memtable switch republishes the same version.
///
/// # Concurrency
///
/// `manifest` is the manifest lock (see `db.rs` for the lock order).
/// `next_file` is taken from by any thread without a lock; `reserved` is
/// raised only under `manifest`, after the edit reserving the numbers is
/// durable, so a number below it is always recorded as handed out.
#[derive(Debug)]
pub(crate) struct VersionSet {
    /// The manifest writer and the state its edits build.
    pub(crate) manifest: Mutex<ManifestState>,
    /// The next file number to hand out.
    pub(crate) next_file: AtomicU64,
    /// Numbers below this are recorded in the manifest as handed out.
    pub(crate) reserved: AtomicU64,
}

/// What the manifest records beyond the version (under
/// `VersionSet::manifest`).
#[derive(Debug)]
pub(crate) struct ManifestState {
    pub(crate) log: LogWriter,
    /// Set when an append or sync of the manifest failed: the log's tail is
    /// then unknown, and a later record after it would turn a torn tail
    /// into corruption in the middle, so nothing more is written to it.
    pub(crate) broken: bool,
    /// The oldest log any keyspace may still need: the smallest of
    /// `keyspace_logs`. Logs below it are obsolete.
    pub(crate) log_number: FileNumber,
    /// Per live keyspace (the default is 0): the oldest log that may hold
    /// its writes not yet in its tables, as the manifest records it.
    pub(crate) keyspace_logs: BTreeMap<u64, FileNumber>,
    /// Recorded blob files and the table files pointing into them.
    pub(crate) blobs: BlobFiles,
    /// Logs whose whole records end before their file does (replayed
    /// logs with a torn tail) or that were recorded as sealed: the length
    /// a close records for them. Any other live log was written whole by
    /// this handle, and its file's length is recorded.
    pub(crate) log_lengths: BTreeMap<FileNumber, u64>,
    /// The claim on the published manifest, with
    /// [`Options::publish_manifest`](crate::Options::publish_manifest).
    pub(crate) publisher: Option<crate::tables::published::Publisher>,
}

/// Tables of one level of L1.. must not overlap; a manifest that says they
/// do is corrupt (reads would return stale versions).
/// `added_at` gives the manifest offset of the edit that added a table.
pub(crate) fn check_levels(
    v: &Version,
    manifest_path: &Path,
    added_at: impl Fn(FileNumber) -> u64,
) -> Result<()> {
    for (level, tables) in v.levels.iter().enumerate().skip(1) {
        if let Some(w) = tables
            .windows(2)
            .find(|w| crate::version::user_range(&w[0]).1 >= crate::version::user_range(&w[1]).0)
        {
            return Err(Error::corruption(
                manifest_path,
                added_at(w[1].number),
                "manifest puts overlapping tables in one level (expected: the level; found:                  the table)",
                level as u64,
                w[1].number.0,
            ));
        }
    }
    Ok(())
}

pub(crate) fn sort_version(v: &mut Version) {
    v.levels[0].sort_by_key(|t| std::cmp::Reverse(t.number));
    for level in &mut v.levels[1..] {
        level.sort_by(|a, b| crate::key::cmp_encoded(&a.props.smallest, &b.props.smallest));
    }
}

impl Inner {
    /// A fresh number for a table, log or blob. Numbers are reserved in
    /// the manifest before they are handed out ([`NUMBERS_RESERVED_BATCH`]
    /// at a time, one synced edit per batch), so every file the engine
    /// writes has a number below a durably recorded `next_file`: recovery
    /// reads a table or blob numbered beyond it as proof of a lost edit.
    pub(crate) fn new_file_number(&self) -> Result<FileNumber> {
        let n = self.versions.next_file.fetch_add(1, Ordering::Relaxed);
        if n < self.versions.reserved.load(Ordering::Acquire) {
            return Ok(FileNumber(n));
        }
        let mut m = self.versions.manifest.lock();
        let reserved = self.versions.reserved.load(Ordering::Acquire);
        if n >= reserved {
            let upto =
                n.max(self.versions.next_file.load(Ordering::Relaxed)) + NUMBERS_RESERVED_BATCH;
            if upto > manifest::FILE_NUMBER_MAX {
                return Err(Error::corruption(
                    self.dir.join(manifest::CURRENT),
                    0,
                    "file numbers exhausted",
                    manifest::FILE_NUMBER_MAX,
                    upto,
                ));
            }
            let edit = VersionEdit {
                next_file: Some(FileNumber(upto)),
                ..VersionEdit::default()
            };
            Self::log_edit(&mut m, &edit)?;
            self.versions.reserved.store(upto, Ordering::Release);
        }
        Ok(FileNumber(n))
    }

    /// Logs `edit` durably and installs the version it makes.
    pub(crate) fn install(
        &self,
        edit: VersionEdit,
        opened: Vec<(usize, Arc<Table>)>,
        flushed_log: Option<FileNumber>,
    ) -> Result<()> {
        self.install_with(edit, opened, flushed_log, true)
    }

    /// [`Inner::install`]; `wake_writers` false for a caller holding the
    /// write lock (an ingest), which wakes them itself once it let go.
    pub(crate) fn install_with(
        &self,
        edit: VersionEdit,
        opened: Vec<(usize, Arc<Table>)>,
        flushed_log: Option<FileNumber>,
        wake_writers: bool,
    ) -> Result<()> {
        let mut m = self.versions.manifest.lock();
        if self.dropped.load(Ordering::Acquire) {
            // The keyspace was dropped while this flush or compaction ran:
            // its outputs (tables, and blob files no manifest records) are
            // no keyspace's, and go.
            drop(m);
            let mut o = self.obsolete.lock();
            o.tables.extend(opened.into_iter().map(|(_, t)| t));
            o.blobs.extend(edit.blobs_added.iter().map(|b| b.blob));
            drop(o);
            self.delete_obsolete()?;
            return Ok(());
        }
        let mut edit = edit;
        edit.keyspace = self.id;
        let old_log_number = m.log_number;
        // The log number moves on only once the edit saying so is durable:
        // an edit logged by another thread meanwhile must not claim the
        // flushed log's writes are in a table.
        if let Some(n) = flushed_log {
            let mut logs = m.keyspace_logs.clone();
            logs.insert(self.id, n);
            // A keyspace with nothing unflushed moves on with it: a write
            // to it not yet in its memtable is in the current log (the
            // write lock covers append and insert), at or after `n`.
            for t in self.trees() {
                let sv = t.sv.read();
                if t.id != self.id && sv.mem.is_empty() && sv.imm.is_empty() {
                    logs.entry(t.id).and_modify(|l| *l = (*l).max(n));
                }
            }
            edit.log_number = logs.values().min().copied();
            if logs.len() > 1 {
                edit.keyspace_logs = logs.iter().map(|(&id, &l)| (id, l)).collect();
            }
            m.keyspace_logs = logs;
        } else {
            edit.log_number = Some(m.log_number);
        }
        edit.next_file = Some(FileNumber(self.versions.next_file.load(Ordering::Relaxed)));
        // An ingest records the sequence number it is about to publish.
        edit.last_seq = Some(self.latest_seq().max(edit.last_seq.unwrap_or_default()));
        Self::log_edit(&mut m, &edit)?;
        let log_number = edit.log_number.unwrap_or(old_log_number);
        m.log_number = log_number;
        for b in &edit.blobs_added {
            m.blobs.files.insert(b.blob, *b);
        }
        for (n, uses) in &edit.table_blobs {
            m.blobs.tables.insert(*n, uses.clone());
        }
        let mut sv_lock = self.sv.write();
        let old = Arc::clone(&sv_lock);
        let mut v = (*old.version).clone();
        let mut removed = Vec::new();
        for &(level, n) in &edit.deleted {
            let l = &mut v.levels[level as usize];
            if let Some(i) = l.iter().position(|t| t.number == n) {
                removed.push(l.remove(i));
            }
        }
        for (level, t) in opened {
            v.levels[level].push(t);
        }
        sort_version(&mut v);
        debug_assert!(
            check_levels(&v, Path::new("(in memory)"), |_| 0).is_ok(),
            "edit {edit:?} made overlapping tables in a level"
        );
        // A flush installs the oldest immutable memtable; newer ones
        // switched out meanwhile stay.
        let imm = match flushed_log {
            Some(n) => {
                debug_assert_eq!(old.imm.first().map(|(_, next)| *next), Some(n));
                old.imm.iter().skip(1).cloned().collect()
            }
            None => old.imm.clone(),
        };
        let v = Arc::new(v);
        *sv_lock = Arc::new(SuperVersion {
            mem: Arc::clone(&old.mem),
            imm,
            version: Arc::clone(&v),
            mem_log: old.mem_log,
        });
        drop(sv_lock);
        // Published in edit order (under the manifest lock), once the edit
        // is durable: a reader never sees a table the local state lacks.
        let ms = &mut *m;
        if let (Some(p), Some(io), 0) = (&mut ms.publisher, self.tables.remote(), self.id) {
            let last_seq = edit.last_seq.map_or(0, |s| s.0);
            p.publish(io, &v, &ms.blobs, last_seq)?;
        }
        drop(m);
        // Moved tables stay live at their new level.
        let live: Vec<FileNumber> = edit.added.iter().map(|a| a.1).collect();
        {
            let mut o = self.obsolete.lock();
            o.tables
                .extend(removed.into_iter().filter(|t| !live.contains(&t.number)));
            if log_number > old_log_number {
                o.logs_below(log_number);
            }
        }
        self.delete_obsolete()?;
        if wake_writers {
            self.wake_writers();
        }
        // A flush may give the compaction thread work.
        self.wake_background();
        Ok(())
    }

    /// The live logs (numbered from the manifest's log number on) and the
    /// length of each one's whole records, for a close to record them as
    /// sealed: called once every one of them is synced.
    pub(crate) fn live_log_lengths(&self, m: &ManifestState) -> Result<Vec<LogLength>> {
        let mut out = Vec::new();
        for name in self.fs.list_dir(&self.dir)? {
            let FileKind::Log(n) = manifest::parse_name(&name.to_string_lossy()) else {
                continue;
            };
            if n < m.log_number {
                continue;
            }
            let len = match m.log_lengths.get(&n) {
                Some(&len) => len,
                None => self
                    .fs
                    .open(&self.dir.join(manifest::log_name(n)), vfs::OpenMode::Read)?
                    .len()?,
            };
            out.push(LogLength {
                log: n,
                len_bytes: len,
            });
        }
        out.sort_unstable();
        Ok(out)
    }

    /// Appends `edit` to the manifest and syncs it. After a failure the
    /// manifest takes no more edits.
    pub(crate) fn log_edit(m: &mut ManifestState, edit: &VersionEdit) -> Result<()> {
        if m.broken {
            return Err(Error::Closed {
                reason: Some("an earlier manifest write failed".into()),
            });
        }
        let r = m.log.add_record(&edit.encode()).and_then(|_| m.log.sync());
        if r.is_err() {
            m.broken = true;
        }
        r.map(|_| ())
    }
}
