//! Is the recovered state complete? Every table, log and blob it needs
//! must exist; files nobody names are either the outputs of a manifest
//! edit that was lost (damage) or provably obsolete.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use erasure::BlobId;

use crate::manifest::{self, FileNumber};
use crate::recovery::BLOB_DIR;
use crate::recovery::blobs::BlobState;
use crate::recovery::logs::{ShortLog, sealed_log_damaged};
use crate::recovery::replay::ManifestState;
use crate::version::Version;
use crate::{Error, Result};

/// What the earlier steps found, for [`check`].
#[derive(Debug)]
pub(super) struct Evidence<'a> {
    pub(super) dir: &'a Path,
    /// The manifest's path.
    pub(super) mpath: &'a Path,
    /// Where the manifest stops being whole.
    pub(super) bad_tail: u64,
    /// Whether the manifest's last edit was torn.
    pub(super) torn: bool,
    pub(super) version: &'a Version,
    /// The number of each table file in the directory.
    pub(super) tables_on_disk: &'a [FileNumber],
    pub(super) st: &'a ManifestState,
    pub(super) blobs: Option<&'a crate::blob::Blobs>,
    /// The first sealed log shorter than recorded.
    pub(super) short_log: Option<ShortLog>,
}

/// Checks the state is complete; returns the tables on disk that are
/// provably obsolete, and adds the provably obsolete blobs to
/// `blob.obsolete` (keeping only those still in the store).
///
/// # Errors
///
/// [`Error::Corruption`] naming the manifest when it lost an edit, else
/// the missing file, or the sealed log shorter than recorded.
pub(super) fn check(
    e: Evidence<'_>,
    blob: &mut BlobState,
    mut missing: Vec<(PathBuf, u64)>,
) -> Result<Vec<FileNumber>> {
    let Evidence {
        dir,
        mpath,
        bad_tail,
        torn,
        version,
        tables_on_disk,
        st,
        blobs,
        short_log,
    } = e;
    let blob_files = &blob.files;
    let blobs_obsolete = &mut blob.obsolete;
    // Tables and blobs the manifest never named. Numbered at or above every
    // `next_file` it recorded, they are the outputs of an edit it lost; when
    // the manifest reserves numbers before handing them out, that edit was
    // durable, so this is damage, not a crash.
    let live: HashSet<FileNumber> = version.levels.iter().flatten().map(|t| t.number).collect();
    let mut unnamed_blobs: Vec<u64> = Vec::new();
    // Tables and blob ids share one counter: compared as bare numbers.
    let mut unnamed: Vec<u64> = tables_on_disk
        .iter()
        .copied()
        .filter(|n| !live.contains(n) && !st.tables_deleted.contains(n))
        .map(|n| n.0)
        .collect();
    if let Some(store) = blobs {
        for id in store.list() {
            if !blobs_obsolete.contains(&id)
                && !blob_files.files.contains_key(&id)
                && !st.blobs_deleted.contains(&id)
            {
                unnamed_blobs.push(id.0);
            }
        }
        // Recorded blobs dropped from the manifest that are still in the
        // store.
        blobs_obsolete.retain(|&b| store.contains(b));
        for &b in &st.blobs_deleted {
            if store.contains(b) && !blob_files.files.contains_key(&b) {
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
        .filter(|&n| n >= st.next_file.0)
        .collect();
    if st.numbers_reserved
        && let Some(&n) = unexplained.first()
    {
        return Err(Error::corruption(
            mpath,
            bad_tail,
            "manifest lost an edit: a table or blob is numbered beyond every number it handed \
             out (expected: below that bound; found: the file's number)",
            st.next_file.0,
            n,
        ));
    }
    let lost_edit = torn || !unexplained.is_empty();
    if lost_edit
        && missing.is_empty()
        && let Some(&b) = blob.missing.first()
    {
        missing.push((dir.join(BLOB_DIR).join(format!("{:016x}.shard", b.0)), b.0));
    }
    if lost_edit
        && missing.is_empty()
        && let Some(ShortLog { log: n, .. }) = short_log
    {
        missing.push((dir.join(manifest::log_name(n)), n.0));
    }
    if let Some((path, n)) = missing.first() {
        return Err(if lost_edit {
            // The older state this manifest leaves is incomplete: its last
            // edit was durable and took effect, then was damaged.
            Error::corruption(
                mpath,
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
    if let Some(s) = short_log {
        return Err(sealed_log_damaged(
            dir,
            s.log,
            s.len_found,
            s.len_recorded,
            s.len_found,
        ));
    }
    // The state is complete. A never-named file numbered below the bound
    // was written by the engine (the number was handed out) and no durable
    // edit that the complete state lacks names it: obsolete. Those at or
    // above it (only under a manifest that does not reserve numbers) stay.
    let tables_deleted: Vec<FileNumber> = tables_on_disk
        .iter()
        .copied()
        .filter(|&n| !live.contains(&n) && (st.tables_deleted.contains(&n) || n < st.next_file))
        .collect();
    blobs_obsolete.extend(
        unnamed_blobs
            .iter()
            .filter(|&&b| b < st.next_file.0)
            .map(|&b| BlobId(b)),
    );
    Ok(tables_deleted)
}
