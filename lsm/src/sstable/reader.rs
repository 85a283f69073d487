//! Opens a table and serves point lookups and iterators from it.
//!
//! The file is mapped once (`vfs::File::map`); blocks are checked and
//! decompressed on first use and kept in the shared [`BlockCache`].
//!
//! # Concurrency
//!
//! A `Table` is immutable after `open`; any thread may read it at once.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use crate::cache::BlockCache;
use crate::filter;
use crate::iter::{BoxIter, Concat};
use crate::key::{self, InternalKey, SeqNo, ValueKind};
use crate::sstable::block::Block;
use crate::sstable::footer::{FOOTER_SIZE_BYTES, Footer};
use crate::sstable::index::{BlockHandle, Index};
use crate::sstable::properties::Properties;
use crate::sstable::trailer;
use crate::{Error, Result};

thread_local! {
    /// The key buffer of a point lookup's block seek, reused by every
    /// lookup on the thread so a get allocates nothing for keys.
    static SEEK_KEY: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// An open table.
#[derive(Debug)]
pub(crate) struct Table {
    pub(crate) number: u64,
    path: PathBuf,
    data: Bytes,
    index: Index,
    filter: Option<bloom::BlockedBloomFilter>,
    pub(crate) props: Properties,
    /// [`key::prefix`] of the smallest and largest user keys: range checks
    /// compare these words and read the keys only on a tie.
    pub(crate) user_prefixes: (u64, u64),
    cache: Arc<BlockCache>,
}

/// What a point lookup in one table found.
#[derive(Debug)]
pub(crate) enum Probe {
    /// The filter said the key is absent.
    FilteredOut,
    /// The table was read and does not hold a visible version.
    Missing,
    /// The newest visible version.
    Found(ValueKind, Bytes),
}

impl Table {
    /// Opens table `number` at `path`, checking footer, index and properties.
    ///
    /// # Errors
    ///
    /// [`Error::Corruption`] naming the file and the bad block's offset.
    pub(crate) fn open(
        fs: &dyn vfs::Fs,
        path: &Path,
        number: u64,
        cache: Arc<BlockCache>,
    ) -> Result<Table> {
        let data = fs.open(path, vfs::OpenMode::Read)?.map()?;
        let len = data.len() as u64;
        let Some(foot_off) = data.len().checked_sub(FOOTER_SIZE_BYTES) else {
            return Err(Error::corruption(
                path,
                0,
                "table too short for footer",
                FOOTER_SIZE_BYTES as u64,
                len,
            ));
        };
        let footer = Footer::decode(&data[foot_off..], path, foot_off as u64)?;
        let header = crate::sstable::footer::header();
        if data.get(..header.len()) != Some(&header[..]) {
            let mut found = [0u8; 8];
            if let Some(b) = data.get(..8) {
                found.copy_from_slice(b);
            }
            return Err(Error::corruption(
                path,
                0,
                "table header (magic, version)",
                crate::sstable::footer::TABLE_MAGIC,
                u64::from_le_bytes(found),
            ));
        }
        let load = |h: BlockHandle, what: &'static str| -> Result<Bytes> {
            let end = h
                .offset
                .checked_add(h.size_bytes)
                .filter(|&e| e <= foot_off as u64);
            let Some(end) = end else {
                return Err(Error::corruption(path, foot_off as u64, what, 0, 0));
            };
            trailer::decode(data.slice(h.offset as usize..end as usize), path, h.offset)
        };
        let index_block =
            Block::new(load(footer.index, "index handle out of range")?).map_err(|_| {
                Error::corruption(path, footer.index.offset, "index block malformed", 0, 0)
            })?;
        let index = Index::decode(&index_block, path, footer.index.offset, foot_off as u64)?;
        let filter = if footer.filter.size_bytes == 0 {
            None
        } else {
            let bytes = load(footer.filter, "filter handle out of range")?;
            Some(filter::decode(&bytes, path, footer.filter.offset)?)
        };
        let props = Properties::decode(&load(footer.properties, "properties handle out of range")?)
            .ok_or_else(|| {
                Error::corruption(
                    path,
                    footer.properties.offset,
                    "properties block malformed",
                    0,
                    0,
                )
            })?;
        let user_prefix = |k: &[u8]| key::prefix(key::split(k).map_or(&[][..], |x| x.0));
        let user_prefixes = (user_prefix(&props.smallest), user_prefix(&props.largest));
        Ok(Table {
            number,
            path: path.to_path_buf(),
            data,
            index,
            filter,
            props,
            user_prefixes,
            cache,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn size_bytes(&self) -> u64 {
        self.data.len() as u64
    }

    fn block(&self, i: usize) -> Result<Block> {
        self.block_with(i, true)
    }

    /// Block `i`, from the cache if there; read blocks are cached only if
    /// `fill_cache` (compaction reads each block once and must not evict
    /// what readers use).
    fn block_with(&self, i: usize, fill_cache: bool) -> Result<Block> {
        let h = self.index.entries[i].1;
        if let Some(b) = self.cache.get((self.number, h.offset)) {
            return Ok(b);
        }
        // In range: checked by Index::decode against the file length.
        let stored = self
            .data
            .slice(h.offset as usize..(h.offset + h.size_bytes) as usize);
        let contents = trailer::decode(stored, &self.path, h.offset)?;
        let block = Block::new(contents)
            .map_err(|_| Error::corruption(&self.path, h.offset, "data block malformed", 0, 0))?;
        if fill_cache {
            self.cache.insert((self.number, h.offset), block.clone());
        }
        Ok(block)
    }

    /// Whether the filter lets `hash` through (true without a filter).
    pub(crate) fn may_contain(&self, hash: u128) -> bool {
        self.filter.as_ref().is_none_or(|f| f.contains_hash(hash))
    }

    /// The newest version of `user` at or below `seq`.
    pub(crate) fn get(&self, user: &[u8], hash: u128, seq: SeqNo) -> Result<Probe> {
        if let Some(f) = &self.filter
            && !f.contains_hash(hash)
        {
            return Ok(Probe::FilteredOut);
        }
        let target = key::trailer(seq, ValueKind::SEEK);
        let i = self.index.find(user, target);
        if i == self.index.entries.len() {
            return Ok(Probe::Missing);
        }
        let block = self.block(i)?;
        let off = self.index.entries[i].1.offset;
        SEEK_KEY.with_borrow_mut(|k| {
            let found = block
                .seek(user, target, k)
                .map_err(|_| Error::corruption(&self.path, off, "data block malformed", 0, 0))?;
            match found {
                Some(v) => match key::split(k) {
                    Some((u, _, kind)) if u == user => Ok(Probe::Found(kind, v)),
                    Some(_) => Ok(Probe::Missing),
                    None => Err(Error::corruption(&self.path, off, "data block key", 0, 0)),
                },
                None => Ok(Probe::Missing),
            }
        })
    }

    /// Entries of every block that may hold user keys in `[lo, hi]`, both
    /// directions. Entries just outside the bounds may appear.
    pub(crate) fn iter(self: &Arc<Self>, lo: Option<&[u8]>, hi: Option<&[u8]>) -> BoxIter {
        self.iter_with(lo, hi, true)
    }

    /// Every entry, reading blocks without adding them to the cache: for
    /// compaction.
    pub(crate) fn iter_uncached(self: &Arc<Self>) -> BoxIter {
        self.iter_with(None, None, false)
    }

    fn iter_with(
        self: &Arc<Self>,
        lo: Option<&[u8]>,
        hi: Option<&[u8]>,
        fill_cache: bool,
    ) -> BoxIter {
        let n = self.index.entries.len();
        let first = lo.map_or(0, |k| {
            self.index
                .find(k, key::trailer(key::SEQNO_MAX, ValueKind::SEEK))
        });
        let end = hi.map_or(n, |k| {
            (self.index.find(k, key::trailer(0, ValueKind::Delete)) + 1).min(n)
        });
        let t = Arc::clone(self);
        Box::new(Concat::new(first, end.max(first), move |i| {
            let block = t.block_with(i, fill_cache)?;
            let off = t.index.entries[i].1.offset;
            let bad = || Error::corruption(&t.path, off, "data block malformed", 0, 0);
            let raw = block.entries_shared().map_err(|_| bad())?;
            let mut out = Vec::with_capacity(raw.len());
            for (k, v) in raw {
                out.push(Ok((InternalKey::decode(&k).ok_or_else(bad)?, v)));
            }
            Ok(Box::new(out.into_iter()) as BoxIter)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sstable::writer::{TableOptions, TableWriter};

    fn build(n: u32, compression: bool) -> (Arc<dyn vfs::Fs>, tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let fs: Arc<dyn vfs::Fs> = Arc::new(vfs::OsFs::new());
        let path = dir.path().join("t.sst");
        let opts = TableOptions {
            block_size_bytes: 4096,
            restart_interval: 16,
            bloom_bits_per_key: 10,
            compression,
        };
        let mut w = TableWriter::create(&*fs, &path, opts).expect("create");
        for i in 0..n {
            let k = InternalKey::new(
                Bytes::from(format!("key{i:08}")),
                u64::from(i) + 1,
                ValueKind::Inline,
            );
            w.add(
                &k.encoded(),
                format!("value-{i}-{}", "x".repeat(50)).as_bytes(),
            )
            .expect("add");
        }
        w.finish().expect("finish");
        (fs, dir, path)
    }

    #[test]
    fn table_serves_every_key_and_iterates_both_ways() {
        for compression in [false, true] {
            let (fs, _d, path) = build(5000, compression);
            let t = Arc::new(
                Table::open(&*fs, &path, 1, Arc::new(BlockCache::new(1 << 20))).expect("open"),
            );
            for i in (0..5000u32).step_by(7) {
                let k = format!("key{i:08}");
                assert!(matches!(
                    t.get(k.as_bytes(), filter::key_hash(k.as_bytes()), u64::MAX >> 8),
                    Ok(Probe::Found(ValueKind::Inline, _))
                ));
            }
            assert!(matches!(
                t.get(b"key00000001", filter::key_hash(b"key00000001"), 0),
                Ok(Probe::Missing)
            ));
            assert_eq!(t.iter(None, None).count(), 5000);
            let back: Vec<_> = t
                .iter(None, None)
                .rev()
                .map(|e| e.expect("entry").0.user)
                .collect();
            assert_eq!(back.len(), 5000);
            assert!(back.windows(2).all(|w| w[0] > w[1]));
            let some = t.iter(Some(b"key00001000"), Some(b"key00001010")).count();
            assert!(some >= 11);
        }
    }
}
