//! [`TableWriter`]: a sorted run of puts and deletes written to table files
//! outside any database, for [`Db::ingest`](crate::Db::ingest) (RocksDB's
//! `SstFileWriter`).
//!
//! The files are ordinary tables (`FORMAT.md`, "Tables") whose every entry
//! carries sequence number 0 and whose values are inline: one entry per
//! user key, keys strictly increasing across all the files one writer
//! makes. Ingest gives the entries their sequence number (see
//! `ingest/mod.rs`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use crate::builder::table_options;
use crate::key::{InternalKey, SeqNo, ValueKind};
use crate::sstable::writer::{TableOptions, TableWriter as Sink};
use crate::version::NUM_LEVELS;
use crate::{Error, KEY_LEN_MAX, Options, Result, VALUE_LEN_MAX};

/// Writes a sorted run of keys into table files outside a database, to be
/// added to one by [`Db::ingest`](crate::Db::ingest).
///
/// Keys must be added in strictly increasing byte order, each once (a put
/// or a delete); a key that does not sort after the previous one is refused
/// with [`Error::KeyOrder`] naming both, and the writer stays usable. The
/// run is cut into files of about [`Options::table_size_target_bytes`]: the
/// first is `path` itself, the next `path.2`, `path.3` and so on. Values are
/// always stored inline (never in blob files), whatever
/// [`Options::blob_threshold_bytes`] says; block size, restart interval,
/// Bloom bits and compression follow `opts` as for the database's deepest
/// level.
///
/// Nothing is durable until [`TableWriter::finish`] returns: it syncs every
/// file. A writer dropped unfinished leaves its last file partial (ingest
/// refuses it).
///
/// ```
/// use larder_lsm::{Db, Options, TableWriter};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let mut w = TableWriter::create(dir.path().join("run.sst"), &Options::default())?;
/// w.put("apple", "red")?;
/// w.put("banana", "yellow")?;
/// assert!(w.put("aardvark", "grey").is_err()); // out of order
/// let written = w.finish()?;
/// assert_eq!(written[0].entries, 2);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct TableWriter {
    fs: Arc<dyn vfs::Fs>,
    path: PathBuf,
    opts: TableOptions,
    target_bytes: u64,
    /// The file being written and what it holds so far.
    current: Option<Current>,
    /// The last user key added (to any file).
    last_key: Option<Bytes>,
    written: Vec<WrittenTable>,
}

#[derive(Debug)]
struct Current {
    path: PathBuf,
    sink: Sink,
    smallest: Bytes,
    largest: Bytes,
}

/// One table file a [`TableWriter`] finished.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WrittenTable {
    /// Where the file is.
    pub path: PathBuf,
    /// Its first key.
    pub smallest: Vec<u8>,
    /// Its last key.
    pub largest: Vec<u8>,
    /// Entries (puts and deletes) in it.
    pub entries: u64,
    /// The file's size.
    pub size_bytes: u64,
}

impl TableWriter {
    /// A writer whose first file is `path` (created or truncated on the
    /// first key), on the operating system's file system.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidOption`] for options a table cannot be built with.
    pub fn create(path: impl AsRef<Path>, opts: &Options) -> Result<TableWriter> {
        TableWriter::create_with_fs(Arc::new(vfs::OsFs::new()), path, opts)
    }

    /// [`TableWriter::create`] on any file system.
    ///
    /// # Errors
    ///
    /// As [`TableWriter::create`].
    pub fn create_with_fs(
        fs: Arc<dyn vfs::Fs>,
        path: impl AsRef<Path>,
        opts: &Options,
    ) -> Result<TableWriter> {
        if opts.block_size_bytes == 0 || opts.block_restart_interval == 0 {
            return Err(Error::InvalidOption(
                "block_size_bytes and block_restart_interval must be positive",
            ));
        }
        Ok(TableWriter {
            fs,
            path: path.as_ref().to_path_buf(),
            opts: table_options(opts, NUM_LEVELS - 1),
            target_bytes: opts.table_size_target_bytes.max(1),
            current: None,
            last_key: None,
            written: Vec::new(),
        })
    }

    /// Adds `key` with `value`.
    ///
    /// # Errors
    ///
    /// [`Error::KeyOrder`] if `key` does not sort after the previous key;
    /// [`Error::KeyTooLarge`], [`Error::ValueTooLarge`]; a failed write.
    pub fn put(&mut self, key: impl Into<Bytes>, value: impl Into<Bytes>) -> Result<()> {
        let value = value.into();
        if value.len() > VALUE_LEN_MAX {
            return Err(Error::ValueTooLarge {
                len: value.len(),
                len_max: VALUE_LEN_MAX,
            });
        }
        self.add(key.into(), ValueKind::Inline, &value)
    }

    /// Adds a tombstone for `key`: once ingested, it deletes the older
    /// versions of `key` in the database.
    ///
    /// # Errors
    ///
    /// As [`TableWriter::put`].
    pub fn delete(&mut self, key: impl Into<Bytes>) -> Result<()> {
        self.add(key.into(), ValueKind::Delete, &[])
    }

    /// Entries added so far, over all files.
    pub fn entries(&self) -> u64 {
        self.written.iter().map(|t| t.entries).sum::<u64>()
            + self.current.as_ref().map_or(0, |c| c.sink.entries())
    }

    fn add(&mut self, key: Bytes, kind: ValueKind, value: &[u8]) -> Result<()> {
        if key.len() > KEY_LEN_MAX {
            return Err(Error::KeyTooLarge {
                len: key.len(),
                len_max: KEY_LEN_MAX,
            });
        }
        if let Some(last) = &self.last_key
            && key <= *last
        {
            return Err(Error::KeyOrder {
                previous: last.to_vec(),
                key: key.to_vec(),
            });
        }
        if self.current.is_none() {
            let path = self.file_path(self.written.len());
            let sink = Sink::create(&*self.fs, &path, self.opts)?;
            self.current = Some(Current {
                path,
                sink,
                smallest: key.clone(),
                largest: key.clone(),
            });
        }
        let Some(c) = self.current.as_mut() else {
            unreachable!("a file was just opened");
        };
        c.sink.add(
            &InternalKey::new(key.clone(), SeqNo(0), kind).encoded(),
            value,
        )?;
        c.largest = key.clone();
        self.last_key = Some(key);
        if c.sink.size_estimate_bytes() >= self.target_bytes {
            self.finish_file()?;
        }
        Ok(())
    }

    /// The path of file `i` (from 0): `path`, then `path.2`, `path.3`...
    fn file_path(&self, i: usize) -> PathBuf {
        if i == 0 {
            return self.path.clone();
        }
        let mut p = self.path.clone().into_os_string();
        p.push(format!(".{}", i + 1));
        PathBuf::from(p)
    }

    fn finish_file(&mut self) -> Result<()> {
        let Some(c) = self.current.take() else {
            return Ok(());
        };
        let entries = c.sink.entries();
        let (size_bytes, _) = c.sink.finish_unsynced()?;
        self.written.push(WrittenTable {
            path: c.path,
            smallest: c.smallest.to_vec(),
            largest: c.largest.to_vec(),
            entries,
            size_bytes,
        });
        Ok(())
    }

    /// Finishes and syncs the last file, and returns every file written,
    /// in key order (none if no key was added).
    ///
    /// # Errors
    ///
    /// A failed write or sync.
    pub fn finish(mut self) -> Result<Vec<WrittenTable>> {
        self.finish_file()?;
        // Synced only now, all together: the disk writes each file back
        // while the next is built, instead of the writer waiting for it.
        for t in &self.written {
            self.fs.open(&t.path, vfs::OpenMode::Read)?.sync_data()?;
        }
        Ok(std::mem::take(&mut self.written))
    }
}
