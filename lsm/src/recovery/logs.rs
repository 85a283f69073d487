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
use crate::wal::reader::{LogContents, Predecessor, read_log};
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
    /// Per keyspace asked for, in that order: its writes.
    pub(super) mems: Vec<Memtable>,
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

/// Whether log `n` (its header and markers in `contents`) follows on from
/// the logs replayed before it: `prev` is the last of them with the length
/// of its whole records (`None` when `n` is the first at the log number).
///
/// Under `Durability::None` a log switch syncs nothing, and unsynced writes
/// reach the disk in any order: a crash can keep records of the new log
/// and lose the old log's last ones. The new log's header recorded the old
/// one's length when it took over, so that loss shows here: the
/// predecessor is shorter than recorded, missing (`prev` is another log),
/// or (for the first log replayed) a log at or after the log number that
/// is not on disk. Such a log is not replayed, nor any after it.
///
/// A log is synced only once its predecessor is durable up to the length
/// it recorded (a `sync` seals the older logs first; with synced writes a
/// switch seals the old log, and an open syncs the logs it replayed), so
/// when the log that does not follow on carries a durable marker, the
/// predecessor lost durable bytes: damage, not a crash.
///
/// # Errors
///
/// [`Error::Corruption`] naming the log when its predecessor's number is
/// not below its own; naming the predecessor (its whole records' length,
/// or 0 when missing, against the length recorded) when it falls short of
/// a log synced after it.
fn follows(
    dir: &Path,
    n: FileNumber,
    contents: &LogContents,
    prev: Option<LogLength>,
    log_number: FileNumber,
) -> Result<bool> {
    let path = dir.join(manifest::log_name(n));
    let follows = match contents.predecessor {
        // Versions 1 and 2 recorded nothing: replayed as they always were.
        Predecessor::Unrecorded => true,
        Predecessor::First => prev.is_none(),
        Predecessor::Log(p) => {
            if p.log >= n {
                return Err(Error::corruption(
                    &path,
                    0,
                    "log predecessor not older than the log (expected: below the log's number)",
                    n.0,
                    p.log.0,
                ));
            }
            match prev {
                // Its predecessor's writes are in tables.
                None => p.log < log_number,
                Some(prev) => prev.log == p.log && prev.len_bytes >= p.len_bytes,
            }
        }
    };
    if follows || contents.durable_bytes == 0 {
        return Ok(follows);
    }
    Err(match (contents.predecessor, prev) {
        (Predecessor::Log(p), Some(prev)) if prev.log == p.log => Error::corruption(
            dir.join(manifest::log_name(p.log)),
            prev.len_bytes,
            "log shorter than the synced log after it recorded",
            p.len_bytes,
            prev.len_bytes,
        ),
        (Predecessor::Log(p), _) => Error::corruption(
            dir.join(manifest::log_name(p.log)),
            0,
            "log missing that the synced log after it names (expected: the length it recorded)",
            p.len_bytes,
            0,
        ),
        (_, prev) => Error::corruption(
            &path,
            0,
            "synced log names no predecessor but follows a log (found: that log)",
            0,
            prev.map_or(0, |p| p.log.0),
        ),
    })
}

/// Replays `logs` into a new memtable per keyspace of `keyspaces` (each
/// with the oldest log holding its writes not in its tables),
/// range-checking each record's sequence numbers, up to the first log that
/// does not follow on from those before it (see [`follows`]). An op of a
/// keyspace not among them (dropped) is skipped, as is one in a log older
/// than its keyspace's.
pub(super) fn replay(
    fs: &Arc<dyn vfs::Fs>,
    dir: &Path,
    logs: &[FileNumber],
    st: &ManifestState,
    keyspaces: &[(u64, FileNumber)],
) -> Result<Replayed> {
    let mems: Vec<Memtable> = keyspaces.iter().map(|_| Memtable::new()).collect();
    let mut last_seq = st.last_seq;
    let mut log_lengths: Vec<LogLength> = Vec::new();
    for (i, &n) in logs.iter().enumerate() {
        let path = dir.join(manifest::log_name(n));
        let contents = read_log(&**fs, &path)?;
        let prev = log_lengths.last().copied();
        if !follows(dir, n, &contents, prev, st.log_number)? {
            return Ok(Replayed {
                mems,
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
            let ks = batch.keyspaces;
            for (i, (kind, k, v)) in batch.ops.into_iter().enumerate() {
                let id = ks.get(i).copied().unwrap_or(0);
                let Some(at) = keyspaces.iter().position(|&(x, _)| x == id) else {
                    continue;
                };
                if n >= keyspaces[at].1 {
                    mems[at].insert(k, seq.plus(i as u64), kind, v);
                }
            }
            last_seq = last_seq.max(seq_last);
        }
    }
    Ok(Replayed {
        mems,
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

    /// `follows` for log `n` at log number 5, its header naming `p`; the log
    /// synced (a marker claiming 40 bytes) or not.
    fn follows_at(n: u64, p: Predecessor, prev: Option<LogLength>, synced: bool) -> Result<bool> {
        let contents = LogContents {
            records: Vec::new(),
            offsets: Vec::new(),
            torn_at: None,
            len_bytes: 64,
            predecessor: p,
            durable_bytes: if synced { 40 } else { 0 },
        };
        follows(
            Path::new("db"),
            FileNumber(n),
            &contents,
            prev,
            FileNumber(5),
        )
    }

    #[test]
    fn a_log_follows_only_a_predecessor_as_long_as_it_recorded() {
        use Predecessor::{First, Log, Unrecorded};
        for synced in [false, true] {
            // Version 1 and 2 logs record nothing.
            assert!(follows_at(9, Unrecorded, Some(len(3, 0)), synced).expect("v2"));
            // The first log at the log number: its predecessor is in tables.
            assert!(follows_at(5, Log(len(4, 100)), None, synced).expect("first"));
            assert!(follows_at(5, First, None, synced).expect("first of a store"));
            // A later log: the previous one replayed, at least as long.
            assert!(follows_at(7, Log(len(6, 100)), Some(len(6, 100)), synced).expect("same"));
            assert!(follows_at(7, Log(len(6, 100)), Some(len(6, 115)), synced).expect("sealed"));
        }
        // Not synced: what a crash leaves, and the log is not replayed.
        assert!(!follows_at(7, Log(len(6, 100)), None, false).expect("missing"));
        assert!(!follows_at(7, Log(len(6, 100)), Some(len(6, 99)), false).expect("short"));
        assert!(!follows_at(7, Log(len(6, 100)), Some(len(5, 100)), false).expect("other"));
        assert!(!follows_at(7, First, Some(len(6, 100)), false).expect("first after"));
    }

    #[test]
    fn a_synced_log_that_does_not_follow_on_is_corruption_of_its_predecessor() {
        use Predecessor::{First, Log};
        let r = follows_at(7, Log(len(6, 100)), Some(len(6, 99)), true);
        assert!(
            matches!(&r, Err(Error::Corruption { file, offset: 99, expected: 100, found: 99, .. })
                if file.ends_with(manifest::log_name(FileNumber(6)))),
            "{r:?}"
        );
        for prev in [None, Some(len(5, 100))] {
            let r = follows_at(7, Log(len(6, 100)), prev, true);
            assert!(
                matches!(&r, Err(Error::Corruption { file, offset: 0, expected: 100, found: 0, .. })
                    if file.ends_with(manifest::log_name(FileNumber(6)))),
                "{r:?}"
            );
        }
        let r = follows_at(7, First, Some(len(6, 100)), true);
        assert!(
            matches!(&r, Err(Error::Corruption { file, expected: 0, found: 6, .. })
                if file.ends_with(manifest::log_name(FileNumber(7)))),
            "{r:?}"
        );
    }

    #[test]
    fn a_predecessor_not_older_than_its_log_is_corruption() {
        for p in [6, 7] {
            let r = follows_at(6, Predecessor::Log(len(p, 1)), None, false);
            assert!(
                matches!(r, Err(Error::Corruption { expected: 6, found, .. }) if found == p),
                "{r:?}"
            );
        }
    }
}
