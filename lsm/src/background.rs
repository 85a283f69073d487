//! The one owner of background work: one thread per [`Role`] (memtable
//! flushes; compactions, blob garbage collection included), their wake-ups,
//! their exit on shutdown or failure, and [`Inner::wait_idle`], which waits
//! (on a condition variable, never polling) until they have nothing to do.
//!
//! A thread that fails records the reason in the lifecycle state (the
//! engine is then failed, `lifecycle.rs`), wakes the writers and whoever
//! waits for idleness, and exits. Every pass of a thread ends with an
//! obsolete-file scan (`obsolete.rs`).

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::compaction::picker;
use crate::db::Inner;
use crate::wal::writer::LogWriter;
use crate::{Error, Result};

/// What the background threads share with the threads that wake or wait
/// for them; guarded by `Inner::bg`.
#[derive(Debug, Default)]
pub(crate) struct BgState {
    /// Set once by a close or the drop of the last handle: threads exit.
    pub(crate) shutdown: bool,
    /// Per [`Role`]: the thread is waiting with nothing to do. Cleared by
    /// [`Inner::wake_background`] (which follows any change that may give
    /// a thread work), so "every thread idle" is never stale.
    pub(crate) idle: [bool; ROLES.len()],
    /// Threads started and not yet exited.
    pub(crate) running: usize,
    /// Logs a memtable switch let go of, for the flush thread to close
    /// ([`Inner::close_in_background`]).
    pub(crate) to_close: Vec<LogWriter>,
}

/// What a background thread does: flushes never wait behind a long
/// compaction, so writers stall only when L0 is too deep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    Flush,
    Compact,
}

/// Every role, one thread each.
pub(crate) const ROLES: [Role; 2] = [Role::Flush, Role::Compact];

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Flush => "lsm-flush",
            Role::Compact => "lsm-compact",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Starts one thread per [`Role`].
///
/// # Errors
///
/// [`Error::Io`] if a thread cannot be spawned (the ones started are
/// stopped and joined first).
pub(crate) fn spawn(inner: &Arc<Inner>) -> Result<Vec<JoinHandle<()>>> {
    let mut handles = Vec::new();
    for role in ROLES {
        let bg_inner = Arc::clone(inner);
        inner.bg.lock().running += 1;
        let spawned = std::thread::Builder::new()
            .name(role.name().into())
            .spawn(move || bg_inner.background_loop(role));
        match spawned {
            Ok(h) => handles.push(h),
            Err(e) => {
                inner.bg.lock().running -= 1;
                inner.stop_background();
                join(handles);
                return Err(Error::Io(vfs::Error::io(vfs::Op::Open, "thread", e)));
            }
        }
    }
    Ok(handles)
}

/// Waits for the threads [`spawn`] started, after
/// [`Inner::stop_background`].
pub(crate) fn join(handles: Vec<JoinHandle<()>>) {
    for h in handles {
        // A panic inside a job is caught and reported by the loop itself.
        let _ = h.join();
    }
}

impl Inner {
    /// Tells every background thread to exit after its current job, and
    /// wakes whoever waits for idleness (to return [`Error::Closed`]).
    pub(crate) fn stop_background(&self) {
        let mut bg = self.bg.lock();
        bg.shutdown = true;
        self.bg_cv.notify_all();
        self.idle_cv.notify_all();
    }

    /// Wakes the background threads after a change that may give them
    /// work. Notifying under their lock means a thread between its "any
    /// work?" check and its wait cannot miss the signal; marking them busy
    /// means [`Inner::wait_idle`] cannot return before they looked.
    pub(crate) fn wake_background(&self) {
        let mut bg = self.bg.lock();
        bg.idle = [false; ROLES.len()];
        self.bg_cv.notify_all();
    }

    /// Hands `log` to the flush thread to close. Closing the last handle
    /// of a log the flush already made obsolete (and deleted) frees its
    /// page cache, and ext4 may start writeback on a close: measured on
    /// the writer thread at a memtable switch, about 7 ms of CPU per
    /// 64 MiB log and sometimes a wait for the disk. Without background
    /// threads (or once they are stopping) the caller closes it.
    pub(crate) fn close_in_background(&self, log: LogWriter) {
        let mut bg = self.bg.lock();
        if bg.shutdown || bg.running == 0 {
            drop(bg);
            drop(log);
            return;
        }
        bg.to_close.push(log);
        bg.idle[Role::Flush.index()] = false;
        self.bg_cv.notify_all();
    }

    /// Wakes writers waiting for a flush or compaction. Taking the write
    /// lock first means no writer is between its check and its wait.
    /// Never called with the write lock held (the background thread and
    /// `compact_range` install versions without it; an ingest, which
    /// installs under it, skips this and calls it once it let go).
    pub(crate) fn wake_writers(&self) {
        drop(self.write.lock());
        self.write_cv.notify_all();
    }

    /// Blocks until no flush or compaction (blob collection included) is
    /// running or due, then deletes the obsolete files no reader holds.
    /// Waits on a condition variable the background threads signal when
    /// they run out of work; never polls. A handle without background
    /// threads (read-only) is always idle.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] once the database is closing, closed or failed
    /// (with the failure's reason), including while waiting.
    pub(crate) fn wait_idle(&self) -> Result<()> {
        let mut bg = self.bg.lock();
        // Bounded: every wake of a thread ends, within one job, in it
        // marking itself idle (and notifying), finding work, or exiting
        // after a failure or shutdown (and notifying).
        loop {
            self.state.check()?;
            if bg.shutdown {
                return Err(Error::Closed { reason: None });
            }
            if bg.running == 0 || bg.idle.iter().all(|&i| i) {
                break;
            }
            self.idle_cv.wait(&mut bg);
        }
        drop(bg);
        self.delete_obsolete().map(|_| ())
    }

    pub(crate) fn background_loop(&self, role: Role) {
        let r = self.run_role(role);
        let mut bg = self.bg.lock();
        bg.running -= 1;
        if let Err(e) = r {
            // A job cut short by a close is no failure: `close` waits
            // for this thread and reports its own outcome.
            if !(self.state.is_closing_or_closed() && matches!(e, Error::Closed { .. })) {
                self.state.fail_with(e);
            }
        }
        self.idle_cv.notify_all();
        drop(bg);
        self.wake_writers();
    }

    /// Runs `role`'s jobs until shutdown (`Ok`) or a failure (`Err`).
    fn run_role(&self, role: Role) -> Result<()> {
        // Bounded by shutdown: each pass does one flush or one compaction, or
        // waits up to 100 ms.
        loop {
            if role == Role::Flush {
                // Closed here, outside the lock: see `close_in_background`.
                let closing = std::mem::take(&mut self.bg.lock().to_close);
                drop(closing);
            }
            let tree = {
                let mut bg = self.bg.lock();
                if bg.shutdown {
                    return Ok(());
                }
                // The super version is let go before the wait: holding it
                // would keep tables (and their blob files) that a compaction
                // just replaced from being deleted.
                let work = self.trees().into_iter().find(|t| {
                    let sv = t.super_version();
                    match role {
                        Role::Flush => !sv.imm.is_empty(),
                        Role::Compact => {
                            picker::scores(&sv.version, &t.opts)
                                .iter()
                                .any(|&s| s >= 1.0)
                                || !t.blobs_to_collect(&sv.version).is_empty()
                        }
                    }
                });
                let has_work = work.is_some() || (role == Role::Flush && !bg.to_close.is_empty());
                if !has_work {
                    bg.idle[role.index()] = true;
                    self.idle_cv.notify_all();
                    // The timeout is the periodic scan: a pass without
                    // work still retries obsolete files readers let go of.
                    self.bg_cv.wait_for(&mut bg, Duration::from_millis(100));
                    bg.idle[role.index()] = false;
                    if bg.shutdown {
                        return Ok(());
                    }
                }
                work
            };
            let Some(tree) = tree else {
                // A pass without work still retries obsolete files readers
                // let go of.
                if role == Role::Compact {
                    self.delete_obsolete()?;
                }
                continue;
            };
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match role {
                Role::Flush => tree.flush_imm(),
                Role::Compact => tree.compaction_step(),
            }))
            .unwrap_or_else(|p| {
                let what = p
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                Err(Error::Closed {
                    reason: Some(format!("background thread panicked: {what}")),
                })
            })?;
        }
    }
}
