//! Building tables: [`TableBuilder`], one table being written with the blob
//! values it references, shared by the memtable flush ([`write_table`],
//! `flush.rs`) and compaction outputs (`compaction/job.rs`);
//! [`table_options`] gives both the options of a level. (Recovery writes no
//! table: an open keeps the replayed memtable and flushes it later in the
//! ordinary way.)

use std::sync::Arc;

use crate::blob::{BlobUse, RefCounter, Separator};
use crate::compaction::job::Output;
use crate::key::InternalKey;
use crate::manifest::FileNumber;
use crate::memtable::Entry;
use crate::sstable::reader::Table;
use crate::sstable::writer::{TableOptions, TableWriter};
use crate::tables::TableFiles;
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
    /// Creates table `number` where `tables` keep tables.
    ///
    /// # Errors
    ///
    /// The file cannot be created.
    pub(crate) fn create(
        tables: &TableFiles,
        number: FileNumber,
        opts: TableOptions,
    ) -> Result<TableBuilder> {
        Ok(TableBuilder {
            number,
            writer: tables.create(number, opts)?,
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

    /// The table's range tombstones (`crate::range_del`).
    pub(crate) fn set_range_dels(&mut self, f: crate::range_del::Fragments) {
        self.writer.set_range_dels(f);
    }

    /// Bytes the table would take if finished now.
    pub(crate) fn size_estimate_bytes(&self) -> u64 {
        self.writer.size_estimate_bytes()
    }

    /// Entries added so far.
    pub(crate) fn entries(&self) -> u64 {
        self.writer.entries()
    }

    /// Writes the index, filter, properties and footer, and syncs (or
    /// uploads the table whole): returns the table, open, with its size
    /// and blob uses.
    ///
    /// # Errors
    ///
    /// A failed write, sync or upload.
    pub(crate) fn finish(self, tables: &TableFiles) -> Result<Output> {
        let table = tables.finish(self.number, self.writer)?;
        Ok(Output {
            number: self.number,
            size_bytes: table.size_bytes(),
            blob_uses: self.refs.into_uses(),
            table: Arc::new(table),
        })
    }
}

/// Where and how [`write_table`] writes.
pub(crate) struct TableEnv<'a> {
    pub(crate) tables: &'a TableFiles,
    pub(crate) table_opts: TableOptions,
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
/// it, with `range_dels` (a memtable's range tombstones). Writes nothing
/// (and returns `None`) when `entries` and `range_dels` are empty. The
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
    range_dels: Option<crate::range_del::Fragments>,
) -> Result<Option<Built>> {
    let n = (env.new_file_number)()?;
    let mut b = TableBuilder::create(env.tables, n, env.table_opts)?;
    for (mut k, mut v) in entries {
        if let Some(s) = separator.as_deref_mut() {
            s.apply(&mut k, &mut v)?;
        }
        b.add(&k, &v)?;
    }
    if let Some(f) = range_dels {
        b.set_range_dels(f);
    }
    if b.entries() == 0 && !b.writer.has_range_dels() {
        drop(b);
        env.tables.discard(n)?;
        return Ok(None);
    }
    let Output {
        size_bytes,
        blob_uses,
        table,
        ..
    } = b.finish(env.tables)?;
    Ok(Some(Built {
        table,
        size_bytes,
        blob_uses,
    }))
}
