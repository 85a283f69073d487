//! The two engines behind one interface, opened with small buffers so
//! flushes, compactions and page reuse run all the time. On `lsm` keys are
//! spread over four keyspaces (`lsm_engine.rs`); on `btree` over three
//! tables (`btree_engine.rs`).

use std::path::Path;

/// Which engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// The LSM tree (`lsm`).
    Lsm,
    /// The B+ tree (`btree`).
    Btree,
}

/// One change of a batch: a value to put, or `None` to delete.
pub type Change = (u32, Option<Vec<u8>>);

/// An open engine.
pub enum Engine {
    /// An `lsm` database and its named keyspaces.
    Lsm(crate::lsm_engine::LsmDb),
    /// A `btree` database.
    Btree(btree::Db),
}

/// An engine error, as text (the two engines' error types differ).
pub type EngineResult<T> = Result<T, String>;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl Engine {
    /// Opens (or creates) the database in `dir`. `blob_threshold` turns on
    /// lsm's key-value separation for values at least that long.
    pub fn open(
        kind: Kind,
        dir: &Path,
        sync_on: bool,
        blob_threshold: Option<usize>,
    ) -> EngineResult<Engine> {
        match kind {
            Kind::Lsm => {
                let options = lsm::Options {
                    durability: if sync_on {
                        lsm::Durability::Immediate
                    } else {
                        lsm::Durability::None
                    },
                    write_buffer_size_bytes: 64 * 1024,
                    table_size_target_bytes: 64 * 1024,
                    level1_bytes_max: 256 * 1024,
                    l0_compaction_trigger: 2,
                    l0_slowdown_trigger: 4,
                    l0_stop_trigger: 8,
                    block_cache_bytes: 1 << 20,
                    blob_threshold_bytes: blob_threshold,
                    ..lsm::Options::default()
                };
                crate::lsm_engine::LsmDb::open(&dir.join("db"), options).map(Engine::Lsm)
            }
            Kind::Btree => {
                let options = btree::Options {
                    page_size_bytes: 512,
                    durability: if sync_on {
                        btree::Durability::Immediate
                    } else {
                        btree::Durability::None
                    },
                    initial_size_bytes: 0,
                    ..btree::Options::default()
                };
                btree::Db::open_with_fs(
                    std::sync::Arc::new(vfs::OsFs::new()),
                    dir.join("btree.db"),
                    options,
                )
                .map(Engine::Btree)
                .map_err(err)
            }
        }
    }

    /// Applies the changes atomically.
    pub fn write(&self, changes: &[Change]) -> EngineResult<()> {
        match self {
            Engine::Lsm(db) => db.write(changes),
            Engine::Btree(db) => crate::btree_engine::write(db, changes),
        }
    }

    /// Deletes keys `from..to` atomically: lsm writes a range tombstone in
    /// every keyspace in one batch, btree removes them in one transaction.
    pub fn delete_range(&self, from: u32, to: u32) -> EngineResult<()> {
        match self {
            Engine::Lsm(db) => db.delete_range(from, to),
            Engine::Btree(db) => {
                let changes: Vec<Change> = (from..to).map(|k| (k, None)).collect();
                crate::btree_engine::write(db, &changes)
            }
        }
    }

    /// The value of key `k`.
    pub fn get(&self, k: u32) -> EngineResult<Option<Vec<u8>>> {
        match self {
            Engine::Lsm(db) => db.get(k),
            Engine::Btree(db) => crate::btree_engine::get(db, k),
        }
    }

    /// Up to `n` pairs from key `from` on.
    pub fn scan(&self, from: u32, n: usize) -> EngineResult<Vec<(Vec<u8>, Vec<u8>)>> {
        match self {
            Engine::Lsm(db) => db.scan(from, n),
            Engine::Btree(db) => crate::btree_engine::scan(db, from, n),
        }
    }

    /// Every pair (on lsm, every pair in its own keyspace: [`Engine::audit`]
    /// reports the others).
    pub fn all(&self) -> EngineResult<Vec<(Vec<u8>, Vec<u8>)>> {
        match self {
            Engine::Lsm(db) => db.all(),
            Engine::Btree(db) => crate::btree_engine::scan(db, 0, usize::MAX),
        }
    }

    /// Violations the values read back cannot show: for `lsm`, a key in
    /// a keyspace not its own or a keyspace missing (see `lsm_engine.rs`);
    /// for `btree`, a failed `check`, a multimap table out of step with
    /// the tables, an unsound value in a kept persistent savepoint (see
    /// `btree_engine.rs`).
    pub fn audit(&self, keys: u32) -> EngineResult<Vec<String>> {
        match self {
            Engine::Lsm(db) => db.audit(),
            Engine::Btree(db) => crate::btree_engine::audit(db, keys),
        }
    }

    /// Makes every acknowledged write durable.
    pub fn sync(&self) -> EngineResult<()> {
        match self {
            Engine::Lsm(db) => db.sync(),
            Engine::Btree(db) => db.sync().map_err(err),
        }
    }
}
