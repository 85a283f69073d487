//! [`BlobStore`]: opening (manifests, leftovers), the index of visible blobs,
//! `list` and `delete`. Writing is in `writer.rs`, reading in `reader.rs`,
//! repair in `repair.rs`.
//!
//! # Visibility and crash safety
//!
//! A shard lives at `<dir>/<id>.shard`. A `put` writes every shard under
//! `<id>.pending`, syncs each file and each directory, then renames each to
//! `<id>.shard` and syncs each directory again. A `delete` first renames one
//! shard back to `<id>.pending` and syncs its directory (from then on the
//! blob is gone), then removes the rest. So the rule is: **a blob exists iff
//! no directory holds an `<id>.pending`**; open removes every file of an id
//! with a pending file, and every `<id>.repair` (a repair's temporary).

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Mutex, MutexGuard, RwLock};
use vfs::{Fs, LockGuard};

use crate::codec::check_layout;
use crate::format::STRIPE_SIZE_MAX;
use crate::manifest::{self, MANIFEST_NAME, MANIFEST_TMP_NAME, Manifest};
use crate::{BlobId, Codec, Error, Result};

/// The layout of a store, fixed at creation and checked at every open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// `k`: data shards per stripe; any `k` shards give a blob back.
    pub data_shards: usize,
    /// `m`: parity shards per stripe; up to `m` lost shards per stripe are
    /// survived. `k + m` ≤ 256, and is the number of directories.
    pub parity_shards: usize,
    /// Bytes of blob data per stripe (the last stripe may be shorter). Reads
    /// and writes hold about `stripe_size_bytes * (k + m) / k` bytes per call.
    pub stripe_size_bytes: u64,
}

impl Default for Options {
    /// RS(4, 2) with 1 MiB stripes.
    fn default() -> Options {
        Options {
            data_shards: 4,
            parity_shards: 2,
            stripe_size_bytes: 1 << 20,
        }
    }
}

/// What a file name in a shard directory is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FileKind {
    Shard,
    Pending,
    Repair,
}

impl FileKind {
    fn suffix(self) -> &'static str {
        match self {
            FileKind::Shard => "shard",
            FileKind::Pending => "pending",
            FileKind::Repair => "repair",
        }
    }
}

/// Lock stripes guarding mutations (delete, repair) of one blob.
const MUTATION_LOCKS: usize = 64;

/// An erasure-coded blob store over `k + m` directories, one per shard index.
///
/// # Concurrency
///
/// `BlobStore` is `Send + Sync`. Any number of threads may call any method at
/// once; `put`s and `get`s of different blobs share no lock but the short
/// one around the index of visible blobs, taken after the I/O. `delete` and
/// `repair` of one blob are serialised by a per-blob lock; a `get` racing a
/// `delete` of the same blob may see it or get [`Error::NotFound`].
#[derive(Debug)]
pub struct BlobStore {
    pub(crate) fs: Arc<dyn Fs>,
    pub(crate) dirs: Vec<PathBuf>,
    pub(crate) options: Options,
    pub(crate) codec: Codec,
    pub(crate) store_id: u64,
    next_id: AtomicU64,
    /// Visible blobs.
    pub(crate) index: RwLock<BTreeSet<BlobId>>,
    mutation_locks: Vec<Mutex<()>>,
    /// Opened shard files of recently read blobs (ranged reads).
    pub(crate) handles: crate::handles::Handles,
    _locks: Vec<LockGuard>,
}

impl BlobStore {
    /// Opens (creating if needed) the store whose shard `i` lives in
    /// `dirs[i]`, checks every directory's manifest against `options`, and
    /// removes what an interrupted `put`, `delete` or `repair` left behind.
    /// A directory with no manifest (new, or a replaced disk) gets one; its
    /// missing shards are rebuilt by [`BlobStore::scrub`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidLayout`] for bad options or `dirs.len() != k + m`;
    /// [`Error::ManifestMismatch`] if a directory belongs to another store,
    /// layout or shard index; [`Error::Io`] (e.g. `Locked`) from the disk.
    pub fn open_with_fs(
        fs: Arc<dyn Fs>,
        dirs: &[impl AsRef<Path>],
        options: Options,
    ) -> Result<BlobStore> {
        check_layout(options.data_shards, options.parity_shards)?;
        let total = options.data_shards + options.parity_shards;
        if dirs.len() != total {
            return Err(Error::InvalidLayout {
                reason: format!("{} directories for {total} shards", dirs.len()),
            });
        }
        if options.stripe_size_bytes == 0 || options.stripe_size_bytes > STRIPE_SIZE_MAX {
            return Err(Error::InvalidLayout {
                reason: format!(
                    "stripe size {} outside 1..={STRIPE_SIZE_MAX}",
                    options.stripe_size_bytes
                ),
            });
        }
        let dirs: Vec<PathBuf> = dirs.iter().map(|d| d.as_ref().to_path_buf()).collect();
        let mut locks = Vec::with_capacity(total);
        let mut found = Vec::with_capacity(total);
        for dir in &dirs {
            create_dir_durably(fs.as_ref(), dir)?;
            locks.push(fs.lock(&dir.join("LOCK"))?);
            found.push(manifest::read(fs.as_ref(), dir)?);
        }
        let store_id = found
            .iter()
            .flatten()
            .map(|m| m.store_id)
            .next()
            .unwrap_or_else(|| new_store_id(&dirs));
        // Check every manifest before writing any, so a refused open changes
        // nothing.
        for (i, (dir, m)) in dirs.iter().zip(&found).enumerate() {
            if let Some(m) = m {
                m.check(&layout_manifest(&options, i, store_id), dir)?;
            }
        }
        for (i, (dir, m)) in dirs.iter().zip(&found).enumerate() {
            if m.is_none() {
                manifest::write(fs.as_ref(), dir, &layout_manifest(&options, i, store_id))?;
            }
        }
        let (index, max_id) = clean_and_index(fs.as_ref(), &dirs)?;
        BlobStore::assemble(fs, dirs, options, store_id, index, max_id, locks)
    }

    /// The store over `dirs`, whose manifests were checked, with `index`
    /// visible and ids from past `max_id` on.
    fn assemble(
        fs: Arc<dyn Fs>,
        dirs: Vec<PathBuf>,
        options: Options,
        store_id: u64,
        index: BTreeSet<BlobId>,
        max_id: Option<u64>,
        locks: Vec<LockGuard>,
    ) -> Result<BlobStore> {
        Ok(BlobStore {
            fs,
            dirs,
            options,
            codec: Codec::new(options.data_shards, options.parity_shards)?,
            store_id,
            next_id: AtomicU64::new(max_id.map_or(0, |id| id + 1)),
            index: RwLock::new(index),
            handles: crate::handles::Handles::default(),
            mutation_locks: (0..MUTATION_LOCKS).map(|_| Mutex::new(())).collect(),
            _locks: locks,
        })
    }

    /// Opens an existing store for reading only: creates, writes and
    /// removes nothing (leftovers of an interrupted write stay for the next
    /// [`BlobStore::open`]), and takes a shared lock on each directory's
    /// `LOCK` when it exists, so several read-only stores open at once
    /// while a writer is refused. A missing directory or manifest holds no
    /// blobs. Writing through it is the caller's mistake: the engine that
    /// opens it read-only refuses writes before they reach the store.
    ///
    /// # Errors
    ///
    /// As [`BlobStore::open`], but never for a missing directory.
    pub fn open_read_only_with_fs(
        fs: Arc<dyn Fs>,
        dirs: &[impl AsRef<Path>],
        options: Options,
    ) -> Result<BlobStore> {
        BlobStore::open_view(fs, dirs, options, true)
    }

    /// [`BlobStore::open_read_only`] without taking the shared locks, for
    /// a caller whose own exclusive lock already keeps every writer of
    /// these directories out (an engine looking at its blob store before it
    /// opens it with [`BlobStore::open`]). Taking and dropping a shared
    /// lock just before the exclusive one would open a window in which a
    /// child process forked by another thread still holds the shared lock
    /// it inherited, and the exclusive lock would be refused.
    ///
    /// # Errors
    ///
    /// As [`BlobStore::open_read_only`].
    pub fn open_read_only_unlocked_with_fs(
        fs: Arc<dyn Fs>,
        dirs: &[impl AsRef<Path>],
        options: Options,
    ) -> Result<BlobStore> {
        BlobStore::open_view(fs, dirs, options, false)
    }

    fn open_view(
        fs: Arc<dyn Fs>,
        dirs: &[impl AsRef<Path>],
        options: Options,
        take_locks: bool,
    ) -> Result<BlobStore> {
        check_layout(options.data_shards, options.parity_shards)?;
        let total = options.data_shards + options.parity_shards;
        if dirs.len() != total {
            return Err(Error::InvalidLayout {
                reason: format!("{} directories for {total} shards", dirs.len()),
            });
        }
        let dirs: Vec<PathBuf> = dirs.iter().map(|d| d.as_ref().to_path_buf()).collect();
        let mut locks = Vec::with_capacity(total);
        let mut found = Vec::with_capacity(total);
        for dir in &dirs {
            if !fs.exists(dir)? {
                found.push(None);
                continue;
            }
            let lock = dir.join("LOCK");
            if take_locks && fs.exists(&lock)? {
                locks.push(fs.lock_shared(&lock)?);
            }
            found.push(manifest::read(fs.as_ref(), dir)?);
        }
        let store_id = found
            .iter()
            .flatten()
            .map(|m| m.store_id)
            .next()
            .unwrap_or(0);
        for (i, (dir, m)) in dirs.iter().zip(&found).enumerate() {
            if let Some(m) = m {
                m.check(&layout_manifest(&options, i, store_id), dir)?;
            }
        }
        // A blob is visible iff no directory holds a pending file of it.
        let mut files: BTreeMap<BlobId, bool> = BTreeMap::new();
        let mut max_id = None;
        for dir in &dirs {
            if !fs.exists(dir)? {
                continue;
            }
            for name in fs.list_dir(dir)? {
                if let Some((id, kind)) = parse_name(&name) {
                    max_id = max_id.max(Some(id.0));
                    let pending = files.entry(id).or_default();
                    *pending |= kind == FileKind::Pending;
                }
            }
        }
        let index = files
            .into_iter()
            .filter(|&(_, pending)| !pending)
            .map(|(id, _)| id)
            .collect();
        BlobStore::assemble(fs, dirs, options, store_id, index, max_id, locks)
    }

    /// The store's layout.
    pub fn options(&self) -> Options {
        self.options
    }

    /// The directories, shard index order.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// Every visible blob, in id order.
    pub fn list(&self) -> Vec<BlobId> {
        self.index.read().iter().copied().collect()
    }

    /// Whether `id` is a visible blob.
    pub fn contains(&self, id: BlobId) -> bool {
        self.index.read().contains(&id)
    }

    /// Deletes a blob durably: once this returns `Ok` it never comes back,
    /// whatever the crash.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if it is not visible; [`Error::Io`] from the disk
    /// (the blob may then be gone or not, and is whole if not).
    pub fn delete(&self, id: BlobId) -> Result<()> {
        let _guard = self.lock_blob(id);
        if !self.index.read().contains(&id) {
            return Err(Error::NotFound { blob: id });
        }
        let mut marker = None;
        for dir in &self.dirs {
            let shard = self.path(dir, id, FileKind::Shard);
            if self.fs.exists(&shard)? {
                let pending = self.path(dir, id, FileKind::Pending);
                self.fs.rename(&shard, &pending)?;
                self.fs.sync_dir(dir)?;
                marker = Some((dir, pending));
                break;
            }
        }
        // The delete is committed: a reopen would finish it.
        self.index.write().remove(&id);
        self.handles.forget(id);
        let mut touched = BTreeSet::new();
        for dir in &self.dirs {
            let shard = self.path(dir, id, FileKind::Shard);
            match self.fs.remove_file(&shard) {
                Ok(()) => {
                    touched.insert(dir);
                }
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        for dir in touched {
            self.fs.sync_dir(dir)?;
        }
        if let Some((dir, pending)) = marker {
            self.fs.remove_file(&pending)?;
            self.fs.sync_dir(dir)?;
        }
        Ok(())
    }

    /// A fresh id for a `put`.
    pub(crate) fn allocate_id(&self) -> BlobId {
        BlobId(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// Reserves `id` for a caller that chooses its own ids: a later
    /// [`BlobStore::writer`] never hands it (or any smaller id) out.
    pub(crate) fn reserve_id(&self, id: BlobId) {
        self.next_id
            .fetch_max(id.0.saturating_add(1), Ordering::Relaxed);
    }

    pub(crate) fn lock_blob(&self, id: BlobId) -> MutexGuard<'_, ()> {
        self.mutation_locks[(id.0 % MUTATION_LOCKS as u64) as usize].lock()
    }

    pub(crate) fn path(&self, dir: &Path, id: BlobId, kind: FileKind) -> PathBuf {
        file_path(dir, id, kind)
    }

    /// Path of shard `index` of blob `id`.
    pub(crate) fn shard_path(&self, index: usize, id: BlobId) -> PathBuf {
        file_path(&self.dirs[index], id, FileKind::Shard)
    }

    /// The manifest directory `index` should hold.
    pub(crate) fn manifest_for(&self, index: usize) -> Manifest {
        layout_manifest(&self.options, index, self.store_id)
    }
}

pub(crate) fn file_path(dir: &Path, id: BlobId, kind: FileKind) -> PathBuf {
    dir.join(format!("{id}.{}", kind.suffix()))
}

fn parse_name(name: &OsStr) -> Option<(BlobId, FileKind)> {
    let name = name.to_str()?;
    let (stem, suffix) = name.split_once('.')?;
    if stem.len() != 16 {
        return None;
    }
    let id = BlobId(u64::from_str_radix(stem, 16).ok()?);
    let kind = [FileKind::Shard, FileKind::Pending, FileKind::Repair]
        .into_iter()
        .find(|k| k.suffix() == suffix)?;
    Some((id, kind))
}

pub(crate) fn layout_manifest(options: &Options, index: usize, store_id: u64) -> Manifest {
    // check_layout bounds k + m by 256 and open bounds the stripe by u32.
    Manifest {
        shard_index: index as u16,
        data_shards: options.data_shards as u16,
        parity_shards: options.parity_shards as u16,
        stripe_size: options.stripe_size_bytes as u32,
        store_id,
    }
}

pub(crate) fn new_store_id(dirs: &[PathBuf]) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut seed = Vec::new();
    seed.extend_from_slice(&nanos.to_le_bytes());
    seed.extend_from_slice(&u64::from(std::process::id()).to_le_bytes());
    for d in dirs {
        seed.extend_from_slice(d.as_os_str().as_encoded_bytes());
    }
    xxhash_rust::xxh3::xxh3_64(&seed)
}

/// Removes the leftovers of interrupted writes (every file of an id with a
/// pending file; every repair temporary; a manifest temporary) and returns
/// the visible blobs and the largest id seen.
fn clean_and_index(fs: &dyn Fs, dirs: &[PathBuf]) -> Result<(BTreeSet<BlobId>, Option<u64>)> {
    let mut files: BTreeMap<BlobId, Vec<(usize, FileKind)>> = BTreeMap::new();
    let mut max_id = None;
    let mut dirty = vec![false; dirs.len()];
    for (i, dir) in dirs.iter().enumerate() {
        for name in fs.list_dir(dir)? {
            if name == MANIFEST_TMP_NAME {
                fs.remove_file(&dir.join(&name))?;
                dirty[i] = true;
                continue;
            }
            if name == MANIFEST_NAME || name == "LOCK" {
                continue;
            }
            let Some((id, kind)) = parse_name(&name) else {
                continue;
            };
            max_id = max_id.max(Some(id.0));
            if kind == FileKind::Repair {
                fs.remove_file(&dir.join(&name))?;
                dirty[i] = true;
                continue;
            }
            files.entry(id).or_default().push((i, kind));
        }
    }
    let mut index = BTreeSet::new();
    let mut doomed = Vec::new();
    for (id, entries) in files {
        if entries.iter().any(|&(_, k)| k == FileKind::Pending) {
            doomed.push((id, entries));
        } else {
            index.insert(id);
        }
    }
    // Shards first, then directory syncs, then the pending markers: a crash
    // during the cleanup leaves the markers, so the next open finishes it.
    for (id, entries) in &doomed {
        for &(i, kind) in entries {
            if kind == FileKind::Shard {
                fs.remove_file(&file_path(&dirs[i], *id, kind))?;
                dirty[i] = true;
            }
        }
    }
    sync_dirty(fs, dirs, &mut dirty)?;
    for (id, entries) in &doomed {
        for &(i, kind) in entries {
            if kind == FileKind::Pending {
                fs.remove_file(&file_path(&dirs[i], *id, kind))?;
                dirty[i] = true;
            }
        }
    }
    sync_dirty(fs, dirs, &mut dirty)?;
    Ok((index, max_id))
}

/// Creates `dir` and any missing parents, and syncs each parent so the new
/// names survive a crash.
pub(crate) fn create_dir_durably(fs: &dyn Fs, dir: &Path) -> Result<()> {
    if fs.exists(dir)? {
        return Ok(());
    }
    fs.create_dir_all(dir)?;
    for parent in dir.ancestors().skip(1) {
        if parent.as_os_str().is_empty() {
            break;
        }
        fs.sync_dir(parent)?;
    }
    Ok(())
}

fn sync_dirty(fs: &dyn Fs, dirs: &[PathBuf], dirty: &mut [bool]) -> Result<()> {
    for (dir, d) in dirs.iter().zip(dirty.iter_mut()) {
        if *d {
            fs.sync_dir(dir)?;
            *d = false;
        }
    }
    Ok(())
}
