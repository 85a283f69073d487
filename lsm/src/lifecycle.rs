//! The one lifecycle state every clone of a [`Db`](crate::Db) shares:
//! open, closing, closed, or failed.
//!
//! ```text
//! Open --close--> Closing --threads joined, log synced--> Closed
//!   \--background or log failure--> Failed --close--> Closing
//! ```
//!
//! Every public call checks it first (one atomic load). Once closing or
//! closed, every call returns [`Error::Closed`] at once; once failed, every
//! call that writes does (with the reason), while reads go on serving what
//! the tables and memtables hold, as RocksDB does after a background error.
//! A writer waiting on a stall re-checks the state each time it is woken,
//! and `close` wakes every such writer after leaving `Open`.
//!
//! # Concurrency
//!
//! Any thread may read the state at any time. It moves only forward
//! (`Open` to `Closing` or `Failed`, `Failed` to `Closing`, `Closing` to
//! `Closed`), each step a compare-and-swap, so two threads racing to close
//! or to fail agree on who won; the failure reason is written once, before
//! the state says `Failed`.

use std::sync::atomic::{AtomicU8, Ordering};

use parking_lot::Mutex;

use crate::{Error, Result};

const OPEN: u8 = 0;
const CLOSING: u8 = 1;
const CLOSED: u8 = 2;
const FAILED: u8 = 3;

/// Where the database is in its life.
#[derive(Debug, Default)]
pub(crate) struct Lifecycle {
    state: AtomicU8,
    /// Why the database failed; set once, before `state` becomes `FAILED`.
    reason: Mutex<Option<String>>,
    /// Set when the failure was [`Error::Fenced`]: every later write
    /// returns it again.
    fenced: Mutex<Option<Error>>,
}

/// What [`Lifecycle::begin_close`] found.
#[derive(Debug)]
pub(crate) enum CloseFrom {
    /// The database was open; it is closing now.
    Open,
    /// A failure had stopped it already: the reason, for `close` to return.
    Failed(String),
}

impl Lifecycle {
    /// `Ok` while open; [`Error::Closed`] (with the failure's reason, if
    /// any) once closing, closed or failed.
    pub(crate) fn check(&self) -> Result<()> {
        match self.state.load(Ordering::Acquire) {
            OPEN => Ok(()),
            FAILED => Err(self.failure()),
            _ => Err(Error::Closed { reason: None }),
        }
    }

    /// `Ok` while open or failed (reads still work after a failure);
    /// [`Error::Closed`] once closing or closed.
    pub(crate) fn check_readable(&self) -> Result<()> {
        match self.state.load(Ordering::Acquire) {
            CLOSING | CLOSED => Err(Error::Closed { reason: None }),
            _ => Ok(()),
        }
    }

    /// Records a failure that stops the engine. The first reason wins; a
    /// database already closing keeps closing (its `close` reports the
    /// reason through the background error it returns).
    pub(crate) fn fail(&self, reason: String) {
        let mut r = self.reason.lock();
        if r.is_none() {
            *r = Some(reason);
        }
        let _ = self
            .state
            .compare_exchange(OPEN, FAILED, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Records `e` as what stopped the engine if it is [`Error::Fenced`]
    /// (every later write returns it again), else as [`Lifecycle::fail`]
    /// with its text. Returns `e`.
    pub(crate) fn fail_with(&self, e: Error) -> Error {
        if let Error::Fenced {
            location,
            epoch,
            reason,
        } = &e
        {
            let mut f = self.fenced.lock();
            if f.is_none() {
                *f = Some(Error::Fenced {
                    location: location.clone(),
                    epoch: *epoch,
                    reason: reason.clone(),
                });
            }
        }
        self.fail(e.to_string());
        e
    }

    /// What a call that writes returns once failed: [`Error::Fenced`]
    /// again if the writer was fenced, else [`Error::Closed`] with the
    /// reason.
    pub(crate) fn failure(&self) -> Error {
        if let Some(Error::Fenced {
            location,
            epoch,
            reason,
        }) = &*self.fenced.lock()
        {
            return Error::Fenced {
                location: location.clone(),
                epoch: *epoch,
                reason: reason.clone(),
            };
        }
        Error::Closed {
            reason: self.reason.lock().clone(),
        }
    }

    /// The failure reason, if a failure was recorded (even while closing).
    pub(crate) fn reason(&self) -> Option<String> {
        self.reason.lock().clone()
    }

    /// Leaves `Open` for `Closing`.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] if another call closed (or is closing) it already.
    pub(crate) fn begin_close(&self) -> Result<CloseFrom> {
        for from in [OPEN, FAILED] {
            if self
                .state
                .compare_exchange(from, CLOSING, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return Ok(if from == OPEN {
                    CloseFrom::Open
                } else {
                    CloseFrom::Failed(self.reason.lock().clone().unwrap_or_default())
                });
            }
        }
        Err(Error::Closed { reason: None })
    }

    /// `Closing` to `Closed`, once threads are joined and the log synced.
    pub(crate) fn finish_close(&self) {
        let _ = self
            .state
            .compare_exchange(CLOSING, CLOSED, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Whether a close has begun or ended.
    pub(crate) fn is_closing_or_closed(&self) -> bool {
        matches!(self.state.load(Ordering::Acquire), CLOSING | CLOSED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_once_then_every_check_is_closed() {
        let l = Lifecycle::default();
        assert!(l.check().is_ok());
        assert!(matches!(l.begin_close(), Ok(CloseFrom::Open)));
        assert!(matches!(l.check(), Err(Error::Closed { reason: None })));
        assert!(matches!(
            l.begin_close(),
            Err(Error::Closed { reason: None })
        ));
        assert!(l.check_readable().is_err());
        l.finish_close();
        assert!(l.is_closing_or_closed());
        assert!(matches!(l.check(), Err(Error::Closed { reason: None })));
    }

    #[test]
    fn a_failure_is_reported_by_check_and_by_close() {
        let l = Lifecycle::default();
        l.fail("disk full".into());
        l.fail("second".into());
        assert!(matches!(l.check(), Err(Error::Closed { reason: Some(r) }) if r == "disk full"));
        assert!(l.check_readable().is_ok());
        assert!(matches!(l.begin_close(), Ok(CloseFrom::Failed(r)) if r == "disk full"));
        assert!(l.check_readable().is_err());
        assert!(l.begin_close().is_err());
    }
}
