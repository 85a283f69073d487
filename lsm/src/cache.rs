//! The block cache: decoded blocks of every table, bounded in bytes.
//!
//! Sharded by key hash; each shard evicts with CLOCK (a FIFO queue where a
//! block read since it was last passed gets a second chance), which costs a
//! flag store per hit instead of list surgery under the lock.
//!
//! # Concurrency
//!
//! Any thread may call anything; each call locks one shard briefly.

use std::collections::{HashMap, VecDeque};

use parking_lot::Mutex;

use crate::sstable::block::Block;

const SHARDS: usize = 16;

/// Cache key: table file number and block offset.
pub(crate) type CacheKey = (u64, u64);

#[derive(Debug, Default)]
struct Shard {
    map: HashMap<CacheKey, (Block, bool)>,
    queue: VecDeque<CacheKey>,
    size_bytes: usize,
}

/// A byte-bounded block cache shared by all tables.
#[derive(Debug)]
pub(crate) struct BlockCache {
    shards: Vec<Mutex<Shard>>,
    shard_capacity_bytes: usize,
}

impl BlockCache {
    pub(crate) fn new(capacity_bytes: usize) -> BlockCache {
        BlockCache {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            shard_capacity_bytes: capacity_bytes / SHARDS,
        }
    }

    fn shard(&self, key: CacheKey) -> &Mutex<Shard> {
        let h = xxhash_rust::xxh3::xxh3_64(&[key.0.to_le_bytes(), key.1.to_le_bytes()].concat());
        &self.shards[(h % SHARDS as u64) as usize]
    }

    pub(crate) fn get(&self, key: CacheKey) -> Option<Block> {
        let mut s = self.shard(key).lock();
        let e = s.map.get_mut(&key)?;
        e.1 = true;
        Some(e.0.clone())
    }

    pub(crate) fn insert(&self, key: CacheKey, block: Block) {
        let size = block.size_bytes();
        if size > self.shard_capacity_bytes {
            return;
        }
        let mut s = self.shard(key).lock();
        if s.map.contains_key(&key) {
            return;
        }
        // Bounded: each pass either evicts or clears one flag, and every flag
        // is cleared within one lap of the queue.
        while s.size_bytes + size > self.shard_capacity_bytes {
            let Some(k) = s.queue.pop_front() else { break };
            match s.map.get_mut(&k) {
                Some(e) if e.1 => {
                    e.1 = false;
                    s.queue.push_back(k);
                }
                Some(_) => {
                    if let Some((b, _)) = s.map.remove(&k) {
                        s.size_bytes -= b.size_bytes();
                    }
                }
                None => {}
            }
        }
        s.size_bytes += size;
        s.map.insert(key, (block, false));
        s.queue.push_back(key);
    }

    /// Drops every block of a table (after it was deleted).
    pub(crate) fn evict_table(&self, table: u64) {
        for shard in &self.shards {
            let mut s = shard.lock();
            let before = s.map.len();
            let mut freed = 0;
            s.map.retain(|k, (b, _)| {
                let keep = k.0 != table;
                if !keep {
                    freed += b.size_bytes();
                }
                keep
            });
            if s.map.len() != before {
                s.size_bytes -= freed;
                let Shard { map, queue, .. } = &mut *s;
                queue.retain(|k| map.contains_key(k));
            }
        }
    }
}
