//! `FaultFs`: a wrapper over any [`Fs`] that makes chosen operations fail.
//!
//! # Fault model
//!
//! A rule matches operations by [`Op`] and path; a matching operation fails
//! with `EIO` or `ENOSPC` (as `Error::Io { op, path, .. }`) either every time
//! or only the `n`-th time it matches. A failed operation has no effect.
//! Every operation is counted, per [`Op`], so a test can first run a workload
//! to count, say, its writes, then fail each one in turn.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

use crate::{Access, Error, File, Fs, LockGuard, Op, OpenMode, Result, View};

/// Linux `EIO`: an I/O error from the device.
pub(crate) const EIO: i32 = 5;
/// Linux `ENOSPC`: no space left on the device.
pub(crate) const ENOSPC: i32 = 28;

/// The error an injected fault raises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// `EIO`: the device failed.
    Eio,
    /// `ENOSPC`: the device is full.
    Enospc,
}

impl Fault {
    fn to_io(self) -> io::Error {
        io::Error::from_raw_os_error(match self {
            Fault::Eio => EIO,
            Fault::Enospc => ENOSPC,
        })
    }
}

type Matcher = Box<dyn Fn(Op, &Path) -> bool + Send + Sync>;

struct Rule {
    matches: Matcher,
    /// Fail only the n-th match (1-based), or every match.
    nth: Option<u64>,
    seen: u64,
    fault: Fault,
}

#[derive(Default)]
struct Shared {
    rules: Vec<Rule>,
    counts: HashMap<Op, u64>,
    injected: u64,
}

/// Wraps an [`Fs`] and injects faults. Clones share rules and counters.
#[derive(Clone)]
pub struct FaultFs {
    inner: Arc<dyn Fs>,
    shared: Arc<Mutex<Shared>>,
}

impl fmt::Debug for FaultFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = self.shared.lock();
        f.debug_struct("FaultFs")
            .field("inner", &self.inner)
            .field("rules", &shared.rules.len())
            .field("injected", &shared.injected)
            .finish()
    }
}

impl FaultFs {
    /// Wraps `inner`; no fault is injected until a rule is added.
    pub fn new(inner: Arc<dyn Fs>) -> FaultFs {
        FaultFs {
            inner,
            shared: Arc::default(),
        }
    }

    /// Fails the `n`-th operation (1-based) of kind `op`, on any path.
    pub fn fail_nth(&self, op: Op, n: u64, fault: Fault) {
        self.add(Box::new(move |o, _| o == op), Some(n), fault);
    }

    /// Fails every operation for which `matches(op, path)` holds.
    pub fn fail_when(
        &self,
        matches: impl Fn(Op, &Path) -> bool + Send + Sync + 'static,
        fault: Fault,
    ) {
        self.add(Box::new(matches), None, fault);
    }

    /// Fails the `n`-th operation (1-based) for which `matches` holds.
    pub fn fail_nth_when(
        &self,
        matches: impl Fn(Op, &Path) -> bool + Send + Sync + 'static,
        n: u64,
        fault: Fault,
    ) {
        self.add(Box::new(matches), Some(n), fault);
    }

    fn add(&self, matches: Matcher, nth: Option<u64>, fault: Fault) {
        self.shared.lock().rules.push(Rule {
            matches,
            nth,
            seen: 0,
            fault,
        });
    }

    /// Removes every rule; counters keep counting.
    pub fn clear_faults(&self) {
        self.shared.lock().rules.clear();
    }

    /// Operations of kind `op` attempted so far (failed ones included).
    pub fn op_count(&self, op: Op) -> u64 {
        self.shared.lock().counts.get(&op).copied().unwrap_or(0)
    }

    /// Faults injected so far.
    pub fn injected(&self) -> u64 {
        self.shared.lock().injected
    }

    /// Counts `op` and returns the injected error, if a rule fires.
    fn check(&self, op: Op, path: &Path) -> Result<()> {
        let mut shared = self.shared.lock();
        *shared.counts.entry(op).or_default() += 1;
        let mut fired = None;
        for rule in &mut shared.rules {
            if (rule.matches)(op, path) {
                rule.seen += 1;
                if fired.is_none() && rule.nth.is_none_or(|n| n == rule.seen) {
                    fired = Some(rule.fault);
                }
            }
        }
        match fired {
            Some(fault) => {
                shared.injected += 1;
                Err(Error::io(op, path, fault.to_io()))
            }
            None => Ok(()),
        }
    }
}

impl Fs for FaultFs {
    fn open(&self, path: &Path, mode: OpenMode) -> Result<Box<dyn File>> {
        self.check(Op::Open, path)?;
        let inner = self.inner.open(path, mode)?;
        Ok(Box::new(FaultFile {
            fs: self.clone(),
            inner,
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        self.check(Op::Rename, from)?;
        self.inner.rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> Result<()> {
        self.check(Op::RemoveFile, path)?;
        self.inner.remove_file(path)
    }

    fn create_dir(&self, path: &Path) -> Result<()> {
        self.check(Op::CreateDir, path)?;
        self.inner.create_dir(path)
    }

    fn create_dir_all(&self, path: &Path) -> Result<()> {
        self.check(Op::CreateDir, path)?;
        self.inner.create_dir_all(path)
    }

    fn remove_dir(&self, path: &Path) -> Result<()> {
        self.check(Op::RemoveDir, path)?;
        self.inner.remove_dir(path)
    }

    fn list_dir(&self, path: &Path) -> Result<Vec<OsString>> {
        self.check(Op::ListDir, path)?;
        self.inner.list_dir(path)
    }

    fn exists(&self, path: &Path) -> Result<bool> {
        self.check(Op::Exists, path)?;
        self.inner.exists(path)
    }

    fn sync_dir(&self, path: &Path) -> Result<()> {
        self.check(Op::SyncDir, path)?;
        self.inner.sync_dir(path)
    }

    fn lock(&self, path: &Path) -> Result<LockGuard> {
        self.check(Op::Lock, path)?;
        self.inner.lock(path)
    }

    fn lock_shared(&self, path: &Path) -> Result<LockGuard> {
        self.check(Op::Lock, path)?;
        self.inner.lock_shared(path)
    }

    fn hard_link(&self, from: &Path, to: &Path) -> Result<()> {
        self.check(Op::HardLink, from)?;
        self.inner.hard_link(from, to)
    }
}

#[derive(Debug)]
struct FaultFile {
    fs: FaultFs,
    inner: Box<dyn File>,
}

impl File for FaultFile {
    fn path(&self) -> &Path {
        self.inner.path()
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize> {
        self.fs.check(Op::Read, self.inner.path())?;
        self.inner.read_at(buf, offset)
    }

    fn write_all_at(&self, buf: &[u8], offset: u64) -> Result<()> {
        self.fs.check(Op::Write, self.inner.path())?;
        self.inner.write_all_at(buf, offset)
    }

    fn append(&self, buf: &[u8]) -> Result<u64> {
        self.fs.check(Op::Append, self.inner.path())?;
        self.inner.append(buf)
    }

    fn sync_data(&self) -> Result<()> {
        self.fs.check(Op::SyncData, self.inner.path())?;
        self.inner.sync_data()
    }

    fn set_len(&self, len_bytes: u64) -> Result<()> {
        self.fs.check(Op::SetLen, self.inner.path())?;
        self.inner.set_len(len_bytes)
    }

    fn len(&self) -> Result<u64> {
        self.fs.check(Op::Len, self.inner.path())?;
        self.inner.len()
    }

    fn map(&self) -> Result<Bytes> {
        self.fs.check(Op::Map, self.inner.path())?;
        self.inner.map()
    }

    fn map_for(&self, access: Access) -> Result<View> {
        self.fs.check(Op::Map, self.inner.path())?;
        self.inner.map_for(access)
    }
}
