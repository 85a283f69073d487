//! Reading: `get`, `get_to`, `get_range`. A missing shard file, a bad header,
//! a short read or a stripe whose CRC fails is an erasure; a stripe decodes
//! while `k` of its shards are good.

use std::io::Write;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use vfs::{File, OpenMode};
use xxhash_rust::xxh3::Xxh3;

use crate::format::{
    CHUNK_CRC_LEN, CRC_BLOCK_BYTES, Geometry, HEADER_LEN, ShardHeader, blocks_match, region_len,
};
use crate::{BlobId, BlobStore, Error, Result};

/// The shard files of one blob, with their headers checked.
pub(crate) struct OpenShards {
    pub(crate) id: BlobId,
    /// Each shard, opened on first use: `None` where the file is missing,
    /// unreadable or its header is bad or disagrees with the chosen length
    /// and checksum.
    pub(crate) files: Vec<OnceLock<Option<Box<dyn File>>>>,
    pub(crate) geometry: Geometry,
    /// xxh3-64 of the whole blob, from the headers.
    pub(crate) checksum: u64,
}

impl BlobStore {
    /// The whole blob, checked against the checksum recorded at `put`.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`]; [`Error::Unrecoverable`] naming the stripe and bad
    /// shards if a stripe has fewer than `k` good shards;
    /// [`Error::BlobChecksum`] if the rebuilt bytes do not match.
    pub fn get(&self, id: BlobId) -> Result<Bytes> {
        let mut out = Vec::new();
        self.get_to(id, &mut out)?;
        Ok(Bytes::from(out))
    }

    /// Streams the blob into `writer`, one stripe in memory at a time, and
    /// returns its length. The checksum of the whole blob can only be checked
    /// at the end: on [`Error::BlobChecksum`] the writer has received bytes
    /// that must be discarded (each stripe passed its CRCs, so this means a
    /// bug or a shard written by another store, not rot).
    ///
    /// # Errors
    ///
    /// As [`BlobStore::get`], plus [`Error::Stream`] if the writer fails.
    pub fn get_to(&self, id: BlobId, mut writer: impl Write) -> Result<u64> {
        let shards = self.open_shards(id)?;
        self.stream(&shards, &mut writer)
    }

    /// Writes every stripe's data shards, as read (or rebuilt), straight to
    /// `writer` (no joined copy of the stripe), then checks the whole-blob
    /// checksum.
    fn stream(&self, shards: &OpenShards, writer: &mut impl Write) -> Result<u64> {
        let k = self.options.data_shards;
        let mut hasher = Xxh3::new();
        for s in 0..shards.geometry.stripes() {
            let chunks = self.stripe_data(shards, s, 0..k)?;
            let mut left =
                usize::try_from(shards.geometry.stripe_data_len(s)).unwrap_or(usize::MAX);
            for (j, chunk) in chunks[..k].iter().enumerate() {
                let Some(chunk) = chunk else {
                    return Err(Error::InconsistentShards {
                        reason: format!("data shard {j} of stripe {s} was not rebuilt"),
                    });
                };
                let piece = &chunk[..left.min(chunk.len())];
                hasher.update(piece);
                writer.write_all(piece).map_err(Error::Stream)?;
                left -= piece.len();
            }
        }
        let found = hasher.digest();
        if found != shards.checksum {
            return Err(Error::BlobChecksum {
                blob: shards.id,
                expected: shards.checksum,
                found,
            });
        }
        Ok(shards.geometry.blob_len)
    }

    /// `len` bytes of the blob from `offset`. While the data shards are
    /// healthy it reads only the 4 KiB blocks the range covers, and their
    /// CRCs, from the data shards holding them (the code is systematic: no
    /// decoding); a block that is missing or fails its CRC is rebuilt from
    /// the same blocks of any `k` good shards (the whole stripe only for a
    /// range spanning several data shards). Every block returned passed
    /// its CRC; the whole-blob checksum is not checked (that would mean
    /// reading everything).
    ///
    /// # Errors
    ///
    /// [`Error::RangeOutOfBounds`] past the end; otherwise as
    /// [`BlobStore::get`] for the stripes touched.
    pub fn get_range(&self, id: BlobId, offset: u64, len: u64) -> Result<Bytes> {
        if !self.contains(id) {
            return Err(Error::NotFound { blob: id });
        }
        let shards = match self.handles.get(id) {
            Some(s) => s,
            None => {
                let s = Arc::new(self.open_shards_lazily(id)?);
                self.handles.insert(id, Arc::clone(&s));
                s
            }
        };
        let g = shards.geometry;
        let end = offset.checked_add(len).filter(|&e| e <= g.blob_len);
        let Some(end) = end else {
            return Err(Error::RangeOutOfBounds {
                blob: id,
                offset,
                len,
                blob_len: g.blob_len,
            });
        };
        let mut out = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        if len == 0 {
            return Ok(Bytes::new());
        }
        for s in offset / g.stripe_size..=(end - 1) / g.stripe_size {
            let stripe_start = s * g.stripe_size;
            let a = offset.max(stripe_start) - stripe_start;
            let b = end.min(stripe_start + g.stripe_data_len(s)) - stripe_start;
            self.stripe_range(&shards, s, a, b, &mut out)?;
        }
        debug_assert_eq!(out.len() as u64, len);
        Ok(Bytes::from(out))
    }

    /// Appends bytes `a..b` of stripe `s` to `out`: straight from the data
    /// shards' blocks while their CRCs hold, else from the rebuilt stripe.
    fn stripe_range(
        &self,
        shards: &OpenShards,
        s: u64,
        a: u64,
        b: u64,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let chunk_len = shards.geometry.chunk_len(s);
        let first = a / chunk_len;
        let last = (b - 1) / chunk_len;
        let mark = out.len();
        for j in first..=last {
            let lo = a.max(j * chunk_len) - j * chunk_len;
            let hi = b.min((j + 1) * chunk_len) - j * chunk_len;
            match self.read_chunk_range(shards, j as usize, s, lo, hi) {
                Some(bytes) => out.extend_from_slice(&bytes),
                None => {
                    out.truncate(mark);
                    if first == last
                        && let Some(bytes) = self.rebuild_range(shards, s, first as usize, lo, hi)
                    {
                        out.extend_from_slice(&bytes);
                        return Ok(());
                    }
                    // Rebuild the stripe from any k good shards.
                    let chunks = self.stripe_data(shards, s, first as usize..last as usize + 1)?;
                    for j in first..=last {
                        let Some(chunk) = &chunks[j as usize] else {
                            return Err(Error::InconsistentShards {
                                reason: format!("data shard {j} of stripe {s} was not rebuilt"),
                            });
                        };
                        let lo = a.max(j * chunk_len) - j * chunk_len;
                        let hi = b.min((j + 1) * chunk_len) - j * chunk_len;
                        out.extend_from_slice(&chunk[lo as usize..hi as usize]);
                    }
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Bytes `lo..hi` of data shard `index` of stripe `s`, rebuilt from the
    /// same byte positions (widened to CRC blocks) of any `k` good shards:
    /// Reed-Solomon works position by position, so a ranged read never needs
    /// the rest of the stripe. `None` if fewer than `k` shards have those
    /// blocks good (the caller then reports the stripe).
    fn rebuild_range(
        &self,
        shards: &OpenShards,
        s: u64,
        index: usize,
        lo: u64,
        hi: u64,
    ) -> Option<Vec<u8>> {
        let chunk_len = shards.geometry.chunk_len(s);
        let start = lo / CRC_BLOCK_BYTES * CRC_BLOCK_BYTES;
        let end = hi
            .div_ceil(CRC_BLOCK_BYTES)
            .saturating_mul(CRC_BLOCK_BYTES)
            .min(chunk_len);
        let k = self.options.data_shards;
        let mut pieces: Vec<Option<Vec<u8>>> = vec![None; self.dirs.len()];
        let mut good = 0;
        for i in (0..self.dirs.len()).filter(|&i| i != index) {
            if good == k {
                break;
            }
            pieces[i] = self.read_chunk_range(shards, i, s, start, end);
            good += usize::from(pieces[i].is_some());
        }
        if good < k {
            return None;
        }
        self.codec
            .reconstruct_chunks(&mut pieces, shards.geometry.stripe_data_len(s), true)
            .ok()?;
        let piece = pieces[index].as_ref()?;
        piece
            .get((lo - start) as usize..(hi - start) as usize)
            .map(<[u8]>::to_vec)
    }

    /// Opens every shard of `id` and reads its header. The blob's length and
    /// checksum are those most headers agree on.
    pub(crate) fn open_shards(&self, id: BlobId) -> Result<OpenShards> {
        if !self.contains(id) {
            return Err(Error::NotFound { blob: id });
        }
        let total = self.dirs.len();
        let mut opened: Vec<Option<(Box<dyn File>, ShardHeader)>> = Vec::with_capacity(total);
        for i in 0..total {
            opened.push(self.open_shard(i, id));
        }
        // Majority vote on (length, checksum): a header that passed its CRC
        // but disagrees was written by another put (a bug) and is outvoted.
        let mut votes: Vec<((u64, u64), usize)> = Vec::new();
        for (_, h) in opened.iter().flatten() {
            let key = (h.blob_len, h.blob_checksum);
            match votes.iter_mut().find(|(k, _)| *k == key) {
                Some((_, n)) => *n += 1,
                None => votes.push((key, 1)),
            }
        }
        let Some(&((blob_len, checksum), _)) = votes.iter().max_by_key(|(_, n)| *n) else {
            return Err(self.no_header(id));
        };
        let files = opened
            .into_iter()
            .map(|o| {
                OnceLock::from(
                    o.filter(|(_, h)| (h.blob_len, h.blob_checksum) == (blob_len, checksum))
                        .map(|(f, _)| f),
                )
            })
            .collect();
        Ok(self.shards(id, files, blob_len, checksum))
    }

    /// Like [`BlobStore::open_shards`], but opens only the first shard with a
    /// sound header; the others are opened when first read, and count as
    /// erasures if their header disagrees with it. For ranged reads, which
    /// should touch only the shards they need.
    fn open_shards_lazily(&self, id: BlobId) -> Result<OpenShards> {
        if !self.contains(id) {
            return Err(Error::NotFound { blob: id });
        }
        let total = self.dirs.len();
        let files: Vec<OnceLock<Option<Box<dyn File>>>> =
            (0..total).map(|_| OnceLock::new()).collect();
        for (i, cell) in files.iter().enumerate() {
            let opened = self.open_shard(i, id);
            let found = opened.as_ref().map(|(_, h)| (h.blob_len, h.blob_checksum));
            let _ = cell.set(opened.map(|(f, _)| f));
            if let Some((blob_len, checksum)) = found {
                return Ok(self.shards(id, files, blob_len, checksum));
            }
        }
        Err(self.no_header(id))
    }

    fn shards(
        &self,
        id: BlobId,
        files: Vec<OnceLock<Option<Box<dyn File>>>>,
        blob_len: u64,
        checksum: u64,
    ) -> OpenShards {
        OpenShards {
            id,
            files,
            geometry: Geometry {
                data_shards: self.options.data_shards as u64,
                stripe_size: self.options.stripe_size_bytes,
                blob_len,
            },
            checksum,
        }
    }

    fn no_header(&self, id: BlobId) -> Error {
        Error::Unrecoverable {
            blob: id,
            stripe: 0,
            bad_shards: (0..self.dirs.len() as u16).collect(),
            good: 0,
            needed: self.options.data_shards,
        }
    }

    /// Shard `index` of `shards`, opened now if it was not yet.
    pub(crate) fn shard_file<'a>(
        &self,
        shards: &'a OpenShards,
        index: usize,
    ) -> Option<&'a dyn File> {
        shards.files[index]
            .get_or_init(|| {
                self.open_shard(index, shards.id)
                    .filter(|(_, h)| {
                        (h.blob_len, h.blob_checksum) == (shards.geometry.blob_len, shards.checksum)
                    })
                    .map(|(f, _)| f)
            })
            .as_deref()
    }

    /// Shard `index` of `id`, opened, if its header is sound and belongs
    /// there.
    fn open_shard(&self, index: usize, id: BlobId) -> Option<(Box<dyn File>, ShardHeader)> {
        let path = self.shard_path(index, id);
        let file = self.fs.open(&path, OpenMode::Read).ok()?;
        let mut buf = [0u8; HEADER_LEN];
        file.read_exact_at(&mut buf, 0).ok()?;
        let header = ShardHeader::from_bytes(&buf, &path).ok()?;
        let expected = self.header(index, id, header.blob_len, header.blob_checksum);
        (header == expected).then_some((file, header))
    }

    /// Shard `index`'s bytes of stripe `s`, if present and every block CRC
    /// holds.
    pub(crate) fn read_chunk(&self, shards: &OpenShards, index: usize, s: u64) -> Option<Vec<u8>> {
        let file = self.shard_file(shards, index)?;
        let chunk_len = shards.geometry.chunk_len(s);
        let len = usize::try_from(chunk_len).ok()?;
        let mut buf = vec![0u8; usize::try_from(region_len(chunk_len)).ok()?];
        file.read_exact_at(&mut buf, shards.geometry.chunk_offset(s))
            .ok()?;
        let (data, crcs) = buf.split_at(len);
        if !blocks_match(data, crcs) {
            return None;
        }
        buf.truncate(len);
        Some(buf)
    }

    /// Bytes `lo..hi` of shard `index`'s part of stripe `s`, reading and
    /// checking only the CRC blocks they fall in; `None` if the shard is
    /// missing or one of those blocks fails its CRC.
    fn read_chunk_range(
        &self,
        shards: &OpenShards,
        index: usize,
        s: u64,
        lo: u64,
        hi: u64,
    ) -> Option<Vec<u8>> {
        debug_assert!(lo < hi);
        let file = self.shard_file(shards, index)?;
        let chunk_len = shards.geometry.chunk_len(s);
        let offset = shards.geometry.chunk_offset(s);
        let first_block = lo / CRC_BLOCK_BYTES;
        let last_block = (hi - 1) / CRC_BLOCK_BYTES;
        let start = first_block * CRC_BLOCK_BYTES;
        let end = ((last_block + 1) * CRC_BLOCK_BYTES).min(chunk_len);
        let mut data = vec![0u8; usize::try_from(end - start).ok()?];
        file.read_exact_at(&mut data, offset + start).ok()?;
        let crc_count = usize::try_from(last_block - first_block + 1).ok()?;
        let mut crcs = vec![0u8; crc_count * CHUNK_CRC_LEN as usize];
        file.read_exact_at(&mut crcs, offset + chunk_len + first_block * CHUNK_CRC_LEN)
            .ok()?;
        if !blocks_match(&data, &crcs) {
            return None;
        }
        Some(data[(lo - start) as usize..(hi - start) as usize].to_vec())
    }

    /// The data shards `want` of stripe `s`, read directly while they are
    /// good; if one is not, every data shard of the stripe rebuilt from any
    /// `k` good shards.
    pub(crate) fn stripe_data(
        &self,
        shards: &OpenShards,
        s: u64,
        want: Range<usize>,
    ) -> Result<Vec<Option<Vec<u8>>>> {
        let total = self.dirs.len();
        let k = self.options.data_shards;
        let mut chunks: Vec<Option<Vec<u8>>> = vec![None; total];
        let mut bad = Vec::new();
        for i in want.clone() {
            chunks[i] = self.read_chunk(shards, i, s);
            if chunks[i].is_none() {
                bad.push(i as u16);
            }
        }
        if bad.is_empty() {
            return Ok(chunks);
        }
        let mut good = want.len() - bad.len();
        for i in (0..total).filter(|i| !want.contains(i)) {
            if good >= k {
                break;
            }
            chunks[i] = self.read_chunk(shards, i, s);
            match chunks[i] {
                Some(_) => good += 1,
                None => bad.push(i as u16),
            }
        }
        if good < k {
            bad.sort_unstable();
            return Err(Error::Unrecoverable {
                blob: shards.id,
                stripe: s,
                bad_shards: bad,
                good,
                needed: k,
            });
        }
        self.codec
            .reconstruct_chunks(&mut chunks, shards.geometry.stripe_data_len(s), true)?;
        Ok(chunks)
    }
}
