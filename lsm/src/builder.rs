//! Building tables: [`TableBuilder`], one table being written with the blob
//! values it references, shared by the memtable flush ([`write_table`],
//! `flush.rs`) and compaction outputs (`compaction/job.rs`);
//! [`table_options`] gives both the options of a level. (Recovery writes no
//! table: an open keeps the replayed memtable and flushes it later in the
//! ordinary way.)

use std::path::Path;
use std::sync::Arc;

use crate::blob::{BlobUse, RefCounter, Separator};
use crate::cache::BlockCache;
use crate::compaction::job::Output;
use crate::key::InternalKey;
use crate::manifest::{self, FileNumber};
use crate::memtable::Entry;
use crate::sstable::reader::Table;
use crate::sstable::writer::{TableOptions, TableWriter};
use crate::{Options, Result};

/// Options of a table written to `level`.
pub(crate) fn table_options(opts: &Options, level: usize) -> TableOptions {
    TableOptions {
        block_size_bytes: opts.block_size_bytes,
        restart_interval: opts.block_restart_interval,
        bloom_bits_per_key: opts.bloom_bits_per_key,
        compression: opts.compression && level >= opts.compression_min_level,
    }
}

/// One table being written: its number, the file, and the blob values its
/// entries reference (a table's blob uses go into the manifest edit that
/// adds it, for blob garbage accounting).
pub(crate) struct TableBuilder {
    number: FileNumber,
    writer: TableWriter,
    refs: RefCounter,
}

impl TableBuilder {
    /// Creates table file `number` in `dir`.
    ///
    /// # Errors
    ///
    /// The file cannot be created.
    pub(crate) fn create(
        fs: &dyn vfs::Fs,
        dir: &Path,
        number: FileNumber,
        opts: TableOptions,
    ) -> Result<TableBuilder> {
        let path = dir.join(manifest::table_name(number));
        Ok(TableBuilder {
            number,
            writer: TableWriter::create(fs, &path, opts)?,
            refs: RefCounter::default(),
        })
    }

    /// Adds an entry; keys must increase (in internal-key order).
    ///
    /// # Errors
    ///
    /// A failed write of a finished block.
    pub(crate) fn add(&mut self, key: &InternalKey, value: &[u8]) -> Result<()> {
        self.refs.note(key.kind, value);
        self.writer.add(&key.encoded(), value)
    }

    /// Bytes the table would take if finished now.
    pub(crate) fn size_estimate_bytes(&self) -> u64 {
        self.writer.size_estimate_bytes()
    }

    /// Entries added so far.
    pub(crate) fn entries(&self) -> u64 {
        self.writer.entries()
    }

    /// Writes the index, filter, properties and footer, and syncs: returns
    /// the table's number, size and blob uses.
    ///
    /// # Errors
    ///
    /// A failed write or sync.
    pub(crate) fn finish(self) -> Result<Output> {
        let (size_bytes, _) = self.writer.finish()?;
        Ok(Output {
            number: self.number,
            size_bytes,
            blob_uses: self.refs.into_uses(),
        })
    }
}

/// Where and how [`write_table`] writes.
pub(crate) struct TableEnv<'a> {
    pub(crate) fs: &'a dyn vfs::Fs,
    pub(crate) dir: &'a Path,
    pub(crate) table_opts: TableOptions,
    pub(crate) cache: &'a Arc<BlockCache>,
    /// Hands out the table's file number (reserved in the manifest).
    pub(crate) new_file_number: &'a dyn Fn() -> Result<FileNumber>,
}

/// A table [`write_table`] wrote: open, with its size and the blob values
/// it references.
pub(crate) struct Built {
    pub(crate) table: Arc<Table>,
    pub(crate) size_bytes: u64,
    pub(crate) blob_uses: Vec<BlobUse>,
}

/// Writes `entries` (sorted, as a memtable yields them) to a new table,
/// synced, moving large values into blobs through `separator`, and opens
/// it. Writes nothing (and returns `None`) when `entries` is empty. The
/// caller syncs the directory and logs the table in a manifest edit.
///
/// # Errors
///
/// A failed write, sync or blob write; the partial table is left for the
/// next open to delete (its number is above every recorded table).
pub(crate) fn write_table(
    env: &TableEnv<'_>,
    entries: impl Iterator<Item = Entry>,
    mut separator: Option<&mut Separator<'_>>,
) -> Result<Option<Built>> {
    let n = (env.new_file_number)()?;
    let mut b = TableBuilder::create(env.fs, env.dir, n, env.table_opts)?;
    for (mut k, mut v) in entries {
        if let Some(s) = separator.as_deref_mut() {
            s.apply(&mut k, &mut v)?;
        }
        b.add(&k, &v)?;
    }
    let path = env.dir.join(manifest::table_name(n));
    if b.entries() == 0 {
        drop(b);
        env.fs.remove_file(&path)?;
        return Ok(None);
    }
    let Output {
        size_bytes,
        blob_uses,
        ..
    } = b.finish()?;
    let table = Table::open(env.fs, &path, n, Arc::clone(env.cache))?;
    Ok(Some(Built {
        table: Arc::new(table),
        size_bytes,
        blob_uses,
    }))
}
