//! The `lsm` side of the soak: keys spread over keyspaces.
//!
//! Key `k` lives in keyspace `k % 4`: the default keyspace and three named
//! ones ([`NAMES`]), created on the first open and opened again by name on
//! every later one, each with its own memtable size, compression and
//! filter. So a batch of the workload usually writes several keyspaces in
//! one log record, a delete of a run of keys is one batch of a range
//! delete in every keyspace, and a kill must leave every keyspace as of
//! the same write. Transactions are the default keyspace's only.
//!
//! Reads go to the key's own keyspace; a scan merges every keyspace's.
//! `LsmDb::audit` checks that every keyspace holds only its own keys (a
//! write that landed in another keyspace, at once or at recovery, is a
//! violation) and that the names are the three created.

use std::path::Path;

use crate::engine::{Change, EngineResult};
use crate::value::{key, key_number};

/// The named keyspaces: key `k` lives in `NAMES[k % 4 - 1]`, or in the
/// default keyspace when `k % 4 == 0`.
pub const NAMES: [&str; 3] = ["ks1", "ks2", "ks3"];

/// Keyspaces in all, the default one included.
const SPACES: u32 = NAMES.len() as u32 + 1;

/// The default keyspace's key nearest below `k`: transactions write the
/// default keyspace only.
pub fn default_key(k: u32) -> u32 {
    k - k % SPACES
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// An `lsm` database and a handle of each named keyspace.
pub struct LsmDb {
    db: lsm::Db,
    /// `NAMES`' keyspaces, in order.
    named: Vec<lsm::Keyspace>,
}

/// The pairs of `range` in one keyspace (`None`: the default).
fn range(
    db: &lsm::Db,
    ks: Option<&lsm::Keyspace>,
    lo: &[u8],
    n: usize,
) -> EngineResult<Vec<(Vec<u8>, Vec<u8>)>> {
    let it = match ks {
        Some(ks) => ks.range(lo..),
        None => db.range(lo..),
    };
    it.take(n)
        .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(err))
        .collect()
}

impl LsmDb {
    /// Opens the database and its named keyspaces, creating what is not
    /// there yet. `ks1` takes the database's own options; `ks2` a smaller
    /// memtable, compressed, with a denser filter; `ks3` no filter.
    pub(crate) fn open(dir: &Path, options: lsm::Options) -> EngineResult<LsmDb> {
        let own = lsm::KeyspaceOptions::from_db(&options);
        let db = lsm::Db::open(dir, options).map_err(err)?;
        let opts = [
            own,
            lsm::KeyspaceOptions {
                write_buffer_size_bytes: 16 * 1024,
                compression: true,
                bloom_bits_per_key: 16,
                ..own
            },
            lsm::KeyspaceOptions {
                bloom_bits_per_key: 0,
                ..own
            },
        ];
        let named = NAMES
            .iter()
            .zip(opts)
            .map(|(name, o)| {
                db.keyspace_with(name, o)
                    .map_err(|e| format!("keyspace {name}: {e}"))
            })
            .collect::<EngineResult<Vec<_>>>()?;
        Ok(LsmDb { db, named })
    }

    /// The default keyspace's database handle (transactions use it).
    pub fn db(&self) -> &lsm::Db {
        &self.db
    }

    /// Key `k`'s keyspace: `None` for the default one.
    fn space(&self, k: u32) -> Option<&lsm::Keyspace> {
        match k % SPACES {
            0 => None,
            i => Some(&self.named[i as usize - 1]),
        }
    }

    /// Named keyspace `name`'s handle, for tests that write behind the
    /// workload's back.
    pub fn keyspace(&self, name: &str) -> Option<&lsm::Keyspace> {
        NAMES
            .iter()
            .position(|n| *n == name)
            .map(|i| &self.named[i])
    }

    /// Applies the changes in one batch, each in its key's keyspace.
    pub(crate) fn write(&self, changes: &[Change]) -> EngineResult<()> {
        let mut batch = lsm::WriteBatch::new();
        for (k, v) in changes {
            let kb = key(*k).to_vec();
            match (self.space(*k), v) {
                (Some(ks), Some(v)) => batch.put_in(ks, kb, v.clone()),
                (Some(ks), None) => batch.delete_in(ks, kb),
                (None, Some(v)) => batch.put(kb, v.clone()),
                (None, None) => batch.delete(kb),
            }
        }
        self.db.write(batch).map_err(err)
    }

    /// Deletes keys `from..to`: one batch of a range delete in every
    /// keyspace (each holds only its own keys of the run).
    pub(crate) fn delete_range(&self, from: u32, to: u32) -> EngineResult<()> {
        let (lo, hi) = (key(from).to_vec(), key(to).to_vec());
        let mut batch = lsm::WriteBatch::new();
        batch.delete_range(lo.clone(), hi.clone());
        for ks in &self.named {
            batch.delete_range_in(ks, lo.clone(), hi.clone());
        }
        self.db.write(batch).map_err(err)
    }

    pub(crate) fn get(&self, k: u32) -> EngineResult<Option<Vec<u8>>> {
        let kb = key(k);
        match self.space(k) {
            Some(ks) => ks.get(&kb),
            None => self.db.get(&kb),
        }
        .map(|v| v.map(|v| v.to_vec()))
        .map_err(err)
    }

    /// Up to `n` pairs from key `from` on, merged from every keyspace. A
    /// key in a keyspace not its own is an error.
    pub(crate) fn scan(&self, from: u32, n: usize) -> EngineResult<Vec<(Vec<u8>, Vec<u8>)>> {
        let lo = key(from);
        let mut all = Vec::new();
        for i in 0..SPACES {
            let ks = (i > 0).then(|| &self.named[i as usize - 1]);
            for (k, v) in range(&self.db, ks, &lo, n)? {
                if let Some(m) = key_number(&k).filter(|m| m % SPACES != i) {
                    return Err(format!("scan: key {m} in keyspace {}", name(i)));
                }
                all.push((k, v));
            }
        }
        all.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        all.truncate(n);
        Ok(all)
    }

    /// Every pair that is in its own keyspace (the others are
    /// `LsmDb::audit`'s to report).
    pub(crate) fn all(&self) -> EngineResult<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut all = Vec::new();
        for i in 0..SPACES {
            let ks = (i > 0).then(|| &self.named[i as usize - 1]);
            let pairs = range(&self.db, ks, &[], usize::MAX)?;
            all.extend(
                pairs
                    .into_iter()
                    .filter(|(k, _)| key_number(k).is_none_or(|m| m % SPACES == i)),
            );
        }
        all.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Ok(all)
    }

    /// Keys in a keyspace not their own, and names other than the three
    /// created.
    pub(crate) fn audit(&self) -> EngineResult<Vec<String>> {
        let mut out = Vec::new();
        let names = self.db.keyspace_names();
        if names != NAMES {
            out.push(format!("keyspaces {names:?}, expected {NAMES:?}"));
        }
        for i in 0..SPACES {
            let ks = (i > 0).then(|| &self.named[i as usize - 1]);
            for (k, _) in range(&self.db, ks, &[], usize::MAX)? {
                if let Some(m) = key_number(&k).filter(|m| m % SPACES != i) {
                    out.push(format!(
                        "key {m} is in keyspace {}, it was written to {}",
                        name(i),
                        name(m % SPACES)
                    ));
                }
            }
        }
        Ok(out)
    }

    pub(crate) fn sync(&self) -> EngineResult<()> {
        self.db.sync().map_err(err)
    }
}

/// Keyspace `i`'s name (0: the default one).
fn name(i: u32) -> &'static str {
    match i {
        0 => "default",
        i => NAMES[i as usize - 1],
    }
}
