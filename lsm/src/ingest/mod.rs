//! Bulk ingest (RocksDB's `IngestExternalFile`): [`Db::ingest`] adds table
//! files a [`TableWriter`] wrote outside the database, atomically, at the
//! deepest level they fit.
//!
//! - `writer.rs`: [`TableWriter`], the files.
//! - `check.rs`: the full check of an offered file before the edit.
//!
//! # Sequence numbers
//!
//! A [`TableWriter`] writes every entry at sequence number 0. Ingest keeps
//! 0 when nothing in the database overlaps the files' key ranges (no
//! memtable entry, no table at any level) and no snapshot (nor
//! transaction) is live: then no reader can tell the entries' age, and the
//! file is hard-linked (copied across file systems) into the directory
//! unchanged, at the bottom level. Otherwise the ingest takes one new
//! sequence number, newer than every write, and rewrites each file into a
//! new table with its entries at that number (RocksDB instead records a
//! per-file global sequence number and applies it on every read; a rewrite
//! keeps every other path, from compaction to checkpoints, published
//! manifests and `verify`, unchanged, at the cost of one copy of the data
//! when it overlaps). With [`Options::table_store`](crate::Options::table_store)
//! the files are always rewritten: the new table is uploaded like a
//! flushed one.
//!
//! # Placement
//!
//! A memtable overlapping a file is flushed first. Each file then goes to
//! the deepest level `L` such that no table of levels `0..=L` overlaps it
//! (L0 if an L0 table does): tables below hold only older versions of its
//! keys. Files of one call that overlap each other are refused
//! ([`Error::IngestOverlap`]).
//!
//! # Crash safety
//!
//! Every file is linked, copied or rewritten under a fresh table number and
//! synced, the directory synced, and then one manifest edit adds them all:
//! a crash before the edit leaves numbered files no manifest names, which
//! the next open deletes; after it, all of them are live. The caller's
//! files are never modified or removed; a linked one shares its data with
//! the database, so the caller must not write to it afterwards (deleting
//! it is fine).
//!
//! # Concurrency
//!
//! Ingest holds `compaction_lock` and `write` (in that order, `db.rs`) from
//! choosing the levels to the install: writers wait meanwhile, which, when
//! a file is rewritten, is for as long as the rewrite takes. When the
//! sequence number stays 0 it also holds `snapshots` across the install,
//! so no snapshot is taken between the check that none is live and the
//! version that holds the files (`snapshots` is otherwise a leaf: nothing
//! that takes it waits for the manifest or `sv`).

mod check;
mod writer;

pub use writer::{TableWriter, WrittenTable};

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;

use crate::builder::{TableBuilder, table_options};
use crate::cache::BlockCache;
use crate::db::Inner;
use crate::key::{InternalKey, SeqNo};
use crate::manifest::{self, FileNumber, VersionEdit};
use crate::sstable::reader::Table;
use crate::version::{NUM_LEVELS, Version};
use crate::{Db, Error, Result};
use check::External;

/// Attempts to find the memtables clear of the files' ranges once flushed;
/// each failed one means a writer wrote into the ranges in between.
const LOCK_ATTEMPTS_MAX: u32 = 8;

/// What [`Db::ingest`] did with each file, in the order given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct IngestInfo {
    /// One per file given (an empty file is skipped and not listed).
    pub tables: Vec<IngestedTable>,
    /// The sequence number the entries got: 0, or one newer than every
    /// write before the ingest.
    pub sequence: u64,
}

/// One ingested file.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct IngestedTable {
    /// The caller's file.
    pub source: PathBuf,
    /// The level the table went to (0 is the newest).
    pub level: usize,
    /// Its entries.
    pub entries: u64,
    /// How it entered the database.
    pub method: IngestMethod,
}

/// How an ingested file entered the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IngestMethod {
    /// Hard-linked into the directory, unchanged.
    Linked,
    /// Copied into the directory, unchanged (the file system refused a link).
    Copied,
    /// Written afresh with its entries' sequence number (it overlapped the
    /// database, a snapshot was live, or tables live on an object store).
    Rewritten,
}

impl Db {
    /// Adds the table files at `paths` (written by a [`TableWriter`], on this
    /// database's file system) to the database, atomically: after a crash
    /// either all of them are in it or none. Each file is checked fully
    /// first (every block's checksum, key order, sequence numbers,
    /// properties); files that overlap each other are refused. See
    /// [`IngestInfo`] for where each went and how.
    ///
    /// Reads see the ingested keys as one write newer than every write
    /// acknowledged before the call: a snapshot taken before it returns
    /// does not see them, and later writes override them. Writers wait
    /// while it runs.
    ///
    /// ```
    /// use larder_lsm::{Db, Options, TableWriter};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path().join("db"), Options::default())?;
    /// let mut w = TableWriter::create(dir.path().join("run.sst"), &Options::default())?;
    /// for i in 0..1000u32 {
    ///     w.put(format!("key{i:05}"), format!("value{i}"))?;
    /// }
    /// let files: Vec<_> = w.finish()?.into_iter().map(|t| t.path).collect();
    /// let info = db.ingest(&files)?;
    /// assert_eq!(info.tables[0].entries, 1000);
    /// assert_eq!(db.get(b"key00042")?.as_deref(), Some(&b"value42"[..]));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Corruption`] naming a damaged file and offset (nothing is
    /// ingested); [`Error::IngestOverlap`]; [`Error::IngestBusy`] if writes
    /// kept landing in the files' key ranges; a failed link, copy, write or
    /// manifest edit (nothing is ingested); [`Error::ReadOnly`],
    /// [`Error::Closed`].
    pub fn ingest<P: AsRef<Path>>(&self, paths: &[P]) -> Result<IngestInfo> {
        self.check_writable()?;
        ingest_into(self.inner(), paths)
    }
}

impl crate::Keyspace {
    /// [`Db::ingest`] into this keyspace.
    ///
    /// # Errors
    ///
    /// As [`Db::ingest`]; [`Error::InvalidKeyspace`] once it is dropped.
    pub fn ingest<P: AsRef<Path>>(&self, paths: &[P]) -> Result<IngestInfo> {
        if self.db().is_read_only() {
            return Err(Error::ReadOnly);
        }
        self.tree().check_live()?;
        ingest_into(self.tree(), paths)
    }
}

/// Checks the files at `paths` and ingests them into the keyspace whose
/// tree is `inner`.
fn ingest_into<P: AsRef<Path>>(inner: &Inner, paths: &[P]) -> Result<IngestInfo> {
    inner.state.check()?;
    let cache = Arc::new(BlockCache::new(0));
    let mut files = Vec::with_capacity(paths.len());
    for p in paths {
        let e = check::check(&*inner.fs, p.as_ref(), &cache)?;
        if e.entries > 0 {
            files.push(e);
        }
    }
    refuse_overlaps(&files)?;
    if files.is_empty() {
        return Ok(IngestInfo::default());
    }
    let r = inner.ingest_checked(&files);
    // Writers waiting for room may go on (woken only now: the install
    // ran under the write lock, which waking them takes).
    inner.wake_writers();
    r
}

/// Refuses two files whose key ranges meet.
fn refuse_overlaps(files: &[External]) -> Result<()> {
    let mut by_start: Vec<&External> = files.iter().collect();
    by_start.sort_by(|a, b| a.smallest.cmp(&b.smallest));
    if let Some(w) = by_start.windows(2).find(|w| w[1].smallest <= w[0].largest) {
        return Err(Error::IngestOverlap {
            first: w[0].path.clone(),
            second: w[1].path.clone(),
        });
    }
    Ok(())
}

/// The deepest level where a table of `[lo, hi]` overlaps no table at that
/// level or above it.
fn level_for(v: &Version, lo: &[u8], hi: &[u8]) -> usize {
    match (0..NUM_LEVELS).find(|&l| !v.overlapping(l, Some(lo), Some(hi)).is_empty()) {
        Some(l) => l.saturating_sub(1),
        None => NUM_LEVELS - 1,
    }
}

impl Inner {
    /// Whether any memtable holds an entry, or a range tombstone reaching
    /// into, one of the files' ranges (a tombstone newer than sequence 0
    /// would delete the ingested keys, so it is flushed first).
    fn memtables_overlap(&self, files: &[External]) -> bool {
        let sv = self.super_version();
        let mut mems = std::iter::once(&sv.mem).chain(sv.imm.iter().map(|(m, _)| m));
        mems.any(|m| {
            let dels = m.range_del_fragments();
            files.iter().any(|f| {
                dels.as_ref().is_some_and(|d| {
                    d.fragments()
                        .iter()
                        .any(|fr| fr.start[..] <= f.largest[..] && fr.end[..] > f.smallest[..])
                }) || m
                    .range(
                        Bound::Included(&f.smallest[..]),
                        Bound::Included(&f.largest[..]),
                        SeqNo::MAX,
                    )
                    .next()
                    .is_some()
            })
        })
    }

    fn ingest_checked(&self, files: &[External]) -> Result<IngestInfo> {
        // Flushed without a lock held (a flush may wait for compaction);
        // then the locks, and the memtables checked again under them.
        let mut locked = None;
        for _ in 0..LOCK_ATTEMPTS_MAX {
            if self.memtables_overlap(files) {
                self.flush()?;
            }
            let c = self.compaction_lock.lock();
            let w = self.write.lock();
            self.state.check()?;
            if !self.memtables_overlap(files) {
                locked = Some((c, w));
                break;
            }
        }
        let Some(_locks) = locked else {
            return Err(Error::IngestBusy {
                attempts: LOCK_ATTEMPTS_MAX,
            });
        };
        // Under both locks no compaction runs and no write lands; a flush
        // of a memtable switched out before may still add an L0 table, but
        // not one overlapping the files (checked just above).
        let version = Arc::clone(&self.super_version().version);
        let levels: Vec<usize> = files
            .iter()
            .map(|f| level_for(&version, &f.smallest, &f.largest))
            .collect();
        // The bottom level only when nothing at any level overlaps.
        let overlaps = levels.iter().any(|&l| l != NUM_LEVELS - 1);
        drop(version);
        let fresh = self.latest_seq().plus(1);
        let mut zero = !overlaps && self.snapshots.lock().is_empty();
        loop {
            let seq = if zero { SeqNo(0) } else { fresh };
            let (edit, opened, info) = self.prepare(files, &levels, seq)?;
            if !zero {
                let mut edit = edit;
                edit.last_seq = Some(fresh);
                self.install_with(edit, opened, None, false)?;
                self.last_seq.store(fresh.0, Ordering::Release);
                return Ok(info);
            }
            let snapshots = self.snapshots.lock();
            if snapshots.is_empty() {
                self.install_with(edit, opened, None, false)?;
                drop(snapshots);
                return Ok(info);
            }
            // A snapshot came meanwhile: it must not see the files.
            drop(snapshots);
            for (_, t) in opened {
                let n = t.number;
                drop(t);
                self.tables.remove(n)?;
            }
            zero = false;
        }
    }

    /// Brings each file into the database as a new table at `levels[i]`,
    /// its entries at `seq`, synced, and returns the edit adding them.
    #[allow(clippy::type_complexity)]
    fn prepare(
        &self,
        files: &[External],
        levels: &[usize],
        seq: SeqNo,
    ) -> Result<(VersionEdit, Vec<(usize, Arc<Table>)>, IngestInfo)> {
        let mut edit = VersionEdit::default();
        let mut opened = Vec::with_capacity(files.len());
        let mut info = IngestInfo {
            tables: Vec::with_capacity(files.len()),
            sequence: seq.0,
        };
        for (f, &level) in files.iter().zip(levels) {
            let number = self.new_file_number()?;
            let (table, method) = if seq.0 == 0 && !self.tables.is_remote() {
                let to = self.dir.join(manifest::table_name(number));
                let method = if crate::checkpoint::link_or_copy(&*self.fs, &f.path, &to)? {
                    IngestMethod::Linked
                } else {
                    IngestMethod::Copied
                };
                // A linked file is as durable as its writer left it.
                self.fs.open(&to, vfs::OpenMode::Read)?.sync_data()?;
                (Arc::new(self.tables.open(number, None)?), method)
            } else {
                (
                    self.rewrite(f, number, level, seq)?,
                    IngestMethod::Rewritten,
                )
            };
            edit.added.push((level as u8, number, table.size_bytes()));
            info.tables.push(IngestedTable {
                source: f.path.clone(),
                level,
                entries: table.props.entries,
                method,
            });
            opened.push((level, table));
        }
        self.fs.sync_dir(&self.dir)?;
        Ok((edit, opened, info))
    }

    /// Writes `f`'s entries at `seq` into table `number` (uploaded, with a
    /// table store), synced. The file is read again: every block is
    /// checksummed on the way, so a file changed since its check fails here
    /// (nothing is installed) rather than entering the store.
    fn rewrite(
        &self,
        f: &External,
        number: FileNumber,
        level: usize,
        seq: SeqNo,
    ) -> Result<Arc<Table>> {
        let mut b = TableBuilder::create(&self.tables, number, table_options(&self.opts, level))?;
        let cache = Arc::new(BlockCache::new(0));
        let table = Arc::new(Table::open(&*self.fs, &f.path, FileNumber(0), cache)?);
        for r in table.iter_uncached() {
            let (k, v): (InternalKey, Bytes) = r?;
            b.add(&InternalKey::new(k.user, seq, k.kind), &v)?;
        }
        Ok(b.finish(&self.tables)?.table)
    }
}
