//! `FsStore`: objects as files in a [`vfs::Fs`] directory, the embedded
//! default.
//!
//! # Layout
//!
//! The object `tables/000012.sst` is the file `<root>/tables/000012.sst`: a
//! 40-byte header (`header.rs`, `FORMAT.md`) and the content. Uploads are
//! staged in `<root>/.objstore-tmp/<pid>-<handle>-<n>.tmp`; every open
//! handle holds `<root>/.objstore-tmp/LOCK` shared.
//!
//! # A put, step by step, and what a crash leaves
//!
//! 1. The parent directories of the name are created, each new one synced
//!    into its parent. A crash leaves at most empty directories.
//! 2. Header and content are written to a temp file, which is synced. A
//!    crash leaves a temp file, removed by the next [`FsStore::open`] that
//!    finds no other handle open (it takes `LOCK` exclusive), so no live
//!    writer can own it.
//! 3. Under the in-process lock of the name: the precondition is checked
//!    against the current header, the temp file is renamed onto the name
//!    (for [`PutMode::Create`] on a file system with hard links: linked, which
//!    fails if the name exists, even against another process), and both
//!    directories (the temp root's and the name's) are synced. A crash
//!    before the syncs leaves the old object or the new one, whole; `put`
//!    returns only after them.

mod header;

use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;
use vfs::{Fs, LockGuard, OpenMode};

use crate::{Error, ObjectMeta, PutMode, Result, Store, check_name};
use header::{HEADER_BYTES, Header};

/// The directory, under the root, that holds uploads in progress. No object name
/// may start with it.
pub const TMP_DIR: &str = ".objstore-tmp";
/// Every open handle holds this file's lock shared; [`FsStore::open`]
/// cleans temp files only under its exclusive lock.
const TMP_LOCK: &str = "LOCK";
const TMP_SUFFIX: &str = ".tmp";
/// How many times [`FsStore::open`] tries for the shared lock while another
/// opener cleans, 1 ms apart.
const LOCK_TRIES_MAX: u32 = 10_000;
/// Numbers the handles of this process, for unique temp names.
static NEXT_HANDLE: AtomicU64 = AtomicU64::new(1);

/// Conditional puts of one process take one of these, chosen by root and
/// name, around check-and-rename: so `Create` and `Update` are atomic among
/// every handle of the process, whichever `FsStore` they came through.
static NAME_LOCKS: [Mutex<()>; 64] = [const { Mutex::new(()) }; 64];

/// Objects as files under a directory of a [`vfs::Fs`].
///
/// Every put is staged in a temp file, synced, renamed into place and its
/// directory synced: an object is visible whole or not at all, and durable
/// when [`Store::put`] returns. Each object carries a 40-byte header (see
/// `FORMAT.md`) with a generation and an xxh3 of its content; [`Store::get`]
/// checks the content against it, so damage at rest is an
/// [`Error::Corrupt`], not wrong bytes.
///
/// # Versions
///
/// A version is `<generation>-<xxh3 of the content, hex>`; the generation is
/// one more than that of the object a put replaced. So a version changes on
/// every put that changes the content, and on every put that follows another
/// in time.
///
/// # Concurrency
///
/// Every method may be called from any thread, through any number of handles
/// over one directory. [`PutMode::Create`] and [`PutMode::Update`] are atomic
/// among all handles of this process. Across processes, `Create` is atomic
/// where the file system has hard links ([`vfs::OsFs`]: the new name is
/// linked, which fails if it exists), but `Update` is not: two processes
/// updating one name at once may both succeed. Use an object store, whose
/// `If-Match` is atomic, where writers in several processes fence each
/// other.
///
/// # Limits
///
/// A name cannot be both an object and a directory of other objects (`a`
/// and `a/b`), as it can on S3; such a put fails with [`Error::Io`]. Names
/// may not start with [`TMP_DIR`]. Deleting an object leaves its (maybe
/// empty) directory behind.
#[derive(Debug)]
pub struct FsStore {
    fs: Arc<dyn Fs>,
    root: PathBuf,
    tmp_root: PathBuf,
    handle: u64,
    next_tmp: AtomicU64,
    _shared_lock: LockGuard,
}

impl FsStore {
    /// Opens (creating it if needed) the store under `root`. If no other
    /// handle, in any process, has it open, removes the temp files that
    /// abandoned uploads left: with every writer gone, they are provably
    /// abandoned. Files not named as this store names temp files are left
    /// alone.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the directories cannot be created, listed or synced.
    pub fn open(fs: Arc<dyn Fs>, root: impl Into<PathBuf>) -> Result<FsStore> {
        let root = root.into();
        make_dirs(fs.as_ref(), &root)?;
        let tmp_root = root.join(TMP_DIR);
        if !fs.exists(&tmp_root)? {
            fs.create_dir(&tmp_root)?;
            fs.sync_dir(&root)?;
        }
        let lock_path = tmp_root.join(TMP_LOCK);
        // Alone on the directory (no handle anywhere holds the shared
        // lock), every temp file is an abandoned upload's.
        match fs.lock(&lock_path) {
            Ok(alone) => {
                let mut removed = false;
                for entry in fs.list_dir(&tmp_root)? {
                    if entry.to_str().is_some_and(is_tmp_name) {
                        fs.remove_file(&tmp_root.join(&entry))?;
                        removed = true;
                    }
                }
                if removed {
                    fs.sync_dir(&tmp_root)?;
                }
                drop(alone);
            }
            Err(vfs::Error::Locked { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        // Another opener may hold the exclusive lock for its cleaning, a
        // few file removals long.
        let mut tries = 0;
        let shared = loop {
            match fs.lock_shared(&lock_path) {
                Ok(shared) => break shared,
                Err(vfs::Error::Locked { .. }) if tries < LOCK_TRIES_MAX => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                Err(e) => return Err(e.into()),
            }
        };
        Ok(FsStore {
            fs,
            root,
            tmp_root,
            handle: NEXT_HANDLE.fetch_add(1, Ordering::Relaxed),
            next_tmp: AtomicU64::new(1),
            _shared_lock: shared,
        })
    }

    /// The directory the objects live under.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path_of(&self, name: &str) -> Result<PathBuf> {
        check_name(name)?;
        if name.split('/').next() == Some(TMP_DIR) {
            return Err(Error::BadName {
                name: name.to_owned(),
            });
        }
        Ok(self.root.join(name))
    }

    /// Creates the missing parent directories of the object `name`, each
    /// synced into its parent, so the name survives a crash once the last
    /// directory is synced.
    fn make_parents(&self, name: &str) -> Result<()> {
        let mut dir = self.root.clone();
        let parts: Vec<&str> = name.split('/').collect();
        for part in &parts[..parts.len() - 1] {
            let parent = dir.clone();
            dir.push(part);
            if self.fs.exists(&dir)? {
                continue;
            }
            match self.fs.create_dir(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e.into()),
            }
            self.fs.sync_dir(&parent)?;
        }
        Ok(())
    }

    /// The header of the object at `path`, `None` if there is none.
    fn current(&self, name: &str, path: &Path) -> Result<Option<Header>> {
        let file = match self.fs.open(path, OpenMode::Read) {
            Ok(file) => file,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        read_header(name, file.as_ref()).map(Some)
    }

    fn write_tmp(&self, content: &[u8], header: &Header) -> Result<PathBuf> {
        // Unique among live handles: process id, handle, upload. A name
        // left by a dead process that had the same id is skipped.
        let (tmp, file) = loop {
            let n = self.next_tmp.fetch_add(1, Ordering::Relaxed);
            let tmp = self.tmp_root.join(format!(
                "{}-{}-{n}{TMP_SUFFIX}",
                std::process::id(),
                self.handle
            ));
            match self.fs.open(&tmp, OpenMode::CreateNew) {
                Ok(file) => break (tmp, file),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e.into()),
            }
        };
        file.write_all_at(&header.encode(), 0)?;
        file.write_all_at(content, HEADER_BYTES as u64)?;
        file.sync_data()?;
        Ok(tmp)
    }

    fn put_locked(
        &self,
        name: &str,
        path: &Path,
        tmp: &Path,
        header: &Header,
        mode: &PutMode,
    ) -> Result<()> {
        let precondition = |reason: String| Error::Precondition {
            name: name.to_owned(),
            reason,
        };
        match mode {
            PutMode::Overwrite => self.fs.rename(tmp, path)?,
            PutMode::Create => match self.fs.hard_link(tmp, path) {
                Ok(()) => {
                    // The temp name is only a second link now; if this
                    // removal is lost to a crash, `open` removes it.
                    self.fs.remove_file(tmp)?;
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    return Err(precondition("it exists".to_owned()));
                }
                Err(e) if e.kind() == io::ErrorKind::Unsupported => {
                    if let Some(found) = self.current(name, path)? {
                        return Err(precondition(format!(
                            "it exists (version {})",
                            found.version()
                        )));
                    }
                    self.fs.rename(tmp, path)?;
                }
                Err(e) => return Err(e.into()),
            },
            PutMode::Update { version } => {
                match self.current(name, path)? {
                    Some(found) if found.version() == *version => {}
                    Some(found) => {
                        return Err(precondition(format!(
                            "version {}, not {version}",
                            found.version()
                        )));
                    }
                    None => return Err(precondition("it does not exist".to_owned())),
                }
                debug_assert!(header.generation >= 2);
                self.fs.rename(tmp, path)?;
            }
        }
        // A rename is durable once both directories are synced: the temp
        // root first, then the name's own.
        self.fs.sync_dir(&self.tmp_root)?;
        self.fs.sync_dir(path.parent().unwrap_or(&self.root))?;
        Ok(())
    }
}

/// Creates `dir` and its missing ancestors, each synced into its parent,
/// so the directory survives a crash.
fn make_dirs(fs: &dyn Fs, dir: &Path) -> Result<()> {
    if fs.exists(dir)? {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        make_dirs(fs, parent)?;
        match fs.create_dir(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e.into()),
        }
        fs.sync_dir(parent)?;
    } else {
        fs.create_dir_all(dir)?;
    }
    Ok(())
}

/// Whether `name` is one [`FsStore::write_tmp`] makes:
/// `<digits>-<digits>-<digits>.tmp`.
fn is_tmp_name(name: &str) -> bool {
    let Some(stem) = name.strip_suffix(TMP_SUFFIX) else {
        return false;
    };
    let parts: Vec<&str> = stem.split('-').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn read_header(name: &str, file: &dyn vfs::File) -> Result<Header> {
    let file_len = file.len()?;
    let mut buf = [0u8; HEADER_BYTES];
    let n = usize::try_from(file_len).map_or(HEADER_BYTES, |len| len.min(HEADER_BYTES));
    file.read_exact_at(&mut buf[..n], 0)?;
    Header::decode(name, &buf[..n], file_len)
}

fn not_found(name: &str) -> Error {
    Error::NotFound {
        name: name.to_owned(),
    }
}

fn open_object(fs: &dyn Fs, name: &str, path: &Path) -> Result<Box<dyn vfs::File>> {
    fs.open(path, OpenMode::Read).map_err(|e| {
        if e.is_not_found() {
            not_found(name)
        } else {
            e.into()
        }
    })
}

fn meta(name: &str, header: &Header) -> ObjectMeta {
    ObjectMeta {
        name: name.to_owned(),
        size: header.len,
        version: Some(header.version()),
    }
}

impl Store for FsStore {
    fn put(&self, name: &str, data: Bytes, mode: PutMode) -> Result<ObjectMeta> {
        let path = self.path_of(name)?;
        let generation = match &mode {
            PutMode::Create => 1,
            // Checked under the lock: if the current version is `version`,
            // this is one past its generation.
            PutMode::Update { version } => parse_generation(version)
                .ok_or_else(|| Error::Precondition {
                    name: name.to_owned(),
                    reason: format!("{version:?} is not a version this store made"),
                })?
                .saturating_add(1),
            PutMode::Overwrite => match self.current(name, &path) {
                Ok(found) => found.map_or(1, |h| h.generation.saturating_add(1)),
                // A damaged object is replaced, not read.
                Err(Error::Corrupt { .. }) => 1,
                Err(e) => return Err(e),
            },
        };
        let header = Header::of(&data, generation);
        self.make_parents(name)?;
        let tmp = self.write_tmp(&data, &header)?;
        let stripe = xxhash_rust::xxh3::xxh3_64(path.as_os_str().as_encoded_bytes()) as usize
            % NAME_LOCKS.len();
        let result = {
            let _held = NAME_LOCKS[stripe].lock();
            self.put_locked(name, &path, &tmp, &header, &mode)
        };
        if result.is_err() {
            // Best effort; `open` removes what this leaves.
            let _ = self.fs.remove_file(&tmp);
        }
        result.map(|()| meta(name, &header))
    }

    fn get(&self, name: &str) -> Result<(Bytes, ObjectMeta)> {
        let path = self.path_of(name)?;
        let file = open_object(self.fs.as_ref(), name, &path)?;
        let header = read_header(name, file.as_ref())?;
        let len = usize::try_from(header.len).map_err(|_| Error::Corrupt {
            name: name.to_owned(),
            offset: 16,
            expected: "a length that fits in memory".to_owned(),
            found: header.len.to_string(),
        })?;
        let mut content = vec![0u8; len];
        file.read_exact_at(&mut content, HEADER_BYTES as u64)?;
        let hash = xxhash_rust::xxh3::xxh3_64(&content);
        if hash != header.hash {
            return Err(Error::Corrupt {
                name: name.to_owned(),
                offset: HEADER_BYTES as u64,
                expected: format!("content xxh3 {:016x}", header.hash),
                found: format!("{hash:016x}"),
            });
        }
        Ok((Bytes::from(content), meta(name, &header)))
    }

    fn get_range(&self, name: &str, range: Range<u64>) -> Result<Bytes> {
        let path = self.path_of(name)?;
        let file = open_object(self.fs.as_ref(), name, &path)?;
        let header = read_header(name, file.as_ref())?;
        if range.start > range.end || range.end > header.len {
            return Err(Error::OutOfRange {
                name: name.to_owned(),
                size: header.len,
                range,
            });
        }
        // At most `header.len`, which equals the file's length less the
        // header, so it is a length the file system handed out.
        let len = usize::try_from(range.end - range.start).map_err(|_| Error::OutOfRange {
            name: name.to_owned(),
            size: header.len,
            range: range.clone(),
        })?;
        let mut buf = vec![0u8; len];
        file.read_exact_at(&mut buf, HEADER_BYTES as u64 + range.start)?;
        Ok(Bytes::from(buf))
    }

    fn head(&self, name: &str) -> Result<ObjectMeta> {
        let path = self.path_of(name)?;
        let file = open_object(self.fs.as_ref(), name, &path)?;
        let header = read_header(name, file.as_ref())?;
        Ok(meta(name, &header))
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        // Walk only the directory the prefix names, not the whole tree.
        let (dir_name, _) = prefix.rsplit_once('/').unwrap_or(("", prefix));
        if !dir_name.is_empty() && check_name(dir_name).is_err() {
            return Ok(Vec::new());
        }
        let start = if dir_name.is_empty() {
            self.root.clone()
        } else {
            self.root.join(dir_name)
        };
        let mut found = Vec::new();
        let mut stack = vec![(start, dir_name.to_owned())];
        while let Some((dir, dir_name)) = stack.pop() {
            let entries = match self.fs.list_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e.into()),
            };
            for entry in entries {
                let Some(entry) = entry.to_str() else {
                    continue;
                };
                let name = if dir_name.is_empty() {
                    entry.to_owned()
                } else {
                    format!("{dir_name}/{entry}")
                };
                if name == TMP_DIR || check_name(&name).is_err() {
                    continue;
                }
                // A directory could hold matches if the prefix starts with
                // its name, or its name with the prefix.
                let path = dir.join(entry);
                if !(name.starts_with(prefix) || prefix.starts_with(&name)) {
                    continue;
                }
                if self.fs.list_dir(&path).is_ok() {
                    stack.push((path, name));
                    continue;
                }
                if !name.starts_with(prefix) {
                    continue;
                }
                match self.head(&name) {
                    Ok(meta) => found.push(meta),
                    // Deleted while listing.
                    Err(Error::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        found.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(found)
    }

    fn delete(&self, name: &str) -> Result<()> {
        let path = self.path_of(name)?;
        match self.fs.remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        self.fs.sync_dir(path.parent().unwrap_or(&self.root))?;
        Ok(())
    }

    fn location(&self) -> String {
        format!("file://{}", self.root.display())
    }
}

/// The generation of a version string `<generation>-<hash>`.
fn parse_generation(version: &str) -> Option<u64> {
    let (generation, hash) = version.split_once('-')?;
    if hash.len() != 16 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    generation.parse().ok().filter(|g| *g >= 1)
}
