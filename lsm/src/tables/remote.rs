//! Requests to the object store that holds the tables: every one counted
//! (what [`Stats`](crate::Stats) reports), its errors turned into the
//! engine's, and block reads served from the disk cache first.

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use objstore::{ObjectMeta, PutMode, Store};

use crate::manifest::FileNumber;
use crate::tables::disk_cache::DiskCache;
use crate::{Error, Options, Result};

/// What [`RemoteIo`] counts, since open.
#[derive(Debug, Default)]
pub(crate) struct RemoteCounters {
    /// Ranged and whole reads sent to the store.
    pub(crate) reads: AtomicU64,
    /// Bytes those reads returned.
    pub(crate) read_bytes: AtomicU64,
    /// Uploads (one per table).
    pub(crate) puts: AtomicU64,
    /// Bytes uploaded.
    pub(crate) put_bytes: AtomicU64,
    /// Deletes and listings.
    pub(crate) other_requests: AtomicU64,
    /// Block lookups of remote tables the memory block cache served.
    pub(crate) memory_hits: AtomicU64,
    /// Block lookups of remote tables it missed.
    pub(crate) memory_misses: AtomicU64,
    /// Memory misses the disk cache served.
    pub(crate) disk_hits: AtomicU64,
    /// Memory misses the disk cache missed too (or had damaged).
    pub(crate) disk_misses: AtomicU64,
}

/// The store of the tables, with its counters and disk cache.
///
/// # Concurrency
///
/// Any thread may call anything; the counters are atomics and the disk
/// cache locks its index briefly.
#[derive(Debug)]
pub(crate) struct RemoteIo {
    store: Arc<dyn Store>,
    location: String,
    /// Whether this handle may write (put, delete): never for a read-only
    /// open.
    writable: bool,
    /// With [`Options::publish_manifest`]: tables are created with
    /// `If-None-Match: *`, so a writer another one fenced out can never
    /// replace a table of the new writer (which numbers its tables from
    /// its own counter).
    create_tables: bool,
    /// The writer's epoch once it claimed the published manifest (0
    /// before, or without publishing), for [`Error::Fenced`].
    epoch: AtomicU64,
    /// The number of the next published manifest this writer will
    /// create (0 before it claimed the store, or without publishing): a
    /// fence check looks for it (see `published::check_fence`).
    fence_next: AtomicU64,
    pub(crate) counters: RemoteCounters,
    disk: Option<DiskCache>,
}

impl RemoteIo {
    /// The store of `opts`, with its disk cache if `opts` asks for one.
    ///
    /// # Errors
    ///
    /// The disk cache's directory cannot be created or listed.
    pub(crate) fn new(
        store: Arc<dyn Store>,
        fs: &Arc<dyn vfs::Fs>,
        opts: &Options,
        writable: bool,
    ) -> Result<RemoteIo> {
        let disk = match &opts.table_cache_dir {
            None => None,
            Some(dir) => Some(DiskCache::open(
                Arc::clone(fs),
                dir,
                opts.table_cache_dir_bytes_max,
                writable,
            )?),
        };
        Ok(RemoteIo {
            location: store.location(),
            store,
            writable,
            create_tables: opts.publish_manifest,
            epoch: AtomicU64::new(0),
            fence_next: AtomicU64::new(0),
            counters: RemoteCounters::default(),
            disk,
        })
    }

    /// Where the store is.
    pub(crate) fn location(&self) -> &str {
        &self.location
    }

    /// Where object `name` is, as a path for errors: `<location>/<name>`.
    pub(crate) fn path_of(&self, name: &str) -> PathBuf {
        PathBuf::from(format!("{}/{name}", self.location.trim_end_matches('/')))
    }

    fn error(&self, source: objstore::Error) -> Error {
        Error::TableStore {
            location: self.location.clone(),
            source,
        }
    }

    /// Bytes `range` of object `name`. `None` if there is no such object.
    ///
    /// # Errors
    ///
    /// [`Error::Corruption`] naming the object if it ends before `range`
    /// (shorter than the manifest recorded); [`Error::TableStore`] for a
    /// failed request.
    pub(crate) fn get_range(&self, name: &str, range: Range<u64>) -> Result<Option<Bytes>> {
        let c = &self.counters;
        c.reads.fetch_add(1, Ordering::Relaxed);
        match self.store.get_range(name, range.clone()) {
            Ok(b) => {
                c.read_bytes.fetch_add(b.len() as u64, Ordering::Relaxed);
                if b.len() as u64 != range.end - range.start {
                    return Err(Error::corruption(
                        self.path_of(name),
                        range.start,
                        "store returned a short range (expected: bytes asked for)",
                        range.end - range.start,
                        b.len() as u64,
                    ));
                }
                Ok(Some(b))
            }
            Err(objstore::Error::NotFound { .. }) => Ok(None),
            Err(objstore::Error::OutOfRange { size, range, .. }) => Err(Error::corruption(
                self.path_of(name),
                size,
                "table object shorter than recorded (expected: end of the bytes read)",
                range.end,
                size,
            )),
            Err(e) => Err(self.error(e)),
        }
    }

    /// Bytes `range` of object `name`, which must exist.
    ///
    /// # Errors
    ///
    /// As [`RemoteIo::get_range`], and [`Error::Corruption`] naming the
    /// object if it is missing.
    pub(crate) fn read(&self, name: &str, range: Range<u64>) -> Result<Bytes> {
        self.get_range(name, range)?
            .ok_or_else(|| missing(self.path_of(name)))
    }

    /// The whole object `name` (for `verify`).
    ///
    /// # Errors
    ///
    /// [`Error::Corruption`] naming the object if it is missing;
    /// [`Error::TableStore`] for a failed request.
    pub(crate) fn get(&self, name: &str) -> Result<Bytes> {
        let c = &self.counters;
        c.reads.fetch_add(1, Ordering::Relaxed);
        match self.store.get(name) {
            Ok((b, _)) => {
                c.read_bytes.fetch_add(b.len() as u64, Ordering::Relaxed);
                Ok(b)
            }
            Err(objstore::Error::NotFound { .. }) => Err(missing(self.path_of(name))),
            Err(e) => Err(self.error(e)),
        }
    }

    /// The object's size, or `None` if there is no such object.
    ///
    /// # Errors
    ///
    /// [`Error::TableStore`] for a failed request.
    pub(crate) fn size(&self, name: &str) -> Result<Option<u64>> {
        self.counters.other_requests.fetch_add(1, Ordering::Relaxed);
        match self.store.head(name) {
            Ok(m) => Ok(Some(m.size)),
            Err(objstore::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error(e)),
        }
    }

    /// Uploads `data` as `name`, whole: visible and durable when this
    /// returns. The name is fresh (file numbers are never reused), so the
    /// put overwrites nothing and may be retried.
    ///
    /// # Errors
    ///
    /// [`Error::ReadOnly`] on a read-only handle; [`Error::TableStore`].
    pub(crate) fn put(&self, name: &str, data: Bytes) -> Result<()> {
        if !self.writable {
            return Err(Error::ReadOnly);
        }
        let c = &self.counters;
        c.puts.fetch_add(1, Ordering::Relaxed);
        c.put_bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
        self.store
            .put(name, data, PutMode::Overwrite)
            .map(|_| ())
            .map_err(|e| self.error(e))
    }

    /// Uploads table object `name`: [`RemoteIo::put`], or with
    /// `publish_manifest` [`RemoteIo::create`], where a name already taken
    /// means another writer claimed the store: [`Error::Fenced`].
    ///
    /// # Errors
    ///
    /// [`Error::Fenced`]; as [`RemoteIo::put`].
    pub(crate) fn put_table(&self, name: &str, data: Bytes) -> Result<()> {
        if !self.create_tables {
            return self.put(name, data);
        }
        match self.create(name, data) {
            Err(Error::TableStore {
                location,
                source: objstore::Error::Precondition { reason, .. },
            }) => Err(Error::Fenced {
                location,
                epoch: self.epoch.load(Ordering::Relaxed),
                reason: format!("table {name} was created by another writer ({reason})"),
            }),
            r => r,
        }
    }

    /// Records the epoch this writer claimed.
    pub(crate) fn set_epoch(&self, epoch: u64) {
        self.epoch.store(epoch, Ordering::Relaxed);
    }

    /// This writer's epoch (0 before it claimed the store).
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Relaxed)
    }

    /// Records the number of the next manifest this writer will publish.
    pub(crate) fn set_fence_next(&self, next: u64) {
        self.fence_next.store(next, Ordering::Release);
    }

    /// The number of the next manifest this writer will publish (0: it
    /// publishes none).
    pub(crate) fn fence_next(&self) -> u64 {
        self.fence_next.load(Ordering::Acquire)
    }

    /// Creates `name` only if no object has the name (`If-None-Match: *`).
    ///
    /// # Errors
    ///
    /// [`Error::ReadOnly`] on a read-only handle; [`Error::TableStore`]
    /// with [`objstore::Error::Precondition`] if the name is taken.
    pub(crate) fn create(&self, name: &str, data: Bytes) -> Result<()> {
        if !self.writable {
            return Err(Error::ReadOnly);
        }
        let c = &self.counters;
        c.puts.fetch_add(1, Ordering::Relaxed);
        c.put_bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
        self.store
            .put(name, data, PutMode::Create)
            .map(|_| ())
            .map_err(|e| self.error(e))
    }

    /// Deletes `name` (a missing object counts as deleted).
    ///
    /// # Errors
    ///
    /// [`Error::ReadOnly`] on a read-only handle; [`Error::TableStore`].
    pub(crate) fn delete(&self, name: &str) -> Result<()> {
        if !self.writable {
            return Err(Error::ReadOnly);
        }
        self.counters.other_requests.fetch_add(1, Ordering::Relaxed);
        self.store.delete(name).map_err(|e| self.error(e))
    }

    /// Every object whose name starts with `prefix`.
    ///
    /// # Errors
    ///
    /// [`Error::TableStore`].
    pub(crate) fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        self.counters.other_requests.fetch_add(1, Ordering::Relaxed);
        self.store.list(prefix).map_err(|e| self.error(e))
    }

    /// The stored bytes (contents and trailer) of the block of table
    /// `table` (object `name`) at `range`: from the disk cache, else from
    /// the store (and then into the disk cache, if `fill_disk`).
    ///
    /// `check` decodes the bytes: a disk cache entry it refuses is
    /// dropped and the block read from the store instead, so a damaged
    /// cache costs a request, never a wrong answer. Returns what `check`
    /// returned for the bytes it accepted.
    ///
    /// # Errors
    ///
    /// As [`RemoteIo::read`], or `check`'s error for the store's bytes.
    pub(crate) fn read_block<T>(
        &self,
        table: FileNumber,
        name: &str,
        range: Range<u64>,
        fill_disk: bool,
        check: impl Fn(Bytes) -> Result<T>,
    ) -> Result<T> {
        if let Some(d) = &self.disk {
            if let Some(b) = d.get(table, range.clone()) {
                match check(b) {
                    Ok(t) => {
                        self.counters.disk_hits.fetch_add(1, Ordering::Relaxed);
                        return Ok(t);
                    }
                    Err(_) => d.discard(table, range.start),
                }
            }
            self.counters.disk_misses.fetch_add(1, Ordering::Relaxed);
        }
        let b = self.read(name, range.clone())?;
        let t = check(b.clone())?;
        if fill_disk && let Some(d) = &self.disk {
            d.insert(table, range.start, &b);
        }
        Ok(t)
    }

    /// Drops table `table`'s blocks from the disk cache.
    pub(crate) fn evict_table(&self, table: FileNumber) {
        if let Some(d) = &self.disk {
            d.evict_table(table);
        }
    }

    /// Counts a block lookup of a remote table in the memory cache.
    pub(crate) fn note_memory(&self, hit: bool) {
        let c = if hit {
            &self.counters.memory_hits
        } else {
            &self.counters.memory_misses
        };
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// The error for a table object the manifest names that is not in the
/// store.
pub(crate) fn missing(path: PathBuf) -> Error {
    Error::corruption(
        path,
        0,
        "table object the manifest names is missing from the store",
        1,
        0,
    )
}
