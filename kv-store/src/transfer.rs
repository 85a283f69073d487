//! `load` and `dump`: line files in and out, batched, with progress.

use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::codec::{self, Encoding, Format};
use crate::engine::{Engine, Flow, Op, ScanSpec};
use crate::{Error, Result};

/// How often a running `load` syncs.
pub const SYNC_INTERVAL: Duration = Duration::from_secs(1);

/// What `load` did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Lines (pairs) committed.
    pub pairs: u64,
    /// Input bytes read.
    pub bytes: u64,
    /// The input began with a UTF-8 byte-order mark, which was skipped
    /// rather than read as part of the first key.
    pub bom_skipped: bool,
}

/// A line's pair, or why it does not parse.
type Parsed = std::result::Result<(Vec<u8>, Vec<u8>), String>;

/// The input of a `load`: `-` (stdin) or a file, read a line at a time
/// with a progress bar, a UTF-8 byte-order mark at its start skipped,
/// Ctrl-C honoured between lines.
struct Input<'a> {
    name: &'a str,
    reader: BufReader<Box<dyn Read>>,
    pb: indicatif::ProgressBar,
    line: Vec<u8>,
    line_no: u64,
    _interruptible: crate::interrupt::Guard,
}

impl<'a> Input<'a> {
    fn open(name: &'a str) -> Result<Input<'a>> {
        let (reader, len): (Box<dyn Read>, Option<u64>) = if name == "-" {
            (Box::new(std::io::stdin().lock()), None)
        } else {
            let f = std::fs::File::open(name).map_err(|e| Error::io(name, e))?;
            let len = f.metadata().ok().map(|m| m.len());
            (Box::new(f), len)
        };
        Ok(Input {
            name,
            reader: BufReader::with_capacity(1 << 16, reader),
            pb: crate::progress::bar(len, "loading", true),
            line: Vec::new(),
            line_no: 0,
            // Ctrl-C stops the read; the caller keeps what came before.
            _interruptible: crate::interrupt::Guard::new(),
        })
    }

    /// The next non-empty line's number and its pair parsed in `format`
    /// (or why it does not parse); `None` at the end of the input. Counts
    /// the bytes read and a skipped byte-order mark in `report`.
    ///
    /// # Errors
    ///
    /// A read error, or Ctrl-C.
    fn next_pair(
        &mut self,
        format: Format,
        report: &mut LoadReport,
    ) -> Result<Option<(u64, Parsed)>> {
        loop {
            crate::interrupt::check()?;
            self.line.clear();
            let n = self
                .reader
                .read_until(b'\n', &mut self.line)
                .map_err(|e| Error::io(self.name, e))?;
            if n == 0 {
                return Ok(None);
            }
            self.line_no += 1;
            report.bytes += n as u64;
            self.pb.inc(n as u64);
            let text = self.line.strip_suffix(b"\n").unwrap_or(&self.line);
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            let text = match text.strip_prefix(codec::UTF8_BOM) {
                Some(rest) if self.line_no == 1 => {
                    report.bom_skipped = true;
                    rest
                }
                _ => text,
            };
            if text.is_empty() {
                continue;
            }
            let parsed = std::str::from_utf8(text)
                .map_err(|_| "not valid UTF-8 (escape binary bytes as \\xHH)".to_string())
                .and_then(|t| codec::parse_line(format, t));
            return Ok(Some((self.line_no, parsed)));
        }
    }
}

/// Loads every line of `input` (a path, or `-` for stdin) into `engine` in
/// atomic batches of `batch_len` pairs, syncing every [`SYNC_INTERVAL`] and
/// at the end. A UTF-8 byte-order mark at the start of the input is
/// skipped and reported in [`LoadReport::bom_skipped`].
///
/// # Errors
///
/// [`Error::BadLine`] at the first malformed line: every pair before it has
/// been written and synced. I/O and engine errors otherwise.
pub fn load(
    engine: &dyn Engine,
    input: &str,
    format: Format,
    batch_len: usize,
) -> Result<LoadReport> {
    let mut lines = Input::open(input)?;
    let batch_len = batch_len.max(1);
    let mut batch: Vec<(u64, Op)> = Vec::with_capacity(batch_len);
    let mut report = LoadReport::default();
    let mut last_sync = Instant::now();
    let outcome = loop {
        let (line_no, parsed) = match lines.next_pair(format, &mut report) {
            Ok(Some(x)) => x,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        };
        match parsed {
            Ok((k, v)) => batch.push((line_no, Op::Put(k, v))),
            Err(reason) => {
                break Err(Error::BadLine {
                    line: line_no,
                    reason,
                    committed: report.pairs + batch.len() as u64,
                });
            }
        }
        if batch.len() >= batch_len {
            if let Err(e) = commit(engine, &mut batch, &mut report) {
                break Err(e);
            }
            // Bounds what a crash mid-load loses to about a second of input
            // (the btree adapter's commits are not durable until a sync).
            if last_sync.elapsed() >= SYNC_INTERVAL {
                if let Err(e) = engine.sync() {
                    break Err(e);
                }
                last_sync = Instant::now();
            }
        }
    };
    // Everything before a bad line is committed and durable, error or not.
    let last = commit(engine, &mut batch, &mut report);
    let synced = engine.sync();
    lines.pb.finish_and_clear();
    // The first cause wins: after a failed write the engine may refuse
    // everything else ("the write side is unusable"), which says nothing.
    // A bad line promises that every line before it is durable, so a
    // failed sync outranks it.
    let bad_line = |r: &Result<()>| matches!(r, Err(Error::BadLine { .. }));
    let hard = |r: &Result<()>| r.is_err() && !bad_line(r);
    let first = if hard(&outcome) {
        outcome
    } else if hard(&last) {
        last
    } else if synced.is_err() {
        synced
    } else if last.is_err() {
        // A pair the engine refused comes before the line that stopped the read.
        last
    } else {
        outcome
    };
    first.map(|()| report)
}

/// `load --sorted`: loads `input`, whose keys strictly increase line by
/// line, through the engine's [`SortedLoader`](crate::engine::SortedLoader)
/// (lsm: table files written directly, then ingested in one atomic step
/// at the end); [`LoadReport::pairs`] counts the pairs ingested.
///
/// # Errors
///
/// [`Error::BadLine`] at the first malformed line or the first key that
/// does not sort after the previous line's: the lines before it are
/// loaded. [`Error::BadArgument`] for an engine without a sorted loader
/// (btree). I/O and engine errors otherwise (then nothing is loaded).
pub fn load_sorted(engine: &dyn Engine, input: &str, format: Format) -> Result<LoadReport> {
    let Some(mut loader) = engine.sorted_loader()? else {
        return Err(Error::BadArgument(format!(
            "load --sorted needs the lsm engine; the {} engine loads with plain `load`",
            engine.kind()
        )));
    };
    let mut lines = Input::open(input)?;
    let mut report = LoadReport::default();
    let mut previous: Option<Vec<u8>> = None;
    let outcome = loop {
        let (line_no, parsed) = match lines.next_pair(format, &mut report) {
            Ok(Some(x)) => x,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        };
        let parsed = parsed
            .and_then(|(k, v)| match &previous {
                Some(p) if k <= *p => Err(
                    "key does not sort after the previous line's key (--sorted needs strictly increasing keys)"
                        .to_string(),
                ),
                _ => Ok((k, v)),
            });
        let (k, v) = match parsed {
            Ok(kv) => kv,
            Err(reason) => {
                break Err(Error::BadLine {
                    line: line_no,
                    reason,
                    committed: report.pairs,
                });
            }
        };
        match loader.put(&k, &v) {
            Ok(()) => report.pairs += 1,
            Err(Error::Refused { message, .. }) => {
                break Err(Error::BadLine {
                    line: line_no,
                    reason: message,
                    committed: report.pairs,
                });
            }
            Err(e) => break Err(e),
        }
        previous = Some(k);
    };
    lines.pb.finish_and_clear();
    // The pairs before a bad line are ingested, as plain `load` commits
    // them; after any other failure nothing is.
    let hard = outcome
        .as_ref()
        .is_err_and(|e| !matches!(e, Error::BadLine { .. }));
    if hard {
        drop(loader);
        return outcome.map(|()| report);
    }
    loader.finish()?;
    outcome.map(|()| report)
}

/// Writes `batch` atomically and empties it. If the engine refuses it (a key
/// or value over its limit), writes its pairs one by one so that everything
/// before the refused pair is committed, and names that pair's line. Any
/// other failure (a full disk, damage) is returned as it is.
fn commit(engine: &dyn Engine, batch: &mut Vec<(u64, Op)>, report: &mut LoadReport) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    // Taken out first: whatever happens, no pair is written twice.
    let pending = std::mem::take(batch);
    let ops: Vec<Op> = pending.iter().map(|(_, op)| op.clone()).collect();
    match engine.write(&ops) {
        Ok(()) => report.pairs += ops.len() as u64,
        Err(Error::Refused { .. }) => {
            for (line, op) in pending {
                match engine.write(std::slice::from_ref(&op)) {
                    Ok(()) => report.pairs += 1,
                    Err(Error::Refused { message, .. }) => {
                        return Err(Error::BadLine {
                            line,
                            reason: message,
                            committed: report.pairs,
                        });
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Err(e) => return Err(e),
    }
    Ok(())
}

/// Writes every pair to `output` (a path, or `-` for stdout) in `format`,
/// returning the number of pairs. A file is written under a temporary name,
/// synced and renamed into place: on failure no file (or the old one) is left.
///
/// # Errors
///
/// I/O and engine errors.
pub fn dump(
    engine: &dyn Engine,
    output: &str,
    format: Format,
    stdout: &mut dyn Write,
) -> Result<u64> {
    let path = Path::new(output);
    let mut file;
    let mut file_handle = None;
    let out: &mut dyn Write = if output == "-" {
        stdout
    } else {
        // Under a temporary name until whole: a failed dump leaves no file.
        let tmp = crate::atomic_file::AtomicFile::create(path)?;
        file = BufWriter::new(tmp.try_clone_file()?);
        file_handle = Some(tmp);
        &mut file
    };
    let pb = crate::progress::bar(None, "dumping", false);
    let mut pairs = 0u64;
    let werr = |e: std::io::Error| {
        if output == "-" {
            Error::Output(e)
        } else {
            Error::io(path, e)
        }
    };
    let _interruptible = crate::interrupt::Guard::new();
    engine.scan(&ScanSpec::default(), &mut |k, v| {
        crate::interrupt::check()?;
        let line = codec::format_line(format, Encoding::Text, k, Some(v));
        writeln!(out, "{line}").map_err(werr)?;
        pairs += 1;
        if pairs.is_multiple_of(1024) {
            pb.set_position(pairs);
        }
        Ok(Flow::Continue)
    })?;
    out.flush().map_err(werr)?;
    if let Some(tmp) = file_handle.take() {
        tmp.commit()?;
    }
    pb.finish_and_clear();
    Ok(pairs)
}
