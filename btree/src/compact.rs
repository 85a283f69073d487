//! Compaction: rewrite the live entries, densely, into a new file and
//! rename it over the old one, so space freed by deletes goes back to the
//! file system (the files of bbolt and redb never shrink by themselves).
//!
//! Crash argument: the new file is complete and synced before the rename,
//! and the rename is made durable by syncing the directory; a crash before
//! that leaves the old file, one after it the new one, each whole. Readers
//! open during compaction keep reading the old file through their view.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;

use vfs::OpenMode;

use crate::bulk::{Builder, FileSink};
use crate::catalog::{self, TableRecord};
use crate::cursor::Cursor;
use crate::db::{Db, Inner, Snapshot, parent_dir, write_initial_metas};
use crate::mapping::Mapping;
use crate::meta::Meta;
use crate::node::Child;
use crate::{Error, Result};

impl Db {
    /// Rewrites the last commit's entries to the front of a new file and
    /// replaces the database file with it: the file shrinks to the live
    /// data, and the result is durable (pending [`Durability::None`]
    /// commits included). Waits for the write transaction, if one is open.
    ///
    /// [`Durability::None`]: crate::Durability::None
    ///
    /// # Errors
    ///
    /// [`Error::Io`](Error::Io) if the new file cannot be written or
    /// renamed (the database stays as it was), or a corruption error from a
    /// page of the old file; [`Error::ReadOnly`](Error::ReadOnly) on
    /// a read-only handle; [`Error::PersistentSavepoints`] while persistent
    /// savepoints exist (a compacted file holds one commit; as redb,
    /// delete them first).
    pub fn compact(&self) -> Result<()> {
        self.refuse_read_only()?;
        let inner = &*self.inner;
        let mut w = inner.writer.lock();
        let snap = inner.current();
        let savepoints = crate::persistent::records_in_snapshot(&snap)?.len() as u64;
        if savepoints > 0 {
            return Err(Error::PersistentSavepoints { count: savepoints });
        }
        let ps = inner.limits.page_size;
        let mut tmp = OsString::from(inner.path.as_os_str());
        tmp.push(".compact");
        let tmp = PathBuf::from(tmp);

        let file = inner.fs.open(&tmp, OpenMode::Truncate)?;
        let txn = snap.meta.txn + 1;
        let meta = write_compacted(inner, &snap, &*file, txn)?;
        let page_count = meta.page_count;
        inner.fs.rename(&tmp, &inner.path)?;
        inner.fs.sync_dir(&parent_dir(&inner.path))?;

        let map = Arc::new(Mapping::new(
            file.map_for(vfs::Access::Random)?.into_bytes(),
            ps,
            &inner.path,
            None,
        ));
        w.file = file;
        w.file_pages = page_count;
        w.durable_txn = txn;
        w.durable_slot = 0;
        w.since_durable.clear();
        w.map_live = None;
        inner.publish(Arc::new(Snapshot {
            meta,
            map,
            _lock: inner.lock.clone(),
        }));
        Ok(())
    }
}

/// Writes the entries of `snap`, densely, into the empty `file` as commit
/// `txn`: leaves packed from the front, branches above them, both meta
/// slots last. Returns the meta written. The file is not synced (the meta
/// write syncs what `write_initial_metas` syncs); shared by compaction
/// and checkpoints.
pub(crate) fn write_compacted(
    inner: &Inner,
    snap: &Snapshot,
    file: &dyn vfs::File,
    txn: u64,
) -> Result<Meta> {
    let ps = inner.limits.page_size;
    let m = &snap.meta;
    let mut sink = FileSink::new(file, ps);
    let root = copy_tree(inner, snap, m.root_ref(), &mut sink, txn)?;
    // Each named table, then the catalogue over their new roots.
    let mut records = Vec::new();
    for (name, record) in catalog::records_in_snapshot(snap)? {
        let root = copy_tree(inner, snap, record.root, &mut sink, txn)?;
        records.push((name, TableRecord { root, ..record }));
    }
    let mut builder = Builder::new(inner.limits, txn);
    for (name, record) in &records {
        builder.push(&mut sink, name.as_bytes(), &record.encode())?;
    }
    let catalog_root = builder.finish(&mut sink)?;
    sink.flush()?;
    let page_count = sink.next;
    file.set_len(page_count * ps as u64)?;
    let meta = Meta {
        txn,
        page_size: ps as u32,
        root: root.map(|c| c.page),
        free_root: None,
        root_crc: root.and_then(|c| c.crc),
        free_root_crc: None,
        catalog_root: catalog_root.map(|c| c.page),
        catalog_root_crc: catalog_root.and_then(|c| c.crc),
        // A compacted copy holds no persistent savepoint (`Db::compact`
        // refuses while there are any; a checkpoint leaves them out).
        savepoint_root: None,
        savepoint_root_crc: None,
        page_count,
        entry_count: m.entry_count,
        synced_txn: txn,
    };
    write_initial_metas(file, &meta, ps)?;
    Ok(meta)
}

/// Copies the entries of the tree under `root` of `snap` into `sink`,
/// densely; returns the new root.
fn copy_tree(
    inner: &Inner,
    snap: &Snapshot,
    root: Option<Child>,
    sink: &mut FileSink<'_>,
    txn: u64,
) -> Result<Option<Child>> {
    let mut builder = Builder::new(inner.limits, txn);
    let mut cursor = Cursor::seek(
        &snap.map,
        snap.meta.page_count,
        root,
        std::ops::Bound::Unbounded,
        true,
    )?;
    while let Some((k, v)) = cursor.current_value()? {
        builder.push(sink, k, v)?;
        cursor.next()?;
    }
    builder.finish(sink)
}
