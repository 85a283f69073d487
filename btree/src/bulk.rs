//! Building a tree bottom-up from sorted entries: leaves filled to the page,
//! then each level of branches over the one below, written as they fill.
//! Used by [`WriteTxn::bulk_load`] and by compaction.

use crate::node::{
    BRANCH_ENTRY_HEADER_BYTES, Child, LEAF_ENTRY_HEADER_BYTES, SLOT_BYTES, key_prefix,
};
use crate::page::{self, HEADER_BYTES, Kind, Limits, VALUE_LEN_MAX};
use crate::write::{Tree, WriteTxn};
use crate::{Error, Result};

/// Where built pages go.
pub(crate) trait Sink {
    /// Numbers for `n` consecutive new pages.
    fn alloc(&mut self, n: u64) -> Result<u64>;
    /// Writes finished pages (one page, or an overflow run) at `id`.
    fn write(&mut self, id: u64, pages: &[u8]) -> Result<()>;
}

/// One level's node being filled: entry bytes and their offsets.
struct Level {
    kind: Kind,
    data: Vec<u8>,
    offsets: Vec<usize>,
    prefixes: Vec<u32>,
    first_key: Vec<u8>,
    emitted: u64,
}

impl Level {
    fn new(kind: Kind) -> Level {
        Level {
            kind,
            data: Vec::new(),
            offsets: Vec::new(),
            prefixes: Vec::new(),
            first_key: Vec::new(),
            emitted: 0,
        }
    }

    fn size(&self) -> usize {
        HEADER_BYTES + self.offsets.len() * SLOT_BYTES + self.data.len()
    }
}

pub(crate) struct Builder {
    limits: Limits,
    txn: u64,
    levels: Vec<Level>,
    page: Vec<u8>,
    pub(crate) count: u64,
}

impl Builder {
    pub(crate) fn new(limits: Limits, txn: u64) -> Builder {
        Builder {
            limits,
            txn,
            levels: vec![Level::new(Kind::Leaf)],
            page: vec![0u8; limits.page_size],
            count: 0,
        }
    }

    /// Adds the next entry; keys must increase (the caller checks).
    pub(crate) fn push(&mut self, sink: &mut dyn Sink, key: &[u8], value: &[u8]) -> Result<()> {
        let mut entry = Vec::with_capacity(
            LEAF_ENTRY_HEADER_BYTES
                + key.len()
                + value.len().min(self.limits.inline_entry_bytes_max)
                + 12,
        );
        let inline = self.limits.inline(key.len(), value.len());
        // Leaf value flags (FORMAT.md): 0 inline, 2 overflow run with its CRC-32.
        entry.push(if inline { 0 } else { 2 });
        entry.extend_from_slice(&(key.len() as u16).to_le_bytes());
        entry.extend_from_slice(&(value.len() as u32).to_le_bytes());
        entry.extend_from_slice(key);
        if inline {
            entry.extend_from_slice(value);
        } else {
            let len = value.len() as u64;
            let n = self.limits.run_pages(len);
            let id = sink.alloc(n)?;
            let mut run = vec![0u8; n as usize * self.limits.page_size];
            page::write_header(&mut run, Kind::Overflow, id, self.txn, len);
            run[HEADER_BYTES..HEADER_BYTES + value.len()].copy_from_slice(value);
            page::seal(&mut run);
            sink.write(id, &run)?;
            entry.extend_from_slice(&id.to_le_bytes());
            entry.extend_from_slice(&page::stored_crc(&run).to_le_bytes());
        }
        self.count += 1;
        self.add(sink, 0, key, key, &entry)
    }

    /// Adds an entry to `level`'s node: `key` is the entry's real first key
    /// (for the level above), `stored` the key as stored (empty for a
    /// branch's first entry).
    fn add(
        &mut self,
        sink: &mut dyn Sink,
        level: usize,
        key: &[u8],
        stored: &[u8],
        entry: &[u8],
    ) -> Result<()> {
        let l = &self.levels[level];
        if !l.offsets.is_empty() && l.size() + SLOT_BYTES + entry.len() > self.limits.page_size {
            self.emit(sink, level)?;
        }
        let l = &mut self.levels[level];
        if l.offsets.is_empty() {
            l.first_key = key.to_vec();
        }
        l.offsets.push(l.data.len());
        l.prefixes.push(key_prefix(stored));
        l.data.extend_from_slice(entry);
        Ok(())
    }

    /// Writes level `level`'s node and adds it, with its CRC-32, to the
    /// level above.
    fn emit(&mut self, sink: &mut dyn Sink, level: usize) -> Result<u64> {
        let id = sink.alloc(1)?;
        let crc = self.encode(level, id);
        sink.write(id, &self.page)?;
        let l = &mut self.levels[level];
        l.emitted += 1;
        l.offsets.clear();
        l.prefixes.clear();
        l.data.clear();
        let first_key = std::mem::take(&mut l.first_key);
        if level + 1 == self.levels.len() {
            self.levels.push(Level::new(Kind::Branch));
        }
        // The first entry of a branch has an empty key; the parent keeps the real one.
        let parent_first = self.levels[level + 1].offsets.is_empty();
        let stored: &[u8] = if parent_first { &[] } else { &first_key };
        let mut entry = Vec::with_capacity(BRANCH_ENTRY_HEADER_BYTES + stored.len());
        entry.extend_from_slice(&(stored.len() as u16).to_le_bytes());
        entry.extend_from_slice(&id.to_le_bytes());
        entry.extend_from_slice(&crc.to_le_bytes());
        entry.extend_from_slice(stored);
        let stored = stored.to_vec();
        self.add(sink, level + 1, &first_key, &stored, &entry)?;
        Ok(id)
    }

    /// Encodes level `level`'s node as page `id` into `self.page`; returns
    /// its CRC-32.
    fn encode(&mut self, level: usize, id: u64) -> u32 {
        let l = &self.levels[level];
        let buf = &mut self.page;
        buf.fill(0);
        page::write_header(buf, l.kind, id, self.txn, l.offsets.len() as u64);
        let data_at = HEADER_BYTES + l.offsets.len() * SLOT_BYTES;
        for (i, (off, prefix)) in l.offsets.iter().zip(&l.prefixes).enumerate() {
            let at = HEADER_BYTES + i * SLOT_BYTES;
            page::put_u16(buf, at, (data_at + off) as u16);
            buf[at + 2..at + SLOT_BYTES].copy_from_slice(&prefix.to_be_bytes());
        }
        buf[data_at..data_at + l.data.len()].copy_from_slice(&l.data);
        page::seal(buf);
        page::stored_crc(buf)
    }

    /// Writes the partly filled nodes; returns the root with its CRC-32, if
    /// any entry was added.
    pub(crate) fn finish(mut self, sink: &mut dyn Sink) -> Result<Option<Child>> {
        let mut level = 0;
        loop {
            let top = level + 1 == self.levels.len();
            if top && self.levels[level].emitted == 0 {
                if self.levels[level].offsets.is_empty() {
                    return Ok(None);
                }
                let id = sink.alloc(1)?;
                let crc = self.encode(level, id);
                sink.write(id, &self.page)?;
                return Ok(Some(Child {
                    page: id,
                    crc: Some(crc),
                }));
            }
            if !self.levels[level].offsets.is_empty() {
                self.emit(sink, level)?;
            }
            level += 1;
        }
    }
}

/// Pages a write transaction builds, written as they fill (in runs of
/// adjacent pages), and remembered so the transaction reads them back.
struct TxnSink<'t, 'db> {
    txn: &'t mut WriteTxn<'db>,
    buf: Vec<u8>,
    buf_start: u64,
    allocated: Vec<(u64, u64)>,
}

impl TxnSink<'_, '_> {
    fn flush(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let ps = self.txn.db.limits.page_size;
        let end = self.buf_start + (self.buf.len() / ps) as u64;
        crate::commit::ensure_file_pages(&mut self.txn.w, ps, end)?;
        self.txn
            .w
            .file
            .write_all_at(&self.buf, self.buf_start * ps as u64)?;
        self.txn.written.extend(self.buf_start..end);
        self.buf.clear();
        Ok(())
    }
}

impl Sink for TxnSink<'_, '_> {
    fn alloc(&mut self, n: u64) -> Result<u64> {
        let id = self.txn.alloc_run(n)?;
        self.allocated.push((id, n));
        Ok(id)
    }

    fn write(&mut self, id: u64, pages: &[u8]) -> Result<()> {
        let ps = self.txn.db.limits.page_size;
        if self.buf_start + (self.buf.len() / ps) as u64 != id
            || self.buf.len() >= crate::commit::WRITE_CHUNK_BYTES
        {
            self.flush()?;
            self.buf_start = id;
        }
        self.buf.extend_from_slice(pages);
        Ok(())
    }
}

impl WriteTxn<'_> {
    /// Fills an empty tree from entries in strictly increasing key order,
    /// building it bottom-up with full pages: much faster than inserting
    /// them one by one, and the result is as compact as a tree gets.
    /// Returns the number of entries loaded.
    ///
    /// # Errors
    ///
    /// [`Error::NotEmpty`] if the tree has entries; [`Error::Unsorted`],
    /// [`Error::KeyTooLarge`] or [`Error::ValueTooLarge`] for bad input (the
    /// tree stays empty); [`Error::Io`] if a write fails.
    pub fn bulk_load<I, K, V>(&mut self, items: I) -> Result<u64>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        if self.len != 0 {
            return Err(Error::NotEmpty { len: self.len });
        }
        let limits = self.db.limits;
        let txn_id = self.txn;
        let mut sink = TxnSink {
            txn: self,
            buf: Vec::new(),
            buf_start: 0,
            allocated: Vec::new(),
        };
        let mut builder = Builder::new(limits, txn_id);
        let result = (|| -> Result<Option<Child>> {
            let mut prev: Option<Vec<u8>> = None;
            for (index, (k, v)) in items.into_iter().enumerate() {
                let (k, v) = (k.as_ref(), v.as_ref());
                if k.len() > limits.key_len_max {
                    return Err(Error::KeyTooLarge {
                        len: k.len(),
                        len_max: limits.key_len_max,
                    });
                }
                if v.len() > VALUE_LEN_MAX {
                    return Err(Error::ValueTooLarge {
                        len: v.len(),
                        len_max: VALUE_LEN_MAX,
                    });
                }
                if prev.as_deref().is_some_and(|p| p >= k) {
                    return Err(Error::Unsorted {
                        index: index as u64,
                    });
                }
                match &mut prev {
                    Some(p) => {
                        p.clear();
                        p.extend_from_slice(k);
                    }
                    None => prev = Some(k.to_vec()),
                }
                builder.push(&mut sink, k, v)?;
            }
            let count = builder.count;
            let root = builder.finish(&mut sink)?;
            sink.flush()?;
            sink.txn.len = count;
            Ok(root)
        })();
        match result {
            Ok(root) => {
                if let Some(old) = self.root.take() {
                    // An empty tree has no root, but be safe.
                    self.free_page(old.page);
                }
                self.set_root(Tree::Main, root);
                Ok(self.len)
            }
            Err(e) => {
                let allocated = std::mem::take(&mut sink.allocated);
                for (id, n) in allocated {
                    for p in id..id + n {
                        self.free_page(p);
                    }
                }
                self.len = 0;
                Err(e)
            }
        }
    }
}

/// Pages written to a fresh file from page `FIRST_DATA_PAGE` on.
pub(crate) struct FileSink<'f> {
    pub(crate) file: &'f dyn vfs::File,
    pub(crate) page_size: usize,
    pub(crate) next: u64,
    buf: Vec<u8>,
    buf_start: u64,
}

impl<'f> FileSink<'f> {
    pub(crate) fn new(file: &'f dyn vfs::File, page_size: usize) -> FileSink<'f> {
        FileSink {
            file,
            page_size,
            next: page::FIRST_DATA_PAGE,
            buf: Vec::new(),
            buf_start: page::FIRST_DATA_PAGE,
        }
    }

    pub(crate) fn flush(&mut self) -> Result<()> {
        if !self.buf.is_empty() {
            self.file
                .write_all_at(&self.buf, self.buf_start * self.page_size as u64)?;
            self.buf_start += (self.buf.len() / self.page_size) as u64;
            self.buf.clear();
        }
        Ok(())
    }
}

impl Sink for FileSink<'_> {
    fn alloc(&mut self, n: u64) -> Result<u64> {
        let id = self.next;
        self.next += n;
        Ok(id)
    }

    fn write(&mut self, id: u64, pages: &[u8]) -> Result<()> {
        if self.buf_start + (self.buf.len() / self.page_size) as u64 != id
            || self.buf.len() >= crate::commit::WRITE_CHUNK_BYTES
        {
            self.flush()?;
            self.buf_start = id;
        }
        self.buf.extend_from_slice(pages);
        Ok(())
    }
}
