//! Recovery: from a directory to the state an open starts from (version,
//! memtable replayed from the logs, sequence and file numbers), reading
//! only. What an open then writes (a new manifest, deletions) is the
//! caller's, and only a read-write open's.
//!
//! Recovery knows, it does not guess (`DESIGN.md`, "Damage at rest"):
//!
//! - **No `CURRENT`.** A directory without `CURRENT` is new only if it
//!   holds nothing a store ever made durable: no table, no blob, no log
//!   record, no manifest naming a table (what a crash while creating a
//!   store can leave). Anything else is a damaged store:
//!   [`Error::Corruption`] naming `CURRENT`.
//! - **Every edit is synced before its effects happen**: a flush's log and
//!   a compaction's inputs are deleted only after the edit naming their
//!   replacement is durable; logs are deleted oldest first. So after a
//!   crash tore the manifest's last edit, the older state it leaves is
//!   complete: every table it names exists, and so does the log at its log
//!   number. When damage reverted a durable edit instead, its effects may
//!   have happened and the older state is incomplete. A missing table or
//!   log is therefore always corruption, never an empty replay; when the
//!   manifest also had a bad tail or files newer than anything it knows
//!   exist (the lost edit's outputs), the error names the manifest and the
//!   offset of its bad tail.
//! - **A sealed log is whole.** Once a log takes no more records and all
//!   of it is durable (at close; at a log switch unless the durability is
//!   `None`), the manifest records its length (tag 11). A live log so
//!   recorded that is missing, shorter, or bad before that length is
//!   corruption naming the log, the recorded length (expected) and the
//!   length found: a truncation removes the log's own seal marker, so only
//!   the manifest can tell. A log never recorded (a crash before close)
//!   keeps the marker rule of the log format.
//! - **Logs replay as a prefix.** Each log's header names the log before
//!   it and that log's length when it took over (log version 3). A crash
//!   under `Durability::None` can keep records of a newer log while losing
//!   the end of an older one; from the first log whose predecessor is
//!   shorter than recorded (or missing), no log is replayed, so the
//!   recovered writes are a prefix of those made. A read-write open
//!   deletes those logs (durably) before its new log takes a write. A log
//!   is synced only after its predecessor is durable, so when the log
//!   past the loss carries a durable marker, the loss is damage:
//!   corruption naming the predecessor.
//! - **Numbers are range-checked**: levels, file numbers (from the manifest
//!   and from file names) and sequence numbers (from the manifest, tables
//!   and log records) outside their limits are corruption naming the file
//!   and the record's offset, never a panic or a wrap.

//!
//! One file per step, in the order [`recover`] takes them:
//!
//! - `scan.rs`: lists the directory; without `CURRENT`, tells a new store
//!   from a damaged one.
//! - `replay.rs`: applies the manifest's edits, range-checking their
//!   numbers, and opens the tables the result names.
//! - `logs.rs`: finds the logs to replay and checks sealed ones against
//!   their recorded lengths; later replays them into a memtable.
//! - `blobs.rs`: opens the blob store and derives which blob files live
//!   tables still reference.
//! - `complete.rs`: checks that the recovered state has every file it
//!   needs, and sorts the files nothing names into damage or obsolete.

mod blobs;
mod complete;
mod logs;
mod replay;
mod scan;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::Arc;

use crate::blob::BlobFiles;
use crate::key::SeqNo;
use crate::manifest::{self, FILE_NUMBER_MAX, FileKind, FileNumber, LogLength};
use crate::memtable::Memtable;
use crate::tables::TableFiles;
use crate::tables::published::{self, Published};
use crate::version::Version;
use crate::{Options, Result};

pub(crate) use blobs::open_blob_store;

/// Whether an open may write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// May create the store and (after recovery) write and delete files.
    ReadWrite,
    /// Writes nothing: not the directory, not a lock file, not the blob
    /// store.
    ReadOnly,
    /// Writes nothing, like `ReadOnly`, and takes no blob-store lock: the
    /// caller holds the database's exclusive `LOCK` and opens the blob
    /// store read-write right after (dropping a shared lock just before
    /// taking the exclusive one would let a child another thread forks in
    /// between keep the shared one, and the open would fail as locked).
    Look,
}

/// The directory of the default blob store, inside the database directory.
pub(crate) const BLOB_DIR: &str = "blobs";

/// The state recovered from a directory.
#[derive(Debug)]
pub(crate) struct Recovered {
    pub(crate) version: Version,
    /// Recorded blob files and the live tables' references into them
    /// (blob files no live table references are left out).
    pub(crate) blob_files: BlobFiles,
    /// The default keyspace's writes of the logs not yet in a table.
    pub(crate) mem: Memtable,
    /// The oldest log whose writes to the default keyspace are not in its
    /// tables.
    pub(crate) default_log: FileNumber,
    /// The keyspaces besides the default.
    pub(crate) keyspaces: Vec<RecoveredKeyspace>,
    pub(crate) last_seq: SeqNo,
    /// Larger than every number the manifest or the directory holds.
    pub(crate) next_file: FileNumber,
    /// The oldest log whose writes are not in a table.
    pub(crate) log_number: FileNumber,
    /// The logs replayed into `mem`, oldest first.
    pub(crate) logs: Vec<FileNumber>,
    /// The logs after them that were not replayed, oldest first: the first
    /// of them names as its predecessor a log that lost writes it held (or
    /// is missing), so their writes follow lost ones. A read-write open
    /// deletes them before its new log takes a write.
    pub(crate) logs_dropped: Vec<FileNumber>,
    /// Per replayed log: the length of its whole records (its torn tail,
    /// if any, excluded), for the record a close makes of it.
    pub(crate) log_lengths: Vec<LogLength>,
    /// The live logs the manifest recorded as sealed, with their lengths.
    pub(crate) logs_sealed: Vec<LogLength>,
    /// Every manifest, log and temporary file in the directory, by name.
    pub(crate) names: Vec<(String, FileKind)>,
    /// Tables on disk that the manifest recorded as deleted: provably
    /// obsolete.
    pub(crate) tables_deleted: Vec<FileNumber>,
    /// Blob files in the store that the manifest recorded and then
    /// dropped (deleted, or no live table references them): provably
    /// obsolete.
    pub(crate) blobs_obsolete: Vec<erasure::BlobId>,
    /// The blob store, opened read-only (so a refused open changes
    /// nothing in it either); a read-write open reopens it for writing.
    pub(crate) blobs: Option<Arc<crate::blob::Blobs>>,
    /// The writer epoch the local manifest recorded (0: none).
    pub(crate) writer_epoch: u64,
    /// The merge operator name the manifest records (`merge/`).
    pub(crate) merge_operator: Option<String>,
    /// With `publish_manifest` on a read-write open: the newest manifest
    /// published on the table store, and its number.
    pub(crate) published: Option<(u64, Published)>,
}

/// A keyspace besides the default, recovered.
#[derive(Debug)]
pub(crate) struct RecoveredKeyspace {
    pub(crate) meta: crate::keyspace::KeyspaceMeta,
    pub(crate) version: Version,
    /// Its writes of the logs not yet in its tables.
    pub(crate) mem: Memtable,
    /// The oldest log whose writes to it are not in its tables.
    pub(crate) log_number: FileNumber,
}

/// Every table of `default` and `others`, level by level, in one version:
/// what the checks of files on disk and of blob references need (tables
/// of different keyspaces may overlap in it).
pub(crate) fn union(default: &Version, others: &[(u64, Version)]) -> Version {
    let mut all = default.clone();
    for (_, v) in others {
        for (level, ts) in v.levels.iter().enumerate() {
            all.levels[level].extend(ts.iter().cloned());
        }
    }
    all
}

/// Recovers the store in `dir`.
///
/// # Errors
///
/// [`Error::Corruption`](crate::Error::Corruption) for a damaged manifest,
/// table or log, a missing `CURRENT` in a used directory, a missing file
/// the state needs, or a number out of range;
/// [`Error::Io`](crate::Error::Io) and
/// [`Error::BlobStore`](crate::Error::BlobStore) from the disk.
pub(crate) fn recover(
    fs: &Arc<dyn vfs::Fs>,
    dir: &Path,
    opts: &Options,
    tables: &TableFiles,
    access: Access,
) -> Result<Recovered> {
    let listing = scan::list(fs, dir, tables)?;
    // The published manifest is authoritative for a writer: it starts
    // from it in a directory without state, and checks its own state
    // against it otherwise (`Db::open_with_fs`).
    let latest = match (opts.publish_manifest, access, tables.remote()) {
        (true, Access::Look, Some(io)) => published::latest(io)?,
        _ => None,
    };
    let Some(m) = manifest::read_current(&**fs, dir)? else {
        if let Some(latest) = latest {
            return scan::recover_published(fs, dir, opts, access, listing, tables, latest);
        }
        return scan::recover_new(fs, dir, opts, access, listing);
    };
    let replay::Manifest {
        path: mpath,
        state: mut st,
        bad_tail,
        torn,
    } = replay::read(fs, dir, m)?;
    crate::merge::check_name(opts, st.merge_operator.as_deref())?;
    if let (Some((n, p)), Some(io)) = (&latest, tables.remote()) {
        // Another writer took over since this directory's writer last
        // claimed the store, and its tables differ from this state: it is
        // fenced, whatever else the store holds now (`Db::open_with_fs`
        // checks the rest once the logs are replayed).
        if st.writer_epoch != 0 && p.epoch > st.writer_epoch {
            let mut ours: Vec<(u8, FileNumber)> = st
                .levels
                .iter()
                .enumerate()
                .flat_map(|(l, ns)| ns.iter().map(move |&n| (l as u8, n)))
                .collect();
            let mut theirs: Vec<(u8, FileNumber)> = p.tables.iter().map(|t| (t.0, t.1)).collect();
            ours.sort_unstable();
            theirs.sort_unstable();
            if ours != theirs {
                return Err(published::superseded(io, st.writer_epoch, *n, p));
            }
        }
    }
    let (version, others, mut missing) = replay::open_tables(tables, &mut st, &mpath)?;
    let all = union(&version, &others);
    let found = logs::find(fs, dir, &listing.names, &st, &mut missing)?;
    let blobs = open_blob_store(fs, dir, opts, access)?;
    let mut blob_state = blobs::account(&all, &mut st, blobs.as_deref())?;
    let tables_deleted = complete::check(
        complete::Evidence {
            dir,
            mpath: &mpath,
            bad_tail,
            torn,
            version: &all,
            tables_on_disk: &listing.tables,
            st: &st,
            blobs: blobs.as_deref(),
            short_log: found.short,
        },
        &mut blob_state,
        missing,
    )?;
    let mut targets = vec![(0, st.keyspace_log(0))];
    targets.extend(others.iter().map(|(id, _)| (*id, st.keyspace_log(*id))));
    let replayed = logs::replay(fs, dir, &found.logs, &st, &targets)?;
    let mut mems = replayed.mems.into_iter();
    let mem = mems.next().unwrap_or_else(Memtable::new);
    let keyspaces = others
        .into_iter()
        .zip(mems)
        .map(|((id, version), mem)| RecoveredKeyspace {
            meta: st.keyspaces[&id].meta.clone(),
            version,
            mem,
            log_number: st.keyspace_log(id),
        })
        .collect();
    let next_file = next_file(
        st.next_file,
        &listing.numbers,
        blob_state
            .files
            .files
            .keys()
            .chain(&st.blobs_deleted)
            .map(|b| b.0),
        blobs.as_deref(),
    );
    Ok(Recovered {
        version,
        blob_files: blob_state.files,
        mem,
        default_log: st.keyspace_log(0),
        keyspaces,
        last_seq: replayed.last_seq,
        next_file,
        log_number: st.log_number,
        logs: replayed.logs,
        logs_dropped: replayed.logs_dropped,
        log_lengths: replayed.log_lengths,
        logs_sealed: found.sealed,
        names: listing.names,
        tables_deleted,
        blobs_obsolete: blob_state.obsolete.into_iter().collect(),
        blobs,
        writer_epoch: st.writer_epoch,
        merge_operator: st.merge_operator.clone(),
        published: latest,
    })
}

/// The first file number free for the engine: above `from`, every number
/// in a name in the directory, every `recorded` blob id and every blob in
/// the store (ids past the limit count as the limit).
fn next_file(
    from: FileNumber,
    numbers_on_disk: &[FileNumber],
    recorded: impl Iterator<Item = u64>,
    store: Option<&crate::blob::Blobs>,
) -> FileNumber {
    let mut next_file = from.0;
    for &n in numbers_on_disk {
        next_file = next_file.max(n.0 + 1);
    }
    for b in recorded {
        next_file = next_file.max(b.min(FILE_NUMBER_MAX) + 1);
    }
    if let Some(store) = store {
        for id in store.list() {
            next_file = next_file.max(id.0.min(FILE_NUMBER_MAX) + 1);
        }
    }
    FileNumber(next_file)
}
