//! Crash tests in a few lines: run a workload, then re-run it once per sync
//! point with the power cut there, and check each disk the crash leaves.
//!
//! ```
//! use std::path::Path;
//! use std::sync::Arc;
//! use larder_vfs::crash_test::{ExploreOptions, explore};
//! use larder_vfs::{Fs, OpenMode};
//!
//! // The workload appends records, syncing each; it returns how many were
//! // durable (their sync returned Ok) when it stopped.
//! let workload = |fs: Arc<dyn Fs>| -> usize {
//!     let Ok(file) = fs.open(Path::new("/log"), OpenMode::Append) else { return 0 };
//!     if fs.sync_dir(Path::new("/")).is_err() { return 0 }
//!     let mut durable = 0;
//!     for i in 0..5u8 {
//!         if file.append(&[i; 100]).is_err() || file.sync_data().is_err() { break }
//!         durable += 1;
//!     }
//!     durable
//! };
//! let report = explore(&ExploreOptions::default(), workload, |point, disk, durable| {
//!     // Every record whose sync returned is on the crashed disk.
//!     let len = disk.open(Path::new("/log"), OpenMode::Read).and_then(|f| f.len()).unwrap_or(0);
//!     assert!(len >= 100 * durable as u64, "{point:?}: lost a durable record");
//! });
//! assert_eq!(report.syncs, 6);
//! ```

use std::sync::Arc;

use crate::mem::{CrashOptions, MemFs};

/// Which crashes [`explore`] tries at each sync point.
#[derive(Clone, Debug)]
pub struct ExploreOptions {
    /// One crash per seed and sync point (see [`CrashOptions::seed`]): the
    /// default tries 0 (every unsynced name change undone), `u64::MAX`
    /// (every one kept) and 1 (a pseudo-random prefix).
    pub seeds: Vec<u64>,
    /// Also try each crash with the last unsynced write of each file torn.
    pub tear: bool,
}

impl Default for ExploreOptions {
    fn default() -> ExploreOptions {
        ExploreOptions {
            seeds: vec![0, u64::MAX, 1],
            tear: true,
        }
    }
}

/// Where a crash happened.
#[derive(Clone, Copy, Debug)]
pub struct CrashPoint {
    /// The power was cut just before this sync (1-based); one past the
    /// workload's last sync means after the workload finished.
    pub before_sync: u64,
    /// How what was not durable was resolved.
    pub options: CrashOptions,
}

/// What [`explore`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExploreReport {
    /// Syncs the uninterrupted workload made.
    pub syncs: u64,
    /// Crashed disks handed to the checker.
    pub crashes: u64,
}

/// Runs `workload` on a fresh [`MemFs`] to count its sync points, then for
/// every point, seed and tear choice re-runs it on a fresh disk that loses
/// power just before that sync (that sync and every later operation fail
/// with `EIO`), and calls `check(point, crashed_disk, result)` with what the
/// workload returned. A last crash is taken after the workload finished.
///
/// The workload must be deterministic (the same operations in the same order
/// each run) and should stop at its first error, returning what it knows was
/// durable. The checker typically reopens the engine on the crashed disk and
/// compares it with that.
pub fn explore<T>(
    options: &ExploreOptions,
    workload: impl Fn(Arc<dyn crate::Fs>) -> T,
    mut check: impl FnMut(CrashPoint, MemFs, T),
) -> ExploreReport {
    let counting = MemFs::new();
    drop(workload(Arc::new(counting.clone())));
    let syncs = counting.sync_count();
    let mut crashes = 0;
    let tears: &[bool] = if options.tear {
        &[false, true]
    } else {
        &[false]
    };
    for before_sync in 1..=syncs + 1 {
        for &seed in &options.seeds {
            for &tear in tears {
                let crash = CrashOptions { seed, tear };
                let disk = MemFs::new();
                disk.crash_before_sync(before_sync, crash);
                let result = workload(Arc::new(disk.clone()));
                let image = disk.crashed_image().unwrap_or_else(|| disk.crash(crash));
                check(
                    CrashPoint {
                        before_sync,
                        options: crash,
                    },
                    image,
                    result,
                );
                crashes += 1;
            }
        }
    }
    ExploreReport { syncs, crashes }
}
