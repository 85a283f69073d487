//! Opens a table and serves point lookups and iterators from it.
//!
//! A table is a local file ([`Source::Mapped`]) or an object in a store
//! ([`Source::Remote`], `tables/`): a remote table's meta blocks are
//! fetched with one ranged read of its tail at open (two if the guess
//! fell short) and kept decoded in memory; its data blocks come through
//! ranged reads, the disk cache and the block cache, compaction inputs in
//! 4 MiB windows.
//!
//! A local file is mapped once, for random access (`vfs::File::map_for` with
//! `vfs::Access::Random`: a page fault reads its page, not the megabytes of
//! readahead a plain map's fault would), and its meta blocks (index, filter,
//! properties) are asked for in one read at open. Blocks are checked and
//! decompressed on first use and kept in the shared [`BlockCache`].
//! Iterators read ahead of themselves ([`Readahead`]): compaction inputs
//! in 2 MiB windows, a user's scan once it has read a few blocks.
//!
//! # Concurrency
//!
//! A `Table` is immutable after `open`; any thread may read it at once.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::cache::BlockCache;
use crate::filter;
use crate::iter::{BoxIter, Concat};
use crate::key::{self, InternalKey, SeqNo, ValueKind};
use crate::manifest::FileNumber;
use crate::sstable::block::{Block, BlockSpans, Bounds};
use crate::sstable::footer::{FOOTER_SIZE_BYTES, Footer};
use crate::sstable::index::{BlockHandle, Index};
use crate::sstable::properties::Properties;
use crate::sstable::readahead::Readahead;
use crate::sstable::trailer;
use crate::tables::RemoteIo;
use crate::{Error, Result};

thread_local! {
    /// The key buffer of a point lookup's block seek, reused by every
    /// lookup on the thread so a get allocates nothing for keys.
    static SEEK_KEY: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// How many of the last block reads from the file waited for the device,
/// roughly: raised by [`COLD_RAISE`] per slow read (up to [`COLD_MAX`]),
/// lowered by one per fast one. While it is above zero, a block that
/// straddles a page boundary is asked for whole (`View::will_need`) before
/// it is read, so its two pages come in one round trip, not two faults one
/// after the other: measured at 5 M keys, 1.6-2.0x the cold gets/s (p50 82
/// against 116-139 us). Asking costs a system call (0.9 us of CPU on a
/// warm get, +27%), so a store in memory, whose reads are all fast, never
/// asks; and while it is zero only one read in eight is timed (timing every
/// read cost a warm get 5-7% of its CPU).
/// One for the process: the page cache is shared by every store in it.
static COLD: AtomicU32 = AtomicU32::new(0);
/// A block read from the file slower than this waited for the device: a
/// read from the page cache takes a few microseconds, one from this
/// machine's disk 55 us or more.
const SLOW_BLOCK_READ: Duration = Duration::from_micros(30);
/// What a slow read adds to [`COLD`].
const COLD_RAISE: u32 = 8;
/// Where [`COLD`] stops: after the page cache warms up, at most this many
/// reads still ask.
const COLD_MAX: u32 = 64;

/// The page size the straddle test assumes (the advice is a hint: on a
/// machine with larger pages it asks for a block that was in one page).
const PAGE_BYTES: u64 = 4096;

/// The first tail read of a remote table at open: this fraction of the
/// object (the meta blocks are 1-3% of a table of small pairs)...
const REMOTE_TAIL_FRACTION: u64 = 32;
/// ...but at least this many bytes.
const REMOTE_TAIL_MIN_BYTES: u64 = 64 << 10;

/// Where a table's bytes are.
#[derive(Debug)]
pub(super) enum Source {
    /// A local file, mapped.
    Mapped {
        /// The whole file.
        data: Bytes,
        /// The map `data` is, for reading ranges ahead ([`Readahead`]).
        view: vfs::View,
    },
    /// An object in the table store.
    Remote(Remote),
}

/// A table in the table store.
#[derive(Debug)]
pub(super) struct Remote {
    pub(super) io: Arc<RemoteIo>,
    /// The object's name (`tables/000012.sst`).
    pub(super) name: String,
    pub(super) size_bytes: u64,
    /// Where the last data block ends: read-ahead windows stop there.
    data_end: u64,
}

/// An open table.
#[derive(Debug)]
pub(crate) struct Table {
    pub(crate) number: FileNumber,
    pub(super) path: PathBuf,
    pub(super) source: Source,
    /// The footer read at open: where the index, filter and properties lie.
    pub(crate) footer: Footer,
    pub(super) index: Index,
    filter: Option<bloom::BlockedBloomFilter>,
    pub(crate) props: Properties,
    /// The range tombstones (a version-2 table's range-deletion section),
    /// read and checked at open; `None` without any.
    range_dels: Option<Arc<crate::range_del::Fragments>>,
    /// [`key::prefix`] of the smallest user key: range checks compare
    /// this word and read the key only on a tie.
    pub(crate) user_prefix_smallest: u64,
    /// [`key::prefix`] of the largest user key, likewise.
    pub(crate) user_prefix_largest: u64,
    cache: Arc<BlockCache>,
}

/// A table's block counts and meta block sizes ([`Table::layout`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TableLayout {
    /// Data blocks.
    pub(crate) blocks: u64,
    /// Data blocks stored LZ4-compressed.
    pub(crate) blocks_lz4: u64,
    /// Bytes of the filter block (0: no filter).
    pub(crate) filter_bytes: u64,
    /// Bytes of the index block.
    pub(crate) index_bytes: u64,
}

/// What a point lookup in one table found.
#[derive(Debug)]
pub(crate) enum Probe {
    /// The filter said the key is absent.
    FilteredOut,
    /// The table was read and does not hold a visible version.
    Missing,
    /// The newest visible version, with its sequence number.
    Found(ValueKind, Bytes, SeqNo),
}

impl Table {
    /// Opens table `number` at `path`, checking footer, index and properties.
    ///
    /// # Errors
    ///
    /// [`Error::Corruption`] naming the file and the bad block's offset.
    pub(crate) fn open(
        fs: &dyn vfs::Fs,
        path: &Path,
        number: FileNumber,
        cache: Arc<BlockCache>,
    ) -> Result<Table> {
        let view = fs
            .open(path, vfs::OpenMode::Read)?
            .map_for(vfs::Access::Random)?;
        let data = view.bytes().clone();
        let len = data.len() as u64;
        let foot_off = footer_offset(path, len)?;
        let footer = Footer::decode(&data[foot_off as usize..], path, foot_off)?;
        // The meta blocks lie together before the footer: one read for all
        // of them, not a fault per page. A hint: handles past the footer
        // are refused below, and a range past the view is clamped.
        view.will_need(
            usize::try_from(meta_start(&footer, foot_off)).unwrap_or(usize::MAX)..foot_off as usize,
        )?;
        check_header(&data, path)?;
        let meta = data.clone();
        Table::parse(
            number,
            path.to_path_buf(),
            Source::Mapped { data, view },
            Meta {
                bytes: &meta,
                base: 0,
                len,
                footer,
            },
            cache,
        )
    }

    /// Opens the remote table `name` (number `number`), or `None` if the
    /// store has no such object: one ranged read of its tail (meta blocks
    /// and footer), a second if they begin before it. `size_bytes`, the
    /// size the manifest recorded, saves a request to learn it; an object
    /// of another size fails the footer's checks or the read.
    ///
    /// # Errors
    ///
    /// [`Error::Corruption`] naming the object and offset; a failed read.
    pub(crate) fn open_remote(
        io: &Arc<RemoteIo>,
        name: &str,
        number: FileNumber,
        size_bytes: Option<u64>,
        cache: &Arc<BlockCache>,
    ) -> Result<Option<Table>> {
        let path = io.path_of(name);
        let len = match size_bytes {
            Some(n) => n,
            None => match io.size(name)? {
                Some(n) => n,
                None => return Ok(None),
            },
        };
        let foot_off = footer_offset(&path, len)?;
        let guess = (len / REMOTE_TAIL_FRACTION).max(REMOTE_TAIL_MIN_BYTES);
        let mut base = len.saturating_sub(guess);
        let Some(mut tail) = io.get_range(name, base..len)? else {
            return Ok(None);
        };
        // In range: base <= foot_off < len, and the read returned len - base
        // bytes (checked by `get_range`).
        let footer = Footer::decode(&tail[(foot_off - base) as usize..], &path, foot_off)?;
        let start = meta_start(&footer, foot_off);
        if start < base {
            let head = io.read(name, start..base)?;
            let mut all = Vec::with_capacity((len - start) as usize);
            all.extend_from_slice(&head);
            all.extend_from_slice(&tail);
            tail = Bytes::from(all);
            base = start;
        }
        let t = Table::parse(
            number,
            path,
            Source::Remote(Remote {
                io: Arc::clone(io),
                name: name.to_owned(),
                size_bytes: len,
                data_end: 0,
            }),
            Meta {
                bytes: &tail,
                base,
                len,
                footer,
            },
            Arc::clone(cache),
        )?;
        Ok(Some(t.with_data_end()))
    }

    /// Opens the remote table `name` just uploaded from `bytes`, without a
    /// request.
    ///
    /// # Errors
    ///
    /// [`Error::Corruption`] if the bytes fail their checks (a bug).
    pub(crate) fn from_uploaded(
        io: &Arc<RemoteIo>,
        name: &str,
        number: FileNumber,
        bytes: Bytes,
        cache: &Arc<BlockCache>,
    ) -> Result<Table> {
        let path = io.path_of(name);
        let len = bytes.len() as u64;
        let foot_off = footer_offset(&path, len)?;
        let footer = Footer::decode(&bytes[foot_off as usize..], &path, foot_off)?;
        check_header(&bytes, &path)?;
        // Only the meta blocks are kept: copied out, so the table's bytes
        // are freed once uploaded.
        let start = meta_start(&footer, foot_off).min(len);
        let meta = Bytes::copy_from_slice(&bytes[start as usize..]);
        drop(bytes);
        let t = Table::parse(
            number,
            path,
            Source::Remote(Remote {
                io: Arc::clone(io),
                name: name.to_owned(),
                size_bytes: len,
                data_end: 0,
            }),
            Meta {
                bytes: &meta,
                base: start,
                len,
                footer,
            },
            Arc::clone(cache),
        )?;
        Ok(t.with_data_end())
    }

    /// Records where a remote table's data blocks end, from its index.
    fn with_data_end(mut self) -> Table {
        let end = self
            .index
            .entries
            .last()
            .map_or(0, |(_, h)| h.offset + h.size_bytes);
        if let Source::Remote(r) = &mut self.source {
            r.data_end = end;
        }
        self
    }

    /// Decodes and checks the meta blocks of `m` into an open table.
    fn parse(
        number: FileNumber,
        path: PathBuf,
        source: Source,
        m: Meta<'_>,
        cache: Arc<BlockCache>,
    ) -> Result<Table> {
        let foot_off = m.len - FOOTER_SIZE_BYTES as u64;
        let footer = m.footer;
        let load = |h: BlockHandle, what: &'static str| {
            load_meta(m.bytes, m.base, &path, foot_off, h, what)
        };
        let index_block = Block::new(load(footer.index, "index handle past the footer")?)
            .map_err(|e| e.at(&path, footer.index.offset))?;
        let index = Index::decode(&index_block, &path, footer.index.offset, foot_off)?;
        let filter = if footer.filter.size_bytes == 0 {
            None
        } else {
            let bytes = load(footer.filter, "filter handle past the footer")?;
            Some(filter::decode(&bytes, &path, footer.filter.offset)?)
        };
        let props_bytes = load(footer.properties, "properties handle past the footer")?;
        let props = Properties::decode(&props_bytes).map_err(|short| {
            Error::corruption(
                &path,
                footer.properties.offset,
                "properties block shorter than its fields",
                short.len_needed,
                short.len_found,
            )
        })?;
        let range_dels = if footer.version == crate::sstable::footer::TABLE_VERSION_RANGE_DEL {
            let rest = props_bytes.slice(props.encoded_len().min(props_bytes.len())..);
            crate::range_del::table::decode_section(&rest, &path, footer.properties.offset)?
        } else {
            None
        };
        let user_prefix = |k: &[u8]| key::prefix(key::split(k).map_or(&[][..], |x| x.0));
        Ok(Table {
            range_dels,
            number,
            path,
            source,
            footer,
            index,
            filter,
            user_prefix_smallest: user_prefix(&props.smallest),
            user_prefix_largest: user_prefix(&props.largest),
            props,
            cache,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The table's range tombstones, if any.
    pub(crate) fn range_dels(&self) -> Option<&Arc<crate::range_del::Fragments>> {
        self.range_dels.as_ref()
    }

    pub(crate) fn size_bytes(&self) -> u64 {
        match &self.source {
            Source::Mapped { data, .. } => data.len() as u64,
            Source::Remote(r) => r.size_bytes,
        }
    }

    /// How the table is laid out, from its index and footer (what
    /// [`Db::describe`](crate::Db::describe) shows; reads no data block).
    /// A remote table's compressed blocks are not counted (it would take a
    /// read per block): 0.
    pub(crate) fn layout(&self) -> TableLayout {
        let data = match &self.source {
            Source::Mapped { data, .. } => Some(data),
            Source::Remote(_) => None,
        };
        let blocks_lz4 = self
            .index
            .entries
            .iter()
            .filter(|(_, h)| {
                // In range: checked by Index::decode against the file length;
                // `get` keeps a bad handle from panicking all the same.
                let at = (h.offset + h.size_bytes) as usize;
                at.checked_sub(trailer::TRAILER_SIZE_BYTES - trailer::COMPRESSION_OFFSET)
                    .and_then(|i| data?.get(i))
                    == Some(&trailer::COMPRESSION_LZ4)
            })
            .count() as u64;
        TableLayout {
            blocks: self.index.entries.len() as u64,
            blocks_lz4,
            filter_bytes: self.footer.filter.size_bytes,
            index_bytes: self.footer.index.size_bytes,
        }
    }

    /// Where block `i`'s keys must lie, from the index.
    pub(super) fn bounds(&self, i: usize) -> Bounds<'_> {
        Bounds {
            after: i.checked_sub(1).map(|j| self.index.entries[j].0.as_slice()),
            last: &self.index.entries[i].0,
        }
    }

    /// Block `i` for a point lookup: from the cache, or read and checked
    /// whole (order included, [`Block::check_order`]) before it is cached,
    /// so every cached block is one whose search can be trusted.
    fn block(&self, i: usize) -> Result<Block> {
        let h = self.index.entries[i].1;
        let cached = self.cache.get((self.number.0, h.offset));
        if let Source::Remote(r) = &self.source {
            r.io.note_memory(cached.is_some());
        }
        if let Some(b) = cached {
            return Ok(b);
        }
        let block = self.fetch_block(h, false)?;
        block
            .check_order(self.bounds(i))
            .map_err(|m| m.at(&self.path, h.offset))?;
        self.cache.insert((self.number.0, h.offset), block.clone());
        Ok(block)
    }

    /// [`Table::read_block`] for a block the cache missed, timed: while
    /// recent reads waited for the device ([`COLD`]), a block across a page
    /// boundary is first asked for whole.
    ///
    /// `read_ahead`: the block lies in a range a reader already asked for
    /// ([`Readahead`]), so asking again would only cost the system call.
    fn fetch_block(&self, h: BlockHandle, read_ahead: bool) -> Result<Block> {
        let Source::Mapped { view, .. } = &self.source else {
            return self.read_block(h, true);
        };
        let end = h.offset + h.size_bytes;
        if !read_ahead
            && COLD.load(Ordering::Relaxed) > 0
            && h.offset / PAGE_BYTES != end.saturating_sub(1) / PAGE_BYTES
        {
            // In range: checked by Index::decode against the file length.
            view.will_need(h.offset as usize..end as usize)?;
        }
        let cold = COLD.load(Ordering::Relaxed);
        // While warm, one read in eight is timed (by its offset: the blocks
        // a get reads are random), enough to notice the disk within a few
        // dozen reads.
        if cold == 0 && !(h.offset / PAGE_BYTES).is_multiple_of(8) {
            return self.read_block(h, true);
        }
        let t = Instant::now();
        let block = self.read_block(h, true)?;
        if t.elapsed() >= SLOW_BLOCK_READ {
            COLD.store((cold + COLD_RAISE).min(COLD_MAX), Ordering::Relaxed);
        } else if cold > 0 {
            COLD.store(cold - 1, Ordering::Relaxed);
        }
        Ok(block)
    }

    /// The block at `h`, its checksum checked and its contents
    /// decompressed, not cached and its entries not yet read. A remote
    /// block comes from the disk cache or the store (and enters the disk
    /// cache if `fill_disk`).
    pub(super) fn read_block(&self, h: BlockHandle, fill_disk: bool) -> Result<Block> {
        let range = h.offset..h.offset + h.size_bytes;
        match &self.source {
            // In range: checked by Index::decode against the file length.
            Source::Mapped { data, .. } => {
                self.decode_block(data.slice(range.start as usize..range.end as usize), h)
            }
            Source::Remote(r) => {
                r.io.read_block(self.number, &r.name, range, fill_disk, |b| {
                    self.decode_block(b, h)
                })
            }
        }
    }

    /// Checks and decompresses `stored`, the block at `h` as stored.
    pub(super) fn decode_block(&self, stored: Bytes, h: BlockHandle) -> Result<Block> {
        let contents = trailer::decode(stored, &self.path, h.offset)?;
        Block::new(contents).map_err(|m| m.at(&self.path, h.offset))
    }

    /// Block `i` of a remote table for a reader going through it in
    /// order: from the window `ahead` holds, else from a new window read
    /// in one request (once the reader has read a few blocks), else alone.
    fn remote_block(
        &self,
        r: &Remote,
        ahead: &mut Readahead,
        i: usize,
        fill_disk: bool,
    ) -> Result<Block> {
        let h = self.index.entries[i].1;
        let block = h.offset..h.offset + h.size_bytes;
        if let Some(b) = ahead.held(&block) {
            return self.decode_block(b, h);
        }
        match ahead.next(i, block.clone()) {
            Some(w) if w.start <= block.start && block.end <= w.end => {
                // Clamped to the data blocks; still holds the block, which
                // ends at or before `data_end` (the index is in order).
                let w = w.start..w.end.min(r.data_end).max(block.end);
                let bytes = r.io.read(&r.name, w.clone())?;
                ahead.hold(w.start, bytes);
                match ahead.held(&block) {
                    Some(b) => self.decode_block(b, h),
                    None => self.read_block(h, fill_disk),
                }
            }
            _ => self.read_block(h, fill_disk),
        }
    }

    /// Every entry of block `i`, in order, checked as [`Block::walk`]
    /// checks (the keys increase, inside the block and across the index);
    /// a block read here enters the cache, once checked, only if
    /// `fill_cache` (compaction reads each block once and must not evict
    /// what readers use).
    ///
    /// With `from`, a user key, only the entries from the last restart
    /// point before its versions on are decoded (a seek's first block):
    /// from a block the cache holds, whose order was checked when it
    /// entered, none is checked again, and the entries before that restart
    /// point are not decoded at all.
    ///
    /// A block read from the file first tells `ahead`, which may ask for
    /// the next window of the file.
    fn block_entries(
        &self,
        i: usize,
        fill_cache: bool,
        from: Option<&[u8]>,
        ahead: &mut Readahead,
    ) -> Result<(Block, BlockSpans)> {
        let h = self.index.entries[i].1;
        let cached = self.cache.get((self.number.0, h.offset));
        if let Source::Remote(r) = &self.source {
            r.io.note_memory(cached.is_some());
        }
        let (block, fresh) = match (cached, &self.source) {
            (Some(b), _) => (b, false),
            (None, Source::Remote(r)) => (self.remote_block(r, ahead, i, fill_cache)?, true),
            (None, Source::Mapped { .. }) => {
                let covered = self.read_ahead(ahead, i)?;
                (self.fetch_block(h, covered)?, true)
            }
        };
        let entries = if fresh {
            block.entries_spans(Some(self.bounds(i)))
        } else {
            let pos = match from {
                Some(u) => {
                    block.restart_before(u, key::trailer(SeqNo(key::SEQNO_MAX), ValueKind::SEEK))
                }
                None => Ok(0),
            };
            pos.and_then(|p| block.spans_from(p))
        }
        .map_err(|m| m.at(&self.path, h.offset))?;
        if fresh && fill_cache {
            self.cache.insert((self.number.0, h.offset), block.clone());
        }
        Ok((block, entries))
    }

    /// Tells `ahead` that block `i` is read from the file next, and asks
    /// the map for the window it wants, if any. Returns whether the block
    /// lies in what the reader has asked for.
    pub(super) fn read_ahead(&self, ahead: &mut Readahead, i: usize) -> Result<bool> {
        let h = self.index.entries[i].1;
        let block = h.offset..h.offset + h.size_bytes;
        let Source::Mapped { view, .. } = &self.source else {
            return Ok(false);
        };
        if let Some(r) = ahead.next(i, block.clone()) {
            // Offsets past `usize` cannot be in the view: clamped to it.
            let at = |x: u64| usize::try_from(x).unwrap_or(usize::MAX);
            view.will_need(at(r.start)..at(r.end))?;
        }
        Ok(ahead.covers(&block))
    }

    /// Whether the filter lets `hash` through (true without a filter).
    pub(crate) fn may_contain(&self, hash: u128) -> bool {
        self.filter.as_ref().is_none_or(|f| f.contains_hash(hash))
    }

    /// The newest version of `user` at or below `seq`.
    pub(crate) fn get(&self, user: &[u8], hash: u128, seq: SeqNo) -> Result<Probe> {
        if let Some(f) = &self.filter
            && !f.contains_hash(hash)
        {
            return Ok(Probe::FilteredOut);
        }
        let target = key::trailer(seq, ValueKind::SEEK);
        let i = self.index.find(user, target);
        if i == self.index.entries.len() {
            return Ok(Probe::Missing);
        }
        let block = self.block(i)?;
        let off = self.index.entries[i].1.offset;
        SEEK_KEY.with_borrow_mut(|k| {
            let found = block
                .seek(user, target, k)
                .map_err(|m| m.at(&self.path, off))?;
            match found {
                Some(v) => match key::split(k) {
                    Some((u, s, kind)) if u == user => Ok(Probe::Found(kind, v, s)),
                    Some(_) => Ok(Probe::Missing),
                    None => Err(bad_key(&self.path, off, k)),
                },
                None => Ok(Probe::Missing),
            }
        })
    }

    /// The sequence number of the newest version of `user` (a tombstone
    /// included) in this table, if it holds one: what an optimistic
    /// transaction's commit checks against its snapshot. Tables whose
    /// largest sequence number is at or below `above` are not read.
    pub(crate) fn newest_seq_above(
        &self,
        user: &[u8],
        hash: u128,
        above: SeqNo,
    ) -> Result<Option<SeqNo>> {
        if self.props.seq_max <= above.0 {
            return Ok(None);
        }
        if let Some(f) = &self.filter
            && !f.contains_hash(hash)
        {
            return Ok(None);
        }
        let target = key::trailer(SeqNo(key::SEQNO_MAX), ValueKind::SEEK);
        let i = self.index.find(user, target);
        if i == self.index.entries.len() {
            return Ok(None);
        }
        let block = self.block(i)?;
        let off = self.index.entries[i].1.offset;
        SEEK_KEY.with_borrow_mut(|k| {
            let found = block
                .seek(user, target, k)
                .map_err(|m| m.at(&self.path, off))?;
            match found {
                Some(_) => match key::split(k) {
                    Some((u, seq, _)) if u == user => Ok(Some(seq)),
                    Some(_) => Ok(None),
                    None => Err(bad_key(&self.path, off, k)),
                },
                None => Ok(None),
            }
        })
    }

    /// Entries of every block that may hold user keys in `[lo, hi]`, both
    /// directions. Entries just outside the bounds may appear.
    pub(crate) fn iter(self: &Arc<Self>, lo: Option<&[u8]>, hi: Option<&[u8]>) -> BoxIter {
        self.iter_with(lo, hi, true)
    }

    /// Every entry, reading blocks without adding them to the cache: for
    /// compaction.
    pub(crate) fn iter_uncached(self: &Arc<Self>) -> BoxIter {
        self.iter_with(None, None, false)
    }

    fn iter_with(
        self: &Arc<Self>,
        lo: Option<&[u8]>,
        hi: Option<&[u8]>,
        fill_cache: bool,
    ) -> BoxIter {
        let n = self.index.entries.len();
        let first = lo.map_or(0, |k| {
            self.index
                .find(k, key::trailer(SeqNo(key::SEQNO_MAX), ValueKind::SEEK))
        });
        let end = hi.map_or(n, |k| {
            (self
                .index
                .find(k, key::trailer(SeqNo(0), ValueKind::Delete))
                + 1)
            .min(n)
        });
        let t = Arc::clone(self);
        let (lo, hi) = (lo.map(<[u8]>::to_vec), hi.map(<[u8]>::to_vec));
        let end = end.max(first);
        // Compaction reads every block once: full windows from the start.
        // A user's scan may stop after a few keys: windows once it has
        // read a few blocks.
        let remote = matches!(self.source, Source::Remote(_));
        let mut ahead = match (fill_cache, remote) {
            (true, _) => Readahead::scan(first..end),
            (false, false) => Readahead::whole_table(first..end),
            (false, true) => Readahead::whole_remote_table(first..end),
        };
        Box::new(Concat::new(first, end, move |i| {
            let from = lo.as_deref().filter(|_| i == first);
            let (block, BlockSpans { keys, mut spans }) =
                t.block_entries(i, fill_cache, from, &mut ahead)?;
            let off = t.index.entries[i].1.offset;
            // The first and last blocks drop the entries outside the bounds
            // here, so the merge above never compares them (a seek's first
            // block holds half a block before its key on average). A key
            // that does not decode is kept: its error surfaces below.
            let user_of = |kr: &std::ops::Range<usize>| key::split(&keys[kr.clone()]).map(|x| x.0);
            if let Some(hi) = hi.as_deref().filter(|_| i + 1 == end) {
                let keep = spans.partition_point(|(kr, _)| user_of(kr).is_none_or(|u| u <= hi));
                spans.truncate(keep);
            }
            let skip = match lo.as_deref().filter(|_| i == first) {
                Some(lo) => spans.partition_point(|(kr, _)| user_of(kr).is_some_and(|u| u < lo)),
                None => 0,
            };
            // Keys are decoded as the entries are taken, not into a second
            // vector first, and sliced once (the user key): a bad key is an
            // error in its place, and the entries after it are still read.
            let t = Arc::clone(&t);
            Ok(Box::new(spans.into_iter().skip(skip).map(move |(kr, vr)| {
                let k = &keys[kr.clone()];
                let (user, seq, kind) = key::split(k).ok_or_else(|| bad_key(&t.path, off, k))?;
                let user = keys.slice(kr.start..kr.start + user.len());
                Ok((InternalKey::new(user, seq, kind), block.slice(vr)))
            })) as BoxIter)
        }))
    }
}

/// A table's meta region as read at open: `bytes` are the table's bytes
/// from `base` to its end, `len`.
struct Meta<'a> {
    bytes: &'a Bytes,
    base: u64,
    len: u64,
    footer: Footer,
}

/// Where the footer of a table of `len` bytes starts.
fn footer_offset(path: &Path, len: u64) -> Result<u64> {
    len.checked_sub(FOOTER_SIZE_BYTES as u64).ok_or_else(|| {
        Error::corruption(
            path,
            0,
            "table too short for footer",
            FOOTER_SIZE_BYTES as u64,
            len,
        )
    })
}

/// Where the meta blocks (index, filter, properties) begin: they lie
/// together before the footer at `foot_off`.
fn meta_start(footer: &Footer, foot_off: u64) -> u64 {
    [footer.index, footer.filter, footer.properties]
        .iter()
        .filter(|h| h.size_bytes > 0)
        .map(|h| h.offset)
        .min()
        .unwrap_or(foot_off)
        .min(foot_off)
}

/// Checks the table header (magic, version) at the start of `data`.
pub(super) fn check_header(data: &[u8], path: &Path) -> Result<()> {
    let header = crate::sstable::footer::header();
    if data.get(..header.len()) == Some(&header[..]) {
        return Ok(());
    }
    let mut found = [0u8; 8];
    if let Some(b) = data.get(..8) {
        found.copy_from_slice(b);
    }
    Err(Error::corruption(
        path,
        0,
        "table header (magic, version)",
        crate::sstable::footer::TABLE_MAGIC,
        u64::from_le_bytes(found),
    ))
}

/// Checks and decodes the meta block (index, filter, properties) at `h`,
/// which must end before the footer at `foot_off`. `data` holds the
/// table's bytes from offset `base` on; a handle before it is refused
/// like one past the footer.
pub(super) fn load_meta(
    data: &Bytes,
    base: u64,
    path: &Path,
    foot_off: u64,
    h: BlockHandle,
    what: &'static str,
) -> Result<Bytes> {
    let end = h
        .offset
        .checked_add(h.size_bytes)
        .filter(|&e| e <= foot_off && h.offset >= base);
    let Some(end) = end else {
        return Err(Error::corruption(
            path,
            foot_off,
            what,
            foot_off,
            h.offset.saturating_add(h.size_bytes),
        ));
    };
    // In range: base <= offset <= end <= foot_off < base + data.len().
    let at = |x: u64| (x - base) as usize;
    let stored = data
        .get(at(h.offset)..at(end))
        .ok_or_else(|| Error::corruption(path, foot_off, what, foot_off, end))?;
    trailer::decode(data.slice_ref(stored), path, h.offset)
}

/// The error for an encoded key in the block at `offset` that does not
/// decode: shorter than its trailer, or of an unknown kind.
pub(super) fn bad_key(path: &Path, offset: u64, k: &[u8]) -> Error {
    match k.len().checked_sub(key::TRAILER_LEN) {
        None => Error::corruption(
            path,
            offset,
            "data block key shorter than its trailer",
            key::TRAILER_LEN as u64,
            k.len() as u64,
        ),
        Some(n) => Error::corruption(
            path,
            offset,
            "data block key kind",
            u64::from(ValueKind::SEEK as u8),
            u64::from(k[n]),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sstable::writer::{TableOptions, TableWriter};

    fn build(n: u32, compression: bool) -> (Arc<dyn vfs::Fs>, tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let fs: Arc<dyn vfs::Fs> = Arc::new(vfs::OsFs::new());
        let path = dir.path().join("t.sst");
        let opts = TableOptions {
            block_size_bytes: 4096,
            restart_interval: 16,
            bloom_bits_per_key: 10,
            compression,
        };
        let mut w = TableWriter::create(&*fs, &path, opts).expect("create");
        for i in 0..n {
            let k = InternalKey::new(
                Bytes::from(format!("key{i:08}")),
                SeqNo(u64::from(i) + 1),
                ValueKind::Inline,
            );
            w.add(
                &k.encoded(),
                format!("value-{i}-{}", "x".repeat(50)).as_bytes(),
            )
            .expect("add");
        }
        w.finish().expect("finish");
        (fs, dir, path)
    }

    #[test]
    fn table_serves_every_key_and_iterates_both_ways() {
        for compression in [false, true] {
            let (fs, _d, path) = build(5000, compression);
            let t = Arc::new(
                Table::open(
                    &*fs,
                    &path,
                    FileNumber(1),
                    Arc::new(BlockCache::new(1 << 20)),
                )
                .expect("open"),
            );
            for i in (0..5000u32).step_by(7) {
                let k = format!("key{i:08}");
                assert!(matches!(
                    t.get(
                        k.as_bytes(),
                        filter::key_hash(k.as_bytes()),
                        SeqNo(u64::MAX >> 8)
                    ),
                    Ok(Probe::Found(ValueKind::Inline, _, _))
                ));
            }
            assert!(matches!(
                t.get(b"key00000001", filter::key_hash(b"key00000001"), SeqNo(0)),
                Ok(Probe::Missing)
            ));
            assert_eq!(t.iter(None, None).count(), 5000);
            let back: Vec<_> = t
                .iter(None, None)
                .rev()
                .map(|e| e.expect("entry").0.user)
                .collect();
            assert_eq!(back.len(), 5000);
            assert!(back.windows(2).all(|w| w[0] > w[1]));
            // Twice: the first read of each block checks it whole and
            // caches it, the second decodes from the cached block's
            // restart point before the start key.
            for _ in 0..2 {
                let some: Vec<_> = t
                    .iter(Some(b"key00001003"), Some(b"key00001010"))
                    .map(|e| e.expect("entry").0.user)
                    .collect();
                let want: Vec<_> = (1003..=1010)
                    .map(|i| Bytes::from(format!("key{i:08}")))
                    .collect();
                assert_eq!(some, want);
            }
        }
    }
}
