//! Write-once objects with ranged reads: the storage that immutable files
//! (lsm tables, erasure-coded blob shards) can live on.
//!
//! Object stores (S3, GCS, Azure Blob) have no append, no rename and no
//! directory sync. They have whole-object uploads that become visible
//! atomically, ranged reads, listing, delete, and conditional writes. The
//! [`Store`] trait is exactly that, so an engine designed against it works
//! the same over a local directory and over a bucket:
//!
//! - an object is uploaded whole by [`Store::put`] and is visible whole or
//!   not at all; an engine names it in its manifest only after `put`
//!   returned;
//! - [`PutMode::Create`] and [`PutMode::Update`] are the conditional writes
//!   (`If-None-Match: *` and `If-Match: <version>`) that let two writers
//!   never both believe they own the same name.
//!
//! ```
//! use bytes::Bytes;
//! use larder_objstore::{MemStore, PutMode, Store};
//!
//! # fn main() -> larder_objstore::Result<()> {
//! let store = MemStore::new();
//! store.put("tables/000001.sst", Bytes::from_static(b"hello, world"), PutMode::Overwrite)?;
//! assert_eq!(store.get_range("tables/000001.sst", 7..12)?, "world");
//! let first = store.put("MANIFEST", Bytes::from_static(b"v1"), PutMode::Create)?;
//! // A second creator loses:
//! assert!(store.put("MANIFEST", Bytes::from_static(b"v1'"), PutMode::Create).is_err());
//! // The owner updates on the version it last saw:
//! let version = first.version.expect("MemStore versions every object");
//! store.put("MANIFEST", Bytes::from_static(b"v2"), PutMode::Update { version })?;
//! # Ok(())
//! # }
//! ```
//!
//! - [`Store`], [`PutMode`], [`ObjectMeta`]: the trait and its types.
//! - [`MemStore`]: objects in memory; the model.
//! - [`FsStore`]: objects as files in a [`vfs::Fs`] directory, each with a
//!   checksummed header (`FORMAT.md`); the embedded default.
//! - `RemoteStore`, `RemoteOptions` (feature `remote`): any
//!   `object_store::ObjectStore` under a prefix, with timeouts, retries of
//!   what is idempotent and read-back of conditional puts.
//! - `FaultObjectStore` (feature `remote`): errors, lost answers, hangs,
//!   slowness and short bodies on chosen requests.
//! - `testing::S3Server` (feature `test-server`): a real S3 server
//!   in-process for tests.
//! - [`Error`]: every failure names its object.

#![deny(unsafe_code)]

mod error;
#[cfg(feature = "remote")]
mod fault;
mod fs;
mod mem;
#[cfg(feature = "remote")]
mod remote;
#[cfg(feature = "test-server")]
pub mod testing;

pub use error::{Error, Result};
#[cfg(feature = "remote")]
pub use fault::{FaultObjectStore, ObjectFault, ObjectOp};
pub use fs::{FsStore, TMP_DIR};
pub use mem::MemStore;
#[cfg(feature = "remote")]
pub use remote::{RemoteOptions, RemoteStore};

use std::fmt::Debug;
use std::ops::Range;

use bytes::Bytes;

/// What a store knows about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// The object's name, relative to the store's root (`tables/000012.sst`).
    pub name: String,
    /// Its length in bytes.
    pub size: u64,
    /// An opaque version (an S3 `ETag`, a generation): what
    /// [`PutMode::Update`] must name to replace this object. `None` where
    /// the store does not version objects.
    pub version: Option<String>,
}

/// How [`Store::put`] treats an object that already has the name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutMode {
    /// Replace it, or create it. For immutable files, whose names are never
    /// reused, this is the idempotent upload that can be retried.
    Overwrite,
    /// Create it only if no object has the name (`If-None-Match: *`);
    /// otherwise fail with [`Error::Precondition`].
    Create,
    /// Replace it only if its current version is `version` (`If-Match`);
    /// otherwise fail with [`Error::Precondition`].
    Update {
        /// The version the caller last saw ([`ObjectMeta::version`]).
        version: String,
    },
}

/// Write-once objects with ranged reads.
///
/// Names are `/`-separated relative paths without `.` or `..` parts. Every
/// method is blocking; implementations over async clients run them on their
/// own runtime, so the caller needs none.
pub trait Store: Send + Sync + Debug {
    /// Uploads `data` as the object `name`. When this returns `Ok` the whole
    /// object is visible to every reader, and it survives a crash of this
    /// process or machine (for a local store: it is synced, name included).
    /// On `Err` the object is either absent, or present whole: never partly.
    fn put(&self, name: &str, data: Bytes, mode: PutMode) -> Result<ObjectMeta>;

    /// Reads the whole object, with its metadata.
    fn get(&self, name: &str) -> Result<(Bytes, ObjectMeta)>;

    /// Reads bytes `range` of the object. A range that ends past the
    /// object's end is an [`Error::OutOfRange`], never a short read.
    fn get_range(&self, name: &str, range: Range<u64>) -> Result<Bytes>;

    /// The object's metadata, without its bytes.
    fn head(&self, name: &str) -> Result<ObjectMeta>;

    /// Every object whose name starts with `prefix`, sorted by name.
    fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>>;

    /// Deletes the object. Deleting a missing object is `Ok`, as in S3, so
    /// a retried delete is harmless.
    fn delete(&self, name: &str) -> Result<()>;

    /// Where the objects live, for people: `memory`, `file:///data/db`,
    /// `s3://bucket/prefix`.
    fn location(&self) -> String;
}

/// Checks that `name` is a relative `/`-separated path with no empty, `.`
/// or `..` part: the names every [`Store`] accepts.
pub fn check_name(name: &str) -> Result<()> {
    let bad = name.is_empty()
        || name
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..");
    if bad {
        return Err(Error::BadName {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// The README's examples, compiled and run as doctests so they stay true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
