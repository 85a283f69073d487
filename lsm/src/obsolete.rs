//! Obsolete files: tables, logs, manifests, temporary files and blob files
//! no version needs any more, and the one policy for deleting them.
//!
//! # Policy
//!
//! A file is deleted only once it is *proven* obsolete by a durable
//! manifest edit (a table an edit dropped, a log below the manifest's log
//! number, a blob file the manifest stopped recording, an older manifest
//! or a temporary file at open), and a table only once no reader holds it
//! (nor, with `Options::publish_manifest`, a kept published manifest, for
//! readers elsewhere).
//! Every kind goes through [`Inner::delete_obsolete`], the *scan*, run after
//! each version install, after each background pass (at least every 100 ms
//! while the engine is idle), at open, and by [`Db::wait_idle`].
//!
//! A failed unlink of such a file never stops the engine and never loses
//! data: it is counted in [`Stats::obsolete_delete_failures`] and retried
//! at the next scan. If the process ends first, the next open finds the
//! file recorded as obsolete (or not recorded at all) and deletes it then.
//! A table's blob references are dropped only once the table file is gone,
//! so a blob file outlives every table file on disk that points into it.
//! Logs go oldest first and a scan stops at the first log it cannot
//! delete, so the logs on disk are always a suffix (recovery relies on it).
//!
//! What can stop the engine here is a failed *manifest* write (the edit
//! that makes a blob file obsolete), never a failed unlink.
//!
//! [`Db::wait_idle`]: crate::Db::wait_idle
//! [`Stats::obsolete_delete_failures`]: crate::Stats::obsolete_delete_failures

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::Result;
use crate::db::Inner;
use crate::manifest::{self, FileKind, FileNumber, VersionEdit};
use crate::sstable::reader::Table;

/// Files proven obsolete and not deleted yet.
///
/// # Concurrency
///
/// Guarded by `Inner::obsolete`, taken alone: no other lock is taken while
/// it is held (a scan takes what it will delete, lets go, then deletes).
#[derive(Debug, Default)]
pub(crate) struct Obsolete {
    /// Tables an edit dropped from the version: deleted once no reader
    /// (iterator, snapshot read, `verify`) holds them.
    pub(crate) tables: Vec<Arc<Table>>,
    /// Files whose unlink failed, or that an open found obsolete: retried
    /// at each scan. A table's number comes with it, to drop its blob
    /// references once it is gone.
    pub(crate) files: Vec<(Option<FileNumber>, PathBuf)>,
    /// Blob files the manifest no longer records whose delete failed.
    pub(crate) blobs: Vec<erasure::BlobId>,
    /// Logs numbered below this are obsolete (the manifest's log number
    /// said so durably); `logs_pending` says some may still be on disk.
    pub(crate) logs_below: FileNumber,
    pub(crate) logs_pending: bool,
}

impl Obsolete {
    /// Records that every log below `n` is obsolete.
    pub(crate) fn logs_below(&mut self, n: FileNumber) {
        self.logs_below = self.logs_below.max(n);
        self.logs_pending = true;
    }
}

impl Inner {
    /// The scan (see the module doc): deletes every file proven obsolete
    /// that no reader holds, counting and keeping for the next scan the
    /// ones whose unlink fails. Returns how many files it deleted.
    ///
    /// # Errors
    ///
    /// A failed manifest write; never a failed unlink.
    pub(crate) fn delete_obsolete(&self) -> Result<usize> {
        let (mut files, blobs, logs_below) = {
            let mut o = self.obsolete.lock();
            let mut files = std::mem::take(&mut o.files);
            o.tables.retain(|t| {
                if Arc::strong_count(t) == 1 {
                    files.push((Some(t.number), t.path().to_path_buf()));
                    false
                } else {
                    true
                }
            });
            let logs_below = if o.logs_pending {
                o.logs_pending = false;
                Some(o.logs_below)
            } else {
                None
            };
            (files, std::mem::take(&mut o.blobs), logs_below)
        };
        let mut deleted = 0;
        let mut gone_tables = Vec::new();
        // Tables a kept published manifest still names stay for the
        // readers elsewhere that may be reading them (`tables/published.rs`).
        let held = self
            .versions
            .manifest
            .lock()
            .publisher
            .as_ref()
            .map(|p| p.held())
            .unwrap_or_default();
        files.retain(|(n, path)| {
            let gone = match n {
                Some(n) if held.contains(n) => false,
                // A table: its file or object, and its cached blocks.
                Some(n) => match self.tables.remove(*n) {
                    Ok(()) => true,
                    Err(_) => {
                        self.note_delete_failure();
                        false
                    }
                },
                None => self.unlink(path),
            };
            if gone {
                deleted += 1;
                gone_tables.extend(*n);
                false
            } else {
                true
            }
        });
        let mut logs_left = false;
        if let Some(below) = logs_below {
            match self.delete_logs_below(below) {
                Ok((n, left)) => {
                    deleted += n;
                    logs_left = left;
                }
                // The directory could not be listed: as a failed unlink.
                Err(_) => {
                    self.note_delete_failure();
                    logs_left = true;
                }
            }
        }
        if !gone_tables.is_empty() {
            let mut m = self.versions.manifest.lock();
            for n in &gone_tables {
                m.blobs.tables.remove(n);
            }
        }
        {
            let mut o = self.obsolete.lock();
            o.files.extend(files);
            o.logs_pending |= logs_left;
        }
        deleted += self.delete_blobs(blobs)?;
        Ok(deleted)
    }

    /// Deletes the logs below `below`, oldest first, stopping at the first
    /// failure; returns how many it deleted and whether some are left.
    fn delete_logs_below(&self, below: FileNumber) -> Result<(usize, bool)> {
        let mut old: Vec<FileNumber> = self
            .fs
            .list_dir(&self.dir)?
            .iter()
            .filter_map(|name| match manifest::parse_name(&name.to_string_lossy()) {
                FileKind::Log(x) if x < below => Some(x),
                _ => None,
            })
            .collect();
        old.sort_unstable();
        let mut deleted = 0;
        for x in old {
            if !self.unlink(&self.dir.join(manifest::log_name(x))) {
                return Ok((deleted, true));
            }
            deleted += 1;
        }
        Ok((deleted, false))
    }

    /// Unlinks `path`; `true` if it is gone (a file already gone counts),
    /// `false` (counted) if the unlink failed.
    fn unlink(&self, path: &std::path::Path) -> bool {
        match self.fs.remove_file(path) {
            Ok(()) => true,
            Err(e) if e.is_not_found() => true,
            Err(_) => {
                self.note_delete_failure();
                false
            }
        }
    }

    fn note_delete_failure(&self) {
        self.counters
            .obsolete_delete_failures
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Deletes the blob files no table file on disk points into, and the
    /// ones `retry` names: first from the manifest (durably), then from
    /// the store. A crash between the two leaves a blob the manifest does
    /// not record, which the next open deletes; no blob a table on disk
    /// references is ever deleted. Returns how many it deleted.
    fn delete_blobs(&self, retry: Vec<erasure::BlobId>) -> Result<usize> {
        let Some(store) = &self.blobs else {
            return Ok(0);
        };
        let mut gone = retry;
        {
            let mut m = self.versions.manifest.lock();
            let unreferenced = m.blobs.unreferenced();
            if !unreferenced.is_empty() {
                let edit = VersionEdit {
                    blobs_deleted: unreferenced.clone(),
                    ..VersionEdit::default()
                };
                if let Err(e) = Self::log_edit(&mut m, &edit) {
                    drop(m);
                    self.obsolete.lock().blobs.extend(gone);
                    return Err(e);
                }
                for b in &unreferenced {
                    m.blobs.files.remove(b);
                }
                gone.extend(unreferenced);
            }
        }
        let mut deleted = 0;
        let mut failed = Vec::new();
        for b in gone {
            match store.delete(b) {
                Ok(()) => {
                    deleted += 1;
                    self.counters
                        .blob_files_deleted
                        .fetch_add(1, Ordering::Relaxed);
                }
                Err(erasure::Error::NotFound { .. }) => {}
                Err(_) => {
                    self.note_delete_failure();
                    failed.push(b);
                }
            }
        }
        if !failed.is_empty() {
            self.obsolete.lock().blobs.extend(failed);
        }
        Ok(deleted)
    }
}
