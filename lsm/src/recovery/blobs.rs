//! The blob store at recovery: opened (read-only unless the open may
//! write), and the accounting of which recorded blob files the live tables
//! still reference.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use erasure::BlobId;

use crate::blob::{BlobFiles, BlobMeta, Blobs, RefCounter};
use crate::recovery::replay::ManifestState;
use crate::recovery::{Access, BLOB_DIR};
use crate::version::Version;
use crate::{Error, Options, Result};

/// The blob files of the recovered state.
#[derive(Debug)]
pub(super) struct BlobState {
    /// Recorded blob files the live tables reference, and those references.
    pub(super) files: BlobFiles,
    /// Recorded blob files nothing live references any more.
    pub(super) obsolete: BTreeSet<BlobId>,
    /// Blob files live tables reference that the store lacks.
    pub(super) missing: Vec<BlobId>,
}

/// Keeps the references of live tables only (learning them from the
/// tables under a manifest older than blob records), and sorts recorded
/// blob files into referenced, obsolete and missing.
pub(super) fn account(
    version: &Version,
    st: &mut ManifestState,
    store: Option<&Blobs>,
) -> Result<BlobState> {
    let mut blob_files = std::mem::take(&mut st.blob_files);
    blob_files
        .tables
        .retain(|n, _| version.levels.iter().flatten().any(|t| t.number == *n));
    if !st.blobs_recorded
        && let Some(store) = store
    {
        // A manifest from before blob files were recorded: learn the
        // references from the tables and adopt every blob in the store.
        adopt_blobs(version, store, &mut blob_files)?;
    }
    blob_files.tables.retain(|_, uses| !uses.is_empty());
    let obsolete: BTreeSet<BlobId> = blob_files.unreferenced().into_iter().collect();
    for b in &obsolete {
        blob_files.files.remove(b);
    }
    let mut missing = Vec::new();
    let needed: BTreeSet<BlobId> = blob_files
        .tables
        .values()
        .flatten()
        .map(|u| u.blob)
        .collect();
    for &b in &needed {
        if !store.is_some_and(|s| s.contains(b)) {
            missing.push(b);
        }
    }
    Ok(BlobState {
        files: blob_files,
        obsolete,
        missing,
    })
}

/// Opens the blob store when separation is on or blobs may exist; a
/// read-only open never creates it (and on object stores writes nothing).
pub(crate) fn open_blob_store(
    fs: &Arc<dyn vfs::Fs>,
    dir: &Path,
    opts: &Options,
    access: Access,
) -> Result<Option<Arc<Blobs>>> {
    let eopts = erasure::Options {
        data_shards: opts.blob_code.data_shards,
        parity_shards: opts.blob_code.parity_shards,
        ..erasure::Options::default()
    };
    if !opts.blob_stores.is_empty() {
        let stores = opts.blob_stores.clone();
        let store = match access {
            Access::ReadWrite => erasure::ObjectBlobStore::open(stores, eopts),
            Access::ReadOnly | Access::Look => {
                erasure::ObjectBlobStore::open_read_only(stores, eopts)
            }
        };
        let blobs = store.and_then(Blobs::objects).map_err(Error::BlobStore)?;
        return Ok(Some(Arc::new(blobs)));
    }
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
    let store = match access {
        Access::ReadWrite => erasure::BlobStore::open_with_fs(Arc::clone(fs), &dirs, eopts),
        Access::ReadOnly | Access::Look if !any_exists => return Ok(None),
        Access::ReadOnly => {
            erasure::BlobStore::open_read_only_with_fs(Arc::clone(fs), &dirs, eopts)
        }
        Access::Look => {
            erasure::BlobStore::open_read_only_unlocked_with_fs(Arc::clone(fs), &dirs, eopts)
        }
    }
    .map_err(Error::BlobStore)?;
    Ok(Some(Arc::new(Blobs::Dirs(store))))
}

/// Learns, from a manifest that predates blob-file records, which blob
/// values each live table references, and records every blob of the store
/// (none is deleted on this evidence alone unless no table uses it).
fn adopt_blobs(v: &Version, store: &Blobs, blobs: &mut BlobFiles) -> Result<()> {
    for t in v.levels.iter().flatten() {
        let mut refs = RefCounter::default();
        for entry in t.iter_uncached() {
            let (k, value) = entry?;
            refs.note(k.kind, &value);
        }
        blobs.tables.insert(t.number, refs.into_uses());
    }
    let mut values: std::collections::HashMap<BlobId, u64> = std::collections::HashMap::new();
    for u in blobs.tables.values().flatten() {
        *values.entry(u.blob).or_default() += u.values;
    }
    for id in store.list() {
        let bytes = store.stat(id).map_or(0, |s| s.len);
        blobs.files.insert(
            id,
            BlobMeta {
                blob: id,
                values: values.get(&id).copied().unwrap_or(0),
                bytes,
            },
        );
    }
    Ok(())
}
