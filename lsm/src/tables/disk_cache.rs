//! The disk cache of remote table blocks: a local directory of blocks as
//! stored (contents and trailer, so each one carries its CRC), bounded in
//! bytes, oldest entry evicted first.
//!
//! An entry is `<table>-<offset>.blk` (`000012-000000004096.blk`). It is
//! written without a sync: a cache need not survive a crash, and a torn or
//! damaged entry fails its length check or its CRC when read, is dropped,
//! and the block is read from the store again. Entries found at open are
//! adopted, so a restart keeps its warm cache. The directory belongs to one
//! database: table numbers are unique in it, not across databases.
//!
//! # Concurrency
//!
//! Any thread may call anything; the index is one mutex, held for map
//! updates only (file reads and writes happen outside it).

use std::collections::{HashMap, VecDeque};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

use crate::Result;
use crate::manifest::FileNumber;

/// Cache key: table number and block offset.
type Key = (u64, u64);

#[derive(Debug, Default)]
struct Index {
    /// Entry to its size in bytes.
    entries: HashMap<Key, u64>,
    /// Entries oldest first (may hold keys since removed: skipped).
    queue: VecDeque<Key>,
    size_bytes: u64,
}

/// A byte-bounded directory of table blocks.
#[derive(Debug)]
pub(crate) struct DiskCache {
    fs: Arc<dyn vfs::Fs>,
    dir: PathBuf,
    size_bytes_max: u64,
    writable: bool,
    index: Mutex<Index>,
}

fn entry_name(k: Key) -> String {
    format!("{:06}-{:012}.blk", k.0, k.1)
}

fn parse_entry(name: &str) -> Option<Key> {
    let (t, o) = name.strip_suffix(".blk")?.split_once('-')?;
    Some((t.parse().ok()?, o.parse().ok()?))
}

impl DiskCache {
    /// Opens the cache in `dir`, adopting the entries in it (evicting the
    /// excess if the bound shrank). A read-only cache (`writable` false)
    /// creates, writes and deletes nothing: it serves what is there.
    ///
    /// # Errors
    ///
    /// The directory cannot be created or listed.
    pub(crate) fn open(
        fs: Arc<dyn vfs::Fs>,
        dir: &Path,
        size_bytes_max: u64,
        writable: bool,
    ) -> Result<DiskCache> {
        let mut index = Index::default();
        if writable {
            fs.create_dir_all(dir)?;
        }
        if fs.exists(dir)? {
            let mut names: Vec<(Key, String)> = fs
                .list_dir(dir)?
                .into_iter()
                .filter_map(|n| {
                    let n = n.to_string_lossy().into_owned();
                    parse_entry(&n).map(|k| (k, n))
                })
                .collect();
            names.sort_unstable();
            for (k, name) in names {
                // An entry that cannot be opened is skipped; a bad one is
                // found by its CRC when read.
                if let Ok(len) = fs
                    .open(&dir.join(&name), vfs::OpenMode::Read)
                    .and_then(|f| f.len())
                {
                    index.entries.insert(k, len);
                    index.queue.push_back(k);
                    index.size_bytes += len;
                }
            }
        }
        let c = DiskCache {
            fs,
            dir: dir.to_path_buf(),
            size_bytes_max,
            writable,
            index: Mutex::new(index),
        };
        c.evict_to(c.size_bytes_max);
        Ok(c)
    }

    /// The stored block of `table` at `range`, if the cache has an entry
    /// of exactly that length. Not checked here: the caller checks its CRC
    /// and [`DiskCache::discard`]s a bad one.
    pub(crate) fn get(&self, table: FileNumber, range: Range<u64>) -> Option<Bytes> {
        let k = (table.0, range.start);
        let len = *self.index.lock().entries.get(&k)?;
        if len != range.end - range.start {
            self.discard(table, range.start);
            return None;
        }
        let f = self
            .fs
            .open(&self.dir.join(entry_name(k)), vfs::OpenMode::Read)
            .ok()?;
        let mut buf = vec![0u8; usize::try_from(len).ok()?];
        f.read_exact_at(&mut buf, 0).ok()?;
        Some(Bytes::from(buf))
    }

    /// Adds the stored block of `table` at `offset`, evicting the oldest
    /// entries past the bound. Best effort: a failed write leaves no entry.
    pub(crate) fn insert(&self, table: FileNumber, offset: u64, block: &[u8]) {
        let len = block.len() as u64;
        if !self.writable || len > self.size_bytes_max {
            return;
        }
        let k = (table.0, offset);
        if self.index.lock().entries.contains_key(&k) {
            return;
        }
        let path = self.dir.join(entry_name(k));
        let written = self
            .fs
            .open(&path, vfs::OpenMode::Truncate)
            .and_then(|f| f.append(block));
        if written.is_err() {
            let _ = self.fs.remove_file(&path);
            return;
        }
        {
            let mut ix = self.index.lock();
            if ix.entries.insert(k, len).is_none() {
                ix.queue.push_back(k);
                ix.size_bytes += len;
            }
        }
        self.evict_to(self.size_bytes_max);
    }

    /// Drops the entry of `table` at `offset` (it failed its checks).
    pub(crate) fn discard(&self, table: FileNumber, offset: u64) {
        let k = (table.0, offset);
        {
            let mut ix = self.index.lock();
            if let Some(len) = ix.entries.remove(&k) {
                ix.size_bytes -= len;
            }
        }
        if self.writable {
            let _ = self.fs.remove_file(&self.dir.join(entry_name(k)));
        }
    }

    /// Drops every entry of `table` (deleted from the store).
    pub(crate) fn evict_table(&self, table: FileNumber) {
        let gone: Vec<Key> = {
            let mut ix = self.index.lock();
            let gone: Vec<Key> = ix
                .entries
                .keys()
                .filter(|k| k.0 == table.0)
                .copied()
                .collect();
            for k in &gone {
                if let Some(len) = ix.entries.remove(k) {
                    ix.size_bytes -= len;
                }
            }
            gone
        };
        if self.writable {
            for k in gone {
                let _ = self.fs.remove_file(&self.dir.join(entry_name(k)));
            }
        }
    }

    /// Evicts oldest entries until at most `bound` bytes remain.
    fn evict_to(&self, bound: u64) {
        if !self.writable {
            return;
        }
        loop {
            let k = {
                let mut ix = self.index.lock();
                if ix.size_bytes <= bound {
                    return;
                }
                let Some(k) = ix.queue.pop_front() else {
                    return;
                };
                match ix.entries.remove(&k) {
                    Some(len) => ix.size_bytes -= len,
                    None => continue,
                }
                k
            };
            let _ = self.fs.remove_file(&self.dir.join(entry_name(k)));
        }
    }

    /// Bytes the cache holds.
    #[cfg(test)]
    pub(crate) fn size_bytes(&self) -> u64 {
        self.index.lock().size_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_bounded_oldest_first_and_survive_a_reopen() {
        let fs: Arc<dyn vfs::Fs> = Arc::new(vfs::MemFs::new());
        let dir = Path::new("/cache");
        let c = DiskCache::open(Arc::clone(&fs), dir, 250, true).expect("open");
        for i in 0..4u64 {
            c.insert(FileNumber(7), i * 100, &[i as u8; 100]);
        }
        assert_eq!(c.size_bytes(), 200);
        assert!(c.get(FileNumber(7), 0..100).is_none(), "oldest evicted");
        assert_eq!(
            c.get(FileNumber(7), 300..400).as_deref(),
            Some(&[3u8; 100][..])
        );
        // A wrong length is a miss, and drops the entry.
        assert!(c.get(FileNumber(7), 200..201).is_none());
        assert_eq!(c.size_bytes(), 100);
        drop(c);
        let c = DiskCache::open(Arc::clone(&fs), dir, 250, true).expect("reopen");
        assert_eq!(
            c.get(FileNumber(7), 300..400).as_deref(),
            Some(&[3u8; 100][..])
        );
        c.evict_table(FileNumber(7));
        assert!(c.get(FileNumber(7), 300..400).is_none());
        assert_eq!(fs.list_dir(dir).expect("list").len(), 0);
    }
}
