//! The logs: which ones hold writes not yet in a table, whether the sealed
//! ones are as long as the manifest recorded, and their replay into a
//! memtable.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::batch::WriteBatch;
use crate::key::{SEQNO_MAX, SeqNo};
use crate::manifest::{self, FileKind, FileNumber, LogLength};
use crate::memtable::Memtable;
use crate::recovery::replay::ManifestState;
use crate::wal::reader::{Predecessor, read_log};
use crate::{Error, Result};

/// The logs recovery replays, found before any is read.
#[derive(Debug)]
pub(super) struct Found {
    /// The logs at or after the log number, oldest first.
    pub(super) logs: Vec<FileNumber>,
    /// The live logs the manifest recorded as sealed, with their lengths.
    pub(super) sealed: Vec<LogLength>,
    /// The first sealed log missing or shorter than recorded. Judged
    /// after a lost manifest edit, which would explain it better.
    pub(super) short: Option<ShortLog>,
}

/// A sealed log shorter than the manifest recorded (or missing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ShortLog {
    pub(super) log: FileNumber,
    /// The length the manifest recorded when it sealed the log.
    pub(super) len_recorded: u64,
    /// The length on disk (0 when the log is missing).
    pub(super) len_found: u64,
}

/// Finds the logs to replay among `names`. The log at the log number must
/// exist: when it does not (and was not sealed), it joins `missing`.
pub(super) fn find(
    fs: &Arc<dyn vfs::Fs>,
    dir: &Path,
    names: &[(String, FileKind)],
    st: &ManifestState,
    missing: &mut Vec<(PathBuf, u64)>,
) -> Result<Found> {
    let mut logs: Vec<FileNumber> = names
        .iter()
        .filter_map(|(_, k)| match *k {
            FileKind::Log(n) if n >= st.log_number => Some(n),
            _ => None,
        })
        .collect();
    logs.sort_unstable();
    let sealed: Vec<LogLength> = st
        .logs_sealed
        .range(st.log_number..)
        .map(|(&log, &len_bytes)| LogLength { log, len_bytes })
        .collect();
    if st.log_number != FileNumber(0)
        && logs.first() != Some(&st.log_number)
        && !st.logs_sealed.contains_key(&st.log_number)
    {
        missing.push((dir.join(manifest::log_name(st.log_number)), st.log_number.0));
    }
    let mut short: Option<ShortLog> = None;
    for &LogLength {
        log: n,
        len_bytes: len,
    } in &sealed
    {
        let found = if logs.contains(&n) {
            fs.open(&dir.join(manifest::log_name(n)), vfs::OpenMode::Read)?
                .len()?
        } else {
            0
        };
        if found < len {
            short = Some(ShortLog {
                log: n,
                len_recorded: len,
                len_found: found,
            });
            break;
        }
    }
    Ok(Found {
        logs,
        sealed,
        short,
    })
}

/// The writes of the replayed logs.
#[derive(Debug)]
pub(super) struct Replayed {
    pub(super) mem: Memtable,
    /// The largest sequence number recovered (manifest, tables, logs).
    pub(super) last_seq: SeqNo,
    /// Per replayed log: the length of its whole records.
    pub(super) log_lengths: Vec<LogLength>,
    /// The logs replayed, oldest first: a prefix of those found.
    pub(super) logs: Vec<FileNumber>,
    /// The logs found but not replayed: from the first one that does not
    /// follow on from the logs before it (see [`follows`]), oldest first.
    /// Their writes come after writes a crash lost, so replaying them
    /// would recover a state that no prefix of the writes ever had.
    pub(super) logs_dropped: Vec<FileNumber>,
}

/// Whether log `n`, whose header names `predecessor`, follows on from the
/// logs replayed before it: `prev` is the last of them with the length of
/// its whole records (`None` when `n` is the first at the log number).
///
/// Under `SyncMode::Never` a log switch syncs nothing, and unsynced writes
/// reach the disk in any order: a crash can keep records of the new log
/// and lose the old log's last ones. The new log's header recorded the old
/// one's length when it took over, so that loss shows here: the
/// predecessor is shorter than recorded, missing (`prev` is another log),
/// or (for the first log replayed) a log at or after the log number that
/// is not on disk. With synced writes the old log is synced before the new
/// one takes a record, so a log never fails this but through damage,
/// which the sealed-length and marker checks report first.
///
/// # Errors
///
/// [`Error::Corruption`] naming the log when its predecessor's number is
/// not below its own.
fn follows(
    path: &Path,
    n: FileNumber,
    predecessor: Predecessor,
    prev: Option<LogLength>,
    log_number: FileNumber,
) -> Result<bool> {
    match predecessor {
        // Versions 1 and 2 recorded nothing: replayed as they always were.
        Predecessor::Unrecorded => Ok(true),
        Predecessor::First => Ok(prev.is_none()),
        Predecessor::Log(p) => {
            if p.log >= n {
                return Err(Error::corruption(
                    path,
                    0,
                    "log predecessor not older than the log (expected: below the log's number)",
                    n.0,
                    p.log.0,
                ));
            }
            Ok(match prev {
                // Its predecessor's writes are in tables.
                None => p.log < log_number,
                Some(prev) => prev.log == p.log && prev.len_bytes >= p.len_bytes,
            })
        }
    }
}

/// Replays `logs` into a new memtable, range-checking each record's
/// sequence numbers, up to the first log that does not follow on from
/// those before it (see [`follows`]).
pub(super) fn replay(
    fs: &Arc<dyn vfs::Fs>,
    dir: &Path,
    logs: &[FileNumber],
    st: &ManifestState,
) -> Result<Replayed> {
    let mem = Memtable::new();
    let mut last_seq = st.last_seq;
    let mut log_lengths: Vec<LogLength> = Vec::new();
    for (i, &n) in logs.iter().enumerate() {
        let path = dir.join(manifest::log_name(n));
        let contents = read_log(&**fs, &path)?;
        let prev = log_lengths.last().copied();
        if !follows(&path, n, contents.predecessor, prev, st.log_number)? {
            return Ok(Replayed {
                mem,
                last_seq,
                log_lengths,
                logs: logs[..i].to_vec(),
                logs_dropped: logs[i..].to_vec(),
            });
        }
        let whole = contents.torn_at.unwrap_or(contents.len_bytes);
        if let Some(&len) = st.logs_sealed.get(&n)
            && n >= st.log_number
            && whole < len
        {
            // Its seal marker (or a record after the last marker) is bad,
            // and the manifest says those bytes were whole.
            return Err(sealed_log_damaged(dir, n, whole, len, whole));
        }
        log_lengths.push(LogLength {
            log: n,
            len_bytes: whole,
        });
        for (rec, &offset) in contents.records.iter().zip(&contents.offsets) {
            let (seq, batch) = WriteBatch::decode(rec).ok_or_else(|| {
                Error::corruption(
                    &path,
                    offset,
                    "log record is not a write batch (found: its length)",
                    0,
                    rec.len() as u64,
                )
            })?;
            let count = batch.ops.len() as u64;
            let seq_last = SeqNo(seq.0.saturating_add(count.saturating_sub(1)));
            if seq == SeqNo(0) || seq_last.0 > SEQNO_MAX {
                return Err(Error::corruption(
                    &path,
                    offset,
                    "log sequence number out of range",
                    SEQNO_MAX,
                    seq_last.0,
                ));
            }
            for (i, (kind, k, v)) in batch.ops.into_iter().enumerate() {
                mem.insert(k, seq.plus(i as u64), kind, v);
            }
            last_seq = last_seq.max(seq_last);
        }
    }
    Ok(Replayed {
        mem,
        last_seq,
        log_lengths,
        logs: logs.to_vec(),
        logs_dropped: Vec::new(),
    })
}

/// A log the manifest recorded as sealed at `len` bytes whose whole records
/// end at `found` (0 when it is missing): the error names the log, the
/// offset where it goes bad, the recorded length and the length found.
pub(super) fn sealed_log_damaged(
    dir: &Path,
    n: FileNumber,
    offset: u64,
    len: u64,
    found: u64,
) -> Error {
    Error::corruption(
        dir.join(manifest::log_name(n)),
        offset,
        "sealed log shorter than the manifest records (or missing)",
        len,
        found,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn len(log: u64, len_bytes: u64) -> LogLength {
        LogLength {
            log: FileNumber(log),
            len_bytes,
        }
    }

    fn follows_at(n: u64, p: Predecessor, prev: Option<LogLength>) -> Result<bool> {
        follows(Path::new("x.log"), FileNumber(n), p, prev, FileNumber(5))
    }

    #[test]
    fn a_log_follows_only_a_predecessor_as_long_as_it_recorded() {
        use Predecessor::{First, Log, Unrecorded};
        // Version 1 and 2 logs record nothing.
        assert!(follows_at(9, Unrecorded, Some(len(3, 0))).expect("v2"));
        // The first log at the log number: its predecessor is in tables.
        assert!(follows_at(5, Log(len(4, 100)), None).expect("first"));
        assert!(follows_at(5, First, None).expect("first of a store"));
        // Its predecessor at or after the log number is not on disk.
        assert!(!follows_at(7, Log(len(6, 100)), None).expect("missing"));
        // A later log: the previous one replayed, at least as long.
        assert!(follows_at(7, Log(len(6, 100)), Some(len(6, 100))).expect("same"));
        assert!(follows_at(7, Log(len(6, 100)), Some(len(6, 115))).expect("sealed"));
        assert!(!follows_at(7, Log(len(6, 100)), Some(len(6, 99))).expect("short"));
        assert!(!follows_at(7, Log(len(6, 100)), Some(len(5, 100))).expect("other"));
        assert!(!follows_at(7, First, Some(len(6, 100))).expect("first after"));
    }

    #[test]
    fn a_predecessor_not_older_than_its_log_is_corruption() {
        for p in [6, 7] {
            let r = follows_at(6, Predecessor::Log(len(p, 1)), None);
            assert!(
                matches!(r, Err(Error::Corruption { expected: 6, found, .. }) if found == p),
                "{r:?}"
            );
        }
    }
}
