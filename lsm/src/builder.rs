//! Building one table from sorted entries: [`write_table`], used by the
//! memtable flush (`flush.rs`); [`table_options`] gives the table options
//! of a level to it and to compaction outputs (`compaction/job.rs`).

use std::path::Path;
use std::sync::Arc;

use crate::blob::{BlobUse, RefCounter, Separator};
use crate::cache::BlockCache;
use crate::manifest;
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

/// Where and how [`write_table`] writes.
pub(crate) struct TableEnv<'a> {
    pub(crate) fs: &'a dyn vfs::Fs,
    pub(crate) dir: &'a Path,
    pub(crate) table_opts: TableOptions,
    pub(crate) cache: &'a Arc<BlockCache>,
    /// Hands out the table's file number (reserved in the manifest).
    pub(crate) new_file_number: &'a dyn Fn() -> Result<u64>,
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
    let path = env.dir.join(manifest::table_name(n));
    let mut w = TableWriter::create(env.fs, &path, env.table_opts)?;
    let mut refs = RefCounter::default();
    for (mut k, mut v) in entries {
        if let Some(s) = separator.as_deref_mut() {
            s.apply(&mut k, &mut v)?;
        }
        refs.note(k.kind, &v);
        w.add(&k.encoded(), &v)?;
    }
    if w.entries() == 0 {
        drop(w);
        env.fs.remove_file(&path)?;
        return Ok(None);
    }
    let (size_bytes, _) = w.finish()?;
    let table = Table::open(env.fs, &path, n, Arc::clone(env.cache))?;
    Ok(Some(Built {
        table: Arc::new(table),
        size_bytes,
        blob_uses: refs.into_uses(),
    }))
}
