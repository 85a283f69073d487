//! Writing values into new blobs: at flush, inline values past the
//! threshold; at compaction, the live values of blobs being collected.

use std::collections::HashSet;

use bytes::Bytes;
use erasure::{BlobId, BlobWriter};
use xxhash_rust::xxh3::xxh3_64;

use crate::blob::{BlobMeta, BlobRef, Blobs, resolve};
use crate::key::{InternalKey, ValueKind};
use crate::manifest::FileNumber;
use crate::{Error, Result};

/// Largest blob a [`Separator`] writes before it starts another, so one
/// big compaction does not make one blob that garbage collection must
/// later rewrite whole.
const BLOB_FILE_BYTES_MAX: u64 = 64 << 20;

/// Rewrites entries on their way into a table: an inline value of at least
/// `threshold` bytes (flush) or a reference into a blob being collected
/// (compaction) has its value appended to a new blob, and the entry becomes
/// a reference to it. The new blobs are durable once [`Separator::finish`]
/// returns, before any manifest edit names the tables that point into them.
pub(crate) struct Separator<'a> {
    store: &'a Blobs,
    threshold: Option<usize>,
    collect: &'a HashSet<BlobId>,
    /// Hands out blob ids: the engine's file numbers, which the manifest
    /// records, never the highest id on disk plus one (a lost newest blob
    /// would make its id look free while tables still point into it).
    new_id: &'a dyn Fn() -> Result<FileNumber>,
    writer: Option<BlobWriter<'a>>,
    values: u64,
    done: Vec<BlobMeta>,
    /// Value bytes moved out of the tree (flush).
    pub(crate) separated_bytes: u64,
    /// Value bytes copied out of collected blobs (compaction).
    pub(crate) relocated_bytes: u64,
}

impl<'a> Separator<'a> {
    pub(crate) fn new(
        store: &'a Blobs,
        threshold: Option<usize>,
        collect: &'a HashSet<BlobId>,
        new_id: &'a dyn Fn() -> Result<FileNumber>,
    ) -> Separator<'a> {
        Separator {
            store,
            threshold,
            collect,
            new_id,
            writer: None,
            values: 0,
            done: Vec::new(),
            separated_bytes: 0,
            relocated_bytes: 0,
        }
    }

    /// [`Separator::apply`] with the blob threshold `threshold`: for a
    /// value a compaction filter changed.
    pub(crate) fn apply_with_threshold(
        &mut self,
        key: &mut InternalKey,
        value: &mut Bytes,
        threshold: Option<usize>,
    ) -> Result<()> {
        let saved = std::mem::replace(&mut self.threshold, threshold);
        let r = self.apply(key, value);
        self.threshold = saved;
        r
    }

    /// Rewrites one entry in place if it must move. A timed entry (TTL)
    /// keeps its write time in front of the reference.
    pub(crate) fn apply(&mut self, key: &mut InternalKey, value: &mut Bytes) -> Result<()> {
        let timed = crate::ttl::is_timed(key.kind);
        let (time, body) = if timed {
            let (t, body) = crate::ttl::split(&key.user, value)?;
            (t, body)
        } else {
            (0, value.clone())
        };
        let moved = match crate::ttl::untimed(key.kind) {
            ValueKind::Inline if self.threshold.is_some_and(|t| body.len() >= t) => {
                self.separated_bytes += body.len() as u64;
                body
            }
            ValueKind::BlobRef => match BlobRef::decode(&body) {
                Some(r) if self.collect.contains(&r.blob) => {
                    let v = resolve(Some(self.store), &key.user, &body)?;
                    self.relocated_bytes += v.len() as u64;
                    v
                }
                _ => return Ok(()),
            },
            _ => return Ok(()),
        };
        if self
            .writer
            .as_ref()
            .is_some_and(|w| w.len() >= BLOB_FILE_BYTES_MAX)
        {
            self.finish_one()?;
        }
        let mut w = match self.writer.take() {
            Some(w) => w,
            None => self
                .store
                .writer_with_id(BlobId((self.new_id)()?.0))
                .map_err(Error::BlobStore)?,
        };
        let r = BlobRef {
            blob: w.id(),
            offset: w.len(),
            len: moved.len() as u64,
            checksum: xxh3_64(&moved),
        };
        w.write_all_bytes(&moved).map_err(Error::BlobStore)?;
        self.writer = Some(w);
        self.values += 1;
        if timed {
            key.kind = ValueKind::TimedBlobRef;
            *value = crate::ttl::join(time, &r.encode());
        } else {
            key.kind = ValueKind::BlobRef;
            *value = r.encode();
        }
        Ok(())
    }

    fn finish_one(&mut self) -> Result<()> {
        if let Some(w) = self.writer.take() {
            let bytes = w.len();
            let id = w.finish().map_err(Error::BlobStore)?;
            self.done.push(BlobMeta {
                blob: id,
                values: std::mem::take(&mut self.values),
                bytes,
            });
        }
        Ok(())
    }

    /// Finishes the blob being written; returns every blob written.
    pub(crate) fn finish(mut self) -> Result<Vec<BlobMeta>> {
        self.finish_one()?;
        Ok(std::mem::take(&mut self.done))
    }
}

impl std::fmt::Debug for Separator<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Separator")
            .field("threshold", &self.threshold)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}
