//! Appends records to a log file, fragmenting them at block boundaries, and
//! records in the log how much of it is durable.
//!
//! After a sync returns, the first `durable_bytes` of the file are durable.
//! The next append (or [`LogWriter::seal`]) first writes a durable marker
//! saying so, so the reader can tell damage to those bytes (corruption) from
//! a torn tail (bytes a crash was free to lose). One 15-byte marker per sync,
//! not per record.

use std::path::Path;

use crate::Result;
use crate::manifest::LogLength;
use crate::wal::format::{
    BLOCK_SIZE_BYTES, FragmentType, HEADER_SIZE_BYTES, RecordKind, crc, file_header, type_byte,
    wal_file_header,
};

/// A log being written. Not shared: the DB serialises writers around it.
#[derive(Debug)]
pub(crate) struct LogWriter {
    file: std::sync::Arc<dyn vfs::File>,
    /// Bytes written so far (the file's length, buffered records included).
    len_bytes: u64,
    buf: Vec<u8>,
    /// Records appended but not yet handed to the file (buffered mode).
    pending: Vec<u8>,
    /// Whether records wait in `pending` until [`LogWriter::sync`],
    /// [`LogWriter::write_out`] or `PENDING_MAX_BYTES`.
    buffered: bool,
    /// File length the last successful sync covered.
    durable_bytes: u64,
    /// The length the last durable marker in the log claims.
    durable_marked_bytes: u64,
}

/// Bytes a buffered log holds before handing them to the file.
const PENDING_MAX_BYTES: usize = 64 * 1024;

impl LogWriter {
    /// Creates a new manifest (a log of version 2, without predecessor) at
    /// `path` and writes its file-header record.
    pub(crate) fn create(fs: &dyn vfs::Fs, path: &Path) -> Result<LogWriter> {
        LogWriter::create_with_header(fs, path, &file_header())
    }

    /// Creates a new write-ahead log at `path` whose header names
    /// `predecessor`, the log written before it and its length now (see
    /// `format.rs`): the caller appends nothing more to that log but a
    /// seal's durable marker.
    pub(crate) fn create_wal(
        fs: &dyn vfs::Fs,
        path: &Path,
        predecessor: Option<LogLength>,
    ) -> Result<LogWriter> {
        LogWriter::create_with_header(fs, path, &wal_file_header(predecessor))
    }

    fn create_with_header(fs: &dyn vfs::Fs, path: &Path, header: &[u8]) -> Result<LogWriter> {
        let file: std::sync::Arc<dyn vfs::File> = fs.open(path, vfs::OpenMode::Truncate)?.into();
        let mut w = LogWriter {
            file,
            len_bytes: 0,
            buf: Vec::new(),
            pending: Vec::new(),
            buffered: false,
            durable_bytes: 0,
            durable_marked_bytes: 0,
        };
        w.add_record(header)?;
        Ok(w)
    }

    /// Makes records wait in memory (up to 64 KiB) until the next sync or
    /// [`write_out`](Self::write_out): one `write` for many records. A
    /// process crash loses what waits; a record is never split between
    /// the file and memory.
    pub(crate) fn set_buffered(&mut self, buffered: bool) -> Result<()> {
        if !buffered {
            self.write_out()?;
        }
        self.buffered = buffered;
        Ok(())
    }

    /// Hands buffered records to the file (no sync).
    pub(crate) fn write_out(&mut self) -> Result<()> {
        if !self.pending.is_empty() {
            self.file.append(&self.pending)?;
            self.pending.clear();
        }
        Ok(())
    }

    /// Appends one logical record with a single `append` call, so a torn
    /// write can only damage this record's tail. When a sync returned since
    /// the last marker, a durable marker goes first, in the same `append`.
    /// Returns the log's length after the record.
    pub(crate) fn add_record(&mut self, payload: &[u8]) -> Result<u64> {
        self.buf.clear();
        let marker = self.durable_bytes;
        if marker > self.durable_marked_bytes {
            self.encode(RecordKind::Durable, &marker.to_le_bytes());
        }
        self.encode(RecordKind::Data, payload);
        self.hand_over()?;
        self.durable_marked_bytes = marker;
        Ok(self.len_bytes)
    }

    /// Bytes of the log so far, buffered ones included.
    pub(crate) fn len_bytes(&self) -> u64 {
        self.len_bytes
    }

    /// Makes everything appended so far durable.
    pub(crate) fn sync(&mut self) -> Result<()> {
        self.write_out()?;
        self.file.sync_data()?;
        self.durable_bytes = self.len_bytes;
        Ok(())
    }

    /// Syncs, then appends a durable marker for that sync and syncs it too,
    /// so every record of the log is protected: for a log that takes no
    /// more records (at close, or when the DB switches to a new log).
    pub(crate) fn seal(&mut self) -> Result<()> {
        if self.durable_bytes < self.len_bytes {
            self.sync()?;
        }
        let marker = self.durable_bytes;
        if marker > self.durable_marked_bytes {
            self.buf.clear();
            self.encode(RecordKind::Durable, &marker.to_le_bytes());
            self.hand_over()?;
            self.durable_marked_bytes = marker;
            self.sync()?;
        }
        Ok(())
    }

    /// Hands `buf` to the file, or to `pending` in buffered mode.
    fn hand_over(&mut self) -> Result<()> {
        if self.buffered {
            self.pending.extend_from_slice(&self.buf);
            if self.pending.len() >= PENDING_MAX_BYTES {
                self.write_out()?;
            }
        } else {
            self.file.append(&self.buf)?;
        }
        self.len_bytes += self.buf.len() as u64;
        Ok(())
    }

    /// Appends the fragments of one logical record to `buf`, which holds
    /// the bytes that follow the first `len_bytes` of the log.
    fn encode(&mut self, kind: RecordKind, payload: &[u8]) {
        let mut block_offset =
            ((self.len_bytes + self.buf.len() as u64) % BLOCK_SIZE_BYTES as u64) as usize;
        let mut rest = payload;
        let mut first = true;
        loop {
            let left = BLOCK_SIZE_BYTES - block_offset;
            if left < HEADER_SIZE_BYTES {
                self.buf.extend(std::iter::repeat_n(0u8, left));
                block_offset = 0;
                continue;
            }
            let avail = left - HEADER_SIZE_BYTES;
            let n = rest.len().min(avail);
            let last = n == rest.len();
            let ty = match (first, last) {
                (true, true) => FragmentType::Full,
                (true, false) => FragmentType::First,
                (false, false) => FragmentType::Middle,
                (false, true) => FragmentType::Last,
            };
            let ty = type_byte(kind, ty);
            let (frag, tail) = rest.split_at(n);
            self.buf.extend_from_slice(&crc(ty, frag).to_le_bytes());
            // `n <= BLOCK_SIZE_BYTES - HEADER_SIZE_BYTES`, asserted to fit a u16 in format.rs.
            self.buf.extend_from_slice(&(n as u16).to_le_bytes());
            self.buf.push(ty);
            self.buf.extend_from_slice(frag);
            block_offset += HEADER_SIZE_BYTES + n;
            rest = tail;
            first = false;
            if last {
                break;
            }
        }
    }
}
