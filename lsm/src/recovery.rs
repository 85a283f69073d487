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
//!   of it is durable (at close; at a log switch unless the sync mode is
//!   `Never`), the manifest records its length (tag 11). A live log so
//!   recorded that is missing, shorter, or bad before that length is
//!   corruption naming the log, the recorded length (expected) and the
//!   length found: a truncation removes the log's own seal marker, so only
//!   the manifest can tell. A log never recorded (a crash before close)
//!   keeps the marker rule of the log format.
//! - **Numbers are range-checked**: levels, file numbers (from the manifest
//!   and from file names) and sequence numbers (from the manifest, tables
//!   and log records) outside their limits are corruption naming the file
//!   and the record's offset, never a panic or a wrap.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::batch::WriteBatch;
use crate::blob::{BlobFiles, BlobMeta, RefCounter};
use crate::cache::BlockCache;
use crate::key::{SEQNO_MAX, SeqNo};
use crate::manifest::{self, FILE_NUMBER_MAX, FileKind, VersionEdit};
use crate::memtable::Memtable;
use crate::sstable::reader::Table;
use crate::version::{NUM_LEVELS, Version};
use crate::wal::reader::read_log;
use crate::{Error, Options, Result};

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
    /// The writes of the logs not yet in a table.
    pub(crate) mem: Memtable,
    pub(crate) last_seq: SeqNo,
    /// Larger than every number the manifest or the directory holds.
    pub(crate) next_file: u64,
    /// The oldest log whose writes are not in a table.
    pub(crate) log_number: u64,
    /// The logs replayed into `mem`, oldest first.
    pub(crate) logs: Vec<u64>,
    /// Per replayed log: the length of its whole records (its torn tail,
    /// if any, excluded), for the record a close makes of it.
    pub(crate) log_lengths: Vec<(u64, u64)>,
    /// The live logs the manifest recorded as sealed, with their lengths.
    pub(crate) logs_sealed: Vec<(u64, u64)>,
    /// Every manifest, log and temporary file in the directory, by name.
    pub(crate) names: Vec<(String, FileKind)>,
    /// Tables on disk that the manifest recorded as deleted: provably
    /// obsolete.
    pub(crate) tables_deleted: Vec<u64>,
    /// Blob files in the store that the manifest recorded and then
    /// dropped (deleted, or no live table references them): provably
    /// obsolete.
    pub(crate) blobs_obsolete: Vec<u64>,
    /// The blob store, opened read-only (so a refused open changes
    /// nothing in it either); a read-write open reopens it for writing.
    pub(crate) blobs: Option<Arc<erasure::BlobStore>>,
}

/// What the manifest says, before any table is opened.
#[derive(Debug, Default)]
struct ManifestState {
    log_number: u64,
    /// The largest `next_file` recorded (and the manifest's own number + 1):
    /// every number handed out before the last edit read is below it.
    next_file: u64,
    last_seq: SeqNo,
    levels: [Vec<u64>; NUM_LEVELS],
    /// Offset of the edit that added each table (for errors).
    added_at: std::collections::HashMap<u64, u64>,
    tables_deleted: HashSet<u64>,
    blobs_deleted: HashSet<u64>,
    blob_files: BlobFiles,
    blobs_recorded: bool,
    numbers_reserved: bool,
    /// Logs recorded as sealed, with their lengths.
    logs_sealed: std::collections::BTreeMap<u64, u64>,
}

/// Recovers the store in `dir`.
///
/// # Errors
///
/// [`Error::Corruption`] for a damaged manifest, table or log, a missing
/// `CURRENT` in a used directory, a missing file the state needs, or a
/// number out of range; [`Error::Fs`] and [`Error::BlobStore`] from the
/// disk.
pub(crate) fn recover(
    fs: &Arc<dyn vfs::Fs>,
    dir: &Path,
    opts: &Options,
    cache: &Arc<BlockCache>,
    access: Access,
) -> Result<Recovered> {
    let mut names = Vec::new();
    let mut numbers_on_disk = Vec::new();
    for name in fs.list_dir(dir)? {
        let name = name.to_string_lossy().into_owned();
        let kind = manifest::parse_name(&name);
        if let FileKind::Log(n) | FileKind::Table(n) | FileKind::Manifest(n) = kind {
            if n > FILE_NUMBER_MAX {
                return Err(Error::corruption(
                    dir.join(&name),
                    0,
                    "file number in name out of range",
                    FILE_NUMBER_MAX,
                    n,
                ));
            }
            numbers_on_disk.push((n, kind == FileKind::Table(n)));
        }
        names.push((name, kind));
    }
    let Some(m) = manifest::read_current(&**fs, dir)? else {
        check_new(fs, dir, opts, &names)?;
        let blobs = open_blob_store(fs, dir, opts, access)?;
        let mut next_file = 1;
        for &(n, _) in &numbers_on_disk {
            next_file = next_file.max(n + 1);
        }
        if let Some(store) = &blobs {
            for id in store.list() {
                next_file = next_file.max(id.0.min(FILE_NUMBER_MAX) + 1);
            }
        }
        return Ok(Recovered {
            version: Version::default(),
            blob_files: BlobFiles::default(),
            mem: Memtable::new(),
            last_seq: 0,
            next_file,
            log_number: 0,
            logs: Vec::new(),
            log_lengths: Vec::new(),
            logs_sealed: Vec::new(),
            names,
            tables_deleted: Vec::new(),
            blobs_obsolete: Vec::new(),
            blobs,
        });
    };
    let mpath = dir.join(manifest::manifest_name(m));
    if !fs.exists(&mpath)? {
        return Err(Error::corruption(
            &mpath,
            0,
            "manifest named by CURRENT is missing",
            m,
            0,
        ));
    }
    let contents = read_log(&**fs, &mpath)?;
    let manifest_len = fs.open(&mpath, vfs::OpenMode::Read)?.len()?;
    // The first edit (the whole state) is synced before CURRENT names the
    // manifest, so a manifest without it is damaged, not torn.
    if contents.records.is_empty() {
        return Err(Error::corruption(
            &mpath,
            contents.torn_at.unwrap_or(0),
            "manifest has no edit",
            1,
            0,
        ));
    }
    let mut st = read_manifest(&contents, &mpath)?;
    st.next_file = st.next_file.max(m + 1);

    // The tables the manifest names.
    let mut missing: Vec<(PathBuf, u64)> = Vec::new();
    let mut version = Version::default();
    for (level, files) in st.levels.iter().enumerate() {
        for &n in files {
            let path = dir.join(manifest::table_name(n));
            if !fs.exists(&path)? {
                missing.push((path, n));
                continue;
            }
            let t = Table::open(&**fs, &path, n, Arc::clone(cache))?;
            if t.props.seq_max > SEQNO_MAX {
                return Err(Error::corruption(
                    &path,
                    0,
                    "table sequence number out of range",
                    SEQNO_MAX,
                    t.props.seq_max,
                ));
            }
            st.last_seq = st.last_seq.max(t.props.seq_max);
            version.levels[level].push(Arc::new(t));
        }
    }
    crate::db::sort_version(&mut version);
    crate::db::check_levels(&version, &mpath, |n| {
        st.added_at.get(&n).copied().unwrap_or(0)
    })?;

    // The logs to replay: the one at the log number must exist.
    let mut logs: Vec<u64> = names
        .iter()
        .filter_map(|(_, k)| match *k {
            FileKind::Log(n) if n >= st.log_number => Some(n),
            _ => None,
        })
        .collect();
    logs.sort_unstable();
    let logs_sealed: Vec<(u64, u64)> = st
        .logs_sealed
        .range(st.log_number..)
        .map(|(&n, &len)| (n, len))
        .collect();
    if st.log_number != 0
        && logs.first() != Some(&st.log_number)
        && !st.logs_sealed.contains_key(&st.log_number)
    {
        missing.push((dir.join(manifest::log_name(st.log_number)), st.log_number));
    }
    // A sealed log missing or shorter than recorded (checked below, after a
    // lost manifest edit, which would explain it better).
    let mut short_log: Option<(u64, u64, u64)> = None;
    for &(n, len) in &logs_sealed {
        let found = if logs.contains(&n) {
            fs.open(&dir.join(manifest::log_name(n)), vfs::OpenMode::Read)?
                .len()?
        } else {
            0
        };
        if found < len {
            short_log = Some((n, len, found));
            break;
        }
    }

    // The blobs: only tables still live keep their references.
    let blobs = open_blob_store(fs, dir, opts, access)?;
    let mut blob_files = std::mem::take(&mut st.blob_files);
    blob_files
        .tables
        .retain(|n, _| version.levels.iter().flatten().any(|t| t.number == *n));
    if !st.blobs_recorded
        && let Some(store) = &blobs
    {
        // A manifest from before blob files were recorded: learn the
        // references from the tables and adopt every blob in the store.
        adopt_blobs(&version, store, &mut blob_files)?;
    }
    blob_files.tables.retain(|_, uses| !uses.is_empty());
    let mut blobs_obsolete: BTreeSet<u64> = blob_files.unreferenced().into_iter().collect();
    for b in &blobs_obsolete {
        blob_files.files.remove(b);
    }
    let mut missing_blobs = Vec::new();
    let needed: BTreeSet<u64> = blob_files
        .tables
        .values()
        .flatten()
        .map(|u| u.blob)
        .collect();
    for &b in &needed {
        if !blobs
            .as_ref()
            .is_some_and(|s| s.contains(erasure::BlobId(b)))
        {
            missing_blobs.push(b);
        }
    }

    // Tables and blobs the manifest never named. Numbered at or above every
    // `next_file` it recorded, they are the outputs of an edit it lost; when
    // the manifest reserves numbers before handing them out, that edit was
    // durable, so this is damage, not a crash.
    let live: HashSet<u64> = version.levels.iter().flatten().map(|t| t.number).collect();
    let mut unnamed_blobs: Vec<u64> = Vec::new();
    let mut unnamed: Vec<u64> = numbers_on_disk
        .iter()
        .filter(|&&(n, is_table)| is_table && !live.contains(&n) && !st.tables_deleted.contains(&n))
        .map(|&(n, _)| n)
        .collect();
    if let Some(store) = &blobs {
        for id in store.list() {
            if !blobs_obsolete.contains(&id.0)
                && !blob_files.files.contains_key(&id.0)
                && !st.blobs_deleted.contains(&id.0)
            {
                unnamed_blobs.push(id.0);
            }
        }
        // Recorded blobs dropped from the manifest that are still in the
        // store.
        blobs_obsolete.retain(|b| store.contains(erasure::BlobId(*b)));
        for &b in &st.blobs_deleted {
            if store.contains(erasure::BlobId(b)) && !blob_files.files.contains_key(&b) {
                blobs_obsolete.insert(b);
            }
        }
    } else {
        blobs_obsolete.clear();
    }
    unnamed.extend(&unnamed_blobs);
    unnamed.sort_unstable();
    let unexplained: Vec<u64> = unnamed
        .iter()
        .copied()
        .filter(|&n| n >= st.next_file)
        .collect();
    let bad_tail = contents.torn_at.unwrap_or(manifest_len);
    if st.numbers_reserved
        && let Some(&n) = unexplained.first()
    {
        return Err(Error::corruption(
            &mpath,
            bad_tail,
            "manifest lost an edit: a table or blob is numbered beyond every number it handed \
             out (expected: below that bound; found: the file's number)",
            st.next_file,
            n,
        ));
    }
    let lost_edit = contents.torn_at.is_some() || !unexplained.is_empty();
    if lost_edit
        && missing.is_empty()
        && let Some(&b) = missing_blobs.first()
    {
        missing.push((dir.join(BLOB_DIR).join(format!("{b:016x}.shard")), b));
    }
    if lost_edit
        && missing.is_empty()
        && let Some((n, _, _)) = short_log
    {
        missing.push((dir.join(manifest::log_name(n)), n));
    }
    if let Some((path, n)) = missing.first() {
        return Err(if lost_edit {
            // The older state this manifest leaves is incomplete: its last
            // edit was durable and took effect, then was damaged.
            Error::corruption(
                &mpath,
                bad_tail,
                "manifest lost an edit: a file its older state needs is gone (expected: that \
                 file's number; found: the newest file the manifest does not know)",
                *n,
                unexplained.last().copied().unwrap_or(0),
            )
        } else {
            Error::corruption(
                path,
                0,
                "file the manifest needs is missing (expected: its number)",
                *n,
                0,
            )
        });
    }
    if let Some((n, len, found)) = short_log {
        return Err(sealed_log_damaged(dir, n, found, len, found));
    }
    // The state is complete. A never-named file numbered below the bound
    // was written by the engine (the number was handed out) and no durable
    // edit that the complete state lacks names it: obsolete. Those at or
    // above it (only under a manifest that does not reserve numbers) stay.
    let tables_deleted: Vec<u64> = numbers_on_disk
        .iter()
        .filter(|&&(n, is_table)| {
            is_table && !live.contains(&n) && (st.tables_deleted.contains(&n) || n < st.next_file)
        })
        .map(|&(n, _)| n)
        .collect();
    blobs_obsolete.extend(unnamed_blobs.iter().filter(|&&b| b < st.next_file));

    // Replay the logs.
    let mem = Memtable::new();
    let mut last_seq = st.last_seq;
    let mut log_lengths = Vec::new();
    for &n in &logs {
        let path = dir.join(manifest::log_name(n));
        let contents = read_log(&**fs, &path)?;
        let whole = contents.torn_at.unwrap_or(contents.len_bytes);
        if let Some(&len) = st.logs_sealed.get(&n)
            && n >= st.log_number
            && whole < len
        {
            // Its seal marker (or a record after the last marker) is bad,
            // and the manifest says those bytes were whole.
            return Err(sealed_log_damaged(dir, n, whole, len, whole));
        }
        log_lengths.push((n, whole));
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
            let seq_last = seq.saturating_add(count.saturating_sub(1));
            if seq == 0 || seq_last > SEQNO_MAX {
                return Err(Error::corruption(
                    &path,
                    offset,
                    "log sequence number out of range",
                    SEQNO_MAX,
                    seq_last,
                ));
            }
            for (i, (kind, k, v)) in batch.ops.into_iter().enumerate() {
                mem.insert(k, seq + i as u64, kind, v);
            }
            last_seq = last_seq.max(seq_last);
        }
    }

    let mut next_file = st.next_file;
    for &(n, _) in &numbers_on_disk {
        next_file = next_file.max(n + 1);
    }
    for b in blob_files.files.keys().chain(&st.blobs_deleted) {
        next_file = next_file.max(b.min(&FILE_NUMBER_MAX) + 1);
    }
    if let Some(store) = &blobs {
        for id in store.list() {
            next_file = next_file.max(id.0.min(FILE_NUMBER_MAX) + 1);
        }
    }
    Ok(Recovered {
        version,
        blob_files,
        mem,
        last_seq,
        next_file,
        log_number: st.log_number,
        logs,
        log_lengths,
        logs_sealed,
        names,
        tables_deleted,
        blobs_obsolete: blobs_obsolete.into_iter().collect(),
        blobs,
    })
}

/// A log the manifest recorded as sealed at `len` bytes whose whole records
/// end at `found` (0 when it is missing): the error names the log, the
/// offset where it goes bad, the recorded length and the length found.
fn sealed_log_damaged(dir: &Path, n: u64, offset: u64, len: u64, found: u64) -> Error {
    Error::corruption(
        dir.join(manifest::log_name(n)),
        offset,
        "sealed log shorter than the manifest records (or missing)",
        len,
        found,
    )
}

/// Applies every edit of the manifest, range-checking its numbers.
fn read_manifest(contents: &crate::wal::reader::LogContents, path: &Path) -> Result<ManifestState> {
    let mut st = ManifestState::default();
    let out_of_range = |offset, what, max, found| Error::corruption(path, offset, what, max, found);
    for (rec, &offset) in contents.records.iter().zip(&contents.offsets) {
        let e = VersionEdit::decode(rec, path, offset)?;
        for n in [e.log_number, e.next_file].into_iter().flatten() {
            if n > FILE_NUMBER_MAX {
                return Err(out_of_range(
                    offset,
                    "manifest file number out of range",
                    FILE_NUMBER_MAX,
                    n,
                ));
            }
        }
        if let Some(s) = e.last_seq
            && s > SEQNO_MAX
        {
            return Err(out_of_range(
                offset,
                "manifest sequence number out of range",
                SEQNO_MAX,
                s,
            ));
        }
        st.log_number = e.log_number.unwrap_or(st.log_number);
        st.next_file = st.next_file.max(e.next_file.unwrap_or(0));
        st.last_seq = e.last_seq.unwrap_or(st.last_seq);
        for &(level, n) in &e.deleted {
            if let Some(l) = st.levels.get_mut(level as usize) {
                l.retain(|&x| x != n);
            }
            st.tables_deleted.insert(n);
        }
        for &(n, len) in &e.logs_sealed {
            if n > FILE_NUMBER_MAX {
                return Err(out_of_range(
                    offset,
                    "manifest file number out of range",
                    FILE_NUMBER_MAX,
                    n,
                ));
            }
            st.logs_sealed.insert(n, len);
        }
        st.blobs_recorded |= e.blobs_recorded;
        st.numbers_reserved |= e.numbers_reserved;
        for b in e.blobs_added {
            if b.blob > FILE_NUMBER_MAX {
                return Err(out_of_range(
                    offset,
                    "manifest blob id out of range",
                    FILE_NUMBER_MAX,
                    b.blob,
                ));
            }
            st.blob_files.files.insert(b.blob, b);
            st.blobs_deleted.remove(&b.blob);
        }
        for b in e.blobs_deleted {
            st.blob_files.files.remove(&b);
            st.blobs_deleted.insert(b);
        }
        st.blob_files.tables.extend(e.table_blobs);
        for (level, n, _) in e.added {
            if n > FILE_NUMBER_MAX {
                return Err(out_of_range(
                    offset,
                    "manifest file number out of range",
                    FILE_NUMBER_MAX,
                    n,
                ));
            }
            let Some(l) = st.levels.get_mut(level as usize) else {
                return Err(out_of_range(
                    offset,
                    "manifest level out of range",
                    NUM_LEVELS as u64 - 1,
                    u64::from(level),
                ));
            };
            l.push(n);
            st.added_at.insert(n, offset);
            st.tables_deleted.remove(&n);
            st.next_file = st.next_file.max(n + 1);
        }
    }
    Ok(st)
}

/// A directory without `CURRENT` is new only if nothing in it was ever
/// durable data: what a crash while creating the store leaves (an empty
/// log, a manifest naming no table, an empty blob store) is new too.
fn check_new(
    fs: &Arc<dyn vfs::Fs>,
    dir: &Path,
    opts: &Options,
    names: &[(String, FileKind)],
) -> Result<()> {
    // Found: the number of the file that shows a store was here.
    let damaged = |n: u64| {
        Error::corruption(
            dir.join(manifest::CURRENT),
            0,
            "CURRENT is missing but the directory holds a store",
            0,
            n,
        )
    };
    for (name, kind) in names {
        match *kind {
            FileKind::Table(n) => return Err(damaged(n)),
            FileKind::Log(n) => {
                let c = read_log(&**fs, &dir.join(name))?;
                if !c.records.is_empty() {
                    return Err(damaged(n));
                }
            }
            FileKind::Manifest(n) => {
                let path = dir.join(name);
                let c = read_log(&**fs, &path)?;
                for (rec, &offset) in c.records.iter().zip(&c.offsets) {
                    if !VersionEdit::decode(rec, &path, offset)?.added.is_empty() {
                        return Err(damaged(n));
                    }
                }
            }
            FileKind::Temp | FileKind::Other => {}
        }
    }
    let blob_dirs = if opts.blob_dirs.is_empty() {
        vec![dir.join(BLOB_DIR)]
    } else {
        opts.blob_dirs.clone()
    };
    for d in blob_dirs {
        if !fs.exists(&d)? {
            continue;
        }
        for name in fs.list_dir(&d)? {
            let name = name.to_string_lossy();
            // The blob store's own files; everything else is a blob (or a
            // blob being written), so the store held data.
            if name != "LOCK" && !name.starts_with("MANIFEST") {
                return Err(damaged(0));
            }
        }
    }
    Ok(())
}

/// Opens the blob store when separation is on or blobs may exist; a
/// read-only open never creates it.
pub(crate) fn open_blob_store(
    fs: &Arc<dyn vfs::Fs>,
    dir: &Path,
    opts: &Options,
    access: Access,
) -> Result<Option<Arc<erasure::BlobStore>>> {
    let dirs = if opts.blob_dirs.is_empty() {
        vec![dir.join(BLOB_DIR)]
    } else {
        opts.blob_dirs.clone()
    };
    let any_exists = dirs
        .iter()
        .try_fold(false, |a, d| Ok::<_, Error>(a || fs.exists(d)?))?;
    if opts.blob_threshold_bytes.is_none() && opts.blob_dirs.is_empty() && !any_exists {
        return Ok(None);
    }
    let eopts = erasure::Options {
        data_shards: opts.blob_code.data_shards,
        parity_shards: opts.blob_code.parity_shards,
        ..erasure::Options::default()
    };
    let store = match access {
        Access::ReadWrite => erasure::BlobStore::open(Arc::clone(fs), &dirs, eopts),
        Access::ReadOnly | Access::Look if !any_exists => return Ok(None),
        Access::ReadOnly => erasure::BlobStore::open_read_only(Arc::clone(fs), &dirs, eopts),
        Access::Look => erasure::BlobStore::open_read_only_unlocked(Arc::clone(fs), &dirs, eopts),
    }
    .map_err(Error::BlobStore)?;
    Ok(Some(Arc::new(store)))
}

/// Learns, from a manifest that predates blob-file records, which blob
/// values each live table references, and records every blob of the store
/// (none is deleted on this evidence alone unless no table uses it).
fn adopt_blobs(v: &Version, store: &erasure::BlobStore, blobs: &mut BlobFiles) -> Result<()> {
    for t in v.levels.iter().flatten() {
        let mut refs = RefCounter::default();
        for entry in t.iter_uncached() {
            let (k, value) = entry?;
            refs.note(k.kind, &value);
        }
        blobs.tables.insert(t.number, refs.into_uses());
    }
    let mut values: std::collections::HashMap<u64, u64> = std::collections::HashMap::new();
    for u in blobs.tables.values().flatten() {
        *values.entry(u.blob).or_default() += u.values;
    }
    for id in store.list() {
        let bytes = store.stat(id).map_or(0, |s| s.len);
        blobs.files.insert(
            id.0,
            BlobMeta {
                blob: id.0,
                values: values.get(&id.0).copied().unwrap_or(0),
                bytes,
            },
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::wal::writer::LogWriter;
    use crate::{Db, WriteBatch};

    fn store() -> (vfs::MemFs, Arc<dyn vfs::Fs>) {
        let fs = vfs::MemFs::new();
        let shared: Arc<dyn vfs::Fs> = Arc::new(fs.clone());
        let db = Db::open_with_fs(Arc::clone(&shared), "/db", Options::default()).expect("open");
        db.put("a", "1").expect("put");
        db.close().expect("close");
        (fs, shared)
    }

    fn open(fs: &Arc<dyn vfs::Fs>) -> Result<Db> {
        Db::open_with_fs(Arc::clone(fs), "/db", Options::default())
    }

    fn batch_record(seq: SeqNo, ops: usize) -> Vec<u8> {
        let mut b = WriteBatch::new();
        for i in 0..ops {
            b.put(format!("k{i}"), "v");
        }
        let mut out = Vec::new();
        b.encode(seq, &mut out);
        out
    }

    /// A log record whose CRC is good but whose sequence numbers do not fit
    /// the 56 bits of a key trailer (or wrap `u64`) is corruption naming the
    /// log, the record's offset, the limit and the number found.
    #[test]
    fn log_sequence_number_out_of_range_is_corruption_at_its_record() {
        for (seq, ops, found) in [
            (SEQNO_MAX + 1, 1, SEQNO_MAX + 1),
            (SEQNO_MAX, 2, SEQNO_MAX + 1),
            (u64::MAX - 1, 3, u64::MAX),
        ] {
            let (_mem, fs) = store();
            let path = Path::new("/db/000900.log");
            let mut w = LogWriter::create(&*fs, path).expect("log");
            w.add_record(&batch_record(5, 1)).expect("good record");
            let start = w.len_bytes();
            w.add_record(&batch_record(seq, ops)).expect("bad record");
            w.sync().expect("sync");
            drop(w);
            match open(&fs) {
                Err(Error::Corruption {
                    file,
                    offset,
                    expected,
                    found: f,
                    ..
                }) => {
                    assert_eq!(file, path);
                    assert_eq!(offset, start);
                    assert_eq!((expected, f), (SEQNO_MAX, found));
                }
                other => panic!("seq {seq}: {other:?}"),
            }
        }
    }

    #[test]
    fn file_number_in_a_name_out_of_range_is_corruption() {
        let (_mem, fs) = store();
        let path = Path::new("/db/18446744073709551615.sst");
        drop(fs.open(path, vfs::OpenMode::Truncate).expect("create"));
        match open(&fs) {
            Err(Error::Corruption {
                file,
                expected,
                found,
                ..
            }) => {
                assert_eq!(file, path);
                assert_eq!((expected, found), (FILE_NUMBER_MAX, u64::MAX));
            }
            other => panic!("{other:?}"),
        }
    }

    /// Writes a manifest of `edits` and points `CURRENT` at it; returns its
    /// path and the offset of each edit.
    fn manifest_of(fs: &Arc<dyn vfs::Fs>, edits: &[VersionEdit]) -> (PathBuf, Vec<u64>) {
        let path = Path::new("/db").join(manifest::manifest_name(500));
        let mut w = LogWriter::create(&**fs, &path).expect("manifest");
        let mut offsets = Vec::new();
        for e in edits {
            offsets.push(w.len_bytes());
            w.add_record(&e.encode()).expect("edit");
        }
        w.sync().expect("sync");
        manifest::set_current(&**fs, Path::new("/db"), 500).expect("current");
        (path, offsets)
    }

    fn base_edit() -> VersionEdit {
        VersionEdit {
            log_number: Some(1),
            next_file: Some(600),
            last_seq: Some(0),
            blobs_recorded: true,
            ..VersionEdit::default()
        }
    }

    /// Manifest numbers out of range name the manifest, the offset of the
    /// edit holding them, the limit and the value found.
    #[test]
    fn manifest_numbers_out_of_range_name_their_edit() {
        let cases: Vec<(VersionEdit, u64, u64)> = vec![
            (
                VersionEdit {
                    added: vec![(200, 7, 0)],
                    ..VersionEdit::default()
                },
                NUM_LEVELS as u64 - 1,
                200,
            ),
            (
                VersionEdit {
                    last_seq: Some(u64::MAX),
                    ..VersionEdit::default()
                },
                SEQNO_MAX,
                u64::MAX,
            ),
            (
                VersionEdit {
                    next_file: Some(u64::MAX),
                    ..VersionEdit::default()
                },
                FILE_NUMBER_MAX,
                u64::MAX,
            ),
            (
                VersionEdit {
                    added: vec![(1, u64::MAX, 0)],
                    ..VersionEdit::default()
                },
                FILE_NUMBER_MAX,
                u64::MAX,
            ),
        ];
        for (bad, expected, found) in cases {
            let (_mem, fs) = store();
            let (path, offsets) = manifest_of(&fs, &[base_edit(), bad.clone()]);
            match open(&fs) {
                Err(Error::Corruption {
                    file,
                    offset,
                    expected: e,
                    found: f,
                    ..
                }) => {
                    assert_eq!(file, path, "{bad:?}");
                    assert_eq!(offset, offsets[1], "{bad:?}");
                    assert_eq!((e, f), (expected, found), "{bad:?}");
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    /// An edit that does not decode names its offset and, for an unknown
    /// tag, the largest known tag and the tag found.
    #[test]
    fn undecodable_manifest_edit_names_its_offset() {
        let (_mem, fs) = store();
        let path = Path::new("/db").join(manifest::manifest_name(500));
        let mut w = LogWriter::create(&*fs, &path).expect("manifest");
        w.add_record(&base_edit().encode()).expect("edit");
        let start = w.len_bytes();
        w.add_record(&[99]).expect("bad tag");
        w.sync().expect("sync");
        manifest::set_current(&*fs, Path::new("/db"), 500).expect("current");
        match open(&fs) {
            Err(Error::Corruption {
                file,
                offset,
                expected,
                found,
                ..
            }) => {
                assert_eq!(file, path);
                assert_eq!(offset, start);
                assert_eq!((expected, found), (11, 99));
            }
            other => panic!("{other:?}"),
        }
    }
}
