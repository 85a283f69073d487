//! The file layer every engine of this workspace does its I/O through.
//!
//! `erasure`, `btree` and `lsm` never call `std::fs`: they hold an
//! `Arc<dyn Fs>`, which is [`OsFs`] in production and a simulated disk in
//! tests, so a test can cut the power at any sync point and check what
//! survives.
//!
//! ```
//! use std::sync::Arc;
//! use larder_vfs::{Fs, OpenMode, OsFs};
//!
//! # fn main() -> larder_vfs::Result<()> {
//! let dir = std::env::temp_dir().join(format!("vfs-doc-{}", std::process::id()));
//! let fs: Arc<dyn Fs> = Arc::new(OsFs::new());
//! fs.create_dir_all(&dir)?;
//! let file = fs.open(&dir.join("log"), OpenMode::Truncate)?;
//! let offset = file.append(b"hello")?;
//! file.sync_data()?; // the bytes are now durable...
//! fs.sync_dir(&dir)?; // ...and so is the file's name
//! let mut buf = [0u8; 5];
//! file.read_exact_at(&mut buf, offset)?;
//! assert_eq!(&buf, b"hello");
//! # drop(file);
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok(())
//! # }
//! ```
//!
//! - [`Fs`], [`File`]: the traits, and the durability model they promise.
//! - [`OsFs`]: the real disk.
//! - [`MemFs`]: an in-memory disk that knows what is durable and can lose
//!   power ([`MemFs::crash`]), tearing writes.
//! - [`FaultFs`]: makes chosen operations of any `Fs` fail with `EIO` or
//!   `ENOSPC`.
//! - [`ForwardFs`]: a wrapper that passes every call to another `Fs` but
//!   those it overrides, for a test's gate, hook or counter.
//! - [`View`], [`Access`]: a view of a file that tells the kernel how it
//!   will be read (random lookups, or a range wanted ahead of use).
//! - [`crash_test`]: re-runs a workload crashing at every sync point.
//! - [`Error`], [`Op`]: every failure names its operation and path.

#![deny(unsafe_code)]

pub mod crash_test;
mod error;
mod fault;
mod forward;
mod fs;
mod mem;
mod mmap;
mod os;
mod view;
mod views;

pub use error::{Error, Op, Result};
pub use fault::{Fault, FaultFs};
pub use forward::ForwardFs;
pub use fs::{File, Fs, LockGuard, OpenMode};
pub use mem::{CrashOptions, MEM_FILE_MAX_BYTES, MemFs, SECTOR_BYTES};
pub use os::OsFs;
pub use view::{Access, View};

/// The README's examples, compiled and run as doctests so they stay true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
