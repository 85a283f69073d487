//! [`Reader`]: a read-only view, on any machine, of a database whose writer
//! publishes its manifest on the table store
//! ([`Options::publish_manifest`]).
//!
//! The reader needs nothing local: it reads the newest published manifest
//! (`manifest/NNNNNNNNNNNNNNNNNNNN` under the prefix), opens the table
//! objects it names, and serves gets and scans from them. It sees what the
//! writer has flushed, as of the manifest it last read; [`Reader::refresh`]
//! moves it to the newest one. Writes still in the writer's memtable and
//! local log are not visible (the log stays on the writer's disk).
//!
//! Values the writer separated into blob files (`Options::blob_stores`)
//! are read through the blob stores given in the reader's options
//! ([`Options::blob_stores`] and [`Options::blob_code`], the writer's
//! `k + m` stores or other handles on them), checked against the
//! reference's checksum as the writer reads them. A reader given none
//! reads inline values only: a separated one is
//! [`Error::BlobUnavailable`] saying to set `blob_stores`.
//!
//! The writer keeps every table the five newest published manifests name,
//! so a reader reads whole until the writer has published four more
//! times since its view; past that it may find a table gone:
//! [`Reader::get`] refreshes and tries once more, and a scan that fails so
//! is for the caller to retry after [`Reader::refresh`].
//!
//! # Concurrency
//!
//! A `Reader` is `Send + Sync`; `refresh` swaps the view under a lock held
//! only for the swap, and reads in progress finish on the view they began
//! on.

use std::sync::Arc;

use bytes::Bytes;
use parking_lot::RwLock;

use crate::blob::Blobs;
use crate::tables::published::{self, Published};
use crate::tables::{RemoteIo, scoped_store};
use crate::{Db, DbIter, Error, Options, Result};

/// A read-only view of a database published on an object store.
#[derive(Debug)]
pub struct Reader {
    store: Arc<dyn objstore::Store>,
    opts: Options,
    io: RemoteIo,
    /// The blob store over `opts.blob_stores`, shared by every view.
    blobs: Option<Arc<Blobs>>,
    view: RwLock<View>,
}

#[derive(Debug)]
struct View {
    /// The published manifest's number.
    number: u64,
    /// The epoch of the writer that published it.
    epoch: u64,
    db: Db,
}

impl Reader {
    /// Opens the database published under `prefix` of `store` (`""`: the
    /// store's root), with default options.
    ///
    /// # Errors
    ///
    /// See [`Reader::open_with`].
    pub fn open(store: Arc<dyn objstore::Store>, prefix: &str) -> Result<Reader> {
        Reader::open_with(store, prefix, Options::default())
    }

    /// Opens the database published under `prefix` of `store`, with `opts`
    /// for its caches (`block_cache_bytes`, `table_cache_dir`) and, if the
    /// writer separates values into blob files on object stores, for
    /// those stores (`blob_stores` with the writer's `blob_code`); the
    /// options that place tables are the reader's own.
    ///
    /// # Errors
    ///
    /// [`Error::Corruption`] if no manifest is published under `prefix`,
    /// or naming a published manifest or table object that fails its
    /// checks or is missing; [`Error::TableStore`] for a failed request;
    /// [`Error::InvalidOption`] if `blob_stores` does not match
    /// `blob_code`; [`Error::BlobStore`] if the blob stores cannot be
    /// opened.
    pub fn open_with(
        store: Arc<dyn objstore::Store>,
        prefix: &str,
        opts: Options,
    ) -> Result<Reader> {
        let store = scoped_store(store, prefix);
        let opts = Options {
            table_store: Some(Arc::clone(&store)),
            publish_manifest: false,
            ..opts
        };
        let scratch: Arc<dyn vfs::Fs> = Arc::new(vfs::MemFs::new());
        let io = RemoteIo::new(Arc::clone(&store), &scratch, &opts, false)?;
        let blobs = Reader::open_blobs(&opts)?;
        let view = Reader::load(&store, &opts, &io, blobs.as_ref())?;
        Ok(Reader {
            store,
            opts,
            io,
            blobs,
            view: RwLock::new(view),
        })
    }

    /// The blob store over `opts.blob_stores`, read-only and not listed
    /// (values are found through their references); none without stores.
    fn open_blobs(opts: &Options) -> Result<Option<Arc<Blobs>>> {
        if opts.blob_stores.is_empty() {
            return Ok(None);
        }
        opts.validate()?;
        let eopts = erasure::Options {
            data_shards: opts.blob_code.data_shards,
            parity_shards: opts.blob_code.parity_shards,
            ..erasure::Options::default()
        };
        let store = erasure::ObjectBlobStore::open_read_only(opts.blob_stores.clone(), eopts)
            .map_err(Error::BlobStore)?;
        Ok(Some(Arc::new(Blobs::objects_unlisted(store))))
    }

    fn load(
        store: &Arc<dyn objstore::Store>,
        opts: &Options,
        io: &RemoteIo,
        blobs: Option<&Arc<Blobs>>,
    ) -> Result<View> {
        let Some((number, p)) = published::latest(io)? else {
            return Err(Error::corruption(
                io.path_of(published::PREFIX),
                0,
                "no published manifest (expected: at least one)",
                1,
                0,
            ));
        };
        Reader::view_of(store, opts, io, number, &p, blobs)
    }

    fn view_of(
        store: &Arc<dyn objstore::Store>,
        opts: &Options,
        io: &RemoteIo,
        number: u64,
        p: &Published,
        blobs: Option<&Arc<Blobs>>,
    ) -> Result<View> {
        let path = io.path_of(&published::name(number));
        let db = Db::open_published(Arc::clone(store), opts, p, &path, blobs.cloned())?;
        Ok(View {
            number,
            epoch: p.epoch,
            db,
        })
    }

    /// Moves to the newest published manifest, if it is newer than the
    /// one this reader has; returns whether it moved.
    ///
    /// # Errors
    ///
    /// As [`Reader::open_with`]; the reader keeps its view.
    pub fn refresh(&self) -> Result<bool> {
        let Some((number, p)) = published::latest(&self.io)? else {
            return Ok(false);
        };
        if number <= self.view.read().number {
            return Ok(false);
        }
        let view = Reader::view_of(
            &self.store,
            &self.opts,
            &self.io,
            number,
            &p,
            self.blobs.as_ref(),
        )?;
        let mut v = self.view.write();
        if view.number > v.number {
            *v = view;
        }
        Ok(true)
    }

    /// The value of `key` as of the manifest this reader has; if the read
    /// fails (a table the writer has since deleted), once more after a
    /// [`Reader::refresh`] that moved.
    ///
    /// # Errors
    ///
    /// As [`Db::get`].
    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        let db = self.db();
        match db.get(key) {
            Ok(v) => Ok(v),
            Err(e) => match self.refresh() {
                Ok(true) => self.db().get(key),
                _ => Err(e),
            },
        }
    }

    /// Pairs with keys in `range`, ascending (`.rev()`: descending), as of
    /// the manifest this reader has.
    pub fn range<K: AsRef<[u8]>, R: std::ops::RangeBounds<K>>(&self, range: R) -> DbIter {
        self.db().range(range)
    }

    /// Every pair, ascending (`.rev()`: descending), as of the manifest
    /// this reader has. The same as `range(..)`.
    pub fn iter(&self) -> DbIter {
        self.db().iter()
    }

    /// The read-only [`Db`] of the current view (every read method of
    /// `Db` works on it; writes return [`Error::ReadOnly`]).
    pub fn db(&self) -> Db {
        self.view.read().db.clone()
    }

    /// The number of the published manifest this reader has.
    pub fn manifest_number(&self) -> u64 {
        self.view.read().number
    }

    /// The epoch of the writer that published it.
    pub fn writer_epoch(&self) -> u64 {
        self.view.read().epoch
    }
}
