//! Each engine behind [`KvEngine`], opened the way its documentation
//! recommends for a write-heavy load that is durable at `settle` (write-ahead
//! log without a sync per write; B+ trees commit each transaction without
//! waiting for the disk, then sync), or, opened with `durable`, with every
//! write synced before it returns (the durable-commit phases).
//!
//! Cache budgets, stated in the report ([`CACHE_NOTE`]): 64 MiB of block
//! cache for `lsm`, RocksDB and fjall, 64 MiB of page cache for redb
//! (`Builder::set_cache_size`); `btree` and LMDB read through a memory map
//! and so use the OS page cache, bounded only by the machine's memory.
//!
//! RocksDB is configured as `db_bench` configures it: 10-bit Bloom filters
//! (full filters), LZ4 compression, a 64 MiB LRU block cache, leveled
//! compaction with `level_compaction_dynamic_level_bytes`, 64 MiB write
//! buffers, and otherwise RocksDB's defaults (two background jobs).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use super::engines::{EngineSpec, KvEngine};

/// The cache budget of every engine, for the report's text.
pub(super) const CACHE_NOTE: &str = "Cache budgets: 64 MiB of block cache for `lsm`, RocksDB \
     and fjall; 64 MiB of cache for redb (`Builder::set_cache_size`); `btree` and LMDB read \
     through a memory map, so they use the OS page cache instead, bounded only by the \
     machine's memory.";

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Reads pairs from `pairs` until `max` or `deadline` (checked every 1,024
/// pairs); returns how many.
fn count_until<T, E: std::fmt::Display>(
    pairs: impl Iterator<Item = Result<T, E>>,
    max: usize,
    deadline: Instant,
) -> Result<usize, String> {
    let mut n = 0;
    for pair in pairs.take(max) {
        pair.map_err(err)?;
        n += 1;
        if n % 1024 == 0 && Instant::now() >= deadline {
            break;
        }
    }
    Ok(n)
}

struct Lsm(lsm::Db);

impl KvEngine for Lsm {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), String> {
        self.0.put(key.to_vec(), value.to_vec()).map_err(err)
    }

    fn get(&self, key: &[u8]) -> Result<bool, String> {
        Ok(self.0.get(key).map_err(err)?.is_some())
    }

    fn delete(&self, key: &[u8]) -> Result<(), String> {
        self.0.delete(key.to_vec()).map_err(err)
    }

    fn scan(&self, from: &[u8], count: usize) -> Result<usize, String> {
        let mut n = 0;
        for pair in self.0.range(from..).take(count) {
            pair.map_err(err)?;
            n += 1;
        }
        Ok(n)
    }

    fn scan_all(&self, max: usize, deadline: Instant) -> Result<usize, String> {
        count_until(self.0.range::<&[u8], _>(..), max, deadline)
    }

    fn settle(&self) -> Result<(), String> {
        self.0.flush().map_err(err)?;
        self.0.sync().map_err(err)
    }

    fn close(self: Box<Self>) -> Result<(), String> {
        self.0.close().map_err(err)
    }
}

fn open_lsm(dir: &Path, durable: bool) -> Result<Box<dyn KvEngine>, String> {
    let mut options = lsm::Options::default();
    if durable {
        // Concurrent writers share one sync; a lone writer syncs each write.
        options.durability = lsm::Durability::Group;
    }
    let db = lsm::Db::open(dir, options).map_err(err)?;
    Ok(Box::new(Lsm(db)))
}

#[cfg(feature = "peers")]
struct Fjall {
    db: fjall::Database,
    ks: fjall::Keyspace,
    durable: bool,
}

#[cfg(feature = "peers")]
impl KvEngine for Fjall {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), String> {
        self.ks.insert(key, value).map_err(err)?;
        if self.durable {
            self.db.persist(fjall::PersistMode::SyncData).map_err(err)?;
        }
        Ok(())
    }

    fn get(&self, key: &[u8]) -> Result<bool, String> {
        Ok(self.ks.get(key).map_err(err)?.is_some())
    }

    fn delete(&self, key: &[u8]) -> Result<(), String> {
        self.ks.remove(key).map_err(err)
    }

    fn scan(&self, from: &[u8], count: usize) -> Result<usize, String> {
        let mut n = 0;
        for guard in self.ks.range(from..).take(count) {
            guard.into_inner().map_err(err)?;
            n += 1;
        }
        Ok(n)
    }

    fn scan_all(&self, max: usize, deadline: Instant) -> Result<usize, String> {
        count_until(self.ks.iter().map(|g| g.into_inner()), max, deadline)
    }

    fn settle(&self) -> Result<(), String> {
        self.ks.rotate_memtable_and_wait().map_err(err)?;
        self.db.persist(fjall::PersistMode::SyncAll).map_err(err)
    }
}

#[cfg(feature = "peers")]
fn open_fjall(dir: &Path, durable: bool) -> Result<Box<dyn KvEngine>, String> {
    let db = fjall::Database::builder(dir)
        .cache_size(64 << 20)
        .open()
        .map_err(err)?;
    let ks = db
        .keyspace("report", fjall::KeyspaceCreateOptions::default)
        .map_err(err)?;
    Ok(Box::new(Fjall { db, ks, durable }))
}

#[cfg(feature = "rocksdb")]
struct Rocks {
    db: rocksdb::DB,
    write: rocksdb::WriteOptions,
}

#[cfg(feature = "rocksdb")]
impl KvEngine for Rocks {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), String> {
        self.db.put_opt(key, value, &self.write).map_err(err)
    }

    fn get(&self, key: &[u8]) -> Result<bool, String> {
        Ok(self.db.get_pinned(key).map_err(err)?.is_some())
    }

    fn delete(&self, key: &[u8]) -> Result<(), String> {
        self.db.delete_opt(key, &self.write).map_err(err)
    }

    fn scan(&self, from: &[u8], count: usize) -> Result<usize, String> {
        let mode = rocksdb::IteratorMode::From(from, rocksdb::Direction::Forward);
        let mut n = 0;
        for pair in self.db.iterator(mode).take(count) {
            pair.map_err(err)?;
            n += 1;
        }
        Ok(n)
    }

    fn scan_all(&self, max: usize, deadline: Instant) -> Result<usize, String> {
        count_until(
            self.db.iterator(rocksdb::IteratorMode::Start),
            max,
            deadline,
        )
    }

    fn settle(&self) -> Result<(), String> {
        self.db.flush().map_err(err)?;
        self.db.flush_wal(true).map_err(err)
    }
}

#[cfg(feature = "rocksdb")]
fn open_rocksdb(dir: &Path, durable: bool) -> Result<Box<dyn KvEngine>, String> {
    // db_bench's configuration: see the module docs.
    let mut options = rocksdb::Options::default();
    options.create_if_missing(true);
    options.set_compression_type(rocksdb::DBCompressionType::Lz4);
    options.set_write_buffer_size(64 << 20);
    options.set_compaction_style(rocksdb::DBCompactionStyle::Level);
    options.set_level_compaction_dynamic_level_bytes(true);
    let mut table = rocksdb::BlockBasedOptions::default();
    table.set_block_cache(&rocksdb::Cache::new_lru_cache(64 << 20));
    table.set_bloom_filter(10.0, false);
    options.set_block_based_table_factory(&table);
    let db = rocksdb::DB::open(&options, dir).map_err(err)?;
    let mut write = rocksdb::WriteOptions::default();
    // The default: WAL on, no sync per write, unless durable.
    write.set_sync(durable);
    Ok(Box::new(Rocks { db, write }))
}

struct Btree {
    db: btree::Db,
    durability: btree::Durability,
}

impl KvEngine for Btree {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), String> {
        self.put_batch(&[(key, value)])
    }

    fn put_batch(&self, pairs: &[(&[u8], &[u8])]) -> Result<(), String> {
        let mut txn = self.db.begin_write().map_err(err)?;
        txn.set_durability(self.durability);
        for (key, value) in pairs {
            txn.insert(key, value).map_err(err)?;
        }
        txn.commit().map_err(err)
    }

    fn get(&self, key: &[u8]) -> Result<bool, String> {
        let txn = self.db.begin_read().map_err(err)?;
        Ok(txn.get_ref(key).map_err(err)?.is_some())
    }

    fn delete(&self, key: &[u8]) -> Result<(), String> {
        let mut txn = self.db.begin_write().map_err(err)?;
        txn.set_durability(self.durability);
        txn.remove(key).map_err(err)?;
        txn.commit().map_err(err)
    }

    fn scan(&self, from: &[u8], count: usize) -> Result<usize, String> {
        let txn = self.db.begin_read().map_err(err)?;
        let mut n = 0;
        for pair in txn.range(from..).take(count) {
            pair.map_err(err)?;
            n += 1;
        }
        Ok(n)
    }

    fn scan_all(&self, max: usize, deadline: Instant) -> Result<usize, String> {
        let txn = self.db.begin_read().map_err(err)?;
        count_until(txn.iter(), max, deadline)
    }

    fn settle(&self) -> Result<(), String> {
        self.db.sync().map_err(err)
    }
}

fn open_btree(dir: &Path, durable: bool) -> Result<Box<dyn KvEngine>, String> {
    let fs: Arc<dyn vfs::Fs> = Arc::new(vfs::OsFs::new());
    let db = btree::Db::open_with_fs(fs, dir.join("btree.db"), btree::Options::default())
        .map_err(err)?;
    let durability = if durable {
        btree::Durability::Immediate
    } else {
        btree::Durability::None
    };
    Ok(Box::new(Btree { db, durability }))
}

#[cfg(feature = "peers")]
mod redb_engine {
    use std::time::Instant;

    use redb::{ReadableDatabase as _, ReadableTable as _};

    use super::{KvEngine, count_until, err};

    const TABLE: redb::TableDefinition<'static, &[u8], &[u8]> = redb::TableDefinition::new("t");

    pub(super) struct Redb {
        pub(super) db: redb::Database,
        pub(super) durable: bool,
    }

    impl Redb {
        fn write(
            &self,
            f: impl FnOnce(&mut redb::Table<'_, &[u8], &[u8]>) -> Result<(), String>,
        ) -> Result<(), String> {
            let mut txn = self.db.begin_write().map_err(err)?;
            if !self.durable {
                txn.set_durability(redb::Durability::None).map_err(err)?;
            }
            {
                let mut table = txn.open_table(TABLE).map_err(err)?;
                f(&mut table)?;
            }
            txn.commit().map_err(err)
        }
    }

    impl KvEngine for Redb {
        fn put(&self, key: &[u8], value: &[u8]) -> Result<(), String> {
            self.write(|t| t.insert(key, value).map(|_| ()).map_err(err))
        }

        fn put_batch(&self, pairs: &[(&[u8], &[u8])]) -> Result<(), String> {
            self.write(|t| {
                for (key, value) in pairs {
                    t.insert(*key, *value).map_err(err)?;
                }
                Ok(())
            })
        }

        fn get(&self, key: &[u8]) -> Result<bool, String> {
            let txn = self.db.begin_read().map_err(err)?;
            let table = txn.open_table(TABLE).map_err(err)?;
            Ok(table.get(key).map_err(err)?.is_some())
        }

        fn delete(&self, key: &[u8]) -> Result<(), String> {
            self.write(|t| t.remove(key).map(|_| ()).map_err(err))
        }

        fn scan(&self, from: &[u8], count: usize) -> Result<usize, String> {
            let txn = self.db.begin_read().map_err(err)?;
            let table = txn.open_table(TABLE).map_err(err)?;
            let mut n = 0;
            for pair in table.range(from..).map_err(err)?.take(count) {
                pair.map_err(err)?;
                n += 1;
            }
            Ok(n)
        }

        fn scan_all(&self, max: usize, deadline: Instant) -> Result<usize, String> {
            let txn = self.db.begin_read().map_err(err)?;
            let table = txn.open_table(TABLE).map_err(err)?;
            count_until(table.iter().map_err(err)?, max, deadline)
        }

        fn settle(&self) -> Result<(), String> {
            // An immediate-durability commit makes every earlier one durable.
            let txn = self.db.begin_write().map_err(err)?;
            txn.open_table(TABLE).map_err(err)?;
            txn.commit().map_err(err)
        }
    }
}

#[cfg(feature = "peers")]
fn open_redb(dir: &Path, durable: bool) -> Result<Box<dyn KvEngine>, String> {
    let db = redb::Builder::new()
        .set_cache_size(64 << 20)
        .create(dir.join("redb.db"))
        .map_err(err)?;
    Ok(Box::new(redb_engine::Redb { db, durable }))
}

#[cfg(feature = "lmdb")]
#[allow(unsafe_code, reason = "heed's open and flags are unsafe by their API")]
mod lmdb_engine {
    use std::time::Instant;

    use heed::types::Bytes;

    use super::{KvEngine, count_until, err};

    /// LMDB's map: address space only, pages are allocated as written.
    /// 64 GiB holds the large tier (about 2.3 GB of pairs) many times over.
    const MAP_SIZE_BYTES: usize = 64 << 30;

    pub(super) struct Lmdb {
        env: heed::Env,
        db: heed::Database<Bytes, Bytes>,
        durable: bool,
    }

    impl Lmdb {
        fn write(
            &self,
            f: impl FnOnce(&mut heed::RwTxn<'_>) -> Result<(), String>,
        ) -> Result<(), String> {
            let mut txn = self.env.write_txn().map_err(err)?;
            f(&mut txn)?;
            txn.commit().map_err(err)?;
            if self.durable {
                // Opened with NO_SYNC: sync the commit as LMDB's default would.
                self.env.force_sync().map_err(err)?;
            }
            Ok(())
        }
    }

    impl KvEngine for Lmdb {
        fn put(&self, key: &[u8], value: &[u8]) -> Result<(), String> {
            self.write(|txn| self.db.put(txn, key, value).map_err(err))
        }

        fn put_batch(&self, pairs: &[(&[u8], &[u8])]) -> Result<(), String> {
            self.write(|txn| {
                for (key, value) in pairs {
                    self.db.put(txn, key, value).map_err(err)?;
                }
                Ok(())
            })
        }

        fn get(&self, key: &[u8]) -> Result<bool, String> {
            let txn = self.env.read_txn().map_err(err)?;
            Ok(self.db.get(&txn, key).map_err(err)?.is_some())
        }

        fn delete(&self, key: &[u8]) -> Result<(), String> {
            self.write(|txn| self.db.delete(txn, key).map(|_| ()).map_err(err))
        }

        fn scan(&self, from: &[u8], count: usize) -> Result<usize, String> {
            let txn = self.env.read_txn().map_err(err)?;
            let range = (std::ops::Bound::Included(from), std::ops::Bound::Unbounded);
            let mut n = 0;
            for pair in self.db.range(&txn, &range).map_err(err)?.take(count) {
                pair.map_err(err)?;
                n += 1;
            }
            Ok(n)
        }

        fn scan_all(&self, max: usize, deadline: Instant) -> Result<usize, String> {
            let txn = self.env.read_txn().map_err(err)?;
            count_until(self.db.iter(&txn).map_err(err)?, max, deadline)
        }

        fn settle(&self) -> Result<(), String> {
            self.env.force_sync().map_err(err)
        }

        fn close(self: Box<Self>) -> Result<(), String> {
            self.env.force_sync().map_err(err)?;
            // The environment closes when its last handle drops; wait for it,
            // so the next open of the directory finds it closed.
            self.env.prepare_for_closing().wait();
            Ok(())
        }
    }

    pub(super) fn open(dir: &std::path::Path, durable: bool) -> Result<Box<dyn KvEngine>, String> {
        let mut options = heed::EnvOpenOptions::new();
        options.map_size(MAP_SIZE_BYTES).max_dbs(1);
        // SAFETY: NO_SYNC only weakens durability (a crash may lose commits
        // since the last sync); `settle` and durable writes call force_sync.
        unsafe {
            options.flags(heed::EnvFlags::NO_SYNC | heed::EnvFlags::NO_READ_AHEAD);
        }
        // SAFETY: the directory is this run's own; nothing else maps or
        // truncates the file while the environment is open.
        let env = unsafe { options.open(dir) }.map_err(err)?;
        let mut txn = env.write_txn().map_err(err)?;
        let db = env.create_database(&mut txn, None).map_err(err)?;
        txn.commit().map_err(err)?;
        Ok(Box::new(Lmdb { env, db, durable }))
    }
}

/// Every engine the report runs, ours first, then peers if built.
pub(super) fn engines() -> Vec<EngineSpec> {
    // LSM fills write one key per call, as db_bench does; the B+ trees
    // commit 1,000 keys per transaction (redb's and LMDB's bulk-load idiom).
    #[allow(unused_mut, reason = "peers add entries")]
    let mut specs = vec![
        EngineSpec {
            name: "lsm".into(),
            open: open_lsm,
            fill_batch: 1,
        },
        EngineSpec {
            name: "btree".into(),
            open: open_btree,
            fill_batch: 1000,
        },
    ];
    #[cfg(feature = "peers")]
    specs.extend([
        EngineSpec {
            name: "fjall 3.1 (peer)".into(),
            open: open_fjall,
            fill_batch: 1,
        },
        EngineSpec {
            name: "redb 4.6 (peer)".into(),
            open: open_redb,
            fill_batch: 1000,
        },
    ]);
    #[cfg(feature = "rocksdb")]
    specs.push(EngineSpec {
        name: "rocksdb 0.25 (peer)".into(),
        open: open_rocksdb,
        fill_batch: 1,
    });
    #[cfg(feature = "lmdb")]
    specs.push(EngineSpec {
        name: "lmdb 0.9 via heed 0.22 (peer)".into(),
        open: lmdb_engine::open,
        fill_batch: 1000,
    });
    specs
}
