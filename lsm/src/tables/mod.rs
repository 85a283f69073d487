//! Where tables live: files in the database directory (the default), or
//! objects in an [`objstore::Store`] ([`Options::table_store`]). Whatever
//! creates, opens, lists or deletes a table goes through [`TableFiles`], so
//! the rest of the engine does not care which.
//!
//! - `remote.rs`: requests to the store, counted, and block reads through
//!   the disk cache.
//! - `disk_cache.rs`: the optional local directory of table blocks.
//! - `published.rs`: the manifest a writer publishes on the store for
//!   readers elsewhere, and writer fencing.
//! - `scoped.rs`: a store seen through a name prefix.
//!
//! A remote table is built in memory and uploaded whole by one
//! `put(Overwrite)` (its name is fresh, so a retried upload is harmless),
//! then named in a manifest edit: the same order a local table follows
//! (written and synced, then named). Crash cases are in `FORMAT.md`,
//! "Tables on object storage".
//!
//! [`Options::table_store`]: crate::Options::table_store

pub(crate) mod disk_cache;
pub(crate) mod published;
pub(crate) mod remote;
mod scoped;

pub use scoped::scoped_store;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cache::BlockCache;
use crate::manifest::{self, FILE_NUMBER_MAX, FileNumber};
use crate::recovery::Access;
use crate::sstable::reader::Table;
use crate::sstable::writer::{TableOptions, TableWriter};
use crate::{Error, Options, Result};

pub(crate) use remote::RemoteIo;

/// The prefix of every table object's name in the store.
pub(crate) const OBJECT_PREFIX: &str = "tables/";

/// The object name of table `n`: `tables/000012.sst`.
pub(crate) fn object_name(n: FileNumber) -> String {
    format!("{OBJECT_PREFIX}{}", manifest::table_name(n))
}

/// Where the tables of one store live.
///
/// # Concurrency
///
/// Immutable after construction; any thread may call anything.
#[derive(Debug)]
pub(crate) struct TableFiles {
    fs: Arc<dyn vfs::Fs>,
    dir: PathBuf,
    cache: Arc<BlockCache>,
    remote: Option<Arc<RemoteIo>>,
}

impl TableFiles {
    /// Tables of the store in `dir`, where `opts` says they live. A
    /// read-only `access` never writes to the store or the disk cache.
    ///
    /// # Errors
    ///
    /// The disk cache's directory cannot be created or listed.
    pub(crate) fn new(
        fs: &Arc<dyn vfs::Fs>,
        dir: &Path,
        opts: &Options,
        cache: &Arc<BlockCache>,
        access: Access,
    ) -> Result<TableFiles> {
        let remote = match &opts.table_store {
            None => None,
            Some(store) => Some(Arc::new(RemoteIo::new(
                Arc::clone(store),
                fs,
                opts,
                access == Access::ReadWrite,
            )?)),
        };
        Ok(TableFiles {
            fs: Arc::clone(fs),
            dir: dir.to_path_buf(),
            cache: Arc::clone(cache),
            remote,
        })
    }

    /// The store's request counters and disk cache, when tables are remote.
    pub(crate) fn remote(&self) -> Option<&Arc<RemoteIo>> {
        self.remote.as_ref()
    }

    /// Whether tables live in an object store.
    pub(crate) fn is_remote(&self) -> bool {
        self.remote.is_some()
    }

    /// Where table `n` is, for errors and people: its file, or
    /// `<store location>/tables/NNNNNN.sst`.
    pub(crate) fn path(&self, n: FileNumber) -> PathBuf {
        match &self.remote {
            None => self.dir.join(manifest::table_name(n)),
            Some(r) => r.path_of(&object_name(n)),
        }
    }

    /// The numbers of the tables in the store, range-checked, or `None`
    /// for local tables (the directory listing holds those).
    ///
    /// # Errors
    ///
    /// The store cannot be listed; [`Error::Corruption`] for a table name
    /// whose number is out of range.
    pub(crate) fn list_remote(&self) -> Result<Option<Vec<FileNumber>>> {
        let Some(r) = &self.remote else {
            return Ok(None);
        };
        let mut numbers = Vec::new();
        for meta in r.list(OBJECT_PREFIX)? {
            let Some(rest) = meta.name.strip_prefix(OBJECT_PREFIX) else {
                continue;
            };
            if let manifest::FileKind::Table(n) = manifest::parse_name(rest) {
                if n.0 > FILE_NUMBER_MAX {
                    return Err(Error::corruption(
                        r.path_of(&meta.name),
                        0,
                        "file number in name out of range",
                        FILE_NUMBER_MAX,
                        n.0,
                    ));
                }
                numbers.push(n);
            }
        }
        Ok(Some(numbers))
    }

    /// Opens table `n`, or `None` if it does not exist. `size_bytes`, the
    /// size the manifest recorded, saves a remote table one request (and
    /// is checked against the object).
    ///
    /// # Errors
    ///
    /// [`Error::Corruption`] for a table that fails its checks; a failed
    /// read.
    pub(crate) fn open_existing(
        &self,
        n: FileNumber,
        size_bytes: Option<u64>,
    ) -> Result<Option<Table>> {
        match &self.remote {
            None => {
                let path = self.dir.join(manifest::table_name(n));
                if !self.fs.exists(&path)? {
                    return Ok(None);
                }
                Table::open(&*self.fs, &path, n, Arc::clone(&self.cache)).map(Some)
            }
            Some(r) => Table::open_remote(r, &object_name(n), n, size_bytes, &self.cache),
        }
    }

    /// Opens table `n`, which must exist.
    ///
    /// # Errors
    ///
    /// As [`TableFiles::open_existing`], and [`Error::Corruption`] naming
    /// the table if it is missing.
    pub(crate) fn open(&self, n: FileNumber, size_bytes: Option<u64>) -> Result<Table> {
        self.open_existing(n, size_bytes)?.ok_or_else(|| {
            Error::corruption(
                self.path(n),
                0,
                "file the manifest needs is missing (expected: its number)",
                n.0,
                0,
            )
        })
    }

    /// Starts writing table `n`: a local file, or a buffer in memory that
    /// [`TableFiles::finish`] uploads.
    ///
    /// # Errors
    ///
    /// The file cannot be created.
    pub(crate) fn create(&self, n: FileNumber, opts: TableOptions) -> Result<TableWriter> {
        match &self.remote {
            None => TableWriter::create(&*self.fs, &self.dir.join(manifest::table_name(n)), opts),
            Some(_) => Ok(TableWriter::in_memory(opts)),
        }
    }

    /// Finishes table `n` and opens it: a local file is synced; a remote
    /// table is uploaded whole, and is in the store when this returns (it
    /// is opened from the bytes in memory: no request).
    ///
    /// # Errors
    ///
    /// A failed write, sync or upload (the object is then absent or whole,
    /// and no manifest names it).
    pub(crate) fn finish(&self, n: FileNumber, w: TableWriter) -> Result<Table> {
        let (size_bytes, bytes) = w.finish()?;
        match (&self.remote, bytes) {
            (Some(r), Some(bytes)) => {
                debug_assert_eq!(bytes.len() as u64, size_bytes);
                r.put_table(&object_name(n), bytes.clone())?;
                Table::from_uploaded(r, &object_name(n), n, bytes, &self.cache)
            }
            _ => self.open(n, Some(size_bytes)),
        }
    }

    /// Drops table `n`, begun and found empty: a local file is removed; a
    /// remote table was never uploaded.
    ///
    /// # Errors
    ///
    /// The unlink failed.
    pub(crate) fn discard(&self, n: FileNumber) -> Result<()> {
        if self.remote.is_none() {
            self.fs
                .remove_file(&self.dir.join(manifest::table_name(n)))?;
        }
        Ok(())
    }

    /// Deletes table `n` (a table already gone counts as deleted), and
    /// drops its blocks from the caches.
    ///
    /// # Errors
    ///
    /// The unlink or the store's delete failed.
    pub(crate) fn remove(&self, n: FileNumber) -> Result<()> {
        self.cache.evict_table(n.0);
        match &self.remote {
            None => match self.fs.remove_file(&self.dir.join(manifest::table_name(n))) {
                Err(e) if e.is_not_found() => Ok(()),
                r => r.map_err(Error::from),
            },
            Some(r) => {
                r.evict_table(n);
                r.delete(&object_name(n))
            }
        }
    }
}
