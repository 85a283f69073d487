//! `put` and [`BlobWriter`]: a blob streamed stripe by stripe into `k + m`
//! shards, then made visible: pending shard files renamed into place
//! ([`BlobStore`]), or shard objects buffered in memory and each uploaded
//! whole ([`ObjectBlobStore`](crate::ObjectBlobStore)). The coding (stripe
//! buffering, Reed-Solomon, block CRCs, the header) is the same code for both;
//! only where a stripe's regions go differs ([`Sink`]).

use std::io::{Read, Write};

use vfs::{File, OpenMode};
use xxhash_rust::xxh3::Xxh3;

use crate::format::{CRC_BLOCK_LOG2, Geometry, HEADER_LEN, ShardHeader, block_crcs, write_region};
use crate::objects::ObjectBlobStore;
use crate::store::FileKind;
use crate::{BlobId, BlobStore, Codec, Error, Result, ShardBuffers};

impl BlobStore {
    /// Stores `blob` and returns its id. Durable when it returns `Ok`.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] from the disk; nothing is then visible.
    pub fn put(&self, blob: &[u8]) -> Result<BlobId> {
        let mut w = self.writer()?;
        w.write_all_bytes(blob)?;
        w.finish()
    }

    /// Stores what `reader` yields until its end, one stripe in memory at a
    /// time, and returns its id. Durable when it returns `Ok`.
    ///
    /// # Errors
    ///
    /// [`Error::Stream`] if the reader fails; [`Error::Io`] from the disk.
    /// Nothing is visible after an error.
    pub fn put_reader(&self, mut reader: impl Read) -> Result<BlobId> {
        let mut w = self.writer()?;
        let mut buf = vec![0u8; 64 << 10];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => w.write_all_bytes(&buf[..n])?,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::Stream(e)),
            }
        }
        w.finish()
    }

    /// Starts a blob written piece by piece. Its id is known from the
    /// start ([`BlobWriter::id`]), so a caller can record where each piece
    /// lands before the blob is finished; the blob becomes visible, durably,
    /// only at [`BlobWriter::finish`]. Dropping the writer unfinished
    /// removes what it wrote (a crash leaves pending files that the next
    /// [`BlobStore::open`] removes).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if a pending shard file cannot be created.
    pub fn writer(&self) -> Result<BlobWriter<'_>> {
        self.writer_at(self.allocate_id())
    }

    /// As [`BlobStore::writer`], with an id the caller chose: an engine
    /// that records the ids it hands out (in its own manifest) takes them
    /// from there, so a lost blob file never makes its id look free.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidLayout`] if a blob `id` is visible already;
    /// [`Error::Io`] if a pending shard file cannot be created.
    pub fn writer_with_id(&self, id: BlobId) -> Result<BlobWriter<'_>> {
        if self.contains(id) {
            return Err(Error::InvalidLayout {
                reason: format!("blob {id} exists already"),
            });
        }
        self.reserve_id(id);
        self.writer_at(id)
    }

    fn writer_at(&self, id: BlobId) -> Result<BlobWriter<'_>> {
        let mut files = Vec::with_capacity(self.dirs.len());
        for dir in &self.dirs {
            files.push(
                self.fs
                    .open(&self.path(dir, id, FileKind::Pending), OpenMode::Truncate)?,
            );
        }
        Ok(BlobWriter::new(
            Sink::Files { store: self, files },
            &self.codec,
            id,
            self.options.data_shards,
            self.options.stripe_size_bytes,
        ))
    }

    /// The header of shard `index` of a blob.
    pub(crate) fn header(
        &self,
        index: usize,
        id: BlobId,
        blob_len: u64,
        checksum: u64,
    ) -> ShardHeader {
        let m = self.manifest_for(index);
        ShardHeader {
            shard_index: m.shard_index,
            data_shards: m.data_shards,
            parity_shards: m.parity_shards,
            crc_block_log2: CRC_BLOCK_LOG2,
            stripe_size: m.stripe_size,
            blob_id: id,
            blob_len,
            blob_checksum: checksum,
        }
    }
}

/// The header of shard `index` of blob `id` coded with `codec`.
pub(crate) fn shard_header(
    codec: &Codec,
    index: usize,
    id: BlobId,
    geometry: &Geometry,
    checksum: u64,
) -> ShardHeader {
    // Opening a store bounds k + m by 256 and the stripe by u32.
    ShardHeader {
        shard_index: index as u16,
        data_shards: codec.data_shards() as u16,
        parity_shards: codec.parity_shards() as u16,
        crc_block_log2: CRC_BLOCK_LOG2,
        stripe_size: geometry.stripe_size as u32,
        blob_id: id,
        blob_len: geometry.blob_len,
        blob_checksum: checksum,
    }
}

/// Where a [`BlobWriter`] puts each stripe's shard regions.
pub(crate) enum Sink<'a> {
    /// Pending shard files of a directory store, written in place.
    Files {
        store: &'a BlobStore,
        files: Vec<Box<dyn File>>,
    },
    /// Whole shard objects in memory (the header's bytes reserved first),
    /// uploaded at `finish` (`store` set) or handed back (`None`: repair).
    Memory {
        store: Option<&'a ObjectBlobStore>,
        shards: Vec<Vec<u8>>,
    },
}

/// A blob being written: bytes are appended with [`BlobWriter::write_all_bytes`]
/// (or `std::io::Write`), each full stripe is coded and written out, and
/// [`BlobWriter::finish`] makes the blob visible, durably.
///
/// Memory: one stripe for a [`BlobStore`] (shard files are written as
/// stripes fill); the whole blob times `(k + m) / k` for an
/// [`ObjectBlobStore`](crate::ObjectBlobStore), whose shards are uploaded
/// whole at `finish` (object stores have no append).
pub struct BlobWriter<'a> {
    sink: Sink<'a>,
    codec: &'a Codec,
    id: BlobId,
    geometry: Geometry,
    hasher: Xxh3,
    /// The stripe being filled, when the caller's bytes do not hold a whole
    /// one.
    stripe: Vec<u8>,
    /// Parity and padded shards of the stripe being written, reused.
    buffers: ShardBuffers,
    /// One shard's CRC array, reused.
    crcs: Vec<u8>,
    stripes_written: u64,
    /// Set once the renames begin: from then on the pending files are
    /// the next open's to resolve.
    finished: bool,
}

impl<'a> BlobWriter<'a> {
    pub(crate) fn new(
        sink: Sink<'a>,
        codec: &'a Codec,
        id: BlobId,
        data_shards: usize,
        stripe_size: u64,
    ) -> BlobWriter<'a> {
        BlobWriter {
            sink,
            codec,
            id,
            geometry: Geometry {
                data_shards: data_shards as u64,
                stripe_size,
                blob_len: 0,
            },
            hasher: Xxh3::new(),
            stripe: Vec::new(),
            buffers: ShardBuffers::default(),
            crcs: Vec::new(),
            stripes_written: 0,
            finished: false,
        }
    }
}

impl std::fmt::Debug for BlobWriter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobWriter")
            .field("id", &self.id)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl BlobWriter<'_> {
    /// The id the blob will have.
    pub fn id(&self) -> BlobId {
        self.id
    }

    /// Bytes written so far: the offset the next byte will have.
    pub fn len(&self) -> u64 {
        self.geometry.blob_len + self.stripe.len() as u64
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends `data`. Whole stripes of it are coded straight from `data`;
    /// only the bytes around a stripe boundary are buffered.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] from the disk (a directory store's pending files); the
    /// writer must then be dropped.
    pub fn write_all_bytes(&mut self, mut data: &[u8]) -> Result<()> {
        let stripe_size = usize::try_from(self.geometry.stripe_size).unwrap_or(usize::MAX);
        while !data.is_empty() {
            if self.stripe.is_empty() && data.len() >= stripe_size {
                let (stripe, rest) = data.split_at(stripe_size);
                self.write_stripe(stripe)?;
                data = rest;
                continue;
            }
            let take = (stripe_size - self.stripe.len()).min(data.len());
            self.stripe.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.stripe.len() == stripe_size {
                self.write_buffered_stripe()?;
            }
        }
        Ok(())
    }

    /// Codes and writes the buffered stripe, keeping the buffer for the next.
    fn write_buffered_stripe(&mut self) -> Result<()> {
        let stripe = std::mem::take(&mut self.stripe);
        let result = self.write_stripe(&stripe);
        self.stripe = stripe;
        self.stripe.clear();
        result
    }

    /// Codes `stripe` and writes its chunks, each from the codec's slices.
    fn write_stripe(&mut self, stripe: &[u8]) -> Result<()> {
        let n = stripe.len() as u64;
        self.hasher.update(stripe);
        let offset = self.geometry.chunk_offset(self.stripes_written);
        let chunks = self.codec.encode_into(stripe, &mut self.buffers)?;
        // The store's codec is Reed-Solomon over GF(2^8): no padding beyond
        // the k-th part, as the geometry assumes.
        debug_assert!(
            chunks
                .iter()
                .all(|c| c.len() as u64 == self.geometry.chunk_len_for(n))
        );
        match &mut self.sink {
            Sink::Files { files, .. } => {
                for (file, chunk) in files.iter().zip(chunks) {
                    write_region(&**file, chunk, offset, &mut self.crcs)?;
                }
            }
            Sink::Memory { shards, .. } => {
                for (shard, chunk) in shards.iter_mut().zip(chunks) {
                    // Every stripe before the last is full, so regions
                    // follow each other: appending lands at `offset`.
                    debug_assert_eq!(shard.len() as u64, offset);
                    block_crcs(chunk, &mut self.crcs);
                    shard.extend_from_slice(chunk);
                    shard.extend_from_slice(&self.crcs);
                }
            }
        }
        self.geometry.blob_len += n;
        self.stripes_written += 1;
        Ok(())
    }

    /// Writes the last stripe and the headers and makes the blob visible:
    /// for a [`BlobStore`], syncs every shard and directory and renames the
    /// pending files; for an [`ObjectBlobStore`](crate::ObjectBlobStore),
    /// uploads every shard object whole, all at once. Durable when it
    /// returns `Ok`.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] from the disk, or [`Error::Object`] from a store that
    /// refused its shard (the shards uploaded are then deleted, best
    /// effort); nothing is then visible (over object stores: fewer than
    /// `k` shards are never listed).
    pub fn finish(mut self) -> Result<BlobId> {
        self.finish_inner()?;
        Ok(self.id)
    }

    fn finish_inner(&mut self) -> Result<()> {
        if !self.stripe.is_empty() {
            self.write_buffered_stripe()?;
        }
        let checksum = self.hasher.digest();
        match &mut self.sink {
            Sink::Files { store, files } => {
                let store: &BlobStore = store;
                for (i, file) in files.iter().enumerate() {
                    let header = store.header(i, self.id, self.geometry.blob_len, checksum);
                    file.write_all_at(&header.to_bytes(), 0)?;
                    debug_assert_eq!(file.len().ok(), Some(self.geometry.file_len()));
                    debug_assert!(HEADER_LEN as u64 <= self.geometry.file_len());
                    file.sync_data()?;
                }
                files.clear();
                // The pending names are durable before any rename, so a crash
                // leaves either pending files (removed at open) or shards.
                for dir in &store.dirs {
                    store.fs.sync_dir(dir)?;
                }
                // From here on a failure leaves shards and pending files that
                // the next open resolves (it finishes or drops the blob
                // whole), so the drop must not remove pending files any more.
                self.finished = true;
                for dir in &store.dirs {
                    store.fs.rename(
                        &store.path(dir, self.id, FileKind::Pending),
                        &store.path(dir, self.id, FileKind::Shard),
                    )?;
                }
                for dir in &store.dirs {
                    store.fs.sync_dir(dir)?;
                }
                store.index.write().insert(self.id);
            }
            Sink::Memory { store, shards } => {
                for (i, shard) in shards.iter_mut().enumerate() {
                    let header = shard_header(self.codec, i, self.id, &self.geometry, checksum);
                    shard[..HEADER_LEN].copy_from_slice(&header.to_bytes());
                    debug_assert_eq!(shard.len() as u64, self.geometry.file_len());
                }
                if let Some(store) = store {
                    let shards = std::mem::take(shards);
                    self.finished = true;
                    store.upload(self.id, shards)?;
                }
            }
        }
        Ok(())
    }

    /// The shard objects (headers included) of a blob written into memory
    /// with no store to upload to.
    pub(crate) fn into_shards(mut self) -> Result<Vec<Vec<u8>>> {
        self.finish_inner()?;
        match &mut self.sink {
            Sink::Memory { shards, .. } => Ok(std::mem::take(shards)),
            Sink::Files { .. } => Err(Error::InvalidLayout {
                reason: "shards of a directory store stay in their files".into(),
            }),
        }
    }
}

impl Write for BlobWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_all_bytes(buf).map_err(std::io::Error::other)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for BlobWriter<'_> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        // Shards in memory were never uploaded: nothing to remove.
        if let Sink::Files { store, files } = &mut self.sink {
            files.clear();
            // Best effort: a leftover pending file is removed by the next open.
            for dir in &store.dirs {
                let _ = store
                    .fs
                    .remove_file(&store.path(dir, self.id, FileKind::Pending));
            }
        }
    }
}
