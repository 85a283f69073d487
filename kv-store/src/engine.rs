//! The `Engine` trait every command is written against, and the types it
//! shares with the adapters (`lsm_engine`, `btree_engine`).

use std::fmt;
use std::ops::Bound;
use std::path::Path;

use bytes::Bytes;

use crate::Result;

/// Which storage engine a store uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum EngineKind {
    /// The LSM tree (`lsm` crate): WAL, memtable, SSTables, compaction.
    Lsm,
    /// The copy-on-write B+ tree (`btree` crate): pages in one file.
    Btree,
}

impl EngineKind {
    /// The name used on the command line and in the marker file.
    pub fn as_str(self) -> &'static str {
        match self {
            EngineKind::Lsm => "lsm",
            EngineKind::Btree => "btree",
        }
    }

    /// Parses a marker-file name.
    pub fn from_name(name: &str) -> Option<EngineKind> {
        match name {
            "lsm" => Some(EngineKind::Lsm),
            "btree" => Some(EngineKind::Btree),
            _ => None,
        }
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One write of a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Set a key.
    Put(Vec<u8>, Vec<u8>),
    /// Remove a key.
    Delete(Vec<u8>),
}

/// What a visitor tells a scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Hand me the next pair.
    Continue,
    /// Stop the scan.
    Stop,
}

/// What a scan calls with each pair; it may stop the scan or fail it.
pub type Visitor<'a> = dyn FnMut(&[u8], &[u8]) -> Result<Flow> + 'a;

/// Scan order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Ascending keys.
    Forward,
    /// Descending keys.
    Reverse,
}

/// What `scan` selects: the keys that start with `prefix`, are `>= from` and
/// `< to`, in `direction`, at most `limit` of them.
#[derive(Clone, Debug, Default)]
pub struct ScanSpec {
    /// Only keys with this prefix.
    pub prefix: Option<Vec<u8>>,
    /// Only keys at or after this one.
    pub from: Option<Vec<u8>>,
    /// Only keys strictly before this one.
    pub to: Option<Vec<u8>>,
    /// Descending key order instead of ascending.
    pub reverse: bool,
    /// At most this many pairs.
    pub limit: Option<u64>,
}

impl ScanSpec {
    /// The key range the spec covers, as bounds for an engine's range scan.
    pub fn bounds(&self) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
        let mut lower = Bound::Unbounded;
        let mut upper = Bound::Unbounded;
        if let Some(p) = &self.prefix {
            lower = Bound::Included(p.clone());
            upper = prefix_successor(p).map_or(Bound::Unbounded, Bound::Excluded);
        }
        if let Some(f) = &self.from {
            let tighter = match &lower {
                Bound::Included(l) => f > l,
                _ => true,
            };
            if tighter {
                lower = Bound::Included(f.clone());
            }
        }
        if let Some(t) = &self.to {
            let tighter = match &upper {
                Bound::Excluded(u) => t < u,
                _ => true,
            };
            if tighter {
                upper = Bound::Excluded(t.clone());
            }
        }
        (lower, upper)
    }

    /// Whether the range is empty (lower bound at or past the upper).
    pub fn is_empty_range(&self) -> bool {
        match self.bounds() {
            (Bound::Included(l), Bound::Excluded(u)) => l >= u,
            _ => false,
        }
    }
}

/// The smallest key greater than every key that starts with `prefix`, or
/// `None` when no such key exists (the prefix is empty or all `0xff`).
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut s = prefix.to_vec();
    while let Some(&last) = s.last() {
        if last == 0xff {
            s.pop();
        } else {
            let n = s.len() - 1;
            s[n] = last + 1;
            return Some(s);
        }
    }
    None
}

/// One damaged place `verify` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Corruption {
    /// The damaged file.
    pub file: std::path::PathBuf,
    /// Byte offset of the damaged block or page in `file`.
    pub offset: u64,
    /// What failed.
    pub what: String,
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at offset {}: {}",
            self.file.display(),
            self.offset,
            self.what
        )
    }
}

/// What `verify` did and found.
#[derive(Clone, Debug, Default)]
pub struct VerifyReport {
    /// Pairs read and checked.
    pub pairs_checked: u64,
    /// Files whose every block or page was read.
    pub files_checked: u64,
    /// Every corruption found.
    pub corruptions: Vec<Corruption>,
}

/// The operations every command is written against, one adapter per engine.
pub trait Engine {
    /// Which engine this is.
    fn kind(&self) -> EngineKind;

    /// Sets `key` to `value` (acknowledged; durable after [`Engine::sync`]).
    ///
    /// # Errors
    ///
    /// Engine errors (key or value too large, I/O).
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()>;

    /// The value of `key`.
    ///
    /// # Errors
    ///
    /// Corruption or I/O errors of the read.
    fn get(&self, key: &[u8]) -> Result<Option<Bytes>>;

    /// Removes `key`; returns nothing whether or not it existed.
    ///
    /// # Errors
    ///
    /// Engine errors.
    fn delete(&self, key: &[u8]) -> Result<()>;

    /// Applies `ops` atomically.
    ///
    /// # Errors
    ///
    /// Engine errors; nothing of the batch is applied then.
    fn write(&self, ops: &[Op]) -> Result<()>;

    /// Calls `visit` with each pair in `[lower, upper)` bounds, in `direction`,
    /// until it returns [`Flow::Stop`].
    ///
    /// # Errors
    ///
    /// A read error of the engine, or the first error of `visit`.
    fn scan_range(
        &self,
        lower: std::ops::Bound<Vec<u8>>,
        upper: std::ops::Bound<Vec<u8>>,
        direction: Direction,
        visit: &mut Visitor<'_>,
    ) -> Result<()>;

    /// Calls `visit` with each pair `spec` selects.
    ///
    /// # Errors
    ///
    /// As [`Engine::scan_range`].
    fn scan(&self, spec: &ScanSpec, visit: &mut Visitor<'_>) -> Result<()> {
        if spec.is_empty_range() || spec.limit == Some(0) {
            return Ok(());
        }
        let (lower, upper) = spec.bounds();
        let direction = if spec.reverse {
            Direction::Reverse
        } else {
            Direction::Forward
        };
        let mut seen = 0u64;
        self.scan_range(lower, upper, direction, &mut |k, v| {
            seen += 1;
            let flow = visit(k, v)?;
            if spec.limit.is_some_and(|l| seen >= l) {
                return Ok(Flow::Stop);
            }
            Ok(flow)
        })
    }

    /// The engine's shape and counters, as printable lines.
    ///
    /// # Errors
    ///
    /// A read error gathering them.
    fn stats(&self) -> Result<String>;

    /// Rewrites the store to drop overwritten and deleted data.
    ///
    /// # Errors
    ///
    /// Engine errors.
    fn compact(&self) -> Result<()>;

    /// Reads every block or page the engine can reach and checks it.
    ///
    /// # Errors
    ///
    /// An I/O error that stops the walk (corruption is reported, not returned).
    fn verify(&self) -> Result<VerifyReport>;

    /// Repairs what the engine can, returning what was done as lines.
    ///
    /// # Errors
    ///
    /// Engine errors.
    fn repair(&self) -> Result<String>;

    /// Makes every acknowledged write durable.
    ///
    /// # Errors
    ///
    /// The sync failure.
    fn sync(&self) -> Result<()>;

    /// Syncs and closes the engine.
    ///
    /// # Errors
    ///
    /// The sync failure or a background error.
    fn close(self: Box<Self>) -> Result<()>;

    /// The store's persistent facts (and `lsm`'s counters since open), for
    /// `stats` as text or JSON and for `compact`'s report.
    ///
    /// # Errors
    ///
    /// A read error gathering them.
    fn store_stats(&self) -> Result<crate::stats::StoreStats>;

    /// Writes a consistent copy of the engine's files into the directory
    /// `dest` (existing and empty), which then opens on its own as a store
    /// of this engine; returns what was written, as printable lines. lsm:
    /// the memtable is flushed and tables and blobs are hard-linked (needs
    /// a read-write open); btree: the last commit, compacted into a new
    /// file (works from a read-only open). See `backup.rs`.
    ///
    /// # Errors
    ///
    /// Engine errors (a read-only lsm handle, a failed link, copy or sync).
    fn checkpoint(&self, dest: &Path) -> Result<String>;

    /// Describes the engine's files (`inspect`): reads, never writes; what
    /// cannot be read is in the description, not an error.
    ///
    /// # Errors
    ///
    /// An I/O error that stops the description.
    fn inspect(&self) -> Result<crate::inspect::Inspection>;

    /// For `load --sorted`: a loader that writes pairs with strictly
    /// increasing keys straight into table files and adds them to the
    /// store at [`SortedLoader::finish`] (lsm: `TableWriter` and
    /// `Db::ingest`), or `None` when the engine has none (btree).
    ///
    /// # Errors
    ///
    /// The loader's scratch files cannot be created.
    fn sorted_loader(&self) -> Result<Option<Box<dyn SortedLoader + '_>>> {
        Ok(None)
    }

    /// Makes the data commands (put, get, delete, write, scan, compact,
    /// sorted loads) work in keyspace `name` (`--keyspace`), creating it
    /// when `create` (a writing command) and it does not exist.
    ///
    /// # Errors
    ///
    /// [`Error::BadArgument`](crate::Error::BadArgument) for an engine
    /// without keyspaces (btree), a keyspace that does not exist (and is
    /// not to be created), or a name the engine refuses.
    fn use_keyspace(&mut self, name: &str, create: bool) -> Result<()> {
        let _ = (name, create);
        Err(crate::Error::BadArgument(format!(
            "--keyspace: {} stores have no keyspaces (lsm stores do)",
            self.kind()
        )))
    }

    /// The names of the store's keyspaces besides the default, in the
    /// order they were created (none for an engine without keyspaces).
    fn keyspace_names(&self) -> Vec<String> {
        Vec::new()
    }

    /// Drops keyspace `name` with everything in it.
    ///
    /// # Errors
    ///
    /// As [`Engine::use_keyspace`].
    fn drop_keyspace(&self, name: &str) -> Result<()> {
        let _ = name;
        Err(crate::Error::BadArgument(format!(
            "{} stores have no keyspaces (lsm stores do)",
            self.kind()
        )))
    }
}

/// Pairs in strictly increasing key order, written outside the store and
/// added to it at once ([`Engine::sorted_loader`]).
pub trait SortedLoader {
    /// Adds a pair; its key sorts after the previous pair's (the caller
    /// checks, and names the line that breaks the order).
    ///
    /// # Errors
    ///
    /// A key or value over the engine's limits ([`Error::Refused`](crate::Error::Refused)), a
    /// failed write.
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()>;

    /// Adds every pair put so far to the store, atomically and durably,
    /// and removes the scratch files.
    ///
    /// # Errors
    ///
    /// A failed write, check or ingest: then none of the pairs is in the store.
    fn finish(self: Box<Self>) -> Result<()>;
}
