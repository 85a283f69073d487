//! The commit pipeline: every write goes through [`Inner::write`]: append
//! to the log, sync (as [`Durability`] asks), insert into the memtable,
//! publish the sequence number, in that order (LevelDB's). Group commit
//! ([`CommitQueue`]) shares one sync among queued writers. Write stalls and
//! slowdowns are decided in one place, [`Inner::make_room`], which also
//! switches the memtable and the log when the memtable is full.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::batch::WriteBatch;
use crate::db::{Inner, SuperVersion};
use crate::key::SeqNo;
use crate::manifest::{self, FileNumber, LogLength, VersionEdit};
use crate::memtable::Memtable;
use crate::wal::writer::LogWriter;
use crate::{Durability, Error, KEY_LEN_MAX, Result, VALUE_LEN_MAX};

#[derive(Debug)]
pub(crate) struct WriteState {
    pub(crate) log: LogWriter,
    pub(crate) log_number: FileNumber,
    pub(crate) encode_buf: Vec<u8>,
    /// Under `Durability::None` a switch neither syncs the old log nor the
    /// new log's directory entry: `sync_all` does, when asked. Oldest
    /// first, each with its number; a switch lets go of the ones below the
    /// manifest's log number (every keyspace flushed their writes), and
    /// keeps every other one, however many: a quiet keyspace's memtable
    /// may hold writes of several.
    pub(crate) old_logs_unsynced: Vec<(FileNumber, LogWriter)>,
    /// The logs an open replayed into the live memtable: the process that
    /// wrote them may have left them unsynced, so a `sync` syncs them too.
    pub(crate) replayed_logs_unsynced: Vec<Arc<dyn vfs::File>>,
    pub(crate) log_name_durable: bool,
    /// The token bucket that paces writes while L0 is deep.
    pub(crate) pacer: Pacer,
    /// The logs the last switches let go of, oldest first, at most
    /// [`RECENT_LOGS`]: a keyspace whose memtable took over before the
    /// oldest of them is switched along with the next switch.
    pub(crate) recent_logs: std::collections::VecDeque<FileNumber>,
    /// While above 0, writers wait in [`Inner::make_room`]: a checkpoint
    /// of several keyspaces flushes them all with no write landing in
    /// between (`Inner::flush_and_freeze`).
    pub(crate) frozen: usize,
}

/// Switches after which a quiet keyspace's memtable is switched (and so
/// flushed) along with another keyspace's, so its writes do not keep old
/// logs alive (RocksDB's `max_total_wal_size` serves the same end).
pub(crate) const RECENT_LOGS: usize = 4;

/// How far ahead of its paced schedule a writer may get before it sleeps
/// (by how far it is ahead): small writes are delayed in steps about this
/// short (plus the timer's slack) instead of one long stop, so a slowdown
/// shows as many writes a fraction of a millisecond slower. A single large
/// write sleeps for its whole cost at once.
pub(crate) const PACE_STEP: Duration = Duration::from_micros(200);

/// A token bucket kept as one instant (GCRA's "theoretical arrival time"):
/// when the bytes charged so far would have been written at the rates they
/// were charged at. A writer sleeps once it is more than [`PACE_STEP`]
/// ahead of that schedule, by how far it is ahead; time spent unpaced is
/// not saved up as credit (a burst after a quiet spell is not let through
/// unpaced beyond one step).
#[derive(Debug, Default)]
pub(crate) struct Pacer {
    due: Option<Instant>,
}

impl Pacer {
    /// Charges `bytes` at `rate_bytes_per_sec` at time `now`; returns how
    /// long the writer should sleep (zero while within one step).
    pub(crate) fn charge(
        &mut self,
        now: Instant,
        bytes: usize,
        rate_bytes_per_sec: u64,
    ) -> Duration {
        let base = match self.due {
            Some(d) if d > now => d,
            _ => now,
        };
        let cost = Duration::from_secs_f64(bytes as f64 / rate_bytes_per_sec.max(1) as f64);
        let due = base + cost;
        self.due = Some(due);
        let ahead = due - now;
        if ahead > PACE_STEP {
            ahead
        } else {
            Duration::ZERO
        }
    }
}

/// The rate writes are paced to with `l0` tables in L0: the configured
/// rate at `l0_slowdown_trigger`, falling linearly to an eighth of it (at
/// least) as L0 nears `l0_stop_trigger`, where writes stop.
pub(crate) fn l0_pace_rate(opts: &crate::Options, l0: usize) -> u64 {
    let base = opts.delayed_write_rate_bytes_per_sec.max(1);
    let span = opts
        .l0_stop_trigger
        .saturating_sub(opts.l0_slowdown_trigger)
        .max(1) as u64;
    let left = opts.l0_stop_trigger.saturating_sub(l0) as u64;
    (base.saturating_mul(left) / span).max(base / 8).max(1)
}

impl WriteState {
    /// Makes every acknowledged write durable: the old log left unsynced
    /// by a switch (sealed: it takes no more records), the current log's
    /// name, then the current log.
    pub(crate) fn sync_all(&mut self, fs: &dyn vfs::Fs, dir: &Path) -> Result<()> {
        for (_, old) in &mut self.old_logs_unsynced {
            old.seal()?;
        }
        self.old_logs_unsynced.clear();
        for f in &self.replayed_logs_unsynced {
            f.sync_data()?;
        }
        self.replayed_logs_unsynced.clear();
        if !self.log_name_durable {
            fs.sync_dir(dir)?;
            self.log_name_durable = true;
        }
        self.log.sync()
    }

    /// Makes the logs numbered below `n` durable: the old logs a switch
    /// left unsynced (sealed: they take no more records), the logs an open
    /// replayed, and the directory entries of logs created since the last
    /// directory sync. A flush calls it before its table becomes durable
    /// when the store has several keyspaces: another keyspace's writes
    /// older than the table's newest may be in those logs, and a power cut
    /// must not keep the table and lose them.
    pub(crate) fn sync_logs_below(
        &mut self,
        n: FileNumber,
        fs: &dyn vfs::Fs,
        dir: &Path,
    ) -> Result<()> {
        let (below, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.old_logs_unsynced)
            .into_iter()
            .partition(|(number, _)| *number < n);
        self.old_logs_unsynced = keep;
        for (_, mut old) in below {
            old.seal()?;
        }
        for f in std::mem::take(&mut self.replayed_logs_unsynced) {
            f.sync_data()?;
        }
        if !self.log_name_durable {
            fs.sync_dir(dir)?;
            self.log_name_durable = true;
        }
        Ok(())
    }

    /// As [`WriteState::sync_all`], then records in the log that all of it
    /// is durable, so damage to its last records is told from a torn tail.
    pub(crate) fn seal_all(&mut self, fs: &dyn vfs::Fs, dir: &Path) -> Result<()> {
        self.sync_all(fs, dir)?;
        self.log.seal()
    }
}

/// The writers waiting under [`Durability::Group`], in ticket order.
///
/// # Concurrency
///
/// Guarded by `Inner::queue`. A writer takes a ticket and queues its batch;
/// when no leader is active it becomes the leader: it takes the write lock,
/// makes room, then takes the front of the queue (up to `GROUP_BYTES_MAX`,
/// and at least up to its own batch) and commits it as one group while
/// later writers queue. Tickets are handed out in order and a group takes a
/// prefix of the queue, so the tickets of a group are contiguous and every
/// earlier ticket is in an earlier group (or was a leader's own, failed in
/// `make_room`): `done_below` says who is finished. The queue lock is never
/// held while taking the write lock. At most one leader at a time.
#[derive(Debug, Default)]
pub(crate) struct CommitQueue {
    pub(crate) queued: Vec<(u64, WriteBatch)>,
    pub(crate) next_ticket: u64,
    /// Every ticket below this has been committed or failed.
    pub(crate) done_below: u64,
    /// The first ticket of a group whose append or sync failed: it and
    /// every later ticket failed (the engine is stopped).
    pub(crate) failed_from: Option<u64>,
    pub(crate) leader_active: bool,
}

/// Bytes of batches a group-commit leader takes at most, unless its own
/// batch lies further back: bounds the latency of the writers first in
/// line and how far a group overshoots the memtable's size (LevelDB: 1 MiB).
pub(crate) const GROUP_BYTES_MAX: usize = 1 << 20;

/// Takes the group a leader with ticket `leader` commits: the queue's
/// front, in ticket order, up to [`GROUP_BYTES_MAX`] bytes and at least up
/// to the leader's own batch, so a group's tickets stay contiguous.
pub(crate) fn take_group(
    queued: &mut Vec<(u64, WriteBatch)>,
    leader: u64,
) -> Vec<(u64, WriteBatch)> {
    let mut bytes = 0usize;
    let n = queued
        .iter()
        .take_while(|(t, b)| {
            bytes = bytes.saturating_add(b.size_bytes);
            *t <= leader || bytes <= GROUP_BYTES_MAX
        })
        .count();
    queued.drain(..n).collect()
}

/// Whether a commit syncs the log before its writes become visible.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LogSync {
    Sync,
    NoSync,
}

/// [`Error::KeyTooLarge`] or [`Error::ValueTooLarge`] for the first
/// operation of `batch` past the limits.
fn check_sizes(batch: &WriteBatch) -> Result<()> {
    for (kind, k, v) in &batch.ops {
        // A range delete's end is a key.
        let key_like = *kind == crate::key::ValueKind::RangeDelete && v.len() > KEY_LEN_MAX;
        if k.len() > KEY_LEN_MAX || key_like {
            let len = if key_like { v.len() } else { k.len() };
            return Err(Error::KeyTooLarge {
                len,
                len_max: KEY_LEN_MAX,
            });
        }
        if v.len() > VALUE_LEN_MAX {
            return Err(Error::ValueTooLarge {
                len: v.len(),
                len_max: VALUE_LEN_MAX,
            });
        }
    }
    Ok(())
}

impl Inner {
    /// `batch` with its puts timed (`ttl.rs`) when `Options::ttl` is set.
    fn stamp(&self, mut batch: WriteBatch) -> WriteBatch {
        if self.opts.ttl.is_some() {
            crate::ttl::stamp(&mut batch, crate::ttl::millis(self.opts.clock.now()));
        }
        batch
    }

    /// Stops the engine after a failed log write or sync: the log's tail is
    /// unknown (a later record after a partial one would be corruption in
    /// the middle at recovery), and a failed sync may have dropped data the
    /// kernel held, so every later write fails too, as in LevelDB and
    /// RocksDB. Returns `e` for the caller.
    pub(crate) fn stop(&self, e: Error) -> Error {
        if matches!(e, Error::Fenced { .. }) {
            return self.state.fail_with(e);
        }
        self.state
            .fail(format!("write-ahead log write failed: {e}"));
        e
    }

    /// With `publish_manifest`, at every durable point (a synced commit or
    /// group, `sync`, `flush`): [`Error::Fenced`] if another writer has
    /// claimed the table store since this one did (one request, see
    /// `published::check_fence`), which stops the engine. `Ok` without a
    /// published manifest.
    pub(crate) fn check_fence(&self) -> Result<()> {
        match self.tables.remote() {
            Some(io) if self.opts.publish_manifest => {
                crate::tables::published::check_fence(io).map_err(|e| self.stop(e))
            }
            _ => Ok(()),
        }
    }

    /// `Ok` while the database is open; [`Error::Closed`] once a `close`
    /// began on any clone, or a failure stopped it.
    pub(crate) fn check_failed(&self) -> Result<()> {
        self.state.check()
    }

    pub(crate) fn write(&self, batch: WriteBatch) -> Result<()> {
        check_sizes(&batch)?;
        let batch = self.stamp(batch);
        if batch.is_empty() {
            return Ok(());
        }
        if self.opts.durability == Durability::Group {
            return self.write_grouped(batch);
        }
        let mut w = self.write.lock();
        self.make_room_for(&mut w, &batch)?;
        let sync = if self.opts.durability == Durability::Immediate {
            LogSync::Sync
        } else {
            LogSync::NoSync
        };
        let mut batch = batch;
        self.commit(&mut w, std::slice::from_mut(&mut batch), sync)
    }

    /// Commits `batch` as [`Inner::write`] does (the same log record and
    /// memtable inserts, so recovery is unchanged), but only if `check`
    /// passes, run under the write lock after room is made: no other write
    /// can be appended, inserted or published between the check and this
    /// one. For optimistic transactions (`transaction.rs`). Not queued for
    /// group commit: under [`Durability::Group`] it syncs on its own, as
    /// under [`Durability::Immediate`].
    pub(crate) fn write_checked(
        &self,
        batch: WriteBatch,
        check: impl FnOnce(&Inner) -> Result<()>,
    ) -> Result<()> {
        check_sizes(&batch)?;
        let batch = self.stamp(batch);
        let mut w = self.write.lock();
        self.make_room_for(&mut w, &batch)?;
        check(self)?;
        if batch.is_empty() {
            return Ok(());
        }
        let sync = if self.opts.durability == Durability::None {
            LogSync::NoSync
        } else {
            LogSync::Sync
        };
        let mut batch = batch;
        self.commit(&mut w, std::slice::from_mut(&mut batch), sync)
    }

    /// Group commit: queues `batch`, then either finds it committed by a
    /// leader or leads a group itself (see [`CommitQueue`]). A writer whose
    /// group's append or sync failed gets the cause as the leader's error,
    /// or as [`Error::Closed`] with it as the reason.
    pub(crate) fn write_grouped(&self, batch: WriteBatch) -> Result<()> {
        let mut q = self.queue.lock();
        let ticket = q.next_ticket;
        q.next_ticket += 1;
        q.queued.push((ticket, batch));
        // Bounded: each wait ends when a group finishes or a leader steps
        // down, and the first queued writer leads the next group.
        while q.done_below <= ticket && q.leader_active {
            self.queue_cv.wait(&mut q);
        }
        if q.done_below > ticket {
            return match q.failed_from {
                Some(f) if ticket >= f => Err(self.state.failure()),
                _ => Ok(()),
            };
        }
        q.leader_active = true;
        drop(q);
        let mut w = self.write.lock();
        // The leader is charged for its own batch only: the rest of its
        // group (at most `GROUP_BYTES_MAX`) is not, so under group commit
        // the pace is per group, and the sync each group waits for paces
        // it as well.
        let own = self
            .queue
            .lock()
            .queued
            .iter()
            .find(|(t, _)| *t == ticket)
            .map(|(_, b)| WriteBatch {
                ops: Vec::new(),
                keyspaces: b.keyspace_ids(),
                size_bytes: b.size_bytes,
            });
        let room = match own {
            Some(own) => self.make_room_for(&mut w, &own),
            None => Ok(()),
        };
        if let Err(e) = room {
            // Only the leader's own write fails; the next in line leads.
            drop(w);
            let mut q = self.queue.lock();
            q.queued.retain(|(t, _)| *t != ticket);
            q.leader_active = false;
            self.queue_cv.notify_all();
            return Err(e);
        }
        let group = take_group(&mut self.queue.lock().queued, ticket);
        let (first, last) = match (group.first(), group.last()) {
            (Some(f), Some(l)) => (f.0, l.0),
            // Cannot happen: a writer leads only once no leader is active
            // and its ticket is not done, and a group's leader marks it
            // done before stepping down, so no group has taken its batch.
            _ => unreachable!("a leader's own batch is in its group"),
        };
        debug_assert!(first <= ticket && ticket <= last);
        let mut batches: Vec<WriteBatch> = group.into_iter().map(|(_, b)| b).collect();
        let r = self.commit(&mut w, &mut batches, LogSync::Sync);
        drop(w);
        let mut q = self.queue.lock();
        // Below `first` every ticket is done, or was its leader's own and
        // failed in `make_room` (that writer returned its error).
        debug_assert!(q.done_below <= first);
        q.done_below = last + 1;
        if r.is_err() && q.failed_from.is_none() {
            q.failed_from = Some(first);
        }
        q.leader_active = false;
        self.queue_cv.notify_all();
        r
    }

    /// Commits `batches` in LevelDB's order: append each to the log, sync
    /// (when asked), insert into the memtable, publish the last sequence
    /// number. A reader sees none of them before the sync returned, and a
    /// failed append or sync stops the engine with nothing inserted.
    pub(crate) fn commit(
        &self,
        w: &mut WriteState,
        batches: &mut [WriteBatch],
        sync: LogSync,
    ) -> Result<()> {
        let seq_first = SeqNo(self.last_seq.load(Ordering::Relaxed) + 1);
        let mut seq = seq_first;
        let mut buf = std::mem::take(&mut w.encode_buf);
        for b in batches.iter() {
            buf.clear();
            b.encode(seq, &mut buf);
            if let Err(e) = w.log.add_record(&buf) {
                w.encode_buf = buf;
                return Err(self.stop(e));
            }
            seq = seq.plus(b.ops.len() as u64);
        }
        w.encode_buf = buf;
        if sync == LogSync::Sync {
            w.log.sync().map_err(|e| self.stop(e))?;
            // Not acknowledged, and never visible, once another writer
            // claimed the store: the batches stay out of the memtable.
            self.check_fence()?;
        }
        // The memtables of the log just written: they change only under
        // the write lock, which the caller holds. An op of a keyspace
        // dropped since the batch was checked goes nowhere (a replay skips
        // it too: the keyspace is no longer live).
        let mut mems: Vec<(u64, Option<Arc<Memtable>>)> = Vec::new();
        let mut seq = seq_first;
        let mut user_bytes = 0u64;
        for b in batches.iter_mut() {
            user_bytes += b.size_bytes as u64;
            let ks = std::mem::take(&mut b.keyspaces);
            for (i, (kind, k, v)) in std::mem::take(&mut b.ops).into_iter().enumerate() {
                let id = ks.get(i).copied().unwrap_or(0);
                let mem = match mems.iter().find(|(x, _)| *x == id) {
                    Some((_, m)) => m.clone(),
                    None => {
                        let m = self.tree(id).map(|t| Arc::clone(&t.sv.read().mem));
                        mems.push((id, m.clone()));
                        m
                    }
                };
                if let Some(mem) = mem {
                    mem.insert(k, seq, kind, v);
                }
                seq = seq.plus(1);
            }
        }
        self.last_seq.store(seq.0 - 1, Ordering::Release);
        self.counters
            .user_bytes
            .fetch_add(user_bytes, Ordering::Relaxed);
        Ok(())
    }

    /// Makes sure the memtable has room for a write of `bytes`, switching
    /// it (and the log) when full. Paces the writer (a token bucket, in
    /// steps of about [`PACE_STEP`]) while L0 is deep, and stops it only
    /// when the memtable is full with `max_write_buffer_number - 1` others
    /// waiting for their flush, or L0 at its stop trigger.
    pub(crate) fn make_room(
        &self,
        w: &mut parking_lot::MutexGuard<'_, WriteState>,
        bytes: usize,
    ) -> Result<()> {
        let mut slowed = false;
        // Bounded: each wait ends when background work finishes or fails,
        // or a checkpoint lets writes go on.
        loop {
            self.check_failed()?;
            if w.frozen > 0 {
                self.stall_wait(w, Duration::from_millis(50));
                continue;
            }
            // Read under the lock, not a cloned super version: one held
            // across the wait below would keep the memtable being flushed
            // alive, and when the flush finished this writer would drop it
            // last and free its half a million entries itself (measured:
            // the longest put of a 5 M-key fillseq, 150-210 ms, was the
            // wait for the flush plus that drop). The flush thread frees it.
            let imm_max = self.opts.max_write_buffer_number - 1;
            let (l0, mem_bytes, imm_count) = {
                let sv = self.sv.read();
                (
                    sv.version.levels[0].len(),
                    sv.mem.size_bytes(),
                    sv.imm.len(),
                )
            };
            if !slowed {
                slowed = true;
                let mut delay = Duration::ZERO;
                // Also at the stop trigger, at the slowest rate: writes
                // that still fit in the memtable go on, paced.
                if l0 >= self.opts.l0_slowdown_trigger {
                    let rate = l0_pace_rate(&self.opts, l0);
                    delay = w.pacer.charge(Instant::now(), bytes, rate);
                }
                if !delay.is_zero() {
                    self.stall_wait(w, delay);
                    continue;
                }
            }
            if mem_bytes < self.opts.write_buffer_size_bytes {
                return Ok(());
            }
            if imm_count >= imm_max || l0 >= self.opts.l0_stop_trigger {
                self.wake_background();
                self.stall_wait(w, Duration::from_millis(50));
                continue;
            }
            return self.switch_memtables(w, &[self.id]);
        }
    }

    /// [`Inner::make_room`] in every keyspace `batch` writes to (`self`
    /// is the default keyspace's tree, or any other).
    pub(crate) fn make_room_for(
        &self,
        w: &mut parking_lot::MutexGuard<'_, WriteState>,
        batch: &WriteBatch,
    ) -> Result<()> {
        for id in batch.keyspace_ids() {
            if let Some(t) = self.tree(id) {
                t.make_room(w, batch.size_bytes)?;
            }
        }
        Ok(())
    }

    /// Switches to a new log, and the memtables of keyspaces `ids` (each
    /// to the front of its immutable ones, followed by the new log), plus
    /// every other keyspace whose memtable took over before the oldest of
    /// the [`RECENT_LOGS`] last switched away from (unless it already has
    /// `max_write_buffer_number - 1` waiting for their flush).
    pub(crate) fn switch_memtables(
        &self,
        w: &mut parking_lot::MutexGuard<'_, WriteState>,
        ids: &[u64],
    ) -> Result<()> {
        let n = self.new_file_number()?;
        // The new log names the old one with its length: should a crash
        // keep the new log's records but not all of the old one's,
        // recovery replays neither the new log nor any after it.
        let predecessor = LogLength {
            log: w.log_number,
            len_bytes: w.log.len_bytes(),
        };
        let mut log = LogWriter::create_wal(
            &*self.fs,
            &self.dir.join(manifest::log_name(n)),
            Some(predecessor),
        )?;
        if self.opts.durability == Durability::None {
            // Nothing waits for durability now: leave the syncs to the
            // next `sync`/`flush`/`close` (or to the flush of this
            // memtable, which makes the old log unnecessary).
            log.set_buffered(true)?;
            w.log.write_out()?;
            let old = std::mem::replace(&mut w.log, log);
            let old_number = w.log_number;
            w.old_logs_unsynced.push((old_number, old));
            // Only logs below the manifest's log number hold nothing
            // unflushed (a quiet keyspace's memtable may span many logs):
            // the others stay, for a `sync` to make them durable.
            let flushed_below = self.versions.manifest.lock().log_number;
            let (done, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut w.old_logs_unsynced)
                .into_iter()
                .partition(|(n, _)| *n < flushed_below);
            w.old_logs_unsynced = keep;
            for (_, prev) in done {
                self.close_in_background(prev);
            }
            w.log_name_durable = false;
        } else {
            // Every write in the old log was synced before it was
            // acknowledged; sealing it records that in the log, so
            // damage to its last records is not taken for a torn tail.
            self.fs.sync_dir(&self.dir)?;
            w.log.seal()?;
            // Record its length (a cheap edit beside the flush's), so
            // a truncation of it is found until it is flushed.
            let sealed = LogLength {
                log: w.log_number,
                len_bytes: w.log.len_bytes(),
            };
            {
                let mut m = self.versions.manifest.lock();
                Self::log_edit(
                    &mut m,
                    &VersionEdit {
                        logs_sealed: vec![sealed],
                        ..VersionEdit::default()
                    },
                )?;
                m.log_lengths.insert(sealed.log, sealed.len_bytes);
            }
            let sealed_log = std::mem::replace(&mut w.log, log);
            self.close_in_background(sealed_log);
        }
        let old_number = std::mem::replace(&mut w.log_number, n);
        let floor = if w.recent_logs.len() >= RECENT_LOGS {
            w.recent_logs.pop_front()
        } else {
            None
        };
        w.recent_logs.push_back(old_number);
        let imm_max = self.opts.max_write_buffer_number - 1;
        for t in self.trees() {
            // Build from the super version current now: a compaction may
            // have installed a new version while the log was being
            // created, and reinstalling an older one would resurrect its
            // input tables.
            let mut sv_lock = t.sv.write();
            let cur = Arc::clone(&sv_lock);
            let along = !ids.contains(&t.id)
                && !cur.mem.is_empty()
                && cur.imm.len() < imm_max
                && floor.is_some_and(|f| cur.mem_log < f);
            if !ids.contains(&t.id) && !along {
                continue;
            }
            let mut imm = cur.imm.clone();
            imm.push((Arc::clone(&cur.mem), n));
            *sv_lock = Arc::new(SuperVersion {
                mem: Arc::new(Memtable::new()),
                imm,
                version: Arc::clone(&cur.version),
                mem_log: n,
            });
        }
        self.wake_background();
        Ok(())
    }

    /// Waits on `write_cv` (ended early by a finished flush or compaction,
    /// a failure or a close) for at most `timeout`, and counts the wait.
    fn stall_wait(&self, w: &mut parking_lot::MutexGuard<'_, WriteState>, timeout: Duration) {
        let t0 = Instant::now();
        self.write_cv.wait_for(w, timeout);
        self.counters.write_stalls.fetch_add(1, Ordering::Relaxed);
        self.counters.write_stall_micros.fetch_add(
            u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// Switches out every keyspace's memtable that holds writes (one new
    /// log for all), waits until every keyspace's immutable memtables are
    /// flushed, and syncs the log.
    pub(crate) fn flush(&self) -> Result<()> {
        let mut w = self.write.lock();
        self.flush_locked(&mut w)?;
        w.sync_all(&*self.fs, &self.dir).map_err(|e| self.stop(e))?;
        self.check_fence()
    }

    /// [`Inner::flush`] with writers kept out until the guard returned is
    /// given to [`Inner::unfreeze`]: when it returns, every write is in a
    /// table and every memtable is empty, so the keyspaces' versions hold
    /// one point of the write order (a checkpoint pins them then).
    pub(crate) fn flush_and_freeze(&self) -> Result<parking_lot::MutexGuard<'_, WriteState>> {
        let mut w = self.write.lock();
        w.frozen += 1;
        match self.flush_locked(&mut w) {
            Ok(()) => Ok(w),
            Err(e) => {
                self.unfreeze(w);
                Err(e)
            }
        }
    }

    /// Lets the writers [`Inner::flush_and_freeze`] kept out go on.
    pub(crate) fn unfreeze(&self, mut w: parking_lot::MutexGuard<'_, WriteState>) {
        w.frozen -= 1;
        drop(w);
        self.write_cv.notify_all();
    }

    /// Switches out every memtable that holds writes and waits, with the
    /// write lock let go while waiting, until none waits for its flush.
    fn flush_locked(&self, w: &mut parking_lot::MutexGuard<'_, WriteState>) -> Result<()> {
        let imm_max = self.opts.max_write_buffer_number - 1;
        // Bounded: each wait ends when background work finishes or fails.
        loop {
            self.check_failed()?;
            let mut ids = Vec::new();
            let mut full = false;
            for t in self.trees() {
                let sv = t.sv.read();
                if !sv.mem.is_empty() {
                    ids.push(t.id);
                    full |= sv.imm.len() >= imm_max
                        || sv.version.levels[0].len() >= self.opts.l0_stop_trigger;
                }
            }
            if ids.is_empty() {
                break;
            }
            if full {
                self.wake_background();
                self.stall_wait(w, Duration::from_millis(50));
                continue;
            }
            self.switch_memtables(w, &ids)?;
            break;
        }
        // Bounded: the background thread flushes `imm` or fails.
        loop {
            self.check_failed()?;
            if self.trees().iter().all(|t| t.sv.read().imm.is_empty()) {
                return Ok(());
            }
            self.wake_background();
            self.write_cv.wait_for(w, Duration::from_millis(20));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(sizes: &[usize]) -> Vec<(u64, WriteBatch)> {
        sizes
            .iter()
            .enumerate()
            .map(|(t, &n)| {
                let mut b = WriteBatch::new();
                b.put(vec![b'k'], vec![0u8; n - 1]);
                (t as u64, b)
            })
            .collect()
    }

    fn tickets(group: &[(u64, WriteBatch)]) -> Vec<u64> {
        group.iter().map(|(t, _)| *t).collect()
    }

    #[test]
    fn pacer_delays_in_short_steps_at_the_rate_and_saves_no_credit() {
        let mut p = Pacer::default();
        let t0 = Instant::now();
        // 1 MB/s: 100 bytes cost 100 us, within one step.
        assert_eq!(p.charge(t0, 100, 1_000_000), Duration::ZERO);
        // The next 100 bytes put the writer 200 us ahead: still one step.
        assert_eq!(p.charge(t0, 100, 1_000_000), Duration::ZERO);
        // Past a step it sleeps for exactly how far ahead it is.
        assert_eq!(p.charge(t0, 100, 1_000_000), Duration::from_micros(300));
        // Once the schedule is met, the debt is gone.
        let t1 = t0 + Duration::from_micros(300);
        assert_eq!(p.charge(t1, 100, 1_000_000), Duration::ZERO);
        // An idle second is not saved up: a burst after it is paced again
        // past one step.
        let t2 = t1 + Duration::from_secs(1);
        assert_eq!(p.charge(t2, 200, 1_000_000), Duration::ZERO);
        assert_eq!(p.charge(t2, 100, 1_000_000), Duration::from_micros(300));
        // A large write at once costs its whole time.
        let mut p = Pacer::default();
        assert_eq!(p.charge(t0, 16 << 20, 16 << 20), Duration::from_secs(1));
    }

    #[test]
    fn pace_rate_falls_with_l0_depth_to_an_eighth() {
        let opts = crate::Options {
            l0_slowdown_trigger: 12,
            l0_stop_trigger: 20,
            delayed_write_rate_bytes_per_sec: 8 << 20,
            ..crate::Options::default()
        };
        assert_eq!(l0_pace_rate(&opts, 12), 8 << 20);
        assert_eq!(l0_pace_rate(&opts, 16), 4 << 20);
        assert_eq!(l0_pace_rate(&opts, 19), 1 << 20);
        assert_eq!(l0_pace_rate(&opts, 20), 1 << 20);
        let same = crate::Options {
            l0_slowdown_trigger: 20,
            ..opts
        };
        assert_eq!(l0_pace_rate(&same, 20), 1 << 20);
    }

    #[test]
    fn group_is_a_prefix_bounded_in_bytes_but_always_holds_the_leader() {
        let mb = GROUP_BYTES_MAX;
        let mut q = queue(&[100, 200, 300]);
        assert_eq!(tickets(&take_group(&mut q, 0)), [0, 1, 2]);
        assert!(q.is_empty());

        let mut q = queue(&[mb / 2, mb / 2, 10, 10]);
        assert_eq!(tickets(&take_group(&mut q, 0)), [0, 1]);
        assert_eq!(tickets(&q), [2, 3]);

        // The leader's own batch is taken even past the bound.
        let mut q = queue(&[mb, mb, mb]);
        assert_eq!(tickets(&take_group(&mut q, 1)), [0, 1]);
        assert_eq!(tickets(&q), [2]);
    }
}
