//! The directory as found: every name, the file numbers in them, and for
//! a directory without `CURRENT` whether it is new or a damaged store.

use std::path::Path;
use std::sync::Arc;

use crate::blob::BlobFiles;
use crate::key::SeqNo;
use crate::manifest::{self, FILE_NUMBER_MAX, FileKind, FileNumber, VersionEdit};
use crate::memtable::Memtable;
use crate::recovery::{Access, BLOB_DIR, Recovered, next_file, open_blob_store};
use crate::tables::TableFiles;
use crate::tables::published::{self, Published};
use crate::version::Version;
use crate::wal::reader::read_log;
use crate::{Error, Options, Result};

/// The names in the database directory.
#[derive(Debug)]
pub(super) struct Listing {
    /// Every name, with what kind of file it names.
    pub(super) names: Vec<(String, FileKind)>,
    /// The number of each log, table and manifest.
    pub(super) numbers: Vec<FileNumber>,
    /// The number of each table.
    pub(super) tables: Vec<FileNumber>,
}

/// Lists `dir`, range-checking the file numbers in names.
pub(super) fn list(fs: &Arc<dyn vfs::Fs>, dir: &Path, t: &TableFiles) -> Result<Listing> {
    let remote = t.list_remote()?;
    let mut names = Vec::new();
    let mut numbers = Vec::new();
    let mut tables = Vec::new();
    for name in fs.list_dir(dir)? {
        let name = name.to_string_lossy().into_owned();
        let kind = manifest::parse_name(&name);
        if let FileKind::Log(n) | FileKind::Table(n) | FileKind::Manifest(n) = kind {
            if n.0 > FILE_NUMBER_MAX {
                return Err(Error::corruption(
                    dir.join(&name),
                    0,
                    "file number in name out of range",
                    FILE_NUMBER_MAX,
                    n.0,
                ));
            }
            numbers.push(n);
            // With a table store, a local table file is no table of this
            // store (the store's listing below holds those).
            if kind == FileKind::Table(n) && remote.is_none() {
                tables.push(n);
            }
        }
        names.push((name, kind));
    }
    for n in remote.into_iter().flatten() {
        numbers.push(n);
        tables.push(n);
    }
    Ok(Listing {
        names,
        numbers,
        tables,
    })
}

/// The state of a directory without `CURRENT`: empty, once
/// [`check_new`] found nothing a store made durable.
pub(super) fn recover_new(
    fs: &Arc<dyn vfs::Fs>,
    dir: &Path,
    opts: &Options,
    access: Access,
    listing: Listing,
) -> Result<Recovered> {
    check_new(fs, dir, opts, &listing.names)?;
    if let Some(&n) = listing.tables.first() {
        // A table in the store (a local one is among the names above).
        return Err(Error::corruption(
            dir.join(manifest::CURRENT),
            0,
            "CURRENT is missing but the table store holds tables of a store",
            0,
            n.0,
        ));
    }
    let blobs = open_blob_store(fs, dir, opts, access)?;
    let next_file = next_file(
        FileNumber(1),
        &listing.numbers,
        std::iter::empty(),
        blobs.as_deref(),
    );
    Ok(Recovered {
        version: Version::default(),
        blob_files: BlobFiles::default(),
        mem: Memtable::new(),
        default_log: FileNumber(0),
        keyspaces: Vec::new(),
        last_seq: SeqNo(0),
        next_file,
        log_number: FileNumber(0),
        logs: Vec::new(),
        logs_dropped: Vec::new(),
        log_lengths: Vec::new(),
        logs_sealed: Vec::new(),
        names: listing.names,
        tables_deleted: Vec::new(),
        blobs_obsolete: Vec::new(),
        blobs,
        writer_epoch: 0,
        merge_operator: None,
        published: None,
    })
}

/// The state of a directory without `CURRENT` (new, as [`check_new`]
/// finds) for a writer taking over the table store from the newest
/// published manifest, `latest`: its tables and sequence number, nothing
/// local (the old writer's log stays on its machine). Tables in the store
/// it does not name are left alone here: a reader may still read them
/// through an older published manifest, and the next open deletes them
/// as never named below the numbers handed out.
pub(super) fn recover_published(
    fs: &Arc<dyn vfs::Fs>,
    dir: &Path,
    opts: &Options,
    access: Access,
    listing: Listing,
    tables: &TableFiles,
    latest: (u64, Published),
) -> Result<Recovered> {
    check_new(fs, dir, opts, &listing.names)?;
    let (n, p) = &latest;
    let path = tables.remote().map_or_else(
        || dir.join(published::name(*n)),
        |io| io.path_of(&published::name(*n)),
    );
    let mut version = Version::default();
    for &(level, t, size) in &p.tables {
        version.levels[usize::from(level)].push(Arc::new(tables.open(t, Some(size))?));
    }
    crate::version_set::sort_version(&mut version);
    crate::version_set::check_levels(&version, &path, |_| 0)?;
    let blobs = open_blob_store(fs, dir, opts, access)?;
    // The blob files the tables point into, adopted with their accounting
    // (a version 1 manifest names none: blobs then stay uncollected).
    let blob_files = p.blob_accounting();
    for &b in blob_files.files.keys() {
        if !blobs.as_deref().is_some_and(|s| s.contains(b)) {
            return Err(Error::corruption(
                &path,
                0,
                "blob file the published manifest names is missing from the blob store (expected: present; are Options::blob_stores set?)",
                1,
                b.0,
            ));
        }
    }
    let next_file = next_file(
        FileNumber(1),
        &listing.numbers,
        blob_files.files.keys().map(|b| b.0),
        blobs.as_deref(),
    );
    Ok(Recovered {
        version,
        blob_files,
        mem: Memtable::new(),
        default_log: FileNumber(0),
        keyspaces: Vec::new(),
        last_seq: SeqNo(p.last_seq),
        next_file,
        log_number: FileNumber(0),
        logs: Vec::new(),
        logs_dropped: Vec::new(),
        log_lengths: Vec::new(),
        logs_sealed: Vec::new(),
        names: listing.names,
        tables_deleted: Vec::new(),
        blobs_obsolete: Vec::new(),
        blobs,
        writer_epoch: 0,
        merge_operator: None,
        published: Some(latest),
    })
}

/// A directory without `CURRENT` is new only if nothing in it was ever
/// durable data: what a crash while creating the store leaves (an empty
/// log, a manifest naming no table, an empty blob store) is new too.
pub(super) fn check_new(
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
            FileKind::Table(n) => return Err(damaged(n.0)),
            FileKind::Log(n) => {
                let c = read_log(&**fs, &dir.join(name))?;
                if !c.records.is_empty() {
                    return Err(damaged(n.0));
                }
            }
            FileKind::Manifest(n) => {
                let path = dir.join(name);
                let c = read_log(&**fs, &path)?;
                for (rec, &offset) in c.records.iter().zip(&c.offsets) {
                    if !VersionEdit::decode(rec, &path, offset)?.added.is_empty() {
                        return Err(damaged(n.0));
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
