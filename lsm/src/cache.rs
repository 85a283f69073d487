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
use std::hash::{BuildHasherDefault, Hasher};

use parking_lot::Mutex;

use crate::sstable::block::Block;

const SHARDS: usize = 16;

/// Cache key: table file number and block offset.
pub(crate) type CacheKey = (u64, u64);

/// Mixes the two words of a [`CacheKey`] (file numbers and offsets are
/// small and not adversarial): a multiply per word instead of SipHash's
/// rounds, on every get.
#[derive(Debug, Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn finish(&self) -> u64 {
        // The high bits are the best mixed; hashbrown takes its control
        // byte from the top seven and the bucket from the low bits.
        self.0 ^ (self.0 >> 29)
    }
}

fn hash(key: CacheKey) -> u64 {
    let mut h = KeyHasher::default();
    h.write_u64(key.0);
    h.write_u64(key.1);
    h.finish()
}

#[derive(Debug, Default)]
struct Shard {
    map: HashMap<CacheKey, (Block, bool), BuildHasherDefault<KeyHasher>>,
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
        // The top bits: the shard's map buckets by the low ones.
        &self.shards[(hash(key) >> 60) as usize % SHARDS]
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
