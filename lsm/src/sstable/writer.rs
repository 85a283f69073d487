//! Writes a table from entries added in internal-key order, to a file or
//! (for a table bound for an object store) to memory.

use std::path::Path;

use bytes::Bytes;

use crate::Result;
use crate::filter;
use crate::key::{self, SeqNo, ValueKind};
use crate::sstable::block::BlockBuilder;
use crate::sstable::footer::Footer;
use crate::sstable::index::BlockHandle;
use crate::sstable::properties::Properties;
use crate::sstable::trailer;

/// Bytes buffered before one `append` to the file.
const WRITE_BUFFER_BYTES: usize = 256 * 1024;

/// Table-shaping options, copied from [`Options`](crate::Options).
#[derive(Clone, Copy, Debug)]
pub(crate) struct TableOptions {
    pub(crate) block_size_bytes: usize,
    pub(crate) restart_interval: usize,
    pub(crate) bloom_bits_per_key: usize,
    pub(crate) compression: bool,
}

/// Builds one table file.
#[derive(Debug)]
pub(crate) struct TableWriter {
    /// The file the table goes to; `None`: the table stays in `buf` whole,
    /// for an upload ([`TableWriter::in_memory`]).
    file: Option<Box<dyn vfs::File>>,
    opts: TableOptions,
    offset: u64,
    buf: Vec<u8>,
    data: BlockBuilder,
    index: BlockBuilder,
    hashes: Vec<u128>,
    last_user_key: Vec<u8>,
    props: Properties,
    /// Range tombstones ([`TableWriter::set_range_dels`]).
    range_dels: crate::range_del::Fragments,
}

impl TableWriter {
    pub(crate) fn create(fs: &dyn vfs::Fs, path: &Path, opts: TableOptions) -> Result<TableWriter> {
        let file = fs.open(path, vfs::OpenMode::Truncate)?;
        Ok(TableWriter::with_file(Some(file), opts))
    }

    /// A table built in memory: [`TableWriter::finish`] returns its bytes.
    pub(crate) fn in_memory(opts: TableOptions) -> TableWriter {
        TableWriter::with_file(None, opts)
    }

    fn with_file(file: Option<Box<dyn vfs::File>>, opts: TableOptions) -> TableWriter {
        let mut buf = Vec::with_capacity(WRITE_BUFFER_BYTES + 8192);
        buf.extend_from_slice(&crate::sstable::footer::header());
        TableWriter {
            file,
            opts,
            offset: 0,
            buf,
            data: BlockBuilder::new(opts.restart_interval),
            index: BlockBuilder::new(1),
            hashes: Vec::new(),
            last_user_key: Vec::new(),
            props: Properties {
                seq_min: u64::MAX,
                ..Properties::default()
            },
            range_dels: crate::range_del::Fragments::default(),
        }
    }

    /// Adds an encoded internal key and its value. REQUIRES: increasing keys.
    pub(crate) fn add(&mut self, ikey: &[u8], value: &[u8]) -> Result<()> {
        let (user, seq, kind) = key::split(ikey).unwrap_or((ikey, SeqNo(0), ValueKind::Inline));
        if self.props.entries == 0 {
            self.props.smallest = ikey.to_vec();
        }
        if self.props.entries == 0 || user != self.last_user_key.as_slice() {
            self.hashes.push(filter::key_hash(user));
            self.last_user_key.clear();
            self.last_user_key.extend_from_slice(user);
        }
        self.props.entries += 1;
        if kind == ValueKind::Delete {
            self.props.tombstones += 1;
        }
        self.props.seq_min = self.props.seq_min.min(seq.0);
        self.props.seq_max = self.props.seq_max.max(seq.0);
        self.data.add(ikey, value);
        if self.data.size_estimate_bytes() >= self.opts.block_size_bytes {
            self.finish_data_block()?;
        }
        Ok(())
    }

    /// The table's range tombstones: written in its properties block's
    /// range-deletion section, its key and sequence ranges widened to
    /// cover them, and the footer's version
    /// [`TABLE_VERSION_RANGE_DEL`](crate::sstable::footer::TABLE_VERSION_RANGE_DEL) when there is one.
    pub(crate) fn set_range_dels(&mut self, f: crate::range_del::Fragments) {
        self.range_dels = f;
    }

    /// Whether the table holds range tombstones.
    pub(crate) fn has_range_dels(&self) -> bool {
        !self.range_dels.is_empty()
    }

    /// Bytes the file will have, roughly, if finished now.
    pub(crate) fn size_estimate_bytes(&self) -> u64 {
        self.offset + self.buf.len() as u64 + self.data.size_estimate_bytes() as u64
    }

    pub(crate) fn entries(&self) -> u64 {
        self.props.entries
    }

    fn finish_data_block(&mut self) -> Result<()> {
        if self.data.is_empty() {
            return Ok(());
        }
        let last = self.data.last_key().to_vec();
        let raw = self.data.finish();
        let handle = self.write_block(&raw, self.opts.compression)?;
        self.props.data_bytes += handle.size_bytes;
        self.props.largest = last.clone();
        self.index.add(&last, &handle.encode());
        Ok(())
    }

    fn write_block(&mut self, raw: &[u8], compress: bool) -> Result<BlockHandle> {
        let offset = self.offset + self.buf.len() as u64;
        let n = trailer::encode(raw, compress, &mut self.buf);
        if self.buf.len() >= WRITE_BUFFER_BYTES && self.file.is_some() {
            self.drain()?;
        }
        Ok(BlockHandle {
            offset,
            size_bytes: n as u64,
        })
    }

    fn drain(&mut self) -> Result<()> {
        if let Some(file) = &self.file
            && !self.buf.is_empty()
        {
            file.append(&self.buf)?;
            self.offset += self.buf.len() as u64;
            self.buf.clear();
        }
        Ok(())
    }

    /// Writes filter, properties, index and footer, and syncs the file.
    /// Returns the table's size, and its bytes if it was built in memory.
    pub(crate) fn finish(self) -> Result<(u64, Option<Bytes>)> {
        self.finish_with(true)
    }

    /// [`TableWriter::finish`] without the sync, for a caller that syncs
    /// the file later (an ingest's writer syncs all its files at its end,
    /// so the disk writes one back while the next is built).
    pub(crate) fn finish_unsynced(self) -> Result<(u64, Option<Bytes>)> {
        self.finish_with(false)
    }

    fn finish_with(mut self, sync: bool) -> Result<(u64, Option<Bytes>)> {
        self.finish_data_block()?;
        let filter = if self.opts.bloom_bits_per_key > 0 {
            let f = filter::build(&self.hashes, self.opts.bloom_bits_per_key);
            self.write_block(&f, false)?
        } else {
            BlockHandle::default()
        };
        if let Some((lo, hi)) = crate::range_del::key_range(&self.range_dels) {
            let empty = self.props.entries == 0;
            if empty || key::cmp_encoded(&lo, &self.props.smallest).is_lt() {
                self.props.smallest = lo;
            }
            if empty || key::cmp_encoded(&hi, &self.props.largest).is_gt() {
                self.props.largest = hi;
            }
        }
        if let Some((a, b)) = crate::range_del::seq_range(&self.range_dels) {
            self.props.seq_min = self.props.seq_min.min(a);
            self.props.seq_max = self.props.seq_max.max(b);
        }
        if self.props.entries == 0 && self.range_dels.is_empty() {
            self.props.seq_min = 0;
        }
        let mut props = self.props.encode();
        let version = if self.range_dels.is_empty() {
            crate::sstable::footer::TABLE_VERSION
        } else {
            crate::range_del::table::encode_section(&self.range_dels, &mut props);
            crate::sstable::footer::TABLE_VERSION_RANGE_DEL
        };
        let properties = self.write_block(&props, false)?;
        let raw_index = self.index.finish();
        let index = self.write_block(&raw_index, false)?;
        self.buf.extend_from_slice(
            &Footer {
                index,
                filter,
                properties,
                version,
            }
            .encode(),
        );
        let Some(file) = &self.file else {
            let bytes = Bytes::from(std::mem::take(&mut self.buf));
            return Ok((bytes.len() as u64, Some(bytes)));
        };
        if !self.buf.is_empty() {
            file.append(&self.buf)?;
            self.offset += self.buf.len() as u64;
        }
        if sync {
            file.sync_data()?;
        }
        Ok((self.offset, None))
    }
}
