//! The handles and their lifecycle: [`Db`] (cheap to clone), the shared
//! `Inner` every part of the engine works on, and `close`. The parts live
//! beside it: `open.rs` (open), `commit.rs` (writes), `read.rs` (reads),
//! `version_set.rs` (manifest and versions), `flush.rs`,
//! `compaction/run.rs`, `background.rs` (threads) and `obsolete.rs`.
//!
//! # Concurrency
//!
//! Writers serialise on the write lock and commit in LevelDB's order: WAL
//! append, sync (as the [`Durability`] asks), memtable insert, sequence
//! publication, so no write is visible before the sync covering it
//! returned. Readers take the published sequence number and the current
//! [`SuperVersion`] (memtable, immutable memtables, version) under a short
//! read lock, and never wait on I/O of others. Version changes (flush,
//! compaction) append to the manifest under the manifest lock and then
//! swap the super version.
//!
//! # Locking
//!
//! What each lock of `Inner` guards:
//!
//! | lock | guards |
//! |---|---|
//! | `compaction_lock` | one compaction at a time (background or `compact_range`) |
//! | `write` | the current log, its number, what a `sync` must still sync; the right to switch memtables; a transaction's commit check (`transaction.rs`) |
//! | `queue` | the group-commit queue ([`CommitQueue`]) |
//! | `bg` | background threads' shutdown flag and idleness ([`BgState`]) |
//! | `versions.manifest` | the manifest writer, log numbers, blob accounting ([`ManifestState`]) |
//! | `keyspaces` (read-write) | which keyspaces are live, and their trees ([`Core::keyspaces`]) |
//! | `sv` (read-write, one per keyspace) | which [`SuperVersion`] of the keyspace is current |
//! | `cursor` (one per keyspace) | the compaction cursors of the keyspace's levels |
//! | `snapshots` | the sequence numbers live snapshots read at |
//! | `obsolete` | files proven obsolete, not yet deleted ([`Obsolete`]) |
//!
//! A thread holding several takes them in this order, top to bottom:
//! `compaction_lock`, `write`, `queue`, `bg`, `versions.manifest`,
//! `keyspaces`, `sv`. The last three, `cursor`, `snapshots` and `obsolete` (and the lifecycle's reason, the block
//! cache's shards), are leaves: nothing else is taken while one is held,
//! with one exception: an ingest that keeps its entries' sequence number 0
//! holds `snapshots` across its install (`ingest/mod.rs`, "Concurrency").
//! No lock is held across a wait except the one its condition variable
//! releases (`write` for `write_cv`, `queue` for `queue_cv`, `bg` for
//! `bg_cv` and `idle_cv`). Sequence numbers and file numbers are atomics,
//! read without a lock: `last_seq` is stored (release) only under `write`,
//! after the memtable insert; `versions.reserved` only under `versions.manifest`, after the
//! edit reserving the numbers is durable.
//!
//! [`CommitQueue`]: crate::commit::CommitQueue
//! [`BgState`]: crate::background::BgState
//! [`ManifestState`]: crate::version_set::ManifestState
//! [`Obsolete`]: crate::obsolete::Obsolete

use std::collections::BTreeMap;
use std::ops::RangeBounds;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use bytes::Bytes;
use parking_lot::{Condvar, Mutex, RwLock};

use crate::background::BgState;
use crate::batch::WriteBatch;
use crate::commit::{CommitQueue, WriteState};
use crate::iter::DbIter;
use crate::key::SeqNo;
use crate::lifecycle::{CloseFrom, Lifecycle};
use crate::manifest::{FileNumber, VersionEdit};
use crate::memtable::Memtable;
use crate::read::{Snapshot, bound_key, bounds, prefix_bounds};
use crate::recovery::Access;
use crate::sstable::reader::Table;
use crate::stats::Counters;
use crate::verify::{BlobRepairReport, TableReport, VerifyReport};
use crate::version::Version;
use crate::version_set::VersionSet;
use crate::{Error, Options, Result, Stats};

/// What readers need, swapped as one (under `Inner::sv`): frozen once
/// published, replaced whole by a memtable switch or a version install.
#[derive(Debug)]
pub(crate) struct SuperVersion {
    pub(crate) mem: Arc<Memtable>,
    /// The memtables switched out and not yet flushed, oldest first (the
    /// flush thread takes the first), each with the number of the log
    /// that follows it. At most `max_write_buffer_number - 1`.
    pub(crate) imm: Vec<(Arc<Memtable>, FileNumber)>,
    pub(crate) version: Arc<Version>,
    /// The log that was current when `mem` took over: `mem`'s writes are
    /// in it and the logs after it. A switch of another keyspace's
    /// memtable also switches this one once this log is too old
    /// (`commit.rs`), so a quiet keyspace does not keep logs alive.
    pub(crate) mem_log: FileNumber,
}

/// The part of the engine every keyspace shares: the log and commit
/// pipeline, the manifest and file numbers, sequence numbers and
/// snapshots, the background threads, obsolete files and the lifecycle.
/// Each keyspace's tree ([`Inner`]) holds it and reads its fields through
/// `Deref`. The module doc says what each lock guards and in which order
/// they are taken.
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) fs: Arc<dyn vfs::Fs>,
    pub(crate) dir: PathBuf,
    /// The database's options (each keyspace's tree has its own, with its
    /// `KeyspaceOptions` in place).
    pub(crate) opts: Options,
    /// Where tables live: the directory, or the table store.
    pub(crate) tables: Arc<crate::tables::TableFiles>,
    /// The last sequence number published (readers see up to it).
    pub(crate) last_seq: AtomicU64,
    /// The log writes go to (`commit.rs`).
    pub(crate) write: Mutex<WriteState>,
    /// Signalled when a flush or compaction finished (writers wait on it).
    pub(crate) write_cv: Condvar,
    /// Group commit: the writers waiting for a leader.
    pub(crate) queue: Mutex<CommitQueue>,
    /// Signalled when a group finished or a leader stepped down.
    pub(crate) queue_cv: Condvar,
    /// The manifest, file numbers and blob accounting (`version_set.rs`).
    pub(crate) versions: VersionSet,
    /// Held for the whole of a compaction, so two never pick one table.
    pub(crate) compaction_lock: Mutex<()>,
    /// The background threads' state (`background.rs`).
    pub(crate) bg: Mutex<BgState>,
    /// Signalled when background work may be due, and on shutdown.
    pub(crate) bg_cv: Condvar,
    /// Signalled when a background thread runs out of work or exits.
    pub(crate) idle_cv: Condvar,
    /// Live snapshots: sequence number to how many read at it.
    pub(crate) snapshots: Mutex<BTreeMap<SeqNo, usize>>,
    /// Files proven obsolete, not yet deleted (`obsolete.rs`).
    pub(crate) obsolete: Mutex<crate::obsolete::Obsolete>,
    /// Open, closing, closed or failed: one state for every clone.
    pub(crate) state: Lifecycle,
    /// What [`Db::stats`] counts.
    pub(crate) counters: Counters,
    /// The blob store of key-value separation, if open (shared by every
    /// keyspace; each blob file belongs to the keyspace that wrote it).
    pub(crate) blobs: Option<Arc<crate::blob::Blobs>>,
    /// Read-write, or read-only (no writes, no background threads).
    pub(crate) access: Access,
    /// The keyspaces' trees by id, the default keyspace (0) first
    /// (`keyspace/`). Taken after `versions.manifest` and before `sv`;
    /// written only under `write` and `versions.manifest` (a create or a
    /// drop), so either lock is enough to read it stably.
    pub(crate) keyspaces: RwLock<BTreeMap<u64, Arc<Inner>>>,
    /// Exclusive for a read-write handle; shared (or none, when the store
    /// has no `LOCK` file) for a read-only one.
    pub(crate) _lock: Option<vfs::LockGuard>,
}

/// One keyspace's tree: its memtables and tables (the [`SuperVersion`]),
/// its options and its compaction cursors, over the shared [`Core`]. The
/// default keyspace's tree is the [`Db`]'s own. Every clone of a [`Db`],
/// every background thread, snapshot and iterator holds one.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) core: Arc<Core>,
    /// 0 for the default keyspace, else the file number drawn at creation.
    pub(crate) id: u64,
    /// Its id, name and own options, as the manifest records them.
    pub(crate) meta: crate::keyspace::KeyspaceMeta,
    /// The database's options with the keyspace's own in place.
    pub(crate) opts: Options,
    /// The current super version.
    pub(crate) sv: RwLock<Arc<SuperVersion>>,
    /// Per level, the largest key the last compaction of the level took
    /// (round-robin picking, `compaction/picker.rs`).
    pub(crate) cursor: Mutex<Vec<Vec<u8>>>,
    /// Set (under the manifest lock) by a durable drop: a flush or
    /// compaction of the tree installs nothing after it.
    pub(crate) dropped: std::sync::atomic::AtomicBool,
}

impl std::ops::Deref for Inner {
    type Target = Core;

    fn deref(&self) -> &Core {
        &self.core
    }
}

impl Inner {
    /// Every live keyspace's tree, the default first.
    pub(crate) fn trees(&self) -> Vec<Arc<Inner>> {
        self.keyspaces.read().values().cloned().collect()
    }

    /// The tree of keyspace `id`, if it is live.
    pub(crate) fn tree(&self, id: u64) -> Option<Arc<Inner>> {
        self.keyspaces.read().get(&id).cloned()
    }
}

/// What the clones of one [`Db`] share: the engine, and the background
/// threads, joined when the last clone goes (the threads hold `Inner`
/// themselves, so `Inner` cannot join them on its own drop).
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) inner: Arc<Inner>,
    pub(crate) bg_threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.inner.stop_background();
        crate::background::join(std::mem::take(&mut *self.bg_threads.lock()));
        // The trees hold the core that holds them: let go of them, so the
        // engine is freed once the snapshots and iterators still reading
        // are gone.
        self.inner.keyspaces.write().clear();
        // Dropped without close: hand buffered log records to the file, so
        // a clean process exit keeps them (a sync is what makes them durable).
        let _ = self.inner.write.lock().log.write_out();
    }
}

/// An open database. Cheap to clone; clones share one engine.
///
/// # Concurrency
///
/// `Db` is `Send + Sync`: clone it into as many threads as you like, or
/// share one `&Db`. Any thread may call any method at any time. Writes
/// (`put`, `delete`, `write`) are applied in one order, one writer at a
/// time; reads (`get`, `range`, `prefix`, a [`Snapshot`]) never wait for
/// a writer's I/O and see every write acknowledged before they began.
/// `flush`, `compact_range` and `verify` run beside reads and writes;
/// `verify` reads the tables live when it began, which compaction keeps on
/// disk until it is done. Flushes and compactions run on two background
/// threads the handle owns; [`Db::wait_idle`] waits, from any thread, until
/// they have nothing left to do.
///
/// All clones share one lifecycle: open, closing, closed, or failed.
/// [`Db::close`] on any clone closes them all: from then on every call on
/// every clone returns [`Error::Closed`] at once, a writer waiting for room
/// in the memtable wakes with it, and the background threads stop. A
/// background or log failure moves the database to failed: every call that
/// writes then returns [`Error::Closed`] with the reason, while reads go
/// on. Dropping the last clone without `close` stops the background
/// threads too, but reports nothing.
#[derive(Clone, Debug)]
pub struct Db {
    pub(crate) shared: Arc<Shared>,
}

impl Db {
    /// Whether this handle was opened with [`Db::open_read_only`].
    pub fn is_read_only(&self) -> bool {
        self.inner().access == Access::ReadOnly
    }

    pub(crate) fn check_writable(&self) -> Result<()> {
        if self.is_read_only() {
            return Err(Error::ReadOnly);
        }
        Ok(())
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.shared.inner
    }

    /// Sets `key` to `value`.
    ///
    /// # Errors
    ///
    /// [`Error::KeyTooLarge`], [`Error::ValueTooLarge`], a log write or sync
    /// failure, or [`Error::Closed`] after a background failure. Under
    /// [`Durability::Group`](crate::Durability::Group) the writers that shared a failed sync get
    /// [`Error::Closed`] naming it. A write that failed is never visible.
    pub fn put(&self, key: impl Into<Bytes>, value: impl Into<Bytes>) -> Result<()> {
        let mut b = WriteBatch::new();
        b.put(key, value);
        self.write(b)
    }

    /// Deletes `key` (a no-op if absent).
    ///
    /// # Errors
    ///
    /// As [`Db::put`].
    pub fn delete(&self, key: impl Into<Bytes>) -> Result<()> {
        let mut b = WriteBatch::new();
        b.delete(key);
        self.write(b)
    }

    /// Deletes every key in `range`, in one write (one sequence number, one
    /// log entry) however many keys it holds: a range tombstone, applied
    /// by reads and dropped with what it covers by compaction (RocksDB's
    /// `DeleteRange`). A snapshot taken before it still sees the keys.
    ///
    /// The start may be included (`a..`), excluded, or unbounded (from the
    /// empty key); the end excluded (`..b`) or included (`..=b`, taken as
    /// up to `b` followed by a zero byte). An empty range (start equal to
    /// the end) deletes nothing.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let db = larder_lsm::Db::open(dir.path(), larder_lsm::Options::default())?;
    /// db.put("user:1", "a")?;
    /// db.put("user:2", "b")?;
    /// db.put("zebra", "c")?;
    /// db.delete_range("user:".."user;")?;
    /// assert_eq!(db.get(b"user:1")?, None);
    /// assert_eq!(db.iter().count(), 1);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRange`] for an unbounded end or a start after the
    /// end; otherwise as [`Db::put`].
    pub fn delete_range<K: AsRef<[u8]>, R: std::ops::RangeBounds<K>>(
        &self,
        range: R,
    ) -> Result<()> {
        let mut b = WriteBatch::new();
        let (start, end) = crate::range_del::range_keys(&range)?;
        b.delete_range(start, end);
        self.write(b)
    }

    /// Merges `operand` into `key` with the store's
    /// [`Options::merge_operator`](crate::Options::merge_operator): the
    /// value read afterwards is the operator's merge of the older value
    /// (or none) with every operand since, oldest first.
    ///
    /// # Errors
    ///
    /// [`Error::MergeOperatorMissing`](crate::Error::MergeOperatorMissing)
    /// if the store has no operator (nothing is written), else as
    /// [`Db::put`].
    pub fn merge(&self, key: impl Into<Bytes>, operand: impl Into<Bytes>) -> Result<()> {
        let mut b = WriteBatch::new();
        b.merge(key, operand);
        self.write(b)
    }

    /// Applies every operation of `batch` atomically: a reader or a crash
    /// sees all of them or none.
    ///
    /// # Errors
    ///
    /// As [`Db::put`].
    pub fn write(&self, batch: WriteBatch) -> Result<()> {
        self.inner().state.check()?;
        self.check_writable()?;
        crate::merge::check_batch(&batch, &self.inner().opts)?;
        for id in &batch.keyspaces {
            if *id != 0 && self.inner().tree(*id).is_none() {
                return Err(Error::InvalidKeyspace(format!(
                    "the batch writes to keyspace id {id}, which is dropped or another database's"
                )));
            }
        }
        self.inner().write(batch)
    }

    /// The current value of `key`.
    ///
    /// # Errors
    ///
    /// [`Error::Corruption`] or [`Error::Io`] from a table read.
    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        self.inner().state.check_readable()?;
        self.inner().get_at(key, None)
    }

    /// The live pairs in `range`, in key order; `.rev()` for descending.
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> DbIter {
        self.inner().range_at(bounds(&range), None)
    }

    /// Every live pair, in key order; `.rev()` for descending. The same
    /// as `range(..)`.
    pub fn iter(&self) -> DbIter {
        self.range::<&[u8], _>(..)
    }

    /// The live pairs whose key starts with `prefix`, both directions.
    pub fn prefix(&self, prefix: &[u8]) -> DbIter {
        self.inner().range_at(prefix_bounds(prefix), None)
    }

    /// A consistent view of the current state.
    pub fn snapshot(&self) -> Snapshot {
        let inner = Arc::clone(&self.shared.inner);
        let mut s = inner.snapshots.lock();
        let seq = SeqNo(inner.last_seq.load(Ordering::Acquire));
        *s.entry(seq).or_insert(0) += 1;
        drop(s);
        Snapshot { inner, seq }
    }

    /// Writes every keyspace's memtable to a table and waits until they
    /// are durable in the manifest. Every acknowledged write is durable
    /// afterwards.
    ///
    /// # Errors
    ///
    /// A write failure, or [`Error::Closed`] after a background failure.
    pub fn flush(&self) -> Result<()> {
        self.check_writable()?;
        self.inner().flush()
    }

    /// Makes every acknowledged write durable (syncs the log). With
    /// [`Options::publish_manifest`](crate::Options::publish_manifest) it
    /// also checks, with one request, that no other writer has claimed the
    /// store since this one did.
    ///
    /// # Errors
    ///
    /// A sync failure; [`Error::Fenced`] if another writer claimed the
    /// store (the writes since the last durable point never become
    /// visible, and every later write fails too).
    pub fn sync(&self) -> Result<()> {
        self.check_writable()?;
        let inner = self.inner();
        inner.state.check()?;
        let mut w = inner.write.lock();
        w.sync_all(&*inner.fs, &inner.dir)
            .map_err(|e| inner.stop(e))?;
        inner.check_fence()
    }

    /// Flushes, then compacts every table of the default keyspace
    /// overlapping `range` down the levels, dropping overwritten versions
    /// and tombstones no snapshot needs ([`Keyspace::compact_range`](crate::Keyspace::compact_range)
    /// for another keyspace).
    ///
    /// # Errors
    ///
    /// A read, write or corruption error from the tables.
    pub fn compact_range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Result<()> {
        self.check_writable()?;
        self.flush()?;
        let (lo, hi) = bounds(&range);
        self.inner().compact_range(bound_key(&lo), bound_key(&hi))
    }

    /// Reads every entry of every live table (checking every block) and
    /// every blob value a table entry points to (checking every stripe it
    /// lies in and the value's checksum), and reports what is wrong: a bad
    /// table block with its file and offset, a blob file with bad shards
    /// that can still be rebuilt, or values lost with the keys that point
    /// to them. Runs beside reads, writes and compactions, on the tables
    /// live when it starts, which stay on disk (with the blob files they
    /// reference) until it returns.
    ///
    /// The report lists every table read (file, level, blocks, entries) and
    /// every problem with its file and byte offset; a bad data block costs
    /// only its own entries, the table's other blocks are still read.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] once the database is closed; damage is never an
    /// error here, it is in the report.
    pub fn verify(&self) -> Result<VerifyReport> {
        self.verify_with(|_| {})
    }

    /// [`Db::verify`], calling `on_table` after each table is read (to show
    /// progress). `on_table` may use the database, and may compact it: the
    /// tables being verified stay on disk until this call returns.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] once the database is closed.
    pub fn verify_with(&self, mut on_table: impl FnMut(&TableReport)) -> Result<VerifyReport> {
        let inner = self.inner();
        inner.state.check_readable()?;
        // Holding the tables pins their files: obsolete tables are deleted
        // only once nothing else holds them (`delete_obsolete`), and a blob
        // file only once no table file on disk references it.
        let tables: Vec<(usize, Arc<Table>)> = inner
            .trees()
            .iter()
            .flat_map(|tree| {
                let sv = tree.super_version();
                sv.version
                    .levels
                    .iter()
                    .enumerate()
                    .flat_map(|(level, ts)| ts.iter().map(move |t| (level, Arc::clone(t))))
                    .collect::<Vec<_>>()
            })
            .collect();
        crate::verify::verify(
            &tables,
            inner.blobs.as_deref(),
            crate::ttl::expiry(&inner.opts),
            &mut on_table,
        )
    }

    /// Rebuilds every missing or rotten blob shard from the surviving
    /// shards of its stripe (recreating a lost blob directory), then
    /// verifies; the report's `after` names the keys whose values could not
    /// be saved.
    ///
    /// # Errors
    ///
    /// [`Error::BlobStore`] if a rebuilt shard cannot be written.
    pub fn repair_blobs(&self) -> Result<BlobRepairReport> {
        self.check_writable()?;
        let inner = self.inner();
        inner.state.check()?;
        let shards_rebuilt = match &inner.blobs {
            Some(store) => store.scrub().map_err(Error::BlobStore)?.shards_repaired,
            None => 0,
        };
        Ok(BlobRepairReport {
            shards_rebuilt,
            after: self.verify()?,
        })
    }

    /// Blocks until the background threads are idle: no memtable waits
    /// to be flushed, no compaction (blob garbage collection included) is
    /// running or due; then deletes the obsolete files no reader holds
    /// (see [`Stats::obsolete_delete_failures`]). Waits on a signal from
    /// the background threads, never by polling. Writes that race with
    /// the call may leave new work behind it. Returns at once on a
    /// read-only handle, which has no background threads.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] once the database is closing or closed, or (with
    /// the reason) when a background failure stopped it, also while
    /// waiting.
    pub fn wait_idle(&self) -> Result<()> {
        if self.is_read_only() {
            return self.inner().state.check_readable();
        }
        self.inner().wait_idle()
    }

    /// Counters and shape of the tree.
    pub fn stats(&self) -> Stats {
        self.inner().stats()
    }

    /// Stops background work, syncs and seals the log and the manifest
    /// (each ends with a synced durable marker, so damage to their last
    /// records is found at the next open), and releases the directory.
    ///
    /// Every clone is closed with it: afterwards (and once this call has
    /// begun) every call on any clone returns [`Error::Closed`], and writers
    /// waiting for a flush wake with it. Reads already running, and
    /// iterators already made, finish on the tables they hold.
    ///
    /// # Errors
    ///
    /// The sync failure; the background error that stopped the engine; or
    /// [`Error::Closed`] if another clone closed it already.
    pub fn close(self) -> Result<()> {
        let inner = Arc::clone(&self.shared.inner);
        let from = inner.state.begin_close()?;
        // From here every call on every clone returns `Closed`; writers
        // waiting for a flush wake, see it, and return.
        inner.wake_writers();
        inner.stop_background();
        crate::background::join(std::mem::take(&mut *self.shared.bg_threads.lock()));
        let synced = if inner.access == Access::ReadOnly {
            // A read-only handle has nothing to sync.
            Ok(())
        } else if matches!(from, CloseFrom::Failed(_)) {
            // After a failure too: a failed flush leaves acknowledged writes
            // in the log, and this sync is what makes them durable. No seal:
            // after a failed append the log's tail is unknown, and a marker
            // past it would turn a torn tail into damage at the next open.
            inner.write.lock().sync_all(&*inner.fs, &inner.dir)
        } else {
            inner
                .write
                .lock()
                .seal_all(&*inner.fs, &inner.dir)
                .and_then(|()| {
                    // Every live log is sealed and durable now: record its
                    // length, so a later truncation or deletion (which
                    // removes the log's own seal marker) is found. The last
                    // edit is protected too; a broken manifest takes
                    // nothing more.
                    let mut m = inner.versions.manifest.lock();
                    if m.broken {
                        return Ok(());
                    }
                    let edit = VersionEdit {
                        logs_sealed: inner.live_log_lengths(&m)?,
                        ..VersionEdit::default()
                    };
                    Inner::log_edit(&mut m, &edit)?;
                    m.log.seal()
                })
        };
        inner.state.finish_close();
        if let CloseFrom::Failed(reason) = from {
            return Err(Error::Closed {
                reason: Some(reason),
            });
        }
        synced?;
        if let Some(reason) = inner.state.reason() {
            return Err(Error::Closed {
                reason: Some(reason),
            });
        }
        Ok(())
    }
}

impl Db {
    /// The state [`Db::describe`](crate::Db::describe) reads, taken at
    /// once: the current version (its tables stay open while held), the
    /// memtables, the counters the manifest records, and the blob files.
    pub(crate) fn inspect_state(&self) -> Result<crate::inspect::State> {
        let inner = self.inner();
        inner.state.check_readable()?;
        let sv = inner.super_version();
        let others: Vec<Arc<Inner>> = inner.trees().into_iter().filter(|t| t.id != 0).collect();
        let keyspaces: Vec<_> = others
            .iter()
            .map(|t| {
                let sv = t.super_version();
                let entries = sv.mem.iter().count() as u64
                    + sv.imm
                        .iter()
                        .map(|(m, _)| m.iter().count() as u64)
                        .sum::<u64>();
                (t.meta.clone(), Arc::clone(&sv.version), entries)
            })
            .collect();
        let (log_number, blob_files, blob_live) = {
            let m = inner.versions.manifest.lock();
            let versions: Vec<(u64, Version)> = keyspaces
                .iter()
                .map(|(k, v, _)| (k.id, (**v).clone()))
                .collect();
            (
                m.log_number,
                m.blobs.files.values().copied().collect(),
                m.blobs
                    .live(&crate::recovery::union(&sv.version, &versions)),
            )
        };
        let memtable_entries = sv.mem.iter().count() as u64
            + sv.imm
                .iter()
                .map(|(m, _)| m.iter().count() as u64)
                .sum::<u64>();
        Ok(crate::inspect::State {
            fs: Arc::clone(&inner.fs),
            dir: inner.dir.clone(),
            version: Arc::clone(&sv.version),
            keyspaces,
            memtable_entries,
            last_seq: inner.last_seq.load(Ordering::Acquire),
            next_file: inner.versions.next_file.load(Ordering::Acquire),
            log_number: log_number.0,
            blob_files,
            blob_live,
            blobs: inner.blobs.clone(),
        })
    }
}
