//! Each engine behind [`KvEngine`], opened the way its documentation
//! recommends for a write-heavy load that is durable at `settle` (write-ahead
//! log without a sync per write; B+ trees commit each operation without
//! waiting for the disk, then sync). Block caches are 64 MiB for the LSM
//! engines.

use std::path::Path;
use std::sync::Arc;

use super::engines::{EngineSpec, KvEngine};

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
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

    fn scan_all(&self) -> Result<usize, String> {
        let mut n = 0;
        for pair in self.0.range::<&[u8], _>(..) {
            pair.map_err(err)?;
            n += 1;
        }
        Ok(n)
    }

    fn settle(&self) -> Result<(), String> {
        self.0.flush().map_err(err)?;
        self.0.sync().map_err(err)
    }
}

fn open_lsm(dir: &Path) -> Result<Box<dyn KvEngine>, String> {
    let db = lsm::Db::open(dir, lsm::Options::default()).map_err(err)?;
    Ok(Box::new(Lsm(db)))
}

#[cfg(feature = "peers")]
struct Fjall {
    db: fjall::Database,
    ks: fjall::Keyspace,
}

#[cfg(feature = "peers")]
impl KvEngine for Fjall {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), String> {
        self.ks.insert(key, value).map_err(err)
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

    fn scan_all(&self) -> Result<usize, String> {
        let mut n = 0;
        for guard in self.ks.iter() {
            guard.into_inner().map_err(err)?;
            n += 1;
        }
        Ok(n)
    }

    fn settle(&self) -> Result<(), String> {
        self.ks.rotate_memtable_and_wait().map_err(err)?;
        self.db.persist(fjall::PersistMode::SyncAll).map_err(err)
    }
}

#[cfg(feature = "peers")]
fn open_fjall(dir: &Path) -> Result<Box<dyn KvEngine>, String> {
    let db = fjall::Database::builder(dir)
        .cache_size(64 << 20)
        .open()
        .map_err(err)?;
    let ks = db
        .keyspace("report", fjall::KeyspaceCreateOptions::default)
        .map_err(err)?;
    Ok(Box::new(Fjall { db, ks }))
}

#[cfg(feature = "rocksdb")]
struct Rocks(rocksdb::DB);

#[cfg(feature = "rocksdb")]
impl KvEngine for Rocks {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), String> {
        // The default WriteOptions: WAL on, no sync per write.
        self.0.put(key, value).map_err(err)
    }

    fn get(&self, key: &[u8]) -> Result<bool, String> {
        Ok(self.0.get_pinned(key).map_err(err)?.is_some())
    }

    fn delete(&self, key: &[u8]) -> Result<(), String> {
        self.0.delete(key).map_err(err)
    }

    fn scan(&self, from: &[u8], count: usize) -> Result<usize, String> {
        let mode = rocksdb::IteratorMode::From(from, rocksdb::Direction::Forward);
        let mut n = 0;
        for pair in self.0.iterator(mode).take(count) {
            pair.map_err(err)?;
            n += 1;
        }
        Ok(n)
    }

    fn scan_all(&self) -> Result<usize, String> {
        let mut n = 0;
        for pair in self.0.iterator(rocksdb::IteratorMode::Start) {
            pair.map_err(err)?;
            n += 1;
        }
        Ok(n)
    }

    fn settle(&self) -> Result<(), String> {
        self.0.flush().map_err(err)?;
        self.0.flush_wal(true).map_err(err)
    }
}

#[cfg(feature = "rocksdb")]
fn open_rocksdb(dir: &Path) -> Result<Box<dyn KvEngine>, String> {
    let mut options = rocksdb::Options::default();
    options.create_if_missing(true);
    options.set_compression_type(rocksdb::DBCompressionType::Lz4);
    let mut table = rocksdb::BlockBasedOptions::default();
    table.set_block_cache(&rocksdb::Cache::new_lru_cache(64 << 20));
    table.set_bloom_filter(10.0, false);
    options.set_block_based_table_factory(&table);
    let db = rocksdb::DB::open(&options, dir).map_err(err)?;
    Ok(Box::new(Rocks(db)))
}

struct Btree(btree::Db);

impl KvEngine for Btree {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), String> {
        let mut txn = self.0.begin_write().map_err(err)?;
        txn.set_durability(btree::Durability::None);
        txn.insert(key, value).map_err(err)?;
        txn.commit().map_err(err)
    }

    fn get(&self, key: &[u8]) -> Result<bool, String> {
        let txn = self.0.begin_read().map_err(err)?;
        Ok(txn.get_ref(key).map_err(err)?.is_some())
    }

    fn delete(&self, key: &[u8]) -> Result<(), String> {
        let mut txn = self.0.begin_write().map_err(err)?;
        txn.set_durability(btree::Durability::None);
        txn.remove(key).map_err(err)?;
        txn.commit().map_err(err)
    }

    fn scan(&self, from: &[u8], count: usize) -> Result<usize, String> {
        let txn = self.0.begin_read().map_err(err)?;
        let mut n = 0;
        for pair in txn.range(from..).take(count) {
            pair.map_err(err)?;
            n += 1;
        }
        Ok(n)
    }

    fn scan_all(&self) -> Result<usize, String> {
        let txn = self.0.begin_read().map_err(err)?;
        let mut n = 0;
        for pair in txn.iter() {
            pair.map_err(err)?;
            n += 1;
        }
        Ok(n)
    }

    fn settle(&self) -> Result<(), String> {
        self.0.sync().map_err(err)
    }
}

fn open_btree(dir: &Path) -> Result<Box<dyn KvEngine>, String> {
    let fs: Arc<dyn vfs::Fs> = Arc::new(vfs::OsFs::new());
    let db = btree::Db::open(fs, dir.join("btree.db"), btree::Options::default()).map_err(err)?;
    Ok(Box::new(Btree(db)))
}

#[cfg(feature = "peers")]
mod redb_engine {
    use redb::{ReadableDatabase as _, ReadableTable as _};

    use super::{KvEngine, err};

    const TABLE: redb::TableDefinition<'static, &[u8], &[u8]> = redb::TableDefinition::new("t");

    pub(super) struct Redb(pub(super) redb::Database);

    impl Redb {
        fn write(
            &self,
            f: impl FnOnce(&mut redb::Table<'_, &[u8], &[u8]>) -> Result<(), String>,
        ) -> Result<(), String> {
            let mut txn = self.0.begin_write().map_err(err)?;
            txn.set_durability(redb::Durability::None).map_err(err)?;
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

        fn get(&self, key: &[u8]) -> Result<bool, String> {
            let txn = self.0.begin_read().map_err(err)?;
            let table = txn.open_table(TABLE).map_err(err)?;
            Ok(table.get(key).map_err(err)?.is_some())
        }

        fn delete(&self, key: &[u8]) -> Result<(), String> {
            self.write(|t| t.remove(key).map(|_| ()).map_err(err))
        }

        fn scan(&self, from: &[u8], count: usize) -> Result<usize, String> {
            let txn = self.0.begin_read().map_err(err)?;
            let table = txn.open_table(TABLE).map_err(err)?;
            let mut n = 0;
            for pair in table.range(from..).map_err(err)?.take(count) {
                pair.map_err(err)?;
                n += 1;
            }
            Ok(n)
        }

        fn scan_all(&self) -> Result<usize, String> {
            let txn = self.0.begin_read().map_err(err)?;
            let table = txn.open_table(TABLE).map_err(err)?;
            let mut n = 0;
            for pair in table.iter().map_err(err)? {
                pair.map_err(err)?;
                n += 1;
            }
            Ok(n)
        }

        fn settle(&self) -> Result<(), String> {
            // An immediate-durability commit makes every earlier one durable.
            let txn = self.0.begin_write().map_err(err)?;
            txn.open_table(TABLE).map_err(err)?;
            txn.commit().map_err(err)
        }
    }
}

#[cfg(feature = "peers")]
fn open_redb(dir: &Path) -> Result<Box<dyn KvEngine>, String> {
    let db = redb::Database::create(dir.join("redb.db")).map_err(err)?;
    Ok(Box::new(redb_engine::Redb(db)))
}

/// Every engine the report runs, ours first, then peers if built.
pub(super) fn engines() -> Vec<EngineSpec> {
    #[allow(unused_mut, reason = "peers add entries")]
    let mut specs = vec![
        EngineSpec {
            name: "lsm".into(),
            open: open_lsm,
        },
        EngineSpec {
            name: "btree".into(),
            open: open_btree,
        },
    ];
    #[cfg(feature = "peers")]
    specs.extend([
        EngineSpec {
            name: "fjall 3.1 (peer)".into(),
            open: open_fjall,
        },
        EngineSpec {
            name: "redb 4.6 (peer)".into(),
            open: open_redb,
        },
    ]);
    #[cfg(feature = "rocksdb")]
    specs.push(EngineSpec {
        name: "rocksdb 0.25 (peer)".into(),
        open: open_rocksdb,
    });
    specs
}
