//! The manifest: read through `CURRENT`, its edits applied in order with
//! every number range-checked, and the tables of the result opened.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use erasure::BlobId;

use crate::blob::BlobFiles;
use crate::key::{SEQNO_MAX, SeqNo};
use crate::manifest::{self, FILE_NUMBER_MAX, FileNumber, LogLength, VersionEdit};
use crate::tables::TableFiles;
use crate::version::{NUM_LEVELS, Version};
use crate::wal::reader::{LogContents, read_log};
use crate::{Error, Result};

/// What the manifest says, before any table is opened.
#[derive(Debug, Default)]
pub(super) struct ManifestState {
    pub(super) log_number: FileNumber,
    /// The largest `next_file` recorded (and the manifest's own number + 1):
    /// every number handed out before the last edit read is below it.
    pub(super) next_file: FileNumber,
    pub(super) last_seq: SeqNo,
    pub(super) levels: [Vec<FileNumber>; NUM_LEVELS],
    /// Offset of the edit that added each table (for errors).
    pub(super) added_at: HashMap<FileNumber, u64>,
    /// The size each table had when an edit added it.
    pub(super) sizes: HashMap<FileNumber, u64>,
    pub(super) tables_deleted: HashSet<FileNumber>,
    pub(super) blobs_deleted: HashSet<BlobId>,
    pub(super) blob_files: BlobFiles,
    pub(super) blobs_recorded: bool,
    pub(super) numbers_reserved: bool,
    /// Logs recorded as sealed, with their lengths.
    pub(super) logs_sealed: BTreeMap<FileNumber, u64>,
    /// The last writer epoch recorded (0: none, a manifest from before
    /// tag 12 or a writer that did not publish).
    pub(super) writer_epoch: u64,
    /// The last merge operator name recorded (tag 13).
    pub(super) merge_operator: Option<String>,
    /// The live keyspaces besides the default, by id (tags 14 to 16).
    pub(super) keyspaces: BTreeMap<u64, KeyspaceState>,
    /// Per keyspace, the log number recorded for it (tag 17).
    pub(super) keyspace_logs: BTreeMap<u64, FileNumber>,
}

/// A keyspace besides the default, as the manifest says.
#[derive(Debug)]
pub(super) struct KeyspaceState {
    pub(super) meta: crate::keyspace::KeyspaceMeta,
    pub(super) levels: [Vec<FileNumber>; NUM_LEVELS],
}

impl ManifestState {
    /// The oldest log whose writes to keyspace `id` are not in its tables.
    pub(super) fn keyspace_log(&self, id: u64) -> FileNumber {
        self.keyspace_logs
            .get(&id)
            .copied()
            .unwrap_or(self.log_number)
            .max(self.log_number)
    }
}

/// The manifest `CURRENT` names, read.
#[derive(Debug)]
pub(super) struct Manifest {
    pub(super) path: PathBuf,
    pub(super) state: ManifestState,
    /// Where the manifest stops being whole: its torn tail, or its end.
    pub(super) bad_tail: u64,
    /// Whether its last edit was torn (dropped).
    pub(super) torn: bool,
}

/// Reads manifest number `m` of `dir` and applies its edits.
pub(super) fn read(fs: &Arc<dyn vfs::Fs>, dir: &Path, m: FileNumber) -> Result<Manifest> {
    let mpath = dir.join(manifest::manifest_name(m));
    if !fs.exists(&mpath)? {
        return Err(Error::corruption(
            &mpath,
            0,
            "manifest named by CURRENT is missing",
            m.0,
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
    let mut st = apply_edits(&contents, &mpath)?;
    st.next_file = st.next_file.max(m.next());
    Ok(Manifest {
        path: mpath,
        state: st,
        bad_tail: contents.torn_at.unwrap_or(manifest_len),
        torn: contents.torn_at.is_some(),
    })
}

/// The default keyspace's version, the other keyspaces' (by id), and the
/// tables found missing (path and number).
pub(super) type Opened = (Version, Vec<(u64, Version)>, Vec<(PathBuf, u64)>);

/// Opens the tables the manifest names into a version per keyspace;
/// returns them with the tables that are missing, for
/// [`complete::check`](super::complete::check) to judge. Raises
/// `st.last_seq` to the tables' largest sequence number.
pub(super) fn open_tables(
    tables: &TableFiles,
    st: &mut ManifestState,
    mpath: &Path,
) -> Result<Opened> {
    let mut missing: Vec<(PathBuf, u64)> = Vec::new();
    let default = open_levels(tables, st, &st.levels.clone(), mpath, &mut missing)?;
    let mut others = Vec::new();
    let ks: Vec<(u64, [Vec<FileNumber>; NUM_LEVELS])> = st
        .keyspaces
        .iter()
        .map(|(&id, k)| (id, k.levels.clone()))
        .collect();
    for (id, levels) in ks {
        others.push((id, open_levels(tables, st, &levels, mpath, &mut missing)?));
    }
    Ok((default, others, missing))
}

/// Opens the tables of one keyspace's `levels` into a version.
fn open_levels(
    tables: &TableFiles,
    st: &mut ManifestState,
    levels: &[Vec<FileNumber>; NUM_LEVELS],
    mpath: &Path,
    missing: &mut Vec<(PathBuf, u64)>,
) -> Result<Version> {
    let mut version = Version::default();
    for (level, files) in levels.iter().enumerate() {
        for &n in files {
            let path = tables.path(n);
            let size = tables
                .is_remote()
                .then(|| st.sizes.get(&n).copied())
                .flatten();
            let Some(t) = tables.open_existing(n, size)? else {
                missing.push((path, n.0));
                continue;
            };
            if t.props.seq_max > SEQNO_MAX {
                return Err(Error::corruption(
                    &path,
                    0,
                    "table sequence number out of range",
                    SEQNO_MAX,
                    t.props.seq_max,
                ));
            }
            st.last_seq = st.last_seq.max(SeqNo(t.props.seq_max));
            version.levels[level].push(Arc::new(t));
        }
    }
    crate::version_set::sort_version(&mut version);
    crate::version_set::check_levels(&version, mpath, |n| {
        st.added_at.get(&n).copied().unwrap_or(0)
    })?;
    Ok(version)
}

/// Applies every edit of the manifest, range-checking its numbers.
fn apply_edits(contents: &LogContents, path: &Path) -> Result<ManifestState> {
    let mut st = ManifestState::default();
    let out_of_range = |offset, what, max, found| Error::corruption(path, offset, what, max, found);
    let file_number = |n: FileNumber, offset| {
        if n.0 > FILE_NUMBER_MAX {
            Err(out_of_range(
                offset,
                "manifest file number out of range",
                FILE_NUMBER_MAX,
                n.0,
            ))
        } else {
            Ok(())
        }
    };
    for (rec, &offset) in contents.records.iter().zip(&contents.offsets) {
        let e = VersionEdit::decode(rec, path, offset)?;
        for n in [e.log_number, e.next_file].into_iter().flatten() {
            file_number(n, offset)?;
        }
        if let Some(s) = e.last_seq
            && s.0 > SEQNO_MAX
        {
            return Err(out_of_range(
                offset,
                "manifest sequence number out of range",
                SEQNO_MAX,
                s.0,
            ));
        }
        st.log_number = e.log_number.unwrap_or(st.log_number);
        st.next_file = st.next_file.max(e.next_file.unwrap_or_default());
        st.last_seq = e.last_seq.unwrap_or(st.last_seq);
        for k in &e.keyspaces_created {
            if st.keyspaces.values().any(|o| o.meta.name == k.name)
                || st.keyspaces.contains_key(&k.id)
            {
                return Err(out_of_range(
                    offset,
                    "manifest creates a keyspace that exists (found: its id)",
                    0,
                    k.id,
                ));
            }
            st.keyspaces.insert(
                k.id,
                KeyspaceState {
                    meta: k.clone(),
                    levels: Default::default(),
                },
            );
        }
        for &(id, log) in &e.keyspace_logs {
            file_number(log, offset)?;
            st.keyspace_logs.insert(id, log);
        }
        if e.keyspace != 0 && !st.keyspaces.contains_key(&e.keyspace) {
            return Err(out_of_range(
                offset,
                "manifest edit names a keyspace it never created (found: the id)",
                0,
                e.keyspace,
            ));
        }
        let levels = match st.keyspaces.get_mut(&e.keyspace) {
            Some(k) => &mut k.levels,
            None => &mut st.levels,
        };
        for &(level, n) in &e.deleted {
            if let Some(l) = levels.get_mut(level as usize) {
                l.retain(|&x| x != n);
            }
            st.tables_deleted.insert(n);
        }
        for &LogLength { log: n, len_bytes } in &e.logs_sealed {
            file_number(n, offset)?;
            st.logs_sealed.insert(n, len_bytes);
        }
        st.blobs_recorded |= e.blobs_recorded;
        st.numbers_reserved |= e.numbers_reserved;
        if let Some(epoch) = e.writer_epoch {
            st.writer_epoch = epoch;
        }
        if let Some(name) = &e.merge_operator {
            st.merge_operator = Some(name.clone());
        }
        for b in e.blobs_added {
            if b.blob.0 > FILE_NUMBER_MAX {
                return Err(out_of_range(
                    offset,
                    "manifest blob id out of range",
                    FILE_NUMBER_MAX,
                    b.blob.0,
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
        for (level, n, size_bytes) in e.added {
            file_number(n, offset)?;
            let levels = match st.keyspaces.get_mut(&e.keyspace) {
                Some(k) => &mut k.levels,
                None => &mut st.levels,
            };
            let Some(l) = levels.get_mut(level as usize) else {
                return Err(out_of_range(
                    offset,
                    "manifest level out of range",
                    NUM_LEVELS as u64 - 1,
                    u64::from(level),
                ));
            };
            l.push(n);
            st.added_at.insert(n, offset);
            st.sizes.insert(n, size_bytes);
            st.tables_deleted.remove(&n);
            st.next_file = st.next_file.max(n.next());
        }
        for id in &e.keyspaces_dropped {
            // Its tables are provably obsolete now.
            if let Some(k) = st.keyspaces.remove(id) {
                st.tables_deleted.extend(k.levels.iter().flatten().copied());
            }
            st.keyspace_logs.remove(id);
        }
    }
    Ok(st)
}
