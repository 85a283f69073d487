//! `put`: a blob streamed stripe by stripe into `k + m` pending shard files,
//! then made visible by renames.

use std::io::Read;

use vfs::{File, OpenMode};
use xxhash_rust::xxh3::Xxh3;

use crate::format::{CRC_BLOCK_LOG2, Geometry, HEADER_LEN, ShardHeader, encode_region};
use crate::store::FileKind;
use crate::{BlobId, BlobStore, Error, Result};

impl BlobStore {
    /// Stores `blob` and returns its id. Durable when it returns `Ok`.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] from the disk; nothing is then visible.
    pub fn put(&self, blob: &[u8]) -> Result<BlobId> {
        self.put_reader(blob)
    }

    /// Stores what `reader` yields until its end, one stripe in memory at a
    /// time, and returns its id. Durable when it returns `Ok`.
    ///
    /// # Errors
    ///
    /// [`Error::Stream`] if the reader fails; [`Error::Io`] from the disk.
    /// Nothing is visible after an error.
    pub fn put_reader(&self, reader: impl Read) -> Result<BlobId> {
        let id = self.allocate_id();
        let mut files = Vec::with_capacity(self.dirs.len());
        let result = self.write_pending(id, reader, &mut files);
        drop(files);
        if let Err(e) = result {
            // Best effort: a leftover pending file is removed by the next open.
            for dir in &self.dirs {
                let _ = self.fs.remove_file(&self.path(dir, id, FileKind::Pending));
            }
            return Err(e);
        }
        for dir in &self.dirs {
            self.fs.rename(
                &self.path(dir, id, FileKind::Pending),
                &self.path(dir, id, FileKind::Shard),
            )?;
        }
        for dir in &self.dirs {
            self.fs.sync_dir(dir)?;
        }
        self.index.write().insert(id);
        Ok(id)
    }

    /// Writes and syncs every shard of `id` under its pending name, and syncs
    /// the directories so the names are durable before any rename.
    fn write_pending(
        &self,
        id: BlobId,
        mut reader: impl Read,
        files: &mut Vec<Box<dyn File>>,
    ) -> Result<()> {
        for dir in &self.dirs {
            files.push(
                self.fs
                    .open(&self.path(dir, id, FileKind::Pending), OpenMode::Truncate)?,
            );
        }
        let stripe_size = self.options.stripe_size_bytes;
        let mut geometry = Geometry {
            data_shards: self.options.data_shards as u64,
            stripe_size,
            blob_len: 0,
        };
        let mut hasher = Xxh3::new();
        let mut buf = vec![0u8; usize::try_from(stripe_size).unwrap_or(usize::MAX)];
        let mut stripe = 0u64;
        loop {
            let n = fill(&mut reader, &mut buf)?;
            if n == 0 {
                break;
            }
            let data = &buf[..n];
            hasher.update(data);
            let offset = geometry.chunk_offset(stripe);
            let chunks = self.codec.encode_chunks(data)?;
            // The store's codec is Reed-Solomon over GF(2^8): no padding
            // beyond the k-th part, as the geometry assumes.
            debug_assert!(
                chunks
                    .iter()
                    .all(|c| c.len() as u64 == geometry.chunk_len_for(n as u64))
            );
            for (file, chunk) in files.iter().zip(chunks) {
                file.write_all_at(&encode_region(&chunk), offset)?;
            }
            geometry.blob_len += n as u64;
            stripe += 1;
            if n < buf.len() {
                break;
            }
        }
        let checksum = hasher.digest();
        for (i, file) in files.iter().enumerate() {
            let header = self.header(i, id, geometry.blob_len, checksum);
            file.write_all_at(&header.to_bytes(), 0)?;
            debug_assert_eq!(file.len().ok(), Some(geometry.file_len()));
            debug_assert!(HEADER_LEN as u64 <= geometry.file_len());
            file.sync_data()?;
        }
        for dir in &self.dirs {
            self.fs.sync_dir(dir)?;
        }
        Ok(())
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

/// Reads until `buf` is full or the reader ends; returns the bytes read.
fn fill(reader: &mut impl Read, buf: &mut [u8]) -> Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match reader.read(&mut buf[done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::Stream(e)),
        }
    }
    Ok(done)
}
