//! Where blob files live: [`Blobs`], the erasure-coded blob store over
//! local directories ([`erasure::BlobStore`], `Options::blob_dirs`) or over
//! object stores ([`erasure::ObjectBlobStore`], `Options::blob_stores`),
//! one type for the rest of the engine. Both write shards in the same
//! format with the same code, and read, check and repair them the same way.

use std::collections::BTreeMap;
use std::path::PathBuf;

use bytes::Bytes;
use erasure::{BlobId, BlobStat, BlobWriter, ObjectBlobStore, ScrubReport, ShardsFound};

/// The blob store of key-value separation.
#[derive(Debug)]
pub(crate) enum Blobs {
    /// Shard files in `k + m` directories of the database's file system.
    Dirs(erasure::BlobStore),
    /// Shard objects in `k + m` object stores.
    Objects {
        store: ObjectBlobStore,
        /// Every id with a shard object in a reachable store, as listed at
        /// open: what recovery compares the manifest with.
        found: BTreeMap<BlobId, ShardsFound>,
    },
}

impl Blobs {
    /// The blob store over object stores, listed once.
    pub(crate) fn objects(store: ObjectBlobStore) -> erasure::Result<Blobs> {
        let found = store.shard_objects()?;
        Ok(Blobs::Objects { store, found })
    }

    /// The blob store over object stores, not listed: for a handle that
    /// only reads values through references (a [`Reader`](crate::Reader)),
    /// which never asks [`Blobs::list`] or [`Blobs::contains`] (both then
    /// find nothing).
    pub(crate) fn objects_unlisted(store: ObjectBlobStore) -> Blobs {
        Blobs::Objects {
            store,
            found: BTreeMap::new(),
        }
    }

    /// The whole blob, checked.
    pub(crate) fn get(&self, id: BlobId) -> erasure::Result<Bytes> {
        match self {
            Blobs::Dirs(s) => s.get(id),
            Blobs::Objects { store, .. } => store.get(id),
        }
    }

    /// `len` bytes of the blob from `offset`.
    pub(crate) fn get_range(&self, id: BlobId, offset: u64, len: u64) -> erasure::Result<Bytes> {
        match self {
            Blobs::Dirs(s) => s.get_range(id, offset, len),
            Blobs::Objects { store, .. } => store.get_range(id, offset, len),
        }
    }

    /// Which shards of the blob are healthy.
    pub(crate) fn stat(&self, id: BlobId) -> erasure::Result<BlobStat> {
        match self {
            Blobs::Dirs(s) => s.stat(id),
            Blobs::Objects { store, .. } => store.stat(id),
        }
    }

    /// A writer for a new blob with the engine's id: durable (all shards
    /// synced or uploaded) once its `finish` returns.
    pub(crate) fn writer_with_id(&self, id: BlobId) -> erasure::Result<BlobWriter<'_>> {
        match self {
            Blobs::Dirs(s) => s.writer_with_id(id),
            Blobs::Objects { store, .. } => Ok(store.writer_with_id(id)),
        }
    }

    /// Every blob in the store (for object stores: as listed at open, any
    /// id with a shard object, leftovers of cut-short uploads included, as
    /// a directory store lists a blob with any shard file).
    pub(crate) fn list(&self) -> Vec<BlobId> {
        match self {
            Blobs::Dirs(s) => s.list(),
            Blobs::Objects { found, .. } => found.keys().copied().collect(),
        }
    }

    /// Whether [`Blobs::list`] holds `id`.
    pub(crate) fn contains(&self, id: BlobId) -> bool {
        match self {
            Blobs::Dirs(s) => s.contains(id),
            Blobs::Objects { found, .. } => found.contains_key(&id),
        }
    }

    /// Deletes every shard of the blob.
    pub(crate) fn delete(&self, id: BlobId) -> erasure::Result<()> {
        match self {
            Blobs::Dirs(s) => s.delete(id),
            Blobs::Objects { store, .. } => store.delete(id),
        }
    }

    /// Checks every blob and rewrites missing or rotten shards.
    pub(crate) fn scrub(&self) -> erasure::Result<ScrubReport> {
        match self {
            Blobs::Dirs(s) => s.scrub(),
            Blobs::Objects { store, .. } => store.scrub(),
        }
    }

    /// The code's layout.
    pub(crate) fn options(&self) -> erasure::Options {
        match self {
            Blobs::Dirs(s) => s.options(),
            Blobs::Objects { store, .. } => store.options(),
        }
    }

    /// Where shard `i` lives, for every `i`: a directory, or a store's
    /// location (`memory`, `s3://bucket/prefix`).
    pub(crate) fn locations(&self) -> Vec<PathBuf> {
        match self {
            Blobs::Dirs(s) => s.dirs().to_vec(),
            Blobs::Objects { store, .. } => {
                store.locations().into_iter().map(PathBuf::from).collect()
            }
        }
    }
}
